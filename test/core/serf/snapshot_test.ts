// Goal: the member snapshot reads and writes Serf's `local.snapshot` text format
// (gossip-wire.md §11.10) and restores clocks so a restarted core refuses old events.
// Method: encode and decode by hand-written lines; follow a core's outputs with
// SnapshotRecorder; restart a core from the decoded clocks.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeSnapshot,
  encodeSnapshot,
  formatAddress,
  parseIpv4Address,
  Serf,
  SnapshotRecorder,
} from "../../../src/core/serf/mod.ts";
import { SeededRandom } from "../../../src/core/random.ts";
import { encodeSerfMessage } from "../../../src/core/wire/mod.ts";
import { bytes, drain, makeSerf, nodeOf } from "./_harness.ts";

test("decodeSnapshot() replays alive, not-alive, clocks, comments and leave as Serf", () => {
  const text = [
    "# serf snapshot",
    "alive: b 127.0.0.3:7946",
    "alive: c d 127.0.0.4:7946",
    "not-alive: b",
    "clock: 7",
    "event-clock: 3",
    "query-clock: 9",
    "coordinate: ignored",
    "bogus line",
    "",
  ].join("\n");
  const snapshot = decodeSnapshot(text);
  assert.deepEqual([...snapshot.aliveNodes], [["c d", "127.0.0.4:7946"]]);
  assert.deepEqual([snapshot.clock, snapshot.eventClock, snapshot.queryClock], [7, 3, 9]);
  assert.equal(snapshot.skippedLines, 1);
  assert.equal(decodeSnapshot(text + "leave\n").aliveNodes.size, 0);
  assert.equal(decodeSnapshot(text + "leave\n", { rejoinAfterLeave: true }).aliveNodes.size, 1);
  assert.deepEqual(decodeSnapshot(encodeSnapshot(snapshot)).aliveNodes, snapshot.aliveNodes);
});

test("SnapshotRecorder records joins, failures, clocks and the leave of a running core", () => {
  const serf = makeSerf("a", 2);
  const recorder = new SnapshotRecorder();
  const lines: string[] = [];
  const follow = () => {
    for (const output of drain(serf)) lines.push(...recorder.observe(output, serf.clocks().member));
  };
  serf.handle({ type: "memberJoined", node: nodeOf("b", 3) }, 1);
  serf.handle({
    type: "userMessage",
    payload: encodeSerfMessage({ type: "join", lamportTime: 4, node: "b" }),
  }, 1);
  serf.handle({ type: "memberJoined", node: nodeOf("c", 4) }, 2);
  serf.handle({ type: "memberLeft", name: "c" }, 3);
  serf.userEvent("deploy", bytes("x"), false, 4);
  follow();
  assert.deepEqual(lines, [
    "alive: b 127.0.0.3:7946\n",
    "clock: 4\n", // Read after the whole batch: the member clock is 5, so 4 was handed out.
    "alive: c 127.0.0.4:7946\n",
    "not-alive: c\n",
    "event-clock: 1\n",
  ]);
  assert.deepEqual([...recorder.snapshot().aliveNodes.keys()], ["b"]);
});

test("Serf restored from a snapshot refuses events and queries at or before the saved clocks", () => {
  const restored = new Serf({
    name: "a",
    address: { address: Uint8Array.of(127, 0, 0, 2), port: 7946 },
    random: new SeededRandom(1),
    restore: { clock: 7, eventClock: 3, queryClock: 9 },
  }, 0);
  assert.deepEqual(restored.clocks(), { member: 8, event: 4, query: 10 });
  drain(restored);
  const old = encodeSerfMessage({
    type: "userEvent",
    lamportTime: 3,
    name: "e",
    payload: undefined,
    coalesce: false,
  });
  restored.handle({ type: "userMessage", payload: old }, 1);
  assert.equal(drain(restored).length, 0);
});

test("formatAddress() and parseIpv4Address() write addresses as Go does", () => {
  assert.equal(formatAddress({ address: Uint8Array.of(10, 0, 0, 1), port: 8301 }), "10.0.0.1:8301");
  const loopback6 = new Uint8Array(16);
  loopback6[15] = 1;
  assert.equal(formatAddress({ address: loopback6, port: 8301 }), "[::1]:8301");
  assert.deepEqual(parseIpv4Address("10.0.0.1:8301"), {
    address: Uint8Array.of(10, 0, 0, 1),
    port: 8301,
  });
  assert.equal(parseIpv4Address("10.0.0.256:1"), undefined);
  assert.equal(parseIpv4Address("nonsense"), undefined);
});
