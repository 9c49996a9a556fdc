// Goal: SWIM + Lifeguard works at cluster scale: joins converge (a burst that gossip alone
// leaves incomplete is repaired by push/pull), a SIGKILLed or isolated member is declared dead
// by every other member and nobody else is, a graceful leave shows as left, a user event
// reaches everyone in O(log N) gossip rounds, and Lifeguard keeps a slow
// member from getting healthy members declared dead where plain SWIM does not. Method: seeded
// `SwimCluster` runs (virtual clock, virtual network with latency and loss, LAN timings), the
// convergence run with every packet through the wire codecs; assertions name the seed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultLanConfig, type SwimConfig } from "../../../src/core/swim/mod.ts";
import { SwimCluster } from "./swim_cluster.ts";

function converged(seed: number, memberCount: number, config: SwimConfig, wire = false) {
  const cluster = SwimCluster.create({ seed, memberCount, config, lossRate: 0.01, wire });
  const atMs = cluster.runUntil(60_000, () => cluster.converged(), 100);
  assert.ok(atMs !== undefined, `seed=${seed}: ${memberCount} members did not converge in 60 s`);
  return { cluster, atMs };
}

function plainSwimConfig(): SwimConfig {
  // Plain SWIM: no local health awareness, a fixed suspicion timeout (max = min).
  return { ...defaultLanConfig(), awarenessMaxMultiplier: 1, suspicionMaxTimeoutMult: 1 };
}

test("SwimCluster: 50 members joining one seed converge, all alive everywhere", () => {
  const seed = 1;
  const { cluster, atMs } = converged(seed, 50, defaultLanConfig(), true);
  assert.ok(atMs <= 10_000, `seed=${seed}: converged only at ${atMs} ms`);
  assert.deepEqual(cluster.deaths, [], `seed=${seed}: false positives during joins`);
  // Quiet for a minute on a lossy network: no suspicion ends in a death.
  cluster.runForMs(60_000);
  assert.ok(cluster.converged(), `seed=${seed}: lost convergence while idle`);
  assert.deepEqual(cluster.deaths, [], `seed=${seed}: false positives while idle`);
});

test("SwimCluster: a join burst that gossip leaves incomplete is healed by push/pull", () => {
  // 50 members join one seed within 300 ms (the gossip benchmark's shape). Each broadcast goes
  // out 8 times per member, so now and then a member never hears of another (seed 2 here, about
  // one burst in eight); memberlist's periodic push/pull repairs it, the first one after a
  // random stagger below 30 s plus the interval scaled to 60 s at 50 members.
  const seed = 2;
  const burst = (pushPullIntervalMs: number) =>
    SwimCluster.create({
      seed,
      memberCount: 50,
      config: { ...defaultLanConfig(), pushPullIntervalMs },
      joinSpreadMs: 300,
    });
  const gossipOnly = burst(0);
  const stuck = gossipOnly.runUntil(30_000, () => gossipOnly.converged(), 100);
  assert.equal(stuck, undefined, `seed=${seed}: gossip alone converged; pick another seed`);
  const cluster = burst(defaultLanConfig().pushPullIntervalMs);
  const atMs = cluster.runUntil(120_000, () => cluster.converged(), 100);
  assert.ok(atMs !== undefined, `seed=${seed}: push/pull did not repair the burst in 120 s`);
  assert.deepEqual(cluster.deaths, [], `seed=${seed}: false positives during the burst`);
});

test("SwimCluster: a SIGKILLed member is declared dead by every other member", () => {
  const seed = 2;
  const { cluster } = converged(seed, 50, defaultLanConfig());
  cluster.kill("member-17");
  const killedAtMs = cluster.nowMs;
  const seen = () =>
    cluster.liveMembers().every((m) =>
      m.view.get("member-17") !== "alive" && m.view.get("member-17") !== "suspect"
    );
  const atMs = cluster.runUntil(killedAtMs + 60_000, seen, 100);
  assert.ok(atMs !== undefined, `seed=${seed}: not every member saw the kill in 60 s`);
  // memberlist's bound at 50 members: probe round (~50 s worst, ~1 s typical) + 6.8 s minimum.
  assert.ok(atMs - killedAtMs < 30_000, `seed=${seed}: detection took ${atMs - killedAtMs} ms`);
  const wrong = cluster.deaths.filter((d) => d.subject !== "member-17");
  assert.deepEqual(wrong, [], `seed=${seed}: other members declared dead`);
});

test("SwimCluster: an isolated member is declared dead by all others, nobody else is", () => {
  const seed = 3;
  const { cluster } = converged(seed, 20, defaultLanConfig());
  cluster.isolate("member-4");
  cluster.runForMs(40_000);
  for (const observer of cluster.liveMembers()) {
    if (observer.name === "member-4") continue;
    const state = observer.view.get("member-4");
    assert.ok(
      state === "dead" || state === undefined,
      `seed=${seed}: ${observer.name} sees ${state}`,
    );
  }
  // The isolated member sees everyone else fail; among the others, no false positive.
  const wrong = cluster.deaths.filter((d) => d.observer !== "member-4" && d.subject !== "member-4");
  assert.deepEqual(wrong, [], `seed=${seed}: false positives among connected members`);
});

test("SwimCluster: a graceful leave shows as left everywhere, never as dead", () => {
  const seed = 4;
  const { cluster } = converged(seed, 20, defaultLanConfig());
  const leaver = cluster.member("member-9");
  leaver.swim.leave(cluster.nowMs);
  cluster.runForMs(3_000);
  cluster.kill("member-9"); // The shell stops after the leave broadcast went out.
  cluster.runForMs(5_000);
  for (const observer of cluster.liveMembers()) {
    assert.equal(observer.view.get("member-9"), "left", `seed=${seed}: seen by ${observer.name}`);
  }
  assert.deepEqual(cluster.deaths, [], `seed=${seed}: a leave was taken for a failure`);
});

test("SwimCluster: a user event reaches all 50 members within a few gossip rounds", () => {
  const seed = 5;
  const { cluster } = converged(seed, 50, defaultLanConfig());
  cluster.runForMs(5_000); // Let the join broadcasts drain.
  cluster.fireEvent("member-3", 1);
  const firedAtMs = cluster.nowMs;
  const atMs = cluster.runUntil(
    firedAtMs + 10_000,
    () => cluster.liveMembers().every((m) => m.events.has(1)),
    10,
  );
  assert.ok(atMs !== undefined, `seed=${seed}: the event did not reach everyone in 10 s`);
  const hops = Math.max(...cluster.members.map((m) => m.events.get(1)!.hops));
  // log_3(50) is 3.6; allow for loss and unlucky targets.
  assert.ok(hops <= 12, `seed=${seed}: ${hops} hops`);
  assert.ok(atMs - firedAtMs <= 3_000, `seed=${seed}: spread took ${atMs - firedAtMs} ms`);
});

test("SwimCluster: Lifeguard, a member slow for a few intervals is not declared dead", () => {
  // Slow: every input is processed 3 s late for 8 s, far beyond the 500 ms probe timeout, but
  // below the 4.8 s suspicion minimum of 16 members. (Plain SWIM also survives this one.)
  for (const seed of [6, 7, 8]) {
    const { cluster } = converged(seed, 16, defaultLanConfig());
    cluster.setSlow("member-5", 3_000);
    cluster.runForMs(8_000);
    const slowScore = cluster.member("member-5").swim.healthScore;
    cluster.setSlow("member-5", 0);
    cluster.runForMs(30_000);
    assert.deepEqual(cluster.deaths, [], `seed=${seed}: false positives`);
    assert.ok(cluster.converged(), `seed=${seed}: not converged after the slow period`);
    assert.ok(slowScore > 0, `seed=${seed}: the slow member's health score stayed 0`);
  }
});

test("SwimCluster: Lifeguard, a very slow member gets no healthy member declared dead; plain SWIM does", () => {
  // Slow: inputs processed 5 s late for 10 s, beyond the 4.8 s suspicion minimum. The slow
  // member is itself declared dead in both modes (it cannot refute within the minimum, and
  // confirmations from many probers bring Lifeguard's timeout down to it); what Lifeguard
  // prevents is the slow member's own accusations turning into deaths of healthy members.
  for (const seed of [6, 7, 8]) {
    const healthyDeaths = (config: SwimConfig) => {
      const { cluster } = converged(seed, 16, config);
      cluster.setSlow("member-5", 5_000);
      cluster.runForMs(10_000);
      cluster.setSlow("member-5", 0);
      cluster.runForMs(30_000);
      assert.ok(cluster.converged(), `seed=${seed}: not converged after the slow period`);
      return cluster.deaths.filter((d) => d.subject !== "member-5");
    };
    assert.deepEqual(healthyDeaths(defaultLanConfig()), [], `seed=${seed}: Lifeguard`);
    const plain = healthyDeaths(plainSwimConfig());
    assert.ok(plain.length > 0, `seed=${seed}: plain SWIM had no false positive`);
    assert.ok(
      plain.every((d) => d.observer === "member-5"),
      `seed=${seed}: ${JSON.stringify(plain)}`,
    );
  }
});
