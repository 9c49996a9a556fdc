// Goal: the latency filter returns the median of each peer's last `samplesMax` samples as Serf's
// `sorted[len/2]`, and stays within `nodesMax` peers by forgetting the least recently measured
// one. Method: samples fed by hand, medians and counters checked after each.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AssertionError } from "../../../src/core/assert.ts";
import { LatencyFilter } from "../../../src/core/vivaldi/mod.ts";

test("`LatencyFilter.add()` returns the median of the last three samples", () => {
  const filter = new LatencyFilter(3, 16);
  assert.equal(filter.add("b", 0.010), 0.010);
  assert.equal(filter.add("b", 0.030), 0.030, "of two, the upper one");
  assert.equal(filter.add("b", 0.020), 0.020);
  assert.equal(filter.add("b", 0.500), 0.030, "a spike does not pass: median of 30, 20, 500");
  assert.equal(filter.add("b", 0.005), 0.020, "the first sample left: median of 20, 500, 5");
  assert.equal(filter.add("c", 0.700), 0.700, "peers are filtered apart");
});

test("`LatencyFilter.add()` forgets the least recently measured peer past nodesMax", () => {
  const filter = new LatencyFilter(3, 2);
  filter.add("a", 0.001);
  filter.add("b", 0.002);
  filter.add("a", 0.003); // "a" is now the most recently measured.
  filter.add("c", 0.004); // Evicts "b".
  assert.equal(filter.size(), 2);
  assert.equal(filter.evictions(), 1);
  assert.equal(filter.add("a", 0.005), 0.003, "a kept its samples: median of 1, 3, 5 ms");
  assert.equal(filter.add("b", 0.100), 0.100, "b starts over");
  assert.equal(filter.evictions(), 2, "b's return evicted c");
});

test("`LatencyFilter.forget()` drops a peer's samples", () => {
  const filter = new LatencyFilter(3, 4);
  filter.add("a", 0.001);
  filter.add("a", 0.001);
  filter.forget("a");
  assert.equal(filter.size(), 0);
  assert.equal(filter.add("a", 0.009), 0.009);
});

test("`LatencyFilter.add()` asserts a finite sample", () => {
  const filter = new LatencyFilter(3, 4);
  assert.throws(() => filter.add("a", NaN), AssertionError);
  assert.throws(() => new LatencyFilter(0, 4), AssertionError);
});
