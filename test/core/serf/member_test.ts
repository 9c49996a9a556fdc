// Goal: member statuses follow Serf 0.9.4's intent rules (gossip-wire.md §11.7): intents for
// unknown members are buffered (a leave that overtakes the join still counts), stale intents are
// ignored and not re-gossiped, graceful leaves end "left" and silent exits "failed", failed and
// left members are reaped after their timeouts, failed members are offered for reconnects, and
// force-leave and the graceful leave sequence behave as Serf's. Method: one Serf core fed
// memberlist reports and encoded intents with explicit `nowMs`; `poll()` outputs checked.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RecentIntents } from "../../../src/core/serf/mod.ts";
import { decodeSerfMessage, encodeSerfMessage } from "../../../src/core/wire/mod.ts";
import { drain, makeSerf, nodeOf, ofType } from "./_harness.ts";

function join(node: string, lamportTime: number): Uint8Array {
  return encodeSerfMessage({ type: "join", lamportTime, node });
}

function leave(node: string, lamportTime: number, prune = false): Uint8Array {
  return encodeSerfMessage({ type: "leave", lamportTime, node, prune });
}

describe("Serf intents", () => {
  test("Serf buffers a leave intent for an unknown member and applies it when it appears", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "userMessage", payload: leave("b", 5) }, 1);
    const [rebroadcast] = ofType(drain(serf), "broadcast");
    assert.equal(rebroadcast.kind, "intent");
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3) }, 2);
    assert.equal(serf.member("b")?.status, "leaving");
    assert.equal(serf.member("b")?.statusLamportTime, 5);
    // memberlist then reports it gone: a graceful leave, not a failure.
    serf.handle({ type: "memberLeft", name: "b" }, 3);
    const events = ofType(drain(serf), "memberEvent").map((e) => e.event);
    assert.deepEqual(events, ["join", "leave"]);
    assert.equal(serf.member("b")?.status, "left");
  });

  test("Serf keeps only the newest buffered intent: a later join beats an earlier leave", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "userMessage", payload: leave("b", 5) }, 1);
    serf.handle({ type: "userMessage", payload: join("b", 6) }, 1);
    serf.handle({ type: "userMessage", payload: join("b", 4) }, 1);
    assert.equal(ofType(drain(serf), "broadcast").length, 2, "the stale join is not re-gossiped");
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3) }, 2);
    assert.equal(serf.member("b")?.status, "alive");
    assert.equal(serf.member("b")?.statusLamportTime, 6);
  });

  test("Serf forgets buffered intents after recentIntentTimeoutMs", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "userMessage", payload: leave("b", 5) }, 0);
    serf.tick(300_000);
    serf.tick(315_000); // The reaper runs every 15 s; the intent is now older than 5 min.
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3) }, 315_001);
    assert.equal(serf.member("b")?.status, "alive");
  });

  test("RecentIntents drops the oldest name at its bound and counts it", () => {
    const intents = new RecentIntents(2);
    intents.upsert("b", "join", 1, 0);
    intents.upsert("c", "join", 1, 0);
    intents.upsert("d", "leave", 1, 0);
    assert.equal(intents.get("b"), undefined);
    assert.equal(intents.size, 2);
    assert.equal(intents.dropped, 1);
  });

  test("Serf ignores intents not newer than the member's status clock", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3) }, 1);
    serf.handle({ type: "userMessage", payload: join("b", 8) }, 2);
    assert.equal(ofType(drain(serf), "broadcast").length, 1);
    serf.handle({ type: "userMessage", payload: leave("b", 8) }, 3);
    serf.handle({ type: "userMessage", payload: join("b", 8) }, 3);
    assert.equal(ofType(drain(serf), "broadcast").length, 0);
    assert.equal(serf.member("b")?.status, "alive");
    serf.handle({ type: "userMessage", payload: leave("b", 9) }, 4);
    assert.equal(serf.member("b")?.status, "leaving");
    // The same leave again is stale now: no infinite re-gossip.
    serf.handle({ type: "userMessage", payload: leave("b", 9) }, 5);
    assert.equal(ofType(drain(serf), "broadcast").length, 1);
  });

  test("Serf refutes a leave intent about itself with a newer join intent", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "userMessage", payload: leave("a", 4) }, 1);
    const [refute] = ofType(drain(serf), "broadcast");
    const message = decodeSerfMessage(refute.payload);
    assert.equal(message.type, "join");
    assert.ok(message.type === "join" && message.lamportTime > 4 && message.node === "a");
    assert.equal(serf.member("a")?.status, "alive");
  });

  test("Serf marks a member failed when memberlist loses it without a leave intent", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3) }, 1);
    serf.handle({ type: "memberLeft", name: "b" }, 2);
    assert.equal(serf.member("b")?.status, "failed");
    // A later leave intent (force-leave elsewhere) turns the failure into a leave at once.
    serf.handle({ type: "userMessage", payload: leave("b", 3) }, 3);
    const events = ofType(drain(serf), "memberEvent").map((e) => e.event);
    assert.deepEqual(events, ["join", "failed", "leave"]);
    assert.equal(serf.member("b")?.status, "left");
  });

  test("Serf brings a failed member back to alive when memberlist sees it again", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3) }, 1);
    serf.handle({ type: "memberLeft", name: "b" }, 2);
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3, { role: "db" }) }, 3);
    assert.equal(serf.member("b")?.status, "alive");
    assert.equal(serf.member("b")?.tags.get("role"), "db");
  });

  test("Serf propagates tag updates: memberUpdated raises an update event", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3, { role: "web" }) }, 1);
    serf.handle({ type: "memberUpdated", node: nodeOf("b", 3, { role: "db" }) }, 2);
    const events = ofType(drain(serf), "memberEvent");
    assert.deepEqual(events.map((e) => e.event), ["join", "update"]);
    assert.equal(events[1].member.tags.get("role"), "db");
  });
});

describe("Serf reaping and reconnects", () => {
  const hour = 3_600_000;

  test("Serf reaps failed members after reconnectTimeoutMs and left ones after tombstoneTimeoutMs", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3) }, 0);
    serf.handle({ type: "memberJoined", node: nodeOf("c", 4) }, 0);
    serf.handle({ type: "memberLeft", name: "b" }, 1_000);
    serf.handle({ type: "userMessage", payload: leave("c", 10) }, 1_000);
    serf.handle({ type: "memberLeft", name: "c" }, 1_000);
    drain(serf);
    serf.tick(24 * hour);
    assert.equal(serf.member("c")?.status, "left", "not yet past 24 h");
    // Reaping runs every reapIntervalMs (15 s), as Serf's reaper.
    serf.tick(serf.nextDeadlineMs()!);
    assert.equal(serf.member("c"), undefined);
    assert.equal(serf.member("b")?.status, "failed");
    serf.tick(72 * hour + 1_001);
    serf.tick(72 * hour + 20_000);
    assert.equal(serf.member("b"), undefined);
    const reaps = ofType(drain(serf), "memberEvent").filter((e) => e.event === "reap");
    assert.deepEqual(reaps.map((e) => e.member.name), ["c", "b"]);
  });

  test("Serf offers failed members for reconnects at the reconnect interval", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3) }, 0);
    serf.handle({ type: "memberLeft", name: "b" }, 1);
    drain(serf);
    // One failed and one alive (us): the probability is 1, so every interval tries.
    serf.tick(30_000);
    const [reconnect] = ofType(drain(serf), "reconnect");
    assert.equal(reconnect.name, "b");
    assert.deepEqual([...reconnect.to.address], [127, 0, 0, 3]);
    assert.equal(serf.nextDeadlineMs(), 45_000);
  });

  test("Serf.forceLeave() with prune erases the member", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3) }, 0);
    serf.handle({ type: "memberLeft", name: "b" }, 1);
    serf.forceLeave("b", 2, { prune: true });
    const events = ofType(drain(serf), "memberEvent").map((e) => e.event);
    assert.deepEqual(events, ["join", "failed", "leave", "reap"]);
    assert.equal(serf.member("b"), undefined);
  });
});

describe("Serf graceful leave", () => {
  test("Serf.leave() sends the intent, then leaves memberlist, then reports left", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3) }, 0);
    drain(serf);
    serf.leave(10);
    const [intent] = ofType(drain(serf), "broadcast");
    assert.equal(decodeSerfMessage(intent.payload).type, "leave");
    assert.equal(serf.state, "leaving");
    assert.throws(
      () => serf.userEvent("x", new Uint8Array(0), false, 11),
      /Cannot fire user event/,
    );
    serf.handle({ type: "leaveIntentSent" }, 20);
    assert.deepEqual(drain(serf).map((o) => o.type), ["leaveMemberlist"]);
    serf.handle({ type: "memberlistLeft" }, 30);
    assert.equal(serf.nextDeadlineMs(), 130);
    serf.tick(130);
    assert.deepEqual(drain(serf).map((o) => o.type), ["left"]);
    assert.equal(serf.state, "left");
  });

  test("Serf.leave() moves on after broadcastTimeoutMs without reports", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "memberJoined", node: nodeOf("b", 3) }, 0);
    serf.leave(0);
    drain(serf);
    serf.tick(500);
    assert.deepEqual(drain(serf).map((o) => o.type), ["leaveMemberlist"]);
    serf.tick(1_000);
    serf.tick(1_100);
    assert.deepEqual(drain(serf).map((o) => o.type), ["left"]);
  });
});
