// Goal: Raft stays safe under seeded faults and live once healed, and acknowledged writes and
// consistent reads form a linearizable history. Method: 300 seeds of the swarm simulation (each
// seed picks 3 or 5 servers, loss, duplication, delay, partitions, crashes and torn writes; the
// invariants run after every step; then heal, converge, and check linearizability), plus named
// scenarios on a reliable network: an isolated leader, a minority partition, a torn crash;
// and 100 seeds with chunked restores among the writes, whose every server must end each
// restore in the same state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runSeed } from "./run_seed.ts";
import { SimCluster } from "./sim_cluster.ts";
import type { OpRecord } from "./sim_cluster.ts";
import { checkLinearizable } from "./linearizability.ts";

const SEED_COUNT = 300;

test(`Raft simulation holds safety, liveness and linearizability for ${SEED_COUNT} seeds`, () => {
  let writes = 0;
  let reads = 0;
  for (let seed = 1; seed <= SEED_COUNT; seed += 1) {
    const report = runSeed(seed); // Throws with `seed=N` on any violation.
    writes += report.acknowledgedWrites;
    reads += report.consistentReads;
  }
  // A run that acknowledged nothing would prove nothing.
  assert.ok(writes > SEED_COUNT * 50, `only ${writes} writes acknowledged`);
  assert.ok(reads > SEED_COUNT * 20, `only ${reads} consistent reads answered`);
});

const RESTORE_SEED_COUNT = 100;

test(`Raft simulation keeps replicas identical through chunked restores for ${RESTORE_SEED_COUNT} seeds`, () => {
  // Restores (chunk entries, then the entry that swaps the state in) among the clients' writes,
  // under the seed's faults: every server must end each restore in the same state (checked as
  // it applies), no server may snapshot between a restore's chunks, and the healed cluster
  // must converge. Linearizability is not checked here: the checker does not model a restore.
  let restored = 0;
  for (let seed = 1; seed <= RESTORE_SEED_COUNT; seed += 1) {
    const cluster = SimCluster.create({ seed });
    try {
      for (let round = 0; round < 12; round += 1) {
        cluster.runForMs(250);
        const leader = cluster.leaderNode();
        const values = { a: `r${round}a`, b: `r${round}b`, [`k${round}`]: "restored" };
        if (leader !== undefined) cluster.submitRestore(leader.id, values, 1 + (round % 4));
      }
      assert.ok(cluster.healAndConverge(5_000), "no convergence within 5 s after healing");
    } catch (error) {
      throw new Error(`seed=${seed} ${(error as Error).message}\n  ${cluster.describe()}`, {
        cause: error,
      });
    }
    restored += cluster.takenRestores.size;
  }
  // A run in which no restore took would prove nothing.
  assert.ok(restored > RESTORE_SEED_COUNT * 3, `only ${restored} restores applied`);
});

function stableCluster(seed: number, nodeCount: number, diskDelayMaxMs = 0): SimCluster {
  const cluster = SimCluster.create({
    seed,
    nodeCount,
    faults: "none",
    clientCount: 0,
    raftConfig: { checkQuorum: true, preVote: true, snapshotThresholdEntries: 16_384 },
    diskDelayMaxMs,
  });
  const elected = cluster.runUntil(2_000, () => cluster.leaderNode() !== undefined);
  assert.ok(elected, `seed=${seed}: no leader within 2 s`);
  cluster.runForMs(200);
  return cluster;
}

function waitFor(cluster: SimCluster, op: OpRecord | undefined, budgetMs: number): OpRecord {
  assert.ok(op !== undefined, `seed=${cluster.seed}: the server refused the operation`);
  cluster.runUntil(cluster.nowMs + budgetMs, () => op.status !== "pending");
  return op;
}

test("SimCluster: an isolated leader is replaced and its new writes never commit", () => {
  const cluster = stableCluster(11, 5);
  const oldLeader = cluster.leaderNode()!;
  const before = waitFor(
    cluster,
    cluster.submitWrite(oldLeader.id, { kind: "put", key: "a", value: "1" }),
    500,
  );
  assert.equal(before.status, "ok");

  cluster.network.isolate(oldLeader.id);
  const stranded = cluster.submitWrite(oldLeader.id, { kind: "put", key: "a", value: "lost" });
  assert.ok(stranded !== undefined);
  cluster.runForMs(1_500);
  const newLeader = cluster.leaderNode()!;
  assert.notEqual(newLeader.id, oldLeader.id, `seed=${cluster.seed}`);
  assert.ok(newLeader.raft!.term > oldLeader.raft!.term || oldLeader.raft!.role !== "leader");
  // Check-quorum made the old leader step down on its own.
  assert.notEqual(oldLeader.raft!.role, "leader");
  assert.equal(stranded.status, "pending");
  const after = waitFor(
    cluster,
    cluster.submitWrite(newLeader.id, { kind: "put", key: "a", value: "2" }),
    500,
  );
  assert.equal(after.status, "ok");

  cluster.network.heal();
  cluster.runForMs(1_000);
  // The stranded write's slot was taken by the new leader's entries: it failed for certain.
  assert.equal(stranded.status, "failed", `seed=${cluster.seed}`);
  const read = waitFor(cluster, cluster.submitRead(newLeader.id, "a", "consistent"), 500);
  assert.deepEqual(read.output, { value: "2" });
  assert.equal(oldLeader.kv.get("a"), "2");
});

test("SimCluster: a minority partition cannot commit; the majority side can", () => {
  const cluster = stableCluster(12, 5);
  const leader = cluster.leaderNode()!;
  const others = [...cluster.nodes.keys()].filter((id) => id !== leader.id);
  cluster.network.partition([[leader.id, others[0]]]);
  const minorityWrite = cluster.submitWrite(leader.id, {
    kind: "put",
    key: "b",
    value: "minority",
  });
  cluster.runForMs(2_000);
  assert.ok(minorityWrite === undefined || minorityWrite.status !== "ok");
  for (const node of cluster.nodes.values()) assert.equal(node.kv.get("b"), undefined);
  const majorityLeader = cluster.leaderNode()!;
  assert.ok(others.slice(1).includes(majorityLeader.id), `seed=${cluster.seed}`);
  const write = waitFor(
    cluster,
    cluster.submitWrite(majorityLeader.id, { kind: "put", key: "b", value: "majority" }),
    500,
  );
  assert.equal(write.status, "ok");
  assert.ok(cluster.healAndConverge(3_000), `seed=${cluster.seed}: no convergence`);
  for (const node of cluster.nodes.values()) assert.equal(node.kv.get("b"), "majority");
});

test("SimCluster: acknowledged writes survive crashes with torn tails", () => {
  const cluster = stableCluster(13, 3);
  const acknowledged: OpRecord[] = [];
  for (let round = 0; round < 6; round += 1) {
    const leader = cluster.leaderNode();
    if (leader !== undefined) {
      for (let i = 0; i < 5; i += 1) {
        const op = cluster.submitWrite(leader.id, {
          kind: "put",
          key: `k${i}`,
          value: `r${round}`,
        });
        if (op !== undefined) acknowledged.push(op);
      }
    }
    cluster.runForMs(20);
    if (leader !== undefined) {
      // The leader dies in the middle of its next write: that batch is torn, earlier ones hold.
      cluster.tearNextWrite(leader.id);
      cluster.submitWrite(leader.id, { kind: "put", key: "torn", value: `r${round}` });
      assert.equal(leader.raft, undefined, `seed=${cluster.seed}: the torn write did not crash`);
    }
    cluster.runForMs(400);
    if (leader !== undefined) cluster.restart(leader.id);
    cluster.runForMs(400);
  }
  assert.ok(cluster.healAndConverge(3_000), `seed=${cluster.seed}: no convergence`);
  const ok = acknowledged.filter((op) => op.status === "ok");
  assert.ok(ok.length >= 5, `seed=${cluster.seed}: only ${ok.length} writes acknowledged`);
  // Every acknowledged write is in every server's applied log, and the history linearizes.
  for (const op of ok) {
    for (const node of cluster.nodes.values()) assert.ok(node.raft!.commitIndex >= op.index!);
  }
  assert.deepEqual(checkLinearizable(cluster.operations(["write", "consistent"])), { ok: true });
});

test("SimCluster: a leader's appends leave before its own write; crashes lose no acked write", () => {
  // Slow disks (up to 20 ms a write) against 1-5 ms links: followers hold and ack entries
  // before their leader's own write is done, and the leader crashes in the middle of it.
  const cluster = stableCluster(14, 3, 20);
  const acknowledged: OpRecord[] = [];
  let followerAhead = false;
  for (let round = 0; round < 8; round += 1) {
    const leader = cluster.leaderNode();
    if (leader !== undefined) {
      for (let i = 0; i < 4; i += 1) {
        const op = cluster.submitWrite(leader.id, {
          kind: "put",
          key: `k${i}`,
          value: `r${round}`,
        });
        if (op !== undefined) acknowledged.push(op);
      }
      cluster.runForMs(6);
      const leaderDisk = leader.disk.entries.at(-1)?.index ?? 0;
      for (const node of cluster.nodes.values()) {
        if ((node.disk.entries.at(-1)?.index ?? 0) > leaderDisk) followerAhead = true;
      }
      cluster.runForMs(round * 5); // Some batches are acknowledged, later ones are mid-write.
      cluster.submitWrite(leader.id, { kind: "put", key: "k0", value: `late${round}` });
      cluster.crash(leader.id); // Its write under way is torn or lost.
    }
    cluster.runForMs(1_500);
    if (leader !== undefined) cluster.restart(leader.id);
    cluster.runForMs(300);
  }
  assert.ok(followerAhead, `seed=${cluster.seed}: no follower ever got ahead of its leader's disk`);
  assert.ok(cluster.healAndConverge(3_000), `seed=${cluster.seed}: no convergence`);
  const ok = acknowledged.filter((op) => op.status === "ok");
  assert.ok(ok.length >= 8, `seed=${cluster.seed}: only ${ok.length} writes acknowledged`);
  for (const op of ok) {
    for (const node of cluster.nodes.values()) assert.ok(node.raft!.commitIndex >= op.index!);
  }
  assert.deepEqual(checkLinearizable(cluster.operations(["write", "consistent"])), { ok: true });
});
