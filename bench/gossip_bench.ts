// Goal: cairn's LAN gossip against the real HashiCorp serf agent (Debian's `serf` 0.8.2), N
// agents of each on loopback, measured in the same run with memberlist's LAN defaults on both.
// Method: the two systems run one after the other (never at the same time, so they do not share
// the 2 cores). N `cairn agent -dev` on 127.0.1.1..N (gossip port 7946), or N `serf agent` on
// 127.0.2.1..N; once every agent is up, all but the first are told at once to join the first
// (cairn: `PUT /v1/agent/join/...`, serf: `serf join`), and we time:
// - join: until every agent lists all N alive (each agent polled on its own, cairn through
//   `/v1/agent/members`, serf through `serf members -format=json`; an agent stops being polled
//   once it is complete, so the figure carries the poll's latency);
// - event: one user event fired at the first agent until the last agent has it (cairn: a blocking
//   `/v1/event/list?name=x&index=...` held on every agent; serf: `serf event -coalesce=false`, and
//   an `-event-handler=user:x=...` on every agent writing its clock into a file, polled);
// - idle: over 10 s with nothing asked of the agents, CPU per agent from /proc/<pid>/stat
//   (utime + stime), RSS per agent (VmRSS), and packets and bytes per second sent from the
//   system's own addresses, counted on the loopback interface by an AF_PACKET socket (a short
//   Python helper; needs root) — IP bytes, so UDP and TCP headers included;
// - detect: the last agent is SIGKILLed, until every other agent lists it failed.
// Every wait is bounded; every process is killed at the end.
// Run: deno run -A bench/gossip_bench.ts [--agents=10,50]
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type AgentProcess, startAgentProcess } from "../test/_support/agent_process.ts";

const { values } = parseArgs({
  options: { agents: { type: "string", default: "10" } },
});
const agentCounts = values.agents.split(",").map(Number).filter((n) => n >= 2 && n <= 100);
const serfBin = "/usr/bin/serf";
const waitMs = 60_000;
const idleMs = 10_000;
const gossipPort = 7946;
const clockTicks = 100; // USER_HZ on Linux

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it is true or `waitMs` passes; the time it was first true, or NaN. */
async function pollUntil(probe: () => Promise<boolean>, pauseMs = 50): Promise<number> {
  const deadline = performance.now() + waitMs;
  while (performance.now() < deadline) {
    if (await probe().catch(() => false)) return performance.now();
    await sleep(pauseMs);
  }
  return NaN;
}

/** The time the slowest of `agents` satisfies `probe`, in ms after `start` (NaN when one never does). */
async function slowest<T>(
  agents: T[],
  start: number,
  probe: (agent: T) => Promise<boolean>,
): Promise<number> {
  const times = await Promise.all(agents.map((agent) => pollUntil(() => probe(agent))));
  return Math.max(...times) - start;
}

function serfCli(args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(serfBin, args, { timeout: 5_000 }, (error, stdout) => {
      resolve(error ? undefined : stdout);
    });
  });
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

/**
 * Counts, for `seconds`, the IPv4 packets and bytes the loopback interface sends from addresses
 * starting with `prefix` (three octets), through an AF_PACKET socket (Python, as root): per system,
 * not system-wide, since cairn and serf have their own address ranges.
 */
const packetCounter = `
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("lo", 0))
s.settimeout(0.2)
end = time.time() + float(sys.argv[1])
prefix = bytes(int(x) for x in sys.argv[2].split("."))
packets = size = 0
while time.time() < end:
    try:
        data, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    if addr[2] == 4 and len(data) >= 34 and data[12:14] == b"\\x08\\x00" and data[26:29] == prefix:
        packets += 1
        size += len(data) - 14
print(packets, size)
`;

function countPackets(seconds: number, prefix: string): Promise<[number, number]> {
  return new Promise((resolve) => {
    execFile("python3", ["-c", packetCounter, String(seconds), prefix], (error, stdout) => {
      const [packets, bytes] = error ? [NaN, NaN] : stdout.trim().split(" ").map(Number);
      resolve([packets, bytes]);
    });
  });
}

interface IdleFigures {
  cpuPercent: number;
  rssMiB: number;
  packetsPerSecond: number;
  bytesPerSecond: number;
}

async function measureIdle(pids: number[], prefix: string): Promise<IdleFigures> {
  const counting = countPackets(idleMs / 1000, prefix);
  await sleep(300); // the counter's start-up
  const cpuBefore = pids.map(cpuSeconds);
  const startedAt = performance.now();
  await sleep(idleMs - 300);
  const seconds = (performance.now() - startedAt) / 1000;
  const cpuAfter = pids.map(cpuSeconds);
  const [packets, bytes] = await counting;
  const cpu = cpuAfter.reduce((sum, value, i) => sum + value - cpuBefore[i], 0);
  return {
    cpuPercent: (cpu / seconds / pids.length) * 100,
    rssMiB: pids.map(rssMiB).reduce((a, b) => a + b, 0) / pids.length,
    // The counter runs for idleMs from its own start, a little before the CPU window.
    packetsPerSecond: packets / (idleMs / 1000) / pids.length,
    bytesPerSecond: bytes / (idleMs / 1000) / pids.length,
  };
}

interface Result extends IdleFigures {
  system: string;
  agents: number;
  joinMs: number;
  eventMs: number;
  detectMs: number;
}

async function runCairn(count: number): Promise<Result> {
  const agents: AgentProcess[] = [];
  try {
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, i) =>
        startAgentProcess({
          host: `127.0.1.${i + 1}`,
          args: [`-node=c${i + 1}`, `-serf-lan-port=${gossipPort}`],
          startTimeoutMs: 60_000,
        })),
    );
    for (const outcome of started) if (outcome.status === "fulfilled") agents.push(outcome.value);
    const failed = started.find((outcome) => outcome.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    const members = async (agent: AgentProcess) => {
      const response = await fetch(`${agent.httpUrl}/v1/agent/members`);
      return await response.json() as { Name: string; Status: number }[];
    };
    const names = agents.map((_, i) => `c${i + 1}`);

    // Join.
    const joinStart = performance.now();
    await Promise.all(
      agents.slice(1).map((agent) =>
        fetch(`${agent.httpUrl}/v1/agent/join/127.0.1.1:${gossipPort}`, { method: "PUT" })
          .then((response) => response.body?.cancel())
      ),
    );
    const joinMs = await slowest(agents, joinStart, async (agent) => {
      const alive = new Set(
        (await members(agent)).filter((m) => m.Status === 1).map((m) => m.Name),
      );
      return names.every((name) => alive.has(name));
    });
    await sleep(2_000);

    // Event: a blocking list held on every agent, then one fire.
    const indexes = await Promise.all(agents.map(async (agent) => {
      const response = await fetch(`${agent.httpUrl}/v1/event/list?name=x`);
      await response.body?.cancel();
      return response.headers.get("x-consul-index") ?? "0";
    }));
    const arrivals = agents.map(async (agent, i) => {
      const deadline = performance.now() + waitMs;
      while (performance.now() < deadline) {
        const response = await fetch(
          `${agent.httpUrl}/v1/event/list?name=x&index=${indexes[i]}&wait=60s`,
        );
        const events = await response.json() as unknown[];
        if (events.length > 0) return performance.now();
      }
      return NaN;
    });
    await sleep(500);
    const eventStart = performance.now();
    await fetch(`${agents[0].httpUrl}/v1/event/fire/x`, { method: "PUT" }).then((r) =>
      r.body?.cancel()
    );
    const eventMs = Math.max(...await Promise.all(arrivals)) - eventStart;
    await sleep(2_000);

    const idle = await measureIdle(agents.map((agent) => agent.child.pid!), "127.0.1");

    // Detect.
    const victim = agents[count - 1];
    const detectStart = performance.now();
    process.kill(victim.child.pid!, "SIGKILL");
    const detectMs = await slowest(agents.slice(0, -1), detectStart, async (agent) => {
      const seen = (await members(agent)).find((m) => m.Name === names[count - 1]);
      return seen?.Status === 4;
    });
    return { system: "cairn", agents: count, joinMs, eventMs, detectMs, ...idle };
  } finally {
    await Promise.all(agents.map((agent) => agent.stop(1_000)));
  }
}

async function runSerf(count: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), "cairn-serf-bench-"));
  const children: ChildProcess[] = [];
  try {
    const hosts = Array.from({ length: count }, (_, i) => `127.0.2.${i + 1}`);
    const rpc = hosts.map((host) => `-rpc-addr=${host}:7373`);
    for (const [i, host] of hosts.entries()) {
      children.push(
        spawn(serfBin, [
          "agent",
          `-node=s${i + 1}`,
          `-bind=${host}:${gossipPort}`,
          `-rpc-addr=${host}:7373`,
          `-event-handler=user:x=date +%s%N > ${join(dir, `s${i + 1}`)}`,
          "-log-level=warn",
        ], { stdio: "ignore" }),
      );
    }
    const members = async (i: number) => {
      const output = await serfCli(["members", rpc[i], "-format=json"]);
      if (output === undefined) throw new Error("serf members failed");
      return (JSON.parse(output) as { members: { name: string; status: string }[] }).members;
    };
    const ready = await slowest(
      hosts.map((_, i) => i),
      0,
      async (i) => (await members(i)).length > 0,
    );
    if (Number.isNaN(ready)) throw new Error("serf agents did not start in time");
    const names = hosts.map((_, i) => `s${i + 1}`);
    const indexes = hosts.map((_, i) => i);

    // Join.
    const joinStart = performance.now();
    await Promise.all(
      indexes.slice(1).map((i) => serfCli(["join", rpc[i], `${hosts[0]}:${gossipPort}`])),
    );
    const joinMs = await slowest(indexes, joinStart, async (i) => {
      const alive = new Set(
        (await members(i)).filter((m) => m.status === "alive").map((m) => m.name),
      );
      return names.every((name) => alive.has(name));
    });
    await sleep(2_000);

    // Event: the handler on each agent writes its clock (ns) into a file.
    const eventStartWall = Date.now();
    const eventStart = performance.now();
    await serfCli(["event", rpc[0], "-coalesce=false", "x"]);
    await slowest(names, eventStart, (name) => Promise.resolve(existsSync(join(dir, name))));
    await sleep(200);
    const handled = names.map((name) =>
      Number(BigInt(readFileSync(join(dir, name), "utf8").trim()) / 1_000_000n)
    );
    const eventMs = Math.max(...handled) - eventStartWall;
    await sleep(2_000);

    const idle = await measureIdle(children.map((child) => child.pid!), "127.0.2");

    // Detect.
    const detectStart = performance.now();
    children[count - 1].kill("SIGKILL");
    const detectMs = await slowest(indexes.slice(0, -1), detectStart, async (i) => {
      const seen = (await members(i)).find((m) => m.name === names[count - 1]);
      return seen?.status === "failed";
    });
    return { system: "serf 0.8.2", agents: count, joinMs, eventMs, detectMs, ...idle };
  } finally {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const runtime = typeof (globalThis as { Deno?: unknown }).Deno === "object"
  ? "Deno"
  : typeof (globalThis as { Bun?: unknown }).Bun === "object"
  ? "Bun"
  : "Node";

const results: Result[] = [];
for (const count of agentCounts) {
  results.push(await runSerf(count));
  await sleep(1_000);
  results.push(await runCairn(count));
  await sleep(1_000);
}

const ms = (value: number) => Number.isNaN(value) ? "timeout" : `${(value / 1000).toFixed(2)} s`;
console.log(
  `\ncairn agents on ${runtime}`,
);
console.log(
  "| system | agents | join → all alive everywhere | event → all agents | SIGKILL → failed everywhere | idle CPU / agent | RSS / agent | idle packets/s / agent | idle bytes/s / agent |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of results) {
  console.log(
    `| ${r.system} | ${r.agents} | ${ms(r.joinMs)} | ${ms(r.eventMs)} | ${ms(r.detectMs)} | ${
      r.cpuPercent.toFixed(2)
    } % | ${r.rssMiB.toFixed(1)} MiB | ${r.packetsPerSecond.toFixed(1)} | ${
      r.bytesPerSecond.toFixed(0)
    } |`,
  );
}
for (const count of agentCounts) {
  const [serf, cairn] = results.filter((r) => r.agents === count);
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  console.log(
    `| cairn / serf | ${count} | ${ratio(cairn.joinMs, serf.joinMs)} | ${
      ratio(cairn.eventMs, serf.eventMs)
    } | ${ratio(cairn.detectMs, serf.detectMs)} | ${ratio(cairn.cpuPercent, serf.cpuPercent)} | ${
      ratio(cairn.rssMiB, serf.rssMiB)
    } | ${ratio(cairn.packetsPerSecond, serf.packetsPerSecond)} | ${
      ratio(cairn.bytesPerSecond, serf.bytesPerSecond)
    } |`,
  );
}
