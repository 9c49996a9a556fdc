// Goal: the Lamport clock follows Serf's `lamport.go` rules exactly (gossip-wire.md §11.5),
// and Serf's three clocks move as Serf moves them for intents, events, queries and push/pull.
// Method: a bare clock driven by hand, then a Serf core whose `clocks()` are read after each
// local action and each received message.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { LamportClock } from "../../../src/core/serf/mod.ts";
import { encodeSerfMessage } from "../../../src/core/wire/mod.ts";
import { bytes, drain, makeSerf } from "./_harness.ts";

describe("LamportClock", () => {
  test("LamportClock.increment() adds one and returns the new value", () => {
    const clock = new LamportClock();
    assert.equal(clock.time(), 0);
    assert.equal(clock.increment(), 1);
    assert.equal(clock.time(), 1);
  });

  test("LamportClock.witness() moves to value + 1 only when value is at or past the clock", () => {
    const clock = new LamportClock(5);
    clock.witness(3);
    assert.equal(clock.time(), 5);
    clock.witness(5);
    assert.equal(clock.time(), 6);
    clock.witness(10);
    assert.equal(clock.time(), 11);
  });

  test("LamportClock refuses a non-integer witness", () => {
    assert.throws(() => new LamportClock().witness(1.5), /Cannot witness Lamport time/);
  });
});

describe("Serf clocks", () => {
  test("Serf starts every clock at 1, as Serf does", () => {
    assert.deepEqual(makeSerf("a", 2).clocks(), { member: 1, event: 1, query: 1 });
  });

  test("Serf.userEvent() stamps the current event clock, then increments it", () => {
    const serf = makeSerf("a", 2);
    assert.equal(serf.userEvent("deploy", bytes("x"), false, 1), 1);
    assert.equal(serf.userEvent("deploy", bytes("y"), false, 2), 2);
    assert.equal(serf.clocks().event, 3);
  });

  test("Serf.query() stamps the query clock and witnessing it locally moves the clock on", () => {
    const serf = makeSerf("a", 2);
    const { lamportTime } = serf.query("uptime", bytes(""), {}, 1);
    assert.equal(lamportTime, 1);
    assert.equal(serf.clocks().query, 2);
  });

  test("Serf witnesses received intents, events and queries on the matching clock", () => {
    const serf = makeSerf("a", 2);
    const join = encodeSerfMessage({ type: "join", lamportTime: 9, node: "z" });
    serf.handle({ type: "userMessage", payload: join }, 1);
    const event = encodeSerfMessage({
      type: "userEvent",
      lamportTime: 20,
      name: "e",
      payload: undefined,
      coalesce: false,
    });
    serf.handle({ type: "userMessage", payload: event }, 2);
    assert.deepEqual(serf.clocks(), { member: 10, event: 21, query: 1 });
  });

  test("Serf witnesses push/pull clocks minus one", () => {
    const serf = makeSerf("a", 2);
    const state = encodeSerfMessage({
      type: "pushPull",
      lamportTime: 7,
      statusLamportTimes: new Map(),
      leftMembers: [],
      eventLamportTime: 4,
      events: [],
      queryLamportTime: 30,
    });
    serf.handle({ type: "remoteState", state, join: false }, 1);
    assert.deepEqual(serf.clocks(), { member: 7, event: 4, query: 30 });
  });

  test("Serf join and leave intents: join witnesses its stamp, leave increments", () => {
    const serf = makeSerf("a", 2);
    serf.handle({ type: "joinFinished", contacted: 1 }, 1);
    const [join] = drain(serf);
    assert.equal(join.type, "broadcast");
    assert.equal(serf.clocks().member, 2);
    assert.equal(serf.member("a")?.statusLamportTime, 1);
    serf.forceLeave("ghost", 2);
    assert.equal(serf.clocks().member, 3);
  });
});
