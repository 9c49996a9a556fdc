// Goal: user events follow Serf 0.9.4 (gossip-wire.md §11.8): the 512-byte size limit on name
// plus payload, a 512-slot buffer keyed by clock that de-duplicates and refuses events too old
// for it, the minimum event time after a join that ignores old events, push/pull replay, and
// local coalescing of same-name events. Method: the EventBuffer and UserEventCoalescer alone,
// then one Serf core fed encoded events with explicit `nowMs`.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventBuffer, UserEventCoalescer } from "../../../src/core/serf/mod.ts";
import { encodeSerfMessage } from "../../../src/core/wire/mod.ts";
import { bytes, drain, makeSerf, ofType } from "./_harness.ts";

function event(name: string, lamportTime: number, payload = "", coalesce = false): Uint8Array {
  return encodeSerfMessage({
    type: "userEvent",
    lamportTime,
    name,
    payload: bytes(payload),
    coalesce,
  });
}

describe("EventBuffer", () => {
  test("EventBuffer.accept() de-duplicates by clock, name and payload", () => {
    const buffer = new EventBuffer(512);
    const e = { lamportTime: 3, name: "deploy", payload: bytes("v1") };
    assert.equal(buffer.accept(e, 4, 0), "accepted");
    assert.equal(buffer.accept(e, 4, 0), "duplicate");
    assert.equal(buffer.accept({ ...e, payload: bytes("v2") }, 4, 0), "accepted");
    assert.equal(buffer.slots()[3]?.events.length, 2);
  });

  test("EventBuffer.accept() refuses events older than the buffer and below the minimum", () => {
    const buffer = new EventBuffer(512);
    assert.equal(
      buffer.accept({ lamportTime: 100, name: "e", payload: undefined }, 1_000, 0),
      "tooOld",
    );
    assert.equal(
      buffer.accept({ lamportTime: 488, name: "e", payload: undefined }, 1_000, 0),
      "accepted",
    );
    assert.equal(
      buffer.accept({ lamportTime: 5, name: "e", payload: undefined }, 6, 6),
      "belowMinimum",
    );
  });
});

describe("Serf user events", () => {
  test("Serf.userEvent() enforces the 512-byte limit on name plus payload", () => {
    const serf = makeSerf("a", 2);
    assert.throws(
      () => serf.userEvent("deploy", new Uint8Array(507), false, 1),
      /Cannot fire user event: name and payload are 513 bytes/,
    );
    // 512 bytes before encoding still grows past 512 once encoded: refused as Serf does.
    assert.throws(() => serf.userEvent("deploy", new Uint8Array(506), false, 1), /encodes to/);
    serf.userEvent("deploy", new Uint8Array(400), false, 1);
    const outputs = drain(serf);
    assert.equal(ofType(outputs, "userEvent").length, 1, "delivered locally");
    assert.equal(ofType(outputs, "broadcast")[0].kind, "event");
  });

  test("Serf delivers and re-gossips a new event once, and drops a duplicate", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "userMessage", payload: event("deploy", 5, "v1") }, 1);
    serf.handle({ type: "userMessage", payload: event("deploy", 5, "v1") }, 2);
    const outputs = drain(serf);
    assert.equal(ofType(outputs, "userEvent").length, 1);
    assert.equal(ofType(outputs, "broadcast").length, 1);
    assert.equal(serf.stats().eventsDuplicate, 1);
  });

  test("Serf refuses an event too old for its buffer", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "userMessage", payload: event("new", 2_000) }, 1);
    serf.handle({ type: "userMessage", payload: event("old", 1_000) }, 2);
    assert.deepEqual(ofType(drain(serf), "userEvent").map((e) => e.name), ["new"]);
    assert.equal(serf.stats().eventsTooOld, 1);
  });

  test("Serf replays push/pull events, unless a join ignores events before the peer's clock", () => {
    const remote = makeSerf("b", 3);
    remote.userEvent("one", bytes("1"), false, 1);
    remote.userEvent("two", bytes("2"), false, 2);
    const state = remote.localState(true);
    const replaying = makeSerf("a", 2);
    replaying.handle({ type: "remoteState", state, join: true }, 3);
    assert.deepEqual(ofType(drain(replaying), "userEvent").map((e) => e.name), ["one", "two"]);
    const ignoring = makeSerf("c", 4);
    ignoring.handle({ type: "joinStarted", ignoreOldEvents: true }, 3);
    ignoring.handle({ type: "remoteState", state, join: true }, 3);
    assert.equal(ofType(drain(ignoring), "userEvent").length, 0);
  });

  test("Serf coalesces same-name events and delivers only the newest after the window", () => {
    const serf = makeSerf("a", 2, {
      config: { userCoalescePeriodMs: 3_000, userQuiescentPeriodMs: 1_000 },
    });
    serf.handle({ type: "userMessage", payload: event("deploy", 5, "v1", true) }, 0);
    serf.handle({ type: "userMessage", payload: event("deploy", 7, "v3", true) }, 100);
    serf.handle({ type: "userMessage", payload: event("deploy", 6, "v2", true) }, 200);
    serf.handle({ type: "userMessage", payload: event("other", 8, "x", false) }, 300);
    assert.deepEqual(ofType(drain(serf), "userEvent").map((e) => e.name), ["other"]);
    assert.equal(serf.nextDeadlineMs(), 1_200);
    serf.tick(1_200);
    const flushed = ofType(drain(serf), "userEvent");
    assert.deepEqual(flushed.map((e) => new TextDecoder().decode(e.payload)), ["v3"]);
  });
});

describe("UserEventCoalescer", () => {
  test("UserEventCoalescer closes the window at the period even while events keep coming", () => {
    const coalescer = new UserEventCoalescer(3_000, 1_000);
    for (let t = 0; t <= 2_800; t += 400) {
      coalescer.push({ lamportTime: t, name: "e", payload: undefined, coalesce: true }, t);
    }
    assert.equal(coalescer.deadlineMs(), 3_000);
    assert.deepEqual(coalescer.flushDue(3_000).map((e) => e.lamportTime), [2_800]);
    assert.equal(coalescer.deadlineMs(), undefined);
  });
});
