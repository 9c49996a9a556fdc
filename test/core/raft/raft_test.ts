// Goal: each rule of the Raft core holds on its own, as in etcd-io/raft's paper tests: vote
// granting and the log up-to-date check, commit of current-term entries only, pre-vote not
// disrupting a healthy leader, check-quorum step-down, read-index, leases, back-pressure,
// snapshot install, membership changes and leadership transfer. Method: servers stepped by
// hand (messages built in the test, outputs read from `ready()`), or a small synchronous
// network (`_harness.ts`) where a rule needs several servers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Raft } from "../../../src/core/raft/raft.ts";
import { defaultRaftConfig } from "../../../src/core/raft/config.ts";
import type { Entry, Message, RequestVote } from "../../../src/core/raft/messages.ts";
import { SeededRandom } from "../../../src/core/random.ts";
import { bytes, Harness } from "./_harness.ts";

const membership = { voters: ["a", "b", "c"], nonVoters: [] };
const history: Entry[] = [
  { type: "membership", index: 1, term: 1, membership },
  { type: "normal", index: 2, term: 1, data: bytes("x") },
  { type: "normal", index: 3, term: 2, data: bytes("y") },
];

function restored(id: string, entries: Entry[], term: number, commit = 1): Raft {
  return new Raft({
    id,
    random: new SeededRandom(3),
    config: { ...defaultRaftConfig(), checkQuorum: false, preVote: false },
    storage: { hardState: { term, vote: undefined, commit }, snapshot: undefined, entries },
  });
}

function drain(raft: Raft): Message[] {
  if (!raft.hasReady()) return [];
  const ready = raft.ready();
  raft.advance();
  return [...ready.messagesToSend];
}

function vote(from: string, lastIndex: number, lastTerm: number, term = 3): RequestVote {
  return {
    type: "requestVote",
    from,
    to: "a",
    term,
    preVote: false,
    lastIndex,
    lastTerm,
    force: false,
  };
}

function granted(messages: Message[]): boolean[] {
  return messages.flatMap((m) => (m.type === "requestVoteResponse" ? [m.granted] : []));
}

test("Raft.step() grants one vote per term, to a candidate whose log is up to date", () => {
  const a = restored("a", history, 2);
  a.step(vote("b", 3, 2));
  assert.deepEqual(granted(drain(a)), [true]);
  // Same term, another candidate: the vote is taken (Raft §5.2).
  a.step(vote("c", 3, 2));
  assert.deepEqual(granted(drain(a)), [false]);
  // The same candidate asking again (a retry) is granted again.
  a.step(vote("b", 3, 2));
  assert.deepEqual(granted(drain(a)), [true]);
});

test("Raft.step() refuses candidates whose log is behind (Raft §5.4.1)", () => {
  const cases: [number, number, boolean][] = [
    [3, 1, false], // lower last term, even if as long
    [9, 1, false], // lower last term, even if longer
    [2, 2, false], // same last term, shorter
    [3, 2, true], // same last term, as long
    [1, 3, true], // higher last term wins even if shorter
  ];
  for (const [lastIndex, lastTerm, expected] of cases) {
    const a = restored("a", history, 2);
    a.step(vote("b", lastIndex, lastTerm));
    assert.deepEqual(granted(drain(a)), [expected], `lastIndex=${lastIndex} lastTerm=${lastTerm}`);
    assert.equal(a.term, 3, "a higher term is adopted even when the vote is refused");
  }
});

test("Raft commits an entry of an earlier term only through one of its own term (Raft §5.4.2)", () => {
  const a = restored("a", history.slice(0, 2), 1);
  while (a.role !== "candidate") a.tick();
  const term = a.term;
  drain(a);
  a.step({ type: "requestVoteResponse", from: "b", to: "a", term, preVote: false, granted: true });
  assert.equal(a.role, "leader");
  assert.equal(a.lastIndex, 3, "a new leader appends a no-op of its term");
  drain(a);
  // A majority (a, b) stores index 2 of term 1: not enough to commit it (Figure 8).
  const ack = (index: number): Message => ({
    type: "appendEntriesResponse",
    from: "b",
    to: "a",
    term,
    index,
    reject: false,
    hintIndex: 0,
    hintTerm: 0,
  });
  a.step(ack(2));
  assert.equal(a.commitIndex, 1);
  a.step(ack(3));
  assert.equal(a.commitIndex, 3, "the no-op of the current term commits everything before it");
});

test("Raft elects one leader that replicates and commits proposals in batches", () => {
  const h = new Harness(["a", "b", "c"]);
  const leader = h.elect();
  assert.deepEqual(h.leaders(), [leader]);
  const raft = h.get(leader);
  for (let i = 0; i < 10; i += 1) assert.equal(raft.propose(bytes(`p${i}`)).type, "accepted");
  h.settle();
  for (const id of ["a", "b", "c"]) {
    const data = h.applied.get(id)!.flatMap((
      e,
    ) => (e.type === "normal" ? [new TextDecoder().decode(e.data)] : []));
    assert.deepEqual(data, Array.from({ length: 10 }, (_, i) => `p${i}`), id);
  }
});

test("Raft.propose() refuses when not leader and when the pipeline is full (back-pressure)", () => {
  const h = new Harness(["a", "b", "c"], { proposalsInFlightMax: 4 });
  const leader = h.elect();
  const follower = ["a", "b", "c"].find((id) => id !== leader)!;
  const refused = h.get(follower).propose(bytes("x"));
  assert.deepEqual(refused, { type: "rejected", reason: "notLeader", leader });
  h.isolate(leader);
  const outcomes = Array.from({ length: 6 }, () => h.get(leader).propose(bytes("y")).type);
  assert.deepEqual(outcomes, [
    "accepted",
    "accepted",
    "accepted",
    "accepted",
    "rejected",
    "rejected",
  ]);
  assert.equal(h.get(leader).propose(new Uint8Array(600_000)).type, "rejected");
});

test("Raft pre-vote keeps a rejoining server from disrupting a healthy leader (thesis §9.6)", () => {
  const h = new Harness(["a", "b", "c"]);
  const leader = h.elect();
  const term = h.get(leader).term;
  const loner = ["a", "b", "c"].find((id) => id !== leader)!;
  h.isolate(loner);
  h.tick(100);
  assert.equal(h.get(loner).term, term, "pre-votes never raise the term");
  h.heal();
  h.tick(5);
  assert.deepEqual(h.leaders(), [leader]);
  assert.equal(h.get(leader).term, term);
});

test("Raft check-quorum: a leader that hears no majority steps down (thesis §6.2)", () => {
  const h = new Harness(["a", "b", "c"]);
  const leader = h.elect();
  h.isolate(leader);
  h.tick(2 * defaultRaftConfig().electionTimeoutTicks, [leader]);
  assert.equal(h.get(leader).role, "follower");
  assert.equal(h.get(leader).leaseValid(), false);
});

test("Raft.readIndex() answers only after a majority confirms the leader (thesis §6.4)", () => {
  const h = new Harness(["a", "b", "c"]);
  const leader = h.elect();
  const raft = h.get(leader);
  raft.propose(bytes("w"));
  h.settle();
  h.isolate(leader);
  assert.deepEqual(raft.readIndex(1), { type: "accepted" });
  h.settle();
  assert.deepEqual(h.readStates.get(leader), [], "no answer without a heartbeat quorum");
  h.heal();
  assert.deepEqual(raft.readIndex(2), { type: "accepted" });
  h.settle();
  assert.deepEqual(h.readStates.get(leader), [{ requestId: 1, index: raft.commitIndex }, {
    requestId: 2,
    index: raft.commitIndex,
  }]);
  const follower = ["a", "b", "c"].find((id) => id !== leader)!;
  assert.equal(h.get(follower).readIndex(3).type, "rejected");
});

test("Raft.leaseValid() holds after a heartbeat quorum and lapses without one", () => {
  const h = new Harness(["a", "b", "c"]);
  const leader = h.elect();
  h.tick(2);
  assert.equal(h.get(leader).leaseValid(), true);
  h.isolate(leader);
  const { electionTimeoutTicks, leaseMarginTicks } = defaultRaftConfig();
  h.tick(electionTimeoutTicks - leaseMarginTicks, [leader]);
  assert.equal(h.get(leader).leaseValid(), false);
});

test("Raft sends a snapshot to a follower behind the compacted log, which installs it", () => {
  const h = new Harness(["a", "b", "c"], { snapshotThresholdEntries: 5, trailingEntries: 0 });
  const leader = h.elect();
  const lagging = ["a", "b", "c"].find((id) => id !== leader)!;
  h.isolate(lagging);
  const raft = h.get(leader);
  for (let i = 0; i < 8; i += 1) raft.propose(bytes(`s${i}`));
  h.settle();
  assert.equal(raft.snapshotDue(), true);
  const { firstIndexKept } = raft.createSnapshot(raft.appliedIndex, bytes("state"));
  assert.equal(firstIndexKept, raft.appliedIndex + 1);
  h.heal();
  let snapshotSeen = false;
  const follower = h.get(lagging);
  for (let i = 0; i < 50 && !snapshotSeen; i += 1) {
    h.get(leader).tick();
    for (let step = 0; step < 20; step += 1) {
      const ready = raft.hasReady() ? raft.ready() : undefined;
      if (ready !== undefined) {
        raft.advance();
        for (const m of ready.messagesToSend) if (m.to === lagging) follower.step(m);
      }
      if (follower.hasReady()) {
        const own = follower.ready();
        if (own.snapshotToApply !== undefined) {
          snapshotSeen = true;
          assert.equal(new TextDecoder().decode(own.snapshotToApply.data), "state");
          assert.equal(own.snapshotToApply.meta.index, raft.appliedIndex);
        }
        follower.advance();
        for (const m of own.messagesToSend) if (m.to === leader) raft.step(m);
      }
    }
  }
  assert.ok(snapshotSeen);
  h.settle();
  h.tick(3);
  assert.equal(follower.appliedIndex, raft.appliedIndex);
});

test("Raft membership: add a non-voter, promote it, remove a voter, one change at a time", () => {
  const h = new Harness(["a", "b", "c"]);
  const leader = h.elect();
  h.add("d", []);
  const raft = h.get(leader);
  assert.equal(raft.proposeMembership({ type: "addNonVoter", id: "d" }).type, "accepted");
  assert.deepEqual(raft.proposeMembership({ type: "promote", id: "d" }), {
    type: "rejected",
    reason: "membershipPending",
    leader,
  });
  h.tick(3);
  assert.deepEqual(h.get("d").membership, { voters: ["a", "b", "c"], nonVoters: ["d"] });
  assert.equal(h.get("d").progressOf("a"), undefined);
  assert.equal(raft.progressOf("d")!.match, raft.lastIndex, "the non-voter caught up");
  assert.equal(raft.proposeMembership({ type: "promote", id: "d" }).type, "accepted");
  h.tick(3);
  assert.deepEqual(h.get("d").membership.voters, ["a", "b", "c", "d"]);
  const removed = ["a", "b", "c"].find((id) => id !== leader)!;
  assert.equal(raft.proposeMembership({ type: "remove", id: removed }).type, "accepted");
  h.tick(3);
  assert.equal(raft.membership.voters.includes(removed), false);
  assert.equal(raft.proposeMembership({ type: "remove", id: "zz" }).type, "rejected");
  assert.equal(raft.propose(bytes("after")).type, "accepted");
  h.tick(3);
  assert.equal(h.get("d").commitIndex, raft.commitIndex);
});

test("Raft.transferLeadership() hands leadership to an up-to-date voter (thesis §3.10)", () => {
  const h = new Harness(["a", "b", "c"]);
  const leader = h.elect();
  const target = ["a", "b", "c"].find((id) => id !== leader)!;
  assert.deepEqual(h.get(leader).transferLeadership(target), { type: "accepted" });
  assert.equal(h.get(leader).propose(bytes("x")).type, "rejected", "no proposals while moving");
  h.settle();
  assert.deepEqual(h.leaders(), [target]);
  assert.ok(h.get(target).term > 1);
});

test("Raft restarts from storage with a term no lower than its last entry's", () => {
  const a = restored("a", history, 1, 2);
  assert.equal(a.term, 2);
  assert.equal(a.commitIndex, 2);
  const ready = a.ready();
  assert.deepEqual(ready.committedEntries.map((e) => e.index), [1, 2]);
  a.advance();
  assert.throws(() => restored("a", history, 2, 9), /Cannot restore Raft/);
});

test("Raft leader sends before its own fsync and counts itself only once persisted (thesis §10.2.1)", () => {
  const h = new Harness(["a", "b", "c"]);
  const leaderId = h.elect();
  const [followerId, cutId] = ["a", "b", "c"].filter((id) => id !== leaderId);
  h.isolate(cutId); // Leader and one follower: the leader's own disk is needed for a majority.
  const leader = h.get(leaderId);
  const follower = h.get(followerId);
  const before = leader.commitIndex;
  leader.propose(bytes("w"));
  const ready = leader.ready();
  assert.equal(ready.sendBeforePersist, true);
  assert.equal(ready.entriesToPersist.length, 1);
  // The append leaves before the leader's write is durable; the follower persists and acks.
  for (const m of ready.messagesToSend) if (m.to === followerId) follower.step(m);
  const own = follower.ready();
  assert.equal(own.sendBeforePersist, false, "a follower's ack waits for its own fsync");
  follower.advance();
  for (const m of own.messagesToSend) if (m.to === leaderId) leader.step(m);
  assert.equal(leader.commitIndex, before, "one follower's ack alone is no majority");
  leader.advance(); // The leader's own write is durable now.
  assert.equal(leader.commitIndex, before + 1);
});

test("Raft.ready() holds messages until persisted after a term or vote change", () => {
  const a = restored("a", history, 2);
  a.step(vote("b", 3, 2));
  const ready = a.ready();
  assert.equal(ready.sendBeforePersist, false);
  assert.deepEqual(granted([...ready.messagesToSend]), [true]);
  a.advance();
});

test("Raft.readIndex() shares one heartbeat round among reads until the outbox is handed out", () => {
  const h = new Harness(["a", "b", "c"]);
  const leaderId = h.elect();
  const leader = h.get(leaderId);
  const heartbeats = (messages: readonly Message[]) =>
    messages.flatMap((m) => (m.type === "heartbeat" ? [m] : []));
  leader.readIndex(1);
  leader.readIndex(2);
  const first = heartbeats(leader.ready().messagesToSend);
  leader.advance();
  assert.equal(first.length, 2, "one round (one heartbeat per follower) for both reads");
  // A read after the round left must not ride on it: its echo predates the read.
  leader.readIndex(3);
  const second = heartbeats(leader.ready().messagesToSend);
  leader.advance();
  assert.equal(second.length, 2);
  assert.ok(second[0].round > first[0].round);
  for (const heartbeat of first) {
    const follower = h.get(heartbeat.to);
    follower.step(heartbeat);
    const ready = follower.ready();
    follower.advance();
    for (const m of ready.messagesToSend) if (m.to === leaderId) leader.step(m);
  }
  const released = leader.ready().readStates.map((state) => state.requestId);
  leader.advance();
  assert.deepEqual(released, [1, 2], "read 3 waits for the echo of its own round");
});

test("Raft.createSnapshot() keeps the trailing entries asked for, over the configured number", () => {
  const h = new Harness(["a", "b", "c"], { trailingEntries: 100 });
  const leader = h.elect();
  const raft = h.get(leader);
  for (let i = 0; i < 8; i += 1) raft.propose(bytes(`s${i}`));
  h.settle();
  assert.equal(raft.snapshotIndex, 0);
  const applied = raft.appliedIndex;
  // The configured 100 trailing entries keep the whole log.
  const kept = raft.createSnapshot(applied - 3, bytes("state"));
  assert.equal(kept.firstIndexKept, 1);
  assert.equal(raft.snapshotIndex, applied - 3);
  // After a restore the shell asks for none: the log starts right after the snapshot.
  const none = raft.createSnapshot(applied, bytes("restored"), { trailingEntries: 0 });
  assert.equal(none.firstIndexKept, applied + 1);
  assert.equal(raft.firstIndex, applied + 1);
  assert.equal(raft.snapshotIndex, applied);
  assert.throws(
    () => raft.createSnapshot(applied, bytes("again"), { trailingEntries: 0 }),
    /a snapshot at/,
  );
});
