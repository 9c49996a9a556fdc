/**
 * The Vivaldi client of one node (Serf `coordinate/client.go`): it holds this node's coordinate
 * and moves it on every round-trip sample to a peer whose coordinate is known, as Serf does from
 * the coordinate carried in each direct ack (gossip-wire.md §6.2, §12).
 *
 * @module
 */

import type { Random } from "../random.ts";
import {
  applyForce,
  areCoordinatesCompatible,
  cloneCoordinate,
  type Coordinate,
  distanceSeconds,
  isCoordinateValid,
  newCoordinate,
  rawDistanceSeconds,
  zeroThresholdSeconds,
} from "./coordinate.ts";
import { validateVivaldiConfig, type VivaldiConfig } from "./config.ts";
import { LatencyFilter } from "./latency_filter.ts";

/**
 * What {@link VivaldiClient.update} and {@link VivaldiClient.setCoordinate} give back: the new
 * coordinate, or why the input was refused (an operating error: count it, log it rate-limited,
 * go on; the client is unchanged).
 */
export type VivaldiResult =
  | { type: "updated"; coordinate: Coordinate }
  | { type: "rejected"; reason: string };

/** Counters of one client, for metrics and tests. */
export interface VivaldiStats {
  /** Times our coordinate became NaN or infinite and was reset to a fresh one (Serf `Resets`). */
  resets: number;
  /** Inputs refused: invalid or incompatible coordinates, round-trip times out of range. */
  rejections: number;
  /** Samples of exactly 0 ms accepted (Serf's `zero-rtt` metric): a clock too coarse. */
  zeroRtts: number;
  /** Peers the latency filter forgot to stay within `latencyFilterNodesMax`. */
  latencyFilterEvictions: number;
  /** Peers the latency filter keeps samples for. */
  latencyFilterNodes: number;
}

/**
 * This node's network coordinate, updated from round-trip samples to peers (Vivaldi, Dabek et
 * al., SIGCOMM 2004, with the height, adjustment, latency filter and gravity of Serf).
 *
 * @example
 * ```ts
 * const client = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(1));
 * // An ack from "b" arrived 12.5 ms after its ping, carrying b's coordinate:
 * const result = client.update("b", coordinateOfB, 12.5);
 * if (result.type === "updated") sendInNextAck(result.coordinate);
 * ```
 */
export class VivaldiClient {
  readonly #config: VivaldiConfig;
  readonly #random: Random;
  readonly #origin: Coordinate;
  readonly #latencyFilter: LatencyFilter;
  readonly #adjustmentSamples: number[];
  #adjustmentIndex = 0;
  #coordinate: Coordinate;
  #resets = 0;
  #rejections = 0;
  #zeroRtts = 0;

  /**
   * Creates a client at a fresh coordinate (origin, largest error).
   *
   * @param config the tuning; validated here
   * @param random picks a direction when two coordinates coincide
   */
  constructor(config: VivaldiConfig, random: Random) {
    validateVivaldiConfig(config);
    this.#config = { ...config };
    this.#random = random;
    this.#origin = newCoordinate(config);
    this.#coordinate = newCoordinate(config);
    this.#latencyFilter = new LatencyFilter(config.latencyFilterSize, config.latencyFilterNodesMax);
    this.#adjustmentSamples = new Array<number>(config.adjustmentWindowSize).fill(0);
  }

  /** Returns a copy of this node's coordinate (Serf `GetCoordinate`). */
  coordinate(): Coordinate {
    return cloneCoordinate(this.#coordinate);
  }

  /**
   * Replaces this node's coordinate, such as one restored at start-up (Serf `SetCoordinate`).
   *
   * @param coordinate the new coordinate, valid and of our dimensionality
   * @returns `updated` with a copy, or `rejected` leaving the client unchanged
   */
  setCoordinate(coordinate: Coordinate): VivaldiResult {
    const reason = this.#checkCoordinate(coordinate, "set coordinate");
    if (reason !== undefined) return this.#reject(reason);
    this.#coordinate = cloneCoordinate(coordinate);
    return { type: "updated", coordinate: this.coordinate() };
  }

  /**
   * Forgets the latency samples of `node` (Serf `ForgetNode`); call when the member is reaped.
   *
   * @param node the peer's name
   */
  forgetNode(node: string): void {
    this.#latencyFilter.forget(node);
  }

  /**
   * Returns the estimated round-trip time from this node to `other` (Serf `DistanceTo`).
   *
   * @param other a coordinate of our dimensionality (an assertion)
   * @returns seconds
   */
  distanceSecondsTo(other: Coordinate): number {
    return distanceSeconds(this.#coordinate, other);
  }

  /**
   * Feeds one round-trip sample to `node`, whose coordinate is `other`, and moves this node's
   * coordinate (Serf `Update`): latency filter, Vivaldi step, adjustment, gravity, and a reset
   * to a fresh coordinate if the result is not finite.
   *
   * @param node the peer's name, the key of its latency samples
   * @param other the peer's coordinate, as received in its ack
   * @param rttMs the measured round-trip time, in [0, `rttMaxMs`]
   * @returns `updated` with a copy of the new coordinate, or `rejected` with the client unchanged
   */
  update(node: string, other: Coordinate, rttMs: number): VivaldiResult {
    const reason = this.#checkCoordinate(other, "update coordinate") ??
      this.#checkRtt(rttMs);
    if (reason !== undefined) return this.#reject(reason);
    if (rttMs === 0) this.#zeroRtts += 1;
    const rttSeconds = this.#latencyFilter.add(node, rttMs / 1_000);
    this.#updateVivaldi(other, rttSeconds);
    this.#updateAdjustment(other, rttSeconds);
    this.#updateGravity();
    if (!isCoordinateValid(this.#coordinate)) {
      // Serf resets and goes on: a poisoned coordinate would spread to every peer. We also clear
      // the adjustment window so a non-finite residual cannot poison the next updates.
      this.#resets += 1;
      this.#coordinate = newCoordinate(this.#config);
      this.#adjustmentSamples.fill(0);
      this.#adjustmentIndex = 0;
    }
    return { type: "updated", coordinate: this.coordinate() };
  }

  /** Returns the client's counters. */
  stats(): VivaldiStats {
    return {
      resets: this.#resets,
      rejections: this.#rejections,
      zeroRtts: this.#zeroRtts,
      latencyFilterEvictions: this.#latencyFilter.evictions(),
      latencyFilterNodes: this.#latencyFilter.size(),
    };
  }

  #reject(reason: string): VivaldiResult {
    this.#rejections += 1;
    return { type: "rejected", reason };
  }

  #checkCoordinate(coordinate: Coordinate, action: string): string | undefined {
    if (!areCoordinatesCompatible(this.#coordinate, coordinate)) {
      return `Cannot ${action}: dimensionality "${coordinate.vec.length}" is not ` +
        `"${this.#coordinate.vec.length}"`;
    }
    if (!isCoordinateValid(coordinate)) {
      return `Cannot ${action}: a component is NaN or infinite`;
    }
    return undefined;
  }

  #checkRtt(rttMs: number): string | undefined {
    // `!(a <= b)` is also true for NaN.
    if (!(rttMs >= 0 && rttMs <= this.#config.rttMaxMs)) {
      return `Cannot update coordinate: round-trip time "${rttMs}" ms is not in ` +
        `[0, ${this.#config.rttMaxMs}]`;
    }
    return undefined;
  }

  /** The Vivaldi step proper (Dabek et al. §3, Serf `updateVivaldi`). */
  #updateVivaldi(other: Coordinate, rttSeconds: number): void {
    const config = this.#config;
    const self = this.#coordinate;
    const distance = distanceSeconds(self, other);
    const rtt = Math.max(rttSeconds, zeroThresholdSeconds);
    const wrongness = Math.abs(distance - rtt) / rtt;
    // Weigh the sample by how confident we are relative to the peer: a sure peer moves us more.
    const weight = self.error / Math.max(self.error + other.error, zeroThresholdSeconds);
    const error = config.vivaldiCe * weight * wrongness +
      self.error * (1 - config.vivaldiCe * weight);
    const forceSeconds = config.vivaldiCc * weight * (rtt - distance);
    const moved = applyForce(self, other, {
      forceSeconds,
      heightMin: config.heightMin,
      random: this.#random,
    });
    moved.error = Math.min(error, config.vivaldiErrorMax);
    this.#coordinate = moved;
  }

  /**
   * The adjustment term corrects what the Euclidean model cannot fit: half the mean residual
   * over the last `adjustmentWindowSize` samples (Lee et al. 2010, Serf `updateAdjustment`).
   */
  #updateAdjustment(other: Coordinate, rttSeconds: number): void {
    const size = this.#config.adjustmentWindowSize;
    if (size === 0) return;
    const residual = rttSeconds - rawDistanceSeconds(this.#coordinate, other);
    this.#adjustmentSamples[this.#adjustmentIndex] = residual;
    this.#adjustmentIndex = (this.#adjustmentIndex + 1) % size;
    let sum = 0;
    for (const sample of this.#adjustmentSamples) sum += sample;
    this.#coordinate.adjustment = sum / (2 * size);
  }

  /** A weak pull toward the origin keeps the cluster from drifting (Serf `updateGravity`). */
  #updateGravity(): void {
    const distance = distanceSeconds(this.#origin, this.#coordinate);
    const forceSeconds = -1 * (distance / this.#config.gravityRho) ** 2;
    this.#coordinate = applyForce(this.#coordinate, this.#origin, {
      forceSeconds,
      heightMin: this.#config.heightMin,
      random: this.#random,
    });
  }
}
