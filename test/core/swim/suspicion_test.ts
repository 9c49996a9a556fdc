// Goal: the suspicion timeout and its shrinking with confirmations follow memberlist's formulas
// (gossip-wire.md §6.4). Method: the fact sheet's worked examples (LAN, 10 and 100 members),
// checked value by value.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Suspicion, suspicionTimeoutMs } from "../../../src/core/swim/mod.ts";

test("suspicionTimeoutMs() matches memberlist: LAN min 4 s at 3 and 10 members, 8 s at 100", () => {
  assert.equal(suspicionTimeoutMs(4, 3, 1_000), 4_000);
  assert.equal(suspicionTimeoutMs(4, 10, 1_000), 4_000);
  assert.equal(suspicionTimeoutMs(4, 100, 1_000), 8_000);
  // log10(50) = 1.69897 is kept at millisecond precision: 4 * 1698 = 6792.
  assert.equal(suspicionTimeoutMs(4, 50, 1_000), 6_792);
  assert.equal(suspicionTimeoutMs(4, 0, 1_000), 4_000);
});

test("Suspicion.confirm() shrinks 24 s to about 11.4 s, then to the 4 s minimum", () => {
  const suspicion = new Suspicion({ from: "b", expected: 2, minMs: 4_000, maxMs: 24_000 }, 0);
  assert.equal(suspicion.deadlineAtMs, 24_000);
  assert.equal(suspicion.confirm("b", 100), false, "the first accuser is not a confirmation");
  assert.equal(suspicion.confirm("c", 1_000), true);
  // 24 - ln 2 / ln 3 * 20 = 11.381 s, counted from the start.
  assert.equal(suspicion.deadlineAtMs, 11_381);
  assert.equal(suspicion.confirm("c", 1_500), false, "one confirmation per accuser");
  assert.equal(suspicion.confirm("d", 2_000), true);
  assert.equal(suspicion.deadlineAtMs, 4_000);
  assert.equal(suspicion.confirm("e", 2_500), false, "no more than expected");
  assert.equal(suspicion.confirmations, 2);
});

test("Suspicion fires at once when a confirmation comes after the new deadline", () => {
  const suspicion = new Suspicion({ from: "b", expected: 1, minMs: 4_000, maxMs: 24_000 }, 0);
  suspicion.confirm("c", 9_000);
  assert.equal(suspicion.deadlineAtMs, 9_000);
});

test("Suspicion starts at the minimum when no confirmations are expected", () => {
  const suspicion = new Suspicion({ from: "b", expected: 0, minMs: 4_000, maxMs: 24_000 }, 500);
  assert.equal(suspicion.deadlineAtMs, 4_500);
  assert.equal(suspicion.confirm("c", 600), false);
});
