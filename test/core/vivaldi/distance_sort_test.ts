// Goal: the HTTP layer's orderings match Consul: `?near=` puts the nearest first, items without
// (or with unusable) coordinates last, and keeps input order on ties; datacenters are ordered by
// the median round trip to their servers (local ones count 0, unknown ones Infinity), the lowest
// median over areas, ties by name. Method: coordinates on one axis so distances are obvious.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type Coordinate,
  datacentersByDistance,
  distanceOrInfinitySeconds,
  medianRttByDatacenter,
  sortByDistance,
} from "../../../src/core/vivaldi/mod.ts";

/** A coordinate `x` seconds along the first axis, with no height. */
function onAxis(x: number): Coordinate {
  return { vec: [x, 0, 0, 0, 0, 0, 0, 0], error: 0.1, adjustment: 0, height: 0 };
}

const fourDimensions: Coordinate = { vec: [0, 0, 0, 0], error: 0.1, adjustment: 0, height: 0 };

test("`distanceOrInfinitySeconds()` is Infinity for a missing or incompatible coordinate", () => {
  assert.equal(distanceOrInfinitySeconds(onAxis(0), onAxis(2)), 2);
  assert.equal(distanceOrInfinitySeconds(undefined, onAxis(2)), Infinity);
  assert.equal(distanceOrInfinitySeconds(onAxis(0), undefined), Infinity);
  assert.equal(distanceOrInfinitySeconds(onAxis(0), fourDimensions), Infinity);
});

test("`sortByDistance()` orders nearest first, uncoordinated last, stable on ties", () => {
  const coordinates = new Map<string, Coordinate>([
    ["a", onAxis(3)],
    ["c", onAxis(-1)],
    ["d", onAxis(-3)],
    ["e", fourDimensions],
    ["f", onAxis(2)],
  ]);
  const items = ["a", "b", "c", "d", "e", "f"].map((node) => ({ node }));
  const sorted = sortByDistance(onAxis(0), items, (item) => coordinates.get(item.node));
  assert.deepEqual(sorted.map((item) => item.node), ["c", "f", "a", "d", "b", "e"]);
  assert.deepEqual(items.map((item) => item.node), ["a", "b", "c", "d", "e", "f"], "unchanged");
  const reversed = sortByDistance(onAxis(0), [...items].reverse(), (i) => coordinates.get(i.node));
  assert.deepEqual(reversed.map((item) => item.node), ["c", "f", "d", "a", "e", "b"]);
});

test("`sortByDistance()` keeps the input order when the origin has no coordinate", () => {
  const items = [onAxis(5), onAxis(1), onAxis(3)];
  const sorted = sortByDistance(undefined, items, (item) => item);
  assert.deepEqual(sorted, items);
  assert.notEqual(sorted, items, "a new array");
});

test("`medianRttByDatacenter()` takes each datacenter's median, local 0, unknown Infinity", () => {
  const medians = medianRttByDatacenter(onAxis(0), [
    { datacenter: "dc1", coordinate: onAxis(9) }, // Local: counts 0 whatever its coordinate.
    { datacenter: "dc1", coordinate: undefined },
    { datacenter: "dc2", coordinate: onAxis(1) },
    { datacenter: "dc2", coordinate: onAxis(5) },
    { datacenter: "dc2", coordinate: onAxis(-3) },
    { datacenter: "dc3", coordinate: onAxis(2) },
    { datacenter: "dc3", coordinate: undefined }, // Upper median of [2, Infinity].
    { datacenter: "dc4", coordinate: onAxis(4) },
    { datacenter: "dc4", coordinate: onAxis(1) },
    { datacenter: "dc4", coordinate: onAxis(8) },
    { datacenter: "dc4", coordinate: onAxis(2) }, // Upper median of [1, 2, 4, 8].
  ], "dc1");
  assert.deepEqual(
    [...medians].sort(),
    [["dc1", 0], ["dc2", 3], ["dc3", Infinity], ["dc4", 4]],
  );
  const unknownOrigin = medianRttByDatacenter(undefined, [
    { datacenter: "dc1", coordinate: undefined },
    { datacenter: "dc2", coordinate: onAxis(1) },
  ], "dc1");
  assert.deepEqual([...unknownOrigin].sort(), [["dc1", 0], ["dc2", Infinity]]);
});

test("`datacentersByDistance()` takes the lowest median over areas, ties by name", () => {
  const wan = new Map([["dc1", 0], ["dc2", 0.08], ["dc3", 0.02], ["dc5", Infinity]]);
  const area = new Map([["dc2", 0.01], ["dc4", Infinity], ["dc3", 0.03], ["dc0", 0.02]]);
  assert.deepEqual(datacentersByDistance([wan, area]), [
    { datacenter: "dc1", medianRttSeconds: 0 },
    { datacenter: "dc2", medianRttSeconds: 0.01 },
    { datacenter: "dc0", medianRttSeconds: 0.02 },
    { datacenter: "dc3", medianRttSeconds: 0.02 },
    { datacenter: "dc4", medianRttSeconds: Infinity },
    { datacenter: "dc5", medianRttSeconds: Infinity },
  ]);
  assert.deepEqual(datacentersByDistance([]), []);
});
