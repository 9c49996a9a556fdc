/**
 * Vivaldi coordinate math, as Serf's `coordinate/coordinate.go`: a point in an n-dimensional
 * Euclidean space plus a height (the access link, off the plane), an error estimate and an
 * adjustment term. All lengths are seconds. Every function returns a new coordinate and never
 * changes its arguments.
 *
 * @module
 */

import { assert } from "../assert.ts";
import type { Random } from "../random.ts";
import type { Coordinate } from "../wire/serf_codec.ts";
import type { VivaldiConfig } from "./config.ts";

export type { Coordinate } from "../wire/serf_codec.ts";

/**
 * Below this many seconds two points count as coincident and a round trip counts as zero
 * (Serf's `zeroThreshold`, 1 µs).
 */
export const zeroThresholdSeconds = 1e-6;

/**
 * Returns a fresh coordinate at the origin with the largest error: what a node claims before
 * its first observation (Serf `NewCoordinate`).
 *
 * @param config the dimensionality, error ceiling and height floor
 * @returns `{ vec: [0, ...], error: vivaldiErrorMax, adjustment: 0, height: heightMin }`
 * @example
 * ```ts
 * const fresh = newCoordinate(defaultVivaldiConfig()); // vec of 8 zeros, error 1.5
 * ```
 */
export function newCoordinate(
  config: Pick<VivaldiConfig, "dimensionality" | "vivaldiErrorMax" | "heightMin">,
): Coordinate {
  return {
    vec: new Array<number>(config.dimensionality).fill(0),
    error: config.vivaldiErrorMax,
    adjustment: 0,
    height: config.heightMin,
  };
}

/**
 * Returns an independent copy of `coordinate`.
 *
 * @param coordinate the coordinate to copy
 * @returns a coordinate equal to `coordinate` sharing no array with it
 */
export function cloneCoordinate(coordinate: Coordinate): Coordinate {
  return {
    vec: [...coordinate.vec],
    error: coordinate.error,
    adjustment: coordinate.adjustment,
    height: coordinate.height,
  };
}

/**
 * Whether every component is a finite number (Serf `IsValid`): a peer's NaN or Infinity must
 * never enter the computation, and our own is reset.
 *
 * @param coordinate the coordinate to check
 * @returns `false` if any component is NaN or infinite
 */
export function isCoordinateValid(coordinate: Coordinate): boolean {
  for (const component of coordinate.vec) {
    if (!Number.isFinite(component)) return false;
  }
  return Number.isFinite(coordinate.error) && Number.isFinite(coordinate.adjustment) &&
    Number.isFinite(coordinate.height);
}

/**
 * Whether `a` and `b` have the same dimensionality (Serf `IsCompatibleWith`); distances and
 * forces between them are defined only then.
 *
 * @param a one coordinate
 * @param b another
 * @returns `true` when their vectors have the same length
 */
export function areCoordinatesCompatible(a: Coordinate, b: Coordinate): boolean {
  return a.vec.length === b.vec.length;
}

function assertCompatible(a: Coordinate, b: Coordinate, action: string): void {
  assert(
    areCoordinatesCompatible(a, b),
    `Cannot ${action}: dimensionalities "${a.vec.length}" and "${b.vec.length}" differ`,
  );
}

function magnitude(vec: readonly number[]): number {
  let sum = 0;
  for (const component of vec) sum += component * component;
  return Math.sqrt(sum);
}

function difference(a: readonly number[], b: readonly number[]): number[] {
  return a.map((component, index) => component - b[index]);
}

/**
 * Returns the Vivaldi distance from `a` to `b` without adjustments: the Euclidean distance of
 * the vectors plus both heights (Serf `rawDistanceTo`).
 *
 * @param a one coordinate
 * @param b another, of the same dimensionality
 * @returns the distance in seconds
 */
export function rawDistanceSeconds(a: Coordinate, b: Coordinate): number {
  assertCompatible(a, b, "measure a distance");
  return magnitude(difference(a.vec, b.vec)) + a.height + b.height;
}

/**
 * Returns the estimated round-trip time between `a` and `b` (Serf `DistanceTo`): the raw
 * distance plus both adjustments, unless that sum is not positive, then the raw distance.
 * Serf truncates this to whole nanoseconds through `time.Duration`; we keep the full float.
 *
 * @param a one coordinate
 * @param b another, of the same dimensionality (an assertion: check peers' coordinates first)
 * @returns the estimated round-trip time in seconds
 * @example
 * ```ts
 * const rttMs = distanceSeconds(mine, theirs) * 1_000;
 * ```
 */
export function distanceSeconds(a: Coordinate, b: Coordinate): number {
  const raw = rawDistanceSeconds(a, b);
  const adjusted = raw + a.adjustment + b.adjustment;
  return adjusted > 0 ? adjusted : raw;
}

/**
 * Returns a unit vector pointing from `to` towards `from`, the way `from` moves when `to`
 * repels it, and the distance between them. Coincident points get a random direction and a
 * distance of 0 (Serf `unitVectorAt`).
 */
function unitVectorAt(
  from: readonly number[],
  to: readonly number[],
  random: Random,
): { unit: number[]; length: number } {
  const offset = difference(from, to);
  const length = magnitude(offset);
  if (length > zeroThresholdSeconds) return { unit: offset.map((x) => x / length), length };
  const direction = offset.map(() => random.nextUint32() / 0x1_0000_0000 - 0.5);
  const randomLength = magnitude(direction);
  if (randomLength > zeroThresholdSeconds) {
    return { unit: direction.map((x) => x / randomLength), length: 0 };
  }
  // All draws near zero: exceedingly rare, so fall back to the first axis as Serf does.
  return { unit: direction.map((_, index) => (index === 0 ? 1 : 0)), length: 0 };
}

/** Options of {@link applyForce}. */
export interface ApplyForceOptions {
  /** Seconds to move; positive moves away from `other`, negative towards it. */
  forceSeconds: number;
  /** Floor of the resulting height, in seconds. */
  heightMin: number;
  /** Picks the direction when the two points coincide. */
  random: Random;
}

/**
 * Returns `coordinate` moved by `forceSeconds` along the line from `other` to it (Serf
 * `ApplyForce`). The height moves in proportion, `force * (h + h_other) / distance`, and never
 * below `heightMin`; when the two points coincide the direction is random and the height stays.
 *
 * @param coordinate the coordinate to move
 * @param other the coordinate exerting the force, of the same dimensionality
 * @param options the force, the height floor and the random source
 * @returns the moved coordinate; error and adjustment are copied unchanged
 * @example
 * ```ts
 * const closer = applyForce(mine, theirs, { forceSeconds: -0.001, heightMin: 10e-6, random });
 * ```
 */
export function applyForce(
  coordinate: Coordinate,
  other: Coordinate,
  options: ApplyForceOptions,
): Coordinate {
  assertCompatible(coordinate, other, "apply a force");
  const { forceSeconds, heightMin, random } = options;
  const moved = cloneCoordinate(coordinate);
  const { unit, length } = unitVectorAt(coordinate.vec, other.vec, random);
  moved.vec = moved.vec.map((component, index) => component + unit[index] * forceSeconds);
  if (length > zeroThresholdSeconds) {
    const height = moved.height + (forceSeconds * (moved.height + other.height)) / length;
    moved.height = Math.max(height, heightMin);
  }
  return moved;
}
