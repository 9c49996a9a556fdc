// Goal: the coordinate math follows Serf's `coordinate/coordinate.go`: distance is the Euclidean
// norm plus both heights, plus both adjustments only while that stays positive; forces move along
// the line between two points, move the height in proportion and never below its floor, and pick
// a random direction from the injected source when the points coincide; NaN and Infinity make a
// coordinate invalid. Method: hand-computed cases (3-4-5 triangles), seeded and scripted randoms.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AssertionError } from "../../../src/core/assert.ts";
import { type Random, SeededRandom } from "../../../src/core/random.ts";
import {
  applyForce,
  areCoordinatesCompatible,
  cloneCoordinate,
  type Coordinate,
  defaultVivaldiConfig,
  distanceSeconds,
  isCoordinateValid,
  newCoordinate,
  rawDistanceSeconds,
} from "../../../src/core/vivaldi/mod.ts";

/** An 8-dimensional coordinate with the given leading components. */
function at(components: number[], fields: Partial<Omit<Coordinate, "vec">> = {}): Coordinate {
  const vec = new Array<number>(8).fill(0);
  components.forEach((value, index) => (vec[index] = value));
  return { vec, error: 1.5, adjustment: 0, height: 0, ...fields };
}

function norm(vec: number[]): number {
  return Math.sqrt(vec.reduce((sum, x) => sum + x * x, 0));
}

/** A Random that always returns the same word. */
function constantRandom(word: number): Random {
  const random: Random = { nextUint32: () => word, fork: () => random };
  return random;
}

test("`newCoordinate()` is Serf's fresh coordinate: origin, error 1.5, height 10 µs", () => {
  assert.deepEqual(newCoordinate(defaultVivaldiConfig()), {
    vec: [0, 0, 0, 0, 0, 0, 0, 0],
    error: 1.5,
    adjustment: 0,
    height: 10e-6,
  });
});

test("`distanceSeconds()` adds both heights to the Euclidean distance, symmetrically", () => {
  const a = at([3, 4], { height: 0.1 });
  const b = at([], { height: 0.2 });
  assert.ok(Math.abs(rawDistanceSeconds(a, b) - 5.3) < 1e-12);
  assert.ok(Math.abs(distanceSeconds(a, b) - 5.3) < 1e-12);
  assert.equal(distanceSeconds(a, b), distanceSeconds(b, a));
  const c = at([1, 2, 3, 4, 5, 6, 7, 8]);
  const d = at([2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(Math.abs(distanceSeconds(c, d) - Math.sqrt(8)) < 1e-12);
});

test("`distanceSeconds()` adds both adjustments only while the sum stays positive", () => {
  const a = at([3, 4], { height: 0.1, adjustment: 0.5 });
  const b = at([], { height: 0.2, adjustment: 0.25 });
  assert.ok(Math.abs(distanceSeconds(a, b) - 6.05) < 1e-12);
  assert.ok(Math.abs(rawDistanceSeconds(a, b) - 5.3) < 1e-12, "the raw distance omits them");
  const negative = at([3, 4], { height: 0.1, adjustment: -3 });
  const alsoNegative = at([], { height: 0.2, adjustment: -3 });
  assert.ok(Math.abs(distanceSeconds(negative, alsoNegative) - 5.3) < 1e-12);
  const slightlyNegative = at([3, 4], { height: 0.1, adjustment: -1 });
  assert.ok(Math.abs(distanceSeconds(slightlyNegative, b) - 4.55) < 1e-12);
});

test("`distanceSeconds()` asserts that both coordinates have the same dimensionality", () => {
  const eight = at([1]);
  const four: Coordinate = { vec: [1, 0, 0, 0], error: 1, adjustment: 0, height: 0 };
  assert.equal(areCoordinatesCompatible(eight, four), false);
  assert.throws(() => distanceSeconds(eight, four), AssertionError);
  assert.throws(
    () => applyForce(eight, four, { forceSeconds: 1, heightMin: 0, random: new SeededRandom(1) }),
    AssertionError,
  );
});

test("`isCoordinateValid()` rejects NaN and Infinity in every component", () => {
  assert.equal(isCoordinateValid(at([1, 2], { height: 0.1 })), true);
  const poisons = [NaN, Infinity, -Infinity];
  for (const poison of poisons) {
    for (let index = 0; index < 8; index += 1) {
      const bad = at([]);
      bad.vec[index] = poison;
      assert.equal(isCoordinateValid(bad), false, `vec[${index}] = ${poison}`);
    }
    for (const field of ["error", "adjustment", "height"] as const) {
      assert.equal(isCoordinateValid(at([], { [field]: poison })), false, `${field} = ${poison}`);
    }
  }
});

test("`cloneCoordinate()` shares no array with its source", () => {
  const source = at([1, 2]);
  const copy = cloneCoordinate(source);
  copy.vec[0] = 99;
  assert.equal(source.vec[0], 1);
});

test("`applyForce()` moves along the line from the other point and scales the height", () => {
  const self = at([3, 4], { height: 0.1 });
  const other = at([], { height: 0.2 });
  const random = new SeededRandom(1);
  const away = applyForce(self, other, { forceSeconds: 0.5, heightMin: 1e-5, random });
  assert.ok(Math.abs(away.vec[0] - 3.3) < 1e-12 && Math.abs(away.vec[1] - 4.4) < 1e-12);
  // Height: 0.1 + 0.5 * (0.1 + 0.2) / 5 = 0.13.
  assert.ok(Math.abs(away.height - 0.13) < 1e-12);
  const toward = applyForce(self, other, { forceSeconds: -0.5, heightMin: 1e-5, random });
  assert.ok(Math.abs(toward.vec[0] - 2.7) < 1e-12 && Math.abs(toward.vec[1] - 3.6) < 1e-12);
  assert.ok(Math.abs(toward.height - 0.07) < 1e-12);
  assert.deepEqual(self, at([3, 4], { height: 0.1 }), "the argument is not changed");
});

test("`applyForce()` never lowers the height below heightMin", () => {
  const self = at([0.01], { height: 0.05 });
  const other = at([], { height: 0.05 });
  const random = new SeededRandom(1);
  // 0.05 - 0.02 * 0.1 / 0.01 = -0.15 without the floor.
  const moved = applyForce(self, other, { forceSeconds: -0.02, heightMin: 10e-6, random });
  assert.equal(moved.height, 10e-6);
});

test("`applyForce()` on coincident points moves a random unit step, height unchanged", () => {
  const self = at([], { height: 0.3 });
  const other = at([], { height: 0.2 });
  const first = applyForce(self, other, {
    forceSeconds: 2,
    heightMin: 1e-5,
    random: new SeededRandom(7),
  });
  assert.ok(Math.abs(norm(first.vec) - 2) < 1e-12, `moved by the force: ${first.vec}`);
  assert.equal(first.height, 0.3);
  const again = applyForce(self, other, {
    forceSeconds: 2,
    heightMin: 1e-5,
    random: new SeededRandom(7),
  });
  assert.deepEqual(again, first, "the same seed gives the same direction");
  const otherSeed = applyForce(self, other, {
    forceSeconds: 2,
    heightMin: 1e-5,
    random: new SeededRandom(8),
  });
  assert.notDeepEqual(otherSeed.vec, first.vec, "another seed gives another direction");
});

test("`applyForce()` falls back to the first axis when the random draws are all centred", () => {
  // nextUint32() / 2^32 - 0.5 is exactly 0 for 2^31.
  const moved = applyForce(at([]), at([]), {
    forceSeconds: 1.5,
    heightMin: 1e-5,
    random: constantRandom(0x8000_0000),
  });
  assert.deepEqual(moved.vec, [1.5, 0, 0, 0, 0, 0, 0, 0]);
});
