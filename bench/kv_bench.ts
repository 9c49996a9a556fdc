// Goal: KV throughput and latency of a 3-server cairn cluster against a 3-member etcd cluster,
// same machine, same load generator, same run: writes, stale (serializable) reads and
// consistent (linearizable) reads at 1, 16 and 64 concurrent clients, each sent to its leader.
// Method: cairn servers on 127.0.15.1-3 (`-server -bootstrap-expect=3`, temp data dirs, fsync
// on), etcd 3.4 members on 127.0.15.4-6; every client holds one keep-alive connection and
// sends its next request as soon as the previous answer arrives, for DURATION seconds per
// cell. Server CPU per operation comes from /proc/<pid>/stat (utime + stime of all servers);
// RSS is the sum of the servers' VmRSS after the run.
// Each cell runs its load unmeasured for `--warmup` seconds first (both systems alike), so a
// freshly started JIT runtime's compile work does not count as per-request CPU.
// Run: deno run -A bench/kv_bench.ts [--seconds=5] [--clients=1,16,64]
//   [--ops=write,stale,consistent] [--warmup=1]
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type AgentProcess, startAgentProcess } from "../test/_support/agent_process.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    clients: { type: "string", default: "1,16,64" },
    ops: { type: "string", default: "write,stale,consistent" },
    warmup: { type: "string", default: "1" },
  },
});
const seconds = Math.min(30, Math.max(1, Number(values.seconds)));
const warmupSeconds = Math.min(30, Math.max(0, Number(values.warmup)));
const clientCounts = values.clients.split(",").map(Number).filter((n) => n >= 1 && n <= 256);
const selectedOps = values.ops.split(",");
const root = mkdtempSync(join(tmpdir(), "cairn-kv-bench-"));
const ticksPerSecond = 100;

/** One keep-alive HTTP/1.1 connection sending one request at a time. */
class Connection {
  readonly #socket: Socket;
  #buffer = "";
  #waiting: ((status: number) => void) | undefined;

  constructor(host: string, port: number) {
    this.#socket = connect({ host, port });
    this.#socket.setNoDelay(true);
    this.#socket.setEncoding("latin1");
    this.#socket.on("data", (chunk: string) => this.#read(chunk));
    this.#socket.on("error", () => this.#waiting?.(0));
  }

  request(method: string, path: string, body: string): Promise<number> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.#socket.write(
        `${method} ${path} HTTP/1.1\r\nHost: bench\r\nContent-Length: ${body.length}\r\n` +
          `Content-Type: application/json\r\n\r\n${body}`,
      );
    });
  }

  #read(chunk: string): void {
    this.#buffer += chunk;
    const end = this.#buffer.indexOf("\r\n\r\n");
    if (end === -1) return;
    const head = this.#buffer.slice(0, end);
    const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? "0");
    if (this.#buffer.length < end + 4 + length) return;
    this.#buffer = this.#buffer.slice(end + 4 + length);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(Number(head.slice(9, 12)));
  }

  close(): void {
    this.#socket.destroy();
  }
}

function cpuTicks(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    total += Number(fields[11]) + Number(fields[12]);
  }
  return total;
}

function rssMiB(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    total += Number(line?.[1] ?? 0);
  }
  return total / 1024;
}

interface Target {
  host: string;
  port: number;
  method: string;
  path: (i: number) => string;
  body: (i: number) => string;
}

/** Sends requests on every connection for `durationS` seconds; latencies and errors. */
async function drive(target: Target, connections: Connection[], durationS: number) {
  const latencies: number[] = [];
  let errors = 0;
  const endAt = performance.now() + durationS * 1000;
  let counter = 0;
  await Promise.all(connections.map(async (connection) => {
    while (performance.now() < endAt) {
      const i = counter++;
      const started = performance.now();
      const status = await connection.request(target.method, target.path(i), target.body(i));
      if (status !== 200) errors += 1;
      latencies.push(performance.now() - started);
    }
  }));
  return { latencies, errors };
}

async function load(target: Target, clients: number, pids: number[]) {
  const connections = Array.from(
    { length: clients },
    () => new Connection(target.host, target.port),
  );
  // Unmeasured: the same load first, so a JIT runtime's compile work and first-touch
  // allocations fall outside the measured cell (`--warmup=0` measures from a cold start).
  if (warmupSeconds > 0) await drive(target, connections, warmupSeconds);
  const cpuBefore = cpuTicks(pids);
  const { latencies, errors } = await drive(target, connections, seconds);
  const cpuAfter = cpuTicks(pids);
  for (const connection of connections) connection.close();
  latencies.sort((a, b) => a - b);
  const operations = latencies.length;
  return {
    perSecond: operations / seconds,
    p50: latencies[Math.floor(operations * 0.5)] ?? 0,
    p99: latencies[Math.floor(operations * 0.99)] ?? 0,
    cpuMsPerOp: ((cpuAfter - cpuBefore) * 1000 / ticksPerSecond) / Math.max(1, operations),
    errors,
  };
}

async function startCairn(): Promise<{ agents: AgentProcess[]; leader: AgentProcess }> {
  const hosts = ["127.0.15.1", "127.0.15.2", "127.0.15.3"];
  const agents = await Promise.all(hosts.map((host, at) =>
    startAgentProcess({
      host,
      dev: false,
      startTimeoutMs: 60_000,
      args: [
        "-server",
        "-bootstrap-expect=3",
        `-data-dir=${join(root, `cairn-${at}`)}`,
        `-node=bench-${at}`,
        "-serf-lan-port=-1",
        ...hosts.filter((other) => other !== host).map((other) => `-retry-join=${other}`),
      ],
    })
  ));
  const leaderAddress = await (await fetch(`${agents[0].httpUrl}/v1/status/leader`)).json();
  const leader = agents.find((agent) => leaderAddress.startsWith(`${agent.httpHost}:`));
  if (leader === undefined) throw new Error(`Cannot find the cairn leader: ${leaderAddress}`);
  return { agents, leader };
}

async function startEtcd() {
  const hosts = ["127.0.15.4", "127.0.15.5", "127.0.15.6"];
  const cluster = hosts.map((host, at) => `e${at}=http://${host}:2380`).join(",");
  const processes = hosts.map((host, at) =>
    spawn("etcd", [
      "--name",
      `e${at}`,
      "--data-dir",
      join(root, `etcd-${at}`),
      "--listen-client-urls",
      `http://${host}:2379`,
      "--advertise-client-urls",
      `http://${host}:2379`,
      "--listen-peer-urls",
      `http://${host}:2380`,
      "--initial-advertise-peer-urls",
      `http://${host}:2380`,
      "--initial-cluster",
      cluster,
      "--initial-cluster-state",
      "new",
      "--log-level",
      "error",
    ], { stdio: "ignore" })
  );
  for (let attempt = 0; attempt < 100; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    try {
      const answer = await fetch(`http://${hosts[0]}:2379/v3/maintenance/status`, {
        method: "POST",
        body: "{}",
      });
      const status = await answer.json();
      if (status.leader !== undefined && status.leader !== "0") {
        const members = await (await fetch(`http://${hosts[0]}:2379/v3/cluster/member/list`, {
          method: "POST",
          body: "{}",
        })).json();
        const leader = members.members.find((m: { ID: string }) => m.ID === status.leader);
        const url = new URL(leader.clientURLs[0]);
        return { processes, leaderHost: url.hostname };
      }
    } catch {
      // Not up yet.
    }
  }
  throw new Error("Cannot start etcd: no leader within 20 s");
}

const value = JSON.stringify("x".repeat(100));
const b64 = (text: string) => btoa(text);
const rows: string[] = [];
const cairn = await startCairn();
const etcd = await startEtcd();
const cairnPids = cairn.agents.map((agent) => agent.child.pid!);
const etcdPids = etcd.processes.map((child) => child.pid!);
try {
  const leader = cairn.leader;
  const cells: [string, Target, Target][] = [
    [
      "write",
      {
        host: leader.httpHost,
        port: leader.httpPort,
        method: "PUT",
        path: (i) => `/v1/kv/bench/${i % 1000}`,
        body: () => value,
      },
      {
        host: etcd.leaderHost,
        port: 2379,
        method: "POST",
        path: () => "/v3/kv/put",
        body: (i) => JSON.stringify({ key: b64(`bench/${i % 1000}`), value: b64(value) }),
      },
    ],
    [
      "read stale / serializable",
      {
        host: leader.httpHost,
        port: leader.httpPort,
        method: "GET",
        path: (i) => `/v1/kv/bench/${i % 1000}?stale`,
        body: () => "",
      },
      {
        host: etcd.leaderHost,
        port: 2379,
        method: "POST",
        path: () => "/v3/kv/range",
        body: (i) => JSON.stringify({ key: b64(`bench/${i % 1000}`), serializable: true }),
      },
    ],
    [
      "read consistent / linearizable",
      {
        host: leader.httpHost,
        port: leader.httpPort,
        method: "GET",
        path: (i) => `/v1/kv/bench/${i % 1000}?consistent`,
        body: () => "",
      },
      {
        host: etcd.leaderHost,
        port: 2379,
        method: "POST",
        path: () => "/v3/kv/range",
        body: (i) => JSON.stringify({ key: b64(`bench/${i % 1000}`) }),
      },
    ],
  ];
  for (const [name, cairnTarget, etcdTarget] of cells) {
    if (!selectedOps.some((op) => name.includes(op))) continue;
    for (const clients of clientCounts) {
      const ours = await load(cairnTarget, clients, cairnPids);
      const theirs = await load(etcdTarget, clients, etcdPids);
      const format = (r: typeof ours) =>
        `${r.perSecond.toFixed(0)} | ${r.p50.toFixed(2)} / ${r.p99.toFixed(2)} | ${
          r.cpuMsPerOp.toFixed(3)
        }${r.errors ? ` (${r.errors} errors)` : ""}`;
      rows.push(
        `| ${name} | ${clients} | ${format(ours)} | ${format(theirs)} | ${
          (ours.perSecond / theirs.perSecond).toFixed(2)
        } |`,
      );
    }
  }
  console.log(
    `3 cairn servers vs 3 etcd 3.4 members, ${seconds} s per cell after ${warmupSeconds} s ` +
      `unmeasured, 100-byte values\n`,
  );
  console.log(
    "| operation | clients | cairn req/s | cairn p50 / p99 ms | cairn CPU ms/op | etcd req/s | etcd p50 / p99 ms | etcd CPU ms/op | ratio |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const row of rows) {
    // Columns of each side were joined with " | " above.
    console.log(row);
  }
  console.log(
    `\nRSS after the run: cairn ${rssMiB(cairnPids).toFixed(0)} MiB (3 servers), etcd ${
      rssMiB(etcdPids).toFixed(0)
    } MiB (3 members)`,
  );
} finally {
  await Promise.all(cairn.agents.map((agent) => agent.stop()));
  // Wait for the members to exit (at most 5 s), so a run right after this one can bind the
  // same addresses.
  const exited = etcd.processes.map((child) =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => child.once("exit", resolve))
  );
  for (const child of etcd.processes) child.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(exited),
    new Promise((resolve) => timer = setTimeout(resolve, 5_000)),
  ]);
  clearTimeout(timer);
  rmSync(root, { recursive: true, force: true });
}
process.exit(0);
