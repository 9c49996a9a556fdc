// Goal: the broadcast queue follows memberlist's TransmitLimitedQueue rules (gossip-wire.md
// §6.6): least transmitted and newest first, a retransmit limit of mult * ceil(log10(n + 1)),
// replacement of broadcasts about the same member, and a bound that drops the most sent and
// oldest. Method: small hand-made queues, the order of what `take()` returns checked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BroadcastQueue, retransmitLimit } from "../../../src/core/swim/mod.ts";

test("retransmitLimit() is mult * ceil(log10(n + 1))", () => {
  assert.equal(retransmitLimit(4, 3), 4);
  assert.equal(retransmitLimit(4, 9), 4);
  assert.equal(retransmitLimit(4, 10), 8);
  assert.equal(retransmitLimit(4, 1_000), 16);
});

test("BroadcastQueue.take() sends least transmitted, newest first, up to the limit", () => {
  const queue = new BroadcastQueue(16);
  const suspect = (node: string) => ({ type: "suspect" as const, node, incarnation: 1, from: "a" });
  queue.push(suspect("x"), 10, { key: "x" });
  queue.push(suspect("y"), 10, { key: "y" });
  assert.deepEqual(queue.take(2, 12, 2).map((m) => m.type === "suspect" && m.node), ["y"]);
  // y has gone out once, so x (never sent) comes first now.
  assert.deepEqual(queue.take(2, 100, 2).map((m) => m.type === "suspect" && m.node), ["x", "y"]);
  // y reached its limit of 2; x has one transmission left.
  assert.deepEqual(queue.take(2, 100, 2).map((m) => m.type === "suspect" && m.node), ["x"]);
  assert.equal(queue.length, 0);
});

test("BroadcastQueue.push() replaces a broadcast about the same member and reports tokens", () => {
  const queue = new BroadcastQueue(16);
  queue.push({ type: "suspect", node: "x", incarnation: 1, from: "a" }, 10, { key: "x", token: 7 });
  queue.push({ type: "dead", node: "x", incarnation: 1, from: "a" }, 10, { key: "x" });
  queue.push({ type: "user", payload: Uint8Array.of(1) }, 2);
  queue.push({ type: "user", payload: Uint8Array.of(1) }, 2);
  assert.equal(queue.length, 3, "user broadcasts are never replaced");
  assert.deepEqual(queue.takeFinished(), [7]);
  const types = queue.take(2, 1_000, 5).map((m) => m.type);
  assert.deepEqual(types, ["user", "user", "dead"]);
});

test("BroadcastQueue is bounded: past its limit the most sent, oldest are dropped", () => {
  const queue = new BroadcastQueue(3);
  for (const node of ["a", "b"]) {
    queue.push({ type: "suspect", node, incarnation: 1, from: "z" }, 10, { key: node });
  }
  queue.take(2, 14, 10); // b is sent once.
  for (const node of ["c", "d"]) {
    queue.push({ type: "suspect", node, incarnation: 1, from: "z" }, 10, { key: node });
  }
  assert.equal(queue.length, 3);
  assert.equal(queue.droppedCount, 1);
  assert.equal(queue.has("b"), false, "the most transmitted goes first");
  assert.ok(queue.has("a") && queue.has("c") && queue.has("d"));
});
