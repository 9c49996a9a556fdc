// Goal: cairn's LAN gossip against the real HashiCorp serf agent (Debian's `serf` 0.8.2), N
// agents of each on loopback, measured in the same run with memberlist's LAN defaults on both.
// Method: the systems run one after the other (never at the same time, so they do not share
// the 2 cores). N cairn agents (one server, the rest clients; `--cairn-shape`) on 127.0.12.1..N (gossip port 7946), or N `serf agent` on
// 127.0.12.61..60+N (N <= 60). serf runs twice: with the tags a Consul server advertises (the
// same keys and value lengths as cairn's, so both carry the same member metadata, about 140
// bytes, and the same bytes per alive message), and with none (serf's default); `--serf-tags`
// picks. Once every agent is up, all but the first are told at once to join the first (cairn:
// `PUT /v1/agent/join/...`, serf: `serf join`); joins that fail are counted and printed. We time:
// - join: until every agent lists all N alive, and the median agent's time (each agent polled
//   on its own, cairn through `/v1/agent/members`, serf through `serf members -format=json`; an
//   agent stops being polled once it is complete, so the figure carries the poll's latency);
// - event: one user event fired at the first agent until the last agent has it (cairn: a blocking
//   `/v1/event/list?name=x&index=...` held on every agent; serf: `serf event -coalesce=false`, and
//   an `-event-handler=user:x=...` on every agent writing its clock into a file, polled);
// - idle: over 60 s (`--idle-seconds`) with nothing asked of the agents, CPU per agent from
//   /proc/<pid>/stat (utime + stime), RSS per agent (VmRSS), and packets and bytes per second
//   sent from the system's own addresses (its range of 127.0.12.x), counted on the loopback
//   interface by an AF_PACKET socket (a short Python helper; needs root) — IP bytes, UDP and TCP
//   headers included;
//   then false failures: agents that no longer list all N alive after the idle window (and, for
//   cairn, lines its agents logged about a member turning suspect or failed during it);
// - detect: the last agent is SIGKILLed, until every other agent lists it failed.
// Every wait is bounded; every process is killed at the end.
// Run: deno run -A bench/gossip_bench.ts [--agents=10,50] [--serf-tags=consul,none]
//   [--cairn-shape=client|dev] (client, the default: the first cairn agent a one-server cluster,
//   the others client agents, as most agents of a Consul datacenter; dev: every agent `-dev`)
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type AgentProcess, startAgentProcess } from "../test/_support/agent_process.ts";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "10" },
    "serf-tags": { type: "string", default: "consul,none" },
    "idle-seconds": { type: "string", default: "60" },
    "cairn-shape": { type: "string", default: "client" },
  },
});
/** Agents of each system at most: cairn takes 127.0.12.1..60, serf 127.0.12.61..120. */
const agentsMax = 60;
const agentCounts = values.agents.split(",").map(Number).filter((n) => n >= 2 && n <= agentsMax);
const serfTagSets = values["serf-tags"].split(",").filter((t) => t === "consul" || t === "none");
const cairnHost = (i: number) => `127.0.12.${1 + i}`;
const serfHost = (i: number) => `127.0.12.${1 + agentsMax + i}`;
const serfBin = "/usr/bin/serf";
const waitMs = 60_000;
const idleMs = Math.max(5, Number(values["idle-seconds"]) || 60) * 1_000;
const cairnShape = values["cairn-shape"] === "dev" ? "dev" : "client";
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

/** When each of `agents` first satisfies `probe`, in ms after `start` (NaN if it never does). */
async function eachTime<T>(
  agents: T[],
  start: number,
  probe: (agent: T) => Promise<boolean>,
): Promise<number[]> {
  const times = await Promise.all(agents.map((agent) => pollUntil(() => probe(agent))));
  return times.map((time) => time - start);
}

/** When the slowest of `agents` satisfies `probe`, in ms after `start` (NaN if one never does). */
async function slowest<T>(
  agents: T[],
  start: number,
  probe: (agent: T) => Promise<boolean>,
): Promise<number> {
  return Math.max(...await eachTime(agents, start, probe));
}

/** The slowest, the median and how many of `times` are not NaN. */
function spread(times: number[]): { slowestMs: number; medianMs: number; done: number } {
  const done = times.filter((time) => !Number.isNaN(time)).sort((a, b) => a - b);
  const medianMs = done.length * 2 > times.length ? done[Math.floor(times.length / 2)] : NaN;
  return { slowestMs: Math.max(...times), medianMs, done: done.length };
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
 * Counts, for `seconds`, the IPv4 packets and bytes the loopback interface sends from the
 * addresses `first`..`last` (same first three octets), through an AF_PACKET socket (Python, as
 * root): per system, not system-wide, since cairn and serf have their own address ranges. Also
 * counts, apart, those to or from the gossip port (UDP and TCP): the rest is a Consul-shaped
 * cluster's server RPC (client agents' anti-entropy and coordinate updates), which serf has not.
 */
const packetCounter = `
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("lo", 0))
s.settimeout(0.2)
end = time.time() + float(sys.argv[1])
first = bytes(int(x) for x in sys.argv[2].split("."))
last = bytes(int(x) for x in sys.argv[3].split("."))
port = int(sys.argv[4])
packets = size = gossip_packets = gossip_size = 0
while time.time() < end:
    try:
        data, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    if addr[2] == 4 and len(data) >= 34 and data[12:14] == b"\\x08\\x00" and first <= data[26:30] <= last:
        packets += 1
        size += len(data) - 14
        ports = 14 + (data[14] & 15) * 4
        if data[23] in (6, 17) and len(data) >= ports + 4:
            source = int.from_bytes(data[ports:ports + 2], "big")
            target = int.from_bytes(data[ports + 2:ports + 4], "big")
            if port in (source, target):
                gossip_packets += 1
                gossip_size += len(data) - 14
print(packets, size, gossip_packets, gossip_size)
`;

/** Packets and IP bytes sent: all of them, and those to or from the gossip port. */
interface PacketCount {
  packets: number;
  bytes: number;
  gossipPackets: number;
  gossipBytes: number;
}

function countPackets(seconds: number, hosts: string[]): Promise<PacketCount> {
  const range = [String(seconds), hosts[0], hosts[hosts.length - 1], String(gossipPort)];
  return new Promise((resolve) => {
    execFile("python3", ["-c", packetCounter, ...range], (error, stdout) => {
      const [packets, bytes, gossipPackets, gossipBytes] = error
        ? [NaN, NaN, NaN, NaN]
        : stdout.trim().split(" ").map(Number);
      resolve({ packets, bytes, gossipPackets, gossipBytes });
    });
  });
}

interface IdleFigures {
  cpuPercent: number;
  rssMiB: number;
  packetsPerSecond: number;
  bytesPerSecond: number;
  /** Of those, to or from the gossip port. */
  gossipPacketsPerSecond: number;
  gossipBytesPerSecond: number;
}

async function measureIdle(pids: number[], hosts: string[]): Promise<IdleFigures> {
  const counting = countPackets(idleMs / 1000, hosts);
  await sleep(300); // the counter's start-up
  const cpuBefore = pids.map(cpuSeconds);
  const startedAt = performance.now();
  await sleep(idleMs - 300);
  const seconds = (performance.now() - startedAt) / 1000;
  const cpuAfter = pids.map(cpuSeconds);
  const count = await counting;
  const cpu = cpuAfter.reduce((sum, value, i) => sum + value - cpuBefore[i], 0);
  return {
    cpuPercent: (cpu / seconds / pids.length) * 100,
    rssMiB: pids.map(rssMiB).reduce((a, b) => a + b, 0) / pids.length,
    // The counter runs for idleMs from its own start, a little before the CPU window.
    packetsPerSecond: count.packets / (idleMs / 1000) / pids.length,
    bytesPerSecond: count.bytes / (idleMs / 1000) / pids.length,
    gossipPacketsPerSecond: count.gossipPackets / (idleMs / 1000) / pids.length,
    gossipBytesPerSecond: count.gossipBytes / (idleMs / 1000) / pids.length,
  };
}

interface Result extends IdleFigures {
  /** Agents not listing all N alive after the idle window, plus (cairn) suspicions logged in it. */
  falseFailures: number;
  system: string;
  agents: number;
  /** Joins that failed (an HTTP status other than 200, a `serf join` that failed). */
  joinErrors: number;
  joinMs: number;
  /** When the median agent listed all N alive. */
  joinMedianMs: number;
  /** Agents that listed all N alive within the wait. */
  joinedAgents: number;
  eventMs: number;
  detectMs: number;
}

/**
 * How each cairn agent runs: `dev` (every agent a one-server cluster in memory: Raft, HTTP, DNS
 * and gossip), or `client` (the first agent a durable one-server cluster, the others client
 * agents: gossip, HTTP, DNS, anti-entropy to that server, as most agents of a Consul datacenter).
 */
function cairnArgs(shape: string, index: number, dataDir: string): string[] {
  const common = [`-node=c${index + 1}`, `-serf-lan-port=${gossipPort}`];
  if (shape === "dev") return common;
  const dir = `-data-dir=${join(dataDir, `c${index + 1}`)}`;
  return index === 0 ? [...common, "-server", "-bootstrap-expect=1", dir] : [...common, dir];
}

async function runCairn(count: number): Promise<Result> {
  const agents: AgentProcess[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), "cairn-gossip-bench-"));
  try {
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, i) =>
        startAgentProcess({
          host: cairnHost(i),
          args: cairnArgs(cairnShape, i, dataDir),
          dev: cairnShape === "dev",
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
    const joined = await Promise.all(
      agents.slice(1).map(async (agent) => {
        const url = `${agent.httpUrl}/v1/agent/join/${cairnHost(0)}:${gossipPort}`;
        const response = await fetch(url, { method: "PUT" });
        const text = await response.text();
        if (response.status !== 200) console.error(`cairn join failed: ${text}`);
        return response.status === 200;
      }),
    );
    const joinErrors = joined.filter((ok) => !ok).length;
    const joinTimes = await eachTime(agents, joinStart, async (agent) => {
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

    const hosts = agents.map((_, i) => cairnHost(i));
    const logLengths = agents.map((agent) => agent.log().length);
    const idle = await measureIdle(agents.map((agent) => agent.child.pid!), hosts);
    const complete = await Promise.all(agents.map(async (agent) => {
      const alive = (await members(agent)).filter((m) => m.Status === 1).length;
      return alive === count;
    }));
    const suspicions = agents.map((agent, i) =>
      agent.log().slice(logLengths[i]).match(/is (suspect|failed|dead)|: failed/g)?.length ?? 0
    );
    const falseFailures = complete.filter((ok) => !ok).length +
      suspicions.reduce((a, b) => a + b, 0);

    // Detect.
    const victim = agents[count - 1];
    const detectStart = performance.now();
    process.kill(victim.child.pid!, "SIGKILL");
    const detectMs = await slowest(agents.slice(0, -1), detectStart, async (agent) => {
      const seen = (await members(agent)).find((m) => m.Name === names[count - 1]);
      return seen?.Status === 4;
    });
    const { slowestMs: joinMs, medianMs: joinMedianMs, done: joinedAgents } = spread(joinTimes);
    const figures = { joinErrors, joinMs, joinMedianMs, joinedAgents, eventMs, detectMs };
    return { system: `cairn (${cairnShape})`, agents: count, ...figures, falseFailures, ...idle };
  } finally {
    await Promise.all(agents.map((agent) => agent.stop(1_000)));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The tags a Consul server advertises, with cairn's keys and value lengths (consul_tags.ts): a
 * dev agent's `role`, `dc`, `id`, `vsn`, `vsn_min`, `vsn_max`, `build`, `port`, `raft_vsn` and
 * `bootstrap`.
 */
function consulLikeTags(): string[] {
  const tags = {
    role: "consul",
    dc: "dc1",
    id: crypto.randomUUID(),
    vsn: "2",
    vsn_min: "2",
    vsn_max: "3",
    build: "0.1.0:cairn",
    port: "8300",
    raft_vsn: "3",
    bootstrap: "1",
  };
  return Object.entries(tags).flatMap(([key, value]) => ["-tag", `${key}=${value}`]);
}

async function runSerf(count: number, tagSet: string): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), "cairn-serf-bench-"));
  const children: ChildProcess[] = [];
  try {
    const hosts = Array.from({ length: count }, (_, i) => serfHost(i));
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
          ...(tagSet === "consul" ? consulLikeTags() : []),
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
    const joined = await Promise.all(
      indexes.slice(1).map((i) => serfCli(["join", rpc[i], `${hosts[0]}:${gossipPort}`])),
    );
    const joinErrors = joined.filter((output) => output === undefined).length;
    const joinTimes = await eachTime(indexes, joinStart, async (i) => {
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

    const idle = await measureIdle(children.map((child) => child.pid!), hosts);
    const complete = await Promise.all(indexes.map(async (i) => {
      const alive = (await members(i)).filter((m) => m.status === "alive").length;
      return alive === count;
    }));
    const falseFailures = complete.filter((ok) => !ok).length;

    // Detect.
    const detectStart = performance.now();
    children[count - 1].kill("SIGKILL");
    const detectMs = await slowest(indexes.slice(0, -1), detectStart, async (i) => {
      const seen = (await members(i)).find((m) => m.name === names[count - 1]);
      return seen?.status === "failed";
    });
    const system = `serf 0.8.2 (${tagSet === "consul" ? "Consul's tags" : "no tags"})`;
    const { slowestMs: joinMs, medianMs: joinMedianMs, done: joinedAgents } = spread(joinTimes);
    const figures = { joinErrors, joinMs, joinMedianMs, joinedAgents, eventMs, detectMs };
    return { system, agents: count, ...figures, falseFailures, ...idle };
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
  for (const tagSet of serfTagSets) {
    results.push(await runSerf(count, tagSet));
    await sleep(1_000);
  }
  results.push(await runCairn(count));
  await sleep(1_000);
}

const ms = (value: number) => Number.isNaN(value) ? "timeout" : `${(value / 1000).toFixed(2)} s`;
/** "slowest (median)", and how many agents got there when some did not. */
const joinText = (r: Result) =>
  `${ms(r.joinMs)} (${ms(r.joinMedianMs)})` +
  (r.joinedAgents < r.agents ? `, ${r.joinedAgents}/${r.agents} agents` : "");
const load = loadavg().map((value) => value.toFixed(1)).join(", ");
console.log(
  `\ncairn agents on ${runtime}; idle window ${idleMs / 1000} s; load average at the end ${load}`,
);
console.log(
  "| system | agents | failed joins | join → all alive everywhere (median agent) | event → all agents | SIGKILL → failed everywhere | idle CPU / agent | RSS / agent | idle packets/s / agent (gossip port only) | idle bytes/s / agent (gossip port only) | false failures in idle |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of results) {
  console.log(
    `| ${r.system} | ${r.agents} | ${r.joinErrors} | ${joinText(r)} | ${ms(r.eventMs)} | ${
      ms(r.detectMs)
    } | ${r.cpuPercent.toFixed(2)} % | ${r.rssMiB.toFixed(1)} MiB | ${
      r.packetsPerSecond.toFixed(2)
    } (${r.gossipPacketsPerSecond.toFixed(2)}) | ${r.bytesPerSecond.toFixed(0)} (${
      r.gossipBytesPerSecond.toFixed(0)
    }) | ${r.falseFailures} |`,
  );
}
for (const serfRow of results.filter((r) => r.system.startsWith("serf"))) {
  const count = serfRow.agents;
  const serf = serfRow;
  const cairn = results.find((r) => r.agents === count && r.system.startsWith("cairn"))!;
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  console.log(
    `| cairn / ${serf.system} | ${count} | | ${ratio(cairn.joinMs, serf.joinMs)} | ${
      ratio(cairn.eventMs, serf.eventMs)
    } | ${ratio(cairn.detectMs, serf.detectMs)} | ${ratio(cairn.cpuPercent, serf.cpuPercent)} | ${
      ratio(cairn.rssMiB, serf.rssMiB)
    } | ${ratio(cairn.packetsPerSecond, serf.packetsPerSecond)} (${
      ratio(cairn.gossipPacketsPerSecond, serf.gossipPacketsPerSecond)
    }) | ${ratio(cairn.bytesPerSecond, serf.bytesPerSecond)} (${
      ratio(cairn.gossipBytesPerSecond, serf.gossipBytesPerSecond)
    }) | |`,
  );
}
