// Goal: how long a write takes to reach every blocked watcher, for 1,000 and 10,000 concurrent
// blocking queries on one cairn agent, against etcd's watch fan-out measured in the same run.
// Method: a cairn dev agent on 127.0.0.30 and a one-member etcd on 127.0.0.31; N watchers each
// hold `GET /v1/kv/bench?index=<current>&wait=60s` (cairn) or a `/v3/watch` stream (etcd's JSON
// gateway) on its own connection; once all are in place one write is made and we time until the
// last watcher has the new value; a watcher that times out or sees the old value is a missed
// wake-up. Run: deno run -A bench/blocking_bench.ts [--watchers=1000,10000] [--etcd-watchers=1000]
import { spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startAgentProcess } from "../test/_support/agent_process.ts";

const { values } = parseArgs({
  options: {
    watchers: { type: "string", default: "1000,10000" },
    "etcd-watchers": { type: "string", default: "1000" },
  },
});
const watcherCounts = values.watchers.split(",").map(Number).filter((n) => n > 0 && n <= 20_000);
const etcdCounts = values["etcd-watchers"].split(",").map(Number).filter((n) =>
  n > 0 && n <= 5_000
);
/**
 * A minimal HTTP/1.1 client on a raw socket (`Connection: close`), so the load generator costs
 * little next to the servers it measures; `onChunk` sees the response bytes as they arrive.
 */
function httpCall(
  options: { host: string; port: number; method: string; path: string; body?: string },
  onChunk?: (chunk: string) => void,
  opened?: Socket[],
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: options.host, port: options.port });
    opened?.push(socket);
    socket.on("close", () => resolve({ status: 0, body: "" }));
    let text = "";
    socket.setEncoding("utf8");
    socket.on("connect", () => {
      const body = options.body ?? "";
      socket.write(
        `${options.method} ${options.path} HTTP/1.1\r\nHost: ${options.host}\r\n` +
          `Content-Length: ${
            new TextEncoder().encode(body).length
          }\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    socket.on("data", (chunk: string) => {
      text += chunk;
      onChunk?.(chunk);
      // A complete response with a Content-Length counts as answered at once: the measurement
      // must not include the connection teardown that follows.
      const at = text.indexOf("\r\n\r\n");
      const length = /content-length: *(\d+)/i.exec(text.slice(0, at))?.[1];
      if (at !== -1 && length !== undefined && text.length - at - 4 >= Number(length)) {
        resolve({ status: Number(text.slice(9, 12)), body: text.slice(at + 4) });
        socket.destroy();
      }
    });
    socket.on("end", () => {
      const status = Number(text.slice(9, 12));
      const at = text.indexOf("\r\n\r\n");
      resolve({ status, body: at === -1 ? "" : text.slice(at + 4) });
    });
    socket.on("error", reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function cairnRound(host: string, port: number, count: number) {
  await httpCall({ host, port, method: "PUT", path: "/v1/kv/bench", body: "v0" });
  const first = await httpCall({ host, port, method: "GET", path: "/v1/kv/bench" });
  const index = Number(/"ModifyIndex":(\d+)/.exec(first.body)?.[1]);
  let answered = 0;
  let missed = 0;
  let lastAtMs = 0;
  const watchers = Array.from(
    { length: count },
    () =>
      httpCall({ host, port, method: "GET", path: `/v1/kv/bench?index=${index}&wait=60s` }).then(
        (answer) => {
          if (answer.status === 200 && answer.body.includes(`"Value":"${btoa("v1")}"`)) {
            answered += 1;
          } else missed += 1;
          lastAtMs = performance.now();
        },
        () => missed += 1,
      ),
  );
  await sleep(Math.max(1_000, count / 5));
  const writeAtMs = performance.now();
  await httpCall({ host, port, method: "PUT", path: "/v1/kv/bench", body: "v1" });
  await Promise.all(watchers);
  return { count, answered, missed, ms: lastAtMs - writeAtMs };
}

async function etcdRound(host: string, port: number, count: number) {
  const key = btoa("bench");
  let received = 0;
  let lastAtMs = 0;
  let writeAtMs = Infinity;
  const streams: Promise<unknown>[] = [];
  const sockets: Socket[] = [];
  const done = new Promise<void>((resolve) => {
    for (let i = 0; i < count; i += 1) {
      const stream = httpCall(
        {
          host,
          port,
          method: "POST",
          path: "/v3/watch",
          body: JSON.stringify({ create_request: { key } }),
        },
        (chunk) => {
          if (!chunk.includes('"events"')) return;
          if (performance.now() < writeAtMs) return;
          received += 1;
          lastAtMs = performance.now();
          if (received === count) resolve();
        },
        sockets,
      ).catch(() => {});
      streams.push(stream);
    }
  });
  await sleep(Math.max(1_000, count / 5));
  writeAtMs = performance.now();
  const value = btoa("v1");
  await httpCall({
    host,
    port,
    method: "POST",
    path: "/v3/kv/put",
    body: JSON.stringify({ key, value }),
  });
  await Promise.race([done, sleep(30_000)]);
  for (const socket of sockets) socket.destroy();
  await Promise.all(streams);
  return { count, answered: received, missed: count - received, ms: lastAtMs - writeAtMs };
}

const dataDir = mkdtempSync(join(tmpdir(), "cairn-etcd-"));
const etcd = spawn("etcd", [
  "--data-dir",
  dataDir,
  "--listen-client-urls",
  "http://127.0.0.31:2379",
  "--advertise-client-urls",
  "http://127.0.0.31:2379",
  "--listen-peer-urls",
  "http://127.0.0.31:2380",
  "--initial-advertise-peer-urls",
  "http://127.0.0.31:2380",
  "--initial-cluster",
  "bench=http://127.0.0.31:2380",
  "--name",
  "bench",
  "--log-level",
  "error",
], { stdio: "ignore" });
const agent = await startAgentProcess({ host: "127.0.0.30" });
await sleep(1_500);
const rows: string[] = [];
try {
  // Three rounds each, interleaved, so a burst of load elsewhere hits both; the median is shown.
  const runs = new Map<string, { ms: number[]; missed: number }>();
  const record = (label: string, result: { ms: number; missed: number }) => {
    const entry = runs.get(label) ?? { ms: [], missed: 0 };
    entry.ms.push(result.ms);
    entry.missed += result.missed;
    runs.set(label, entry);
  };
  for (let round = 0; round < 3; round += 1) {
    for (const count of etcdCounts) {
      record(`etcd 3.4 watch | ${count}`, await etcdRound("127.0.0.31", 2379, count));
    }
    for (const count of watcherCounts) {
      record(
        `cairn blocking GET | ${count}`,
        await cairnRound(agent.httpHost, agent.httpPort, count),
      );
    }
  }
  for (const [label, entry] of runs) {
    const sorted = [...entry.ms].sort((a, b) => a - b);
    const all = entry.ms.map((ms) => ms.toFixed(0)).join(", ");
    rows.push(`| ${label} | ${sorted[1].toFixed(1)} (${all}) | ${entry.missed} |`);
  }
} finally {
  await agent.stop();
  etcd.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
console.log("| system | watchers | write → last watcher answered, median ms (3 runs) | missed |");
console.log("| --- | --- | --- | --- |");
console.log(rows.join("\n"));
process.exit(0);
