// Goal: what only the Bun adapter has, beyond the shared contract in runtime_test.ts: its write
// queue and its pending-dial count are bounded, and an idle dev agent on Bun loads neither
// `node:net` nor `node:dgram` and never builds process.stdout's stream (together ~15 MiB of its
// idle memory, docs/benchmarks.md). Method: real sockets on 127.0.0.1 port 0; a python3 listener
// that never accepts, for dials that hang (skipped without python3); `cairn agent -dev` on
// 127.0.17.5 with free ports, preloaded with _bun_module_probe.ts, asked over SIGUSR2 which
// `node:` modules it loaded. Skipped on Deno and Node.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Stream } from "../../src/runtime.ts";
import {
  dialBun,
  DIALS_ABANDONED_MAX,
  listenBunStreams,
  STREAM_QUEUED_BYTES_MAX,
} from "../../runtimes/_bun_tcp.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun === "object";
const loopback = { host: "127.0.0.1", port: 0 };
const agentHost = "127.0.17.5";

/** Listens with a backlog of 1, prints its port, and never accepts. */
const BLOCKED_LISTENER_PY = [
  "import socket, time",
  "s = socket.socket()",
  "s.bind(('127.0.0.1', 0))",
  "s.listen(1)",
  "print(s.getsockname()[1], flush=True)",
  "time.sleep(60)",
].join("\n");

/** Resolves with the first value `register` reports, or rejects after `timeoutMs`. */
function waitFor<T>(register: (report: (value: T) => void) => void, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no report in ${timeoutMs} ms`)), timeoutMs);
    register((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("Bun adapter", () => {
  it("a stream whose writer ignores write() = false closes with an error past the bound", {
    timeout: 30_000,
  }, async (t) => {
    if (!isBun) return t.skip("Bun only");
    let reportAccepted: (stream: Stream) => void = () => {};
    const accepted = new Promise<Stream>((resolve) => (reportAccepted = resolve));
    const listener = await listenBunStreams(loopback, (stream) => reportAccepted(stream));
    const client = await dialBun(listener.address, { timeoutMs: 5_000 });
    // The server never reads: what the kernel does not take stays queued in the client.
    const server = await accepted;
    try {
      const closed = waitFor<Error | undefined>((report) => client.onClose(report));
      const chunk = new Uint8Array(8 * 1024 * 1024);
      let writes = 0;
      while (writes * chunk.byteLength <= STREAM_QUEUED_BYTES_MAX + chunk.byteLength) {
        client.write(chunk);
        writes++;
      }
      const error = await closed;
      assert.ok(error instanceof Error, "the stream closed without an error");
      assert.match(error.message, /^Cannot write to 127\.0\.0\.1:\d+: .* wait for onDrain/);
      assert.equal(client.write(chunk), false);
    } finally {
      client.destroy();
      server.destroy();
      await listener.close();
    }
  });

  it("dial() fails at once while too many timed-out attempts are pending, then recovers", {
    timeout: 60_000,
  }, async (t) => {
    if (!isBun) return t.skip("Bun only");
    const child = spawn("python3", ["-c", BLOCKED_LISTENER_PY], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const streams: Stream[] = [];
    try {
      const started = await waitFor<string>((report) => {
        child.once("error", (error) => report(`error: ${error.message}`));
        child.stdout.once("data", (chunk) => report(String(chunk)));
      }, 20_000);
      if (started.startsWith("error: ")) return t.skip(`python3 is needed (${started})`);
      const blocked = { host: "127.0.0.1", port: Number(started) };
      // The accept queue takes a couple; every later attempt hangs in SYN retries and is
      // abandoned by its timeout, which Bun cannot cancel.
      const results = await Promise.allSettled(
        Array.from({ length: DIALS_ABANDONED_MAX + 4 }, () => dialBun(blocked, { timeoutMs: 500 })),
      );
      for (const result of results) {
        if (result.status === "fulfilled") streams.push(result.value);
      }
      const timedOut = results.filter((result) =>
        result.status === "rejected" && /timed out after 500 ms$/.test(result.reason.message)
      );
      assert.ok(timedOut.length >= DIALS_ABANDONED_MAX, `${timedOut.length} timed out`);
      await assert.rejects(
        dialBun(blocked, { timeoutMs: 500 }),
        /^Error: Cannot connect to 127\.0\.0\.1:\d+: \d+ earlier attempts that timed out are still pending; retry later$/,
      );
      // Once the listener is gone the pending attempts fail (reset), and dialling works again.
      child.kill("SIGKILL");
      const listener = await listenBunStreams(loopback, (stream) => stream.destroy());
      try {
        const deadline = performance.now() + 30_000;
        let lastError: unknown;
        while (performance.now() < deadline) {
          try {
            (await dialBun(listener.address, { timeoutMs: 2_000 })).destroy();
            lastError = undefined;
            break;
          } catch (error) {
            lastError = error;
            await sleep(200);
          }
        }
        assert.equal(lastError, undefined, `dial never recovered: ${lastError}`);
      } finally {
        await listener.close();
      }
    } finally {
      for (const stream of streams) stream.destroy();
      child.kill("SIGKILL");
    }
  });

  it("an idle dev agent loads neither node:net nor node:dgram, nor process.stdout's stream", {
    timeout: 60_000,
  }, async (t) => {
    if (!isBun) return t.skip("Bun only");
    const probe = fileURLToPath(new URL("./_bun_module_probe.ts", import.meta.url));
    const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
    const child = spawn(process.execPath, [
      "--preload",
      probe,
      main,
      "agent",
      "-dev",
      `-bind=${agentHost}`,
      `-client=${agentHost}`,
      "-http-port=0",
      "-dns-port=0",
      "-serf-lan-port=0",
      "-serf-wan-port=0",
      "-log-level=info",
    ], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let output = "";
    child.stdout.on("data", (chunk) => output += String(chunk));
    child.stderr.on("data", (chunk) => output += String(chunk));
    try {
      const http = await waitFor<string>((report) => {
        const look = () => {
          const match = /HTTP ([\d.]+:\d+), DNS/.exec(output);
          if (match !== null) report(match[1]);
        };
        child.stderr.on("data", look);
        child.stdout.on("data", look);
      }, 30_000);
      // Serve one request and one DNS-free round of its timers, then ask.
      const response = await fetch(`http://${http}/v1/status/leader`);
      assert.equal(response.status, 200);
      await response.body?.cancel();
      await sleep(500);
      process.kill(child.pid!, "SIGUSR2");
      const line = await waitFor<string>((report) => {
        const look = () => {
          const match = /node modules: ([^\n]*)\n/.exec(output);
          if (match !== null) report(match[1]);
        };
        look();
        child.stderr.on("data", look);
      }, 20_000);
      const loaded = line.split(" ").filter((name) => name !== "");
      // The probe works: files need node:fs, which the agent loads.
      assert.ok(loaded.includes("node:fs"), `the probe found no node:fs in "${line}"`);
      for (const name of ["node:net", "node:dgram", "node:stream", "node:http"]) {
        assert.ok(!loaded.includes(name), `${name} is loaded: ${line}`);
      }
    } finally {
      child.kill("SIGKILL");
    }
  });
});
