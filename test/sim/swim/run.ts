// Goal: measure SWIM + Lifeguard at scale, for the record (docs, the proof), not as a
// pass/fail test: time to converge after N members join, time until every member sees a
// SIGKILLed member dead, how many gossip rounds a user event takes to reach everyone (and that
// rounds grow as log N, at N = 16, 64, 256 and N), and Lifeguard against plain SWIM with a
// slow member. Method: seeded `SwimCluster` runs on a virtual clock with LAN timings, 1-10 ms
// latency and 1% loss; every number printed is reproducible from the printed seed.
//
//   deno run -A test/sim/swim/run.ts --members=1000 [--seed=1] [--loss=0.01]
import { parseArgs } from "node:util";
import { defaultLanConfig, type SwimConfig } from "../../../src/core/swim/mod.ts";
import { SwimCluster } from "./swim_cluster.ts";

const { values } = parseArgs({
  options: {
    members: { type: "string", default: "1000" },
    seed: { type: "string", default: "1" },
    loss: { type: "string", default: "0.01" },
  },
});
const memberCount = Number(values.members);
const seed = Number(values.seed);
const lossRate = Number(values.loss);
const config = defaultLanConfig();

function seconds(ms: number | undefined): string {
  return ms === undefined ? "never" : `${(ms / 1000).toFixed(2)} s`;
}

function join(n: number, swim: SwimConfig = config): { cluster: SwimCluster; atMs?: number } {
  const cluster = SwimCluster.create({ seed, memberCount: n, config: swim, lossRate });
  const atMs = cluster.runUntil(300_000, () => cluster.converged(), 100);
  return { cluster, atMs };
}

function measureKill(cluster: SwimCluster): void {
  const victim = cluster.members[Math.floor(cluster.members.length / 3)].name;
  cluster.kill(victim);
  const killedAtMs = cluster.nowMs;
  const seenBy = () =>
    cluster.liveMembers().filter((m) =>
      m.view.get(victim) !== "alive" && m.view.get(victim) !== "suspect"
    ).length;
  const firstMs = cluster.runUntil(killedAtMs + 300_000, () => seenBy() > 0, 100);
  const allMs = cluster.runUntil(
    killedAtMs + 300_000,
    () => seenBy() === cluster.liveMembers().length,
    100,
  );
  const wrong = cluster.deaths.filter((d) => d.subject !== victim).length;
  console.log(
    `  SIGKILL ${victim}: first member sees it dead after ${
      seconds(firstMs === undefined ? undefined : firstMs - killedAtMs)
    }, every member after ${
      seconds(allMs === undefined ? undefined : allMs - killedAtMs)
    }; other members declared dead: ${wrong}`,
  );
}

function measureEvent(cluster: SwimCluster, id: number): { hops: number; ms: number | undefined } {
  cluster.runForMs(10_000); // Let join traffic drain first.
  cluster.fireEvent(cluster.members[1].name, id);
  const firedAtMs = cluster.nowMs;
  const atMs = cluster.runUntil(
    firedAtMs + 60_000,
    () => cluster.liveMembers().every((m) => m.events.has(id)),
    10,
  );
  const hops = Math.max(...cluster.liveMembers().map((m) => m.events.get(id)?.hops ?? Infinity));
  return { hops, ms: atMs === undefined ? undefined : atMs - firedAtMs };
}

function slowMember(mode: "Lifeguard" | "plain SWIM", swim: SwimConfig): void {
  const { cluster } = join(16, swim);
  cluster.setSlow("member-5", 5_000);
  cluster.runForMs(10_000);
  const score = cluster.member("member-5").swim.healthScore;
  cluster.setSlow("member-5", 0);
  cluster.runForMs(30_000);
  const aboutSlow = cluster.deaths.filter((d) => d.subject === "member-5").length;
  const healthy = cluster.deaths.filter((d) => d.subject !== "member-5").length;
  console.log(
    `  ${mode}: slow member declared dead by ${aboutSlow} observers; healthy members declared dead ${healthy} times; slow member's health score ${score}`,
  );
}

console.log(
  `seed=${seed} members=${memberCount} loss=${lossRate} LAN config (probe 1 s, gossip 200 ms x 3)`,
);
const started = performance.now();
const { cluster, atMs } = join(memberCount);
console.log(
  `  converged after joins (all ${memberCount} see all alive): ${
    seconds(atMs)
  }; packets ${cluster.packetsSent}`,
);
measureKill(cluster);
const event = measureEvent(cluster, 1);
console.log(
  `  user event reached all: ${seconds(event.ms)}, ${event.hops} hops (≈ ${
    ((event.ms ?? 0) / config.gossipIntervalMs).toFixed(1)
  } gossip intervals)`,
);

console.log("dissemination rounds against N (log_3 N for reference):");
for (const n of [16, 64, 256, memberCount].filter((n, i, all) => all.indexOf(n) === i)) {
  const small = n === memberCount ? cluster : join(n).cluster;
  const result = measureEvent(small, 2);
  console.log(
    `  N=${n}: ${result.hops} hops, ${seconds(result.ms)}; log_3 N = ${
      (Math.log(n) / Math.log(3)).toFixed(1)
    }`,
  );
}

console.log("slow member (inputs 5 s late for 10 s, 16 members; suspicion minimum 4.8 s):");
slowMember("Lifeguard", config);
slowMember("plain SWIM", { ...config, awarenessMaxMultiplier: 1, suspicionMaxTimeoutMult: 1 });
console.log(`(wall time ${((performance.now() - started) / 1000).toFixed(1)} s)`);
