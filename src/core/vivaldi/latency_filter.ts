/**
 * A moving median of the last few round-trip samples per peer (Serf `Client.latencyFilter`),
 * bounded in the number of peers it remembers.
 *
 * @module
 */

import { assert } from "../assert.ts";

/**
 * Keeps the last `samplesMax` round-trip samples of each peer and returns their median, so one
 * delayed ack does not throw a coordinate off ("Network coordinates in the wild", NSDI 2007).
 * At most `nodesMax` peers are remembered; adding a new one past that forgets the least
 * recently measured peer and counts it in `evictions`.
 *
 * @example
 * ```ts
 * const filter = new LatencyFilter(3, 1_024);
 * filter.add("b", 0.010); // 0.010
 * filter.add("b", 0.500); // 0.500: of two samples the upper one, as Serf's sorted[len / 2]
 * filter.add("b", 0.012); // 0.012: the median of 0.010, 0.500, 0.012
 * ```
 */
export class LatencyFilter {
  readonly #samplesMax: number;
  readonly #nodesMax: number;
  // A Map iterates in insertion order; re-inserting on every sample keeps the least recently
  // measured peer first, ready for eviction.
  readonly #samples = new Map<string, number[]>();
  #evictions = 0;

  /**
   * Creates an empty filter.
   *
   * @param samplesMax samples kept per peer (`LatencyFilterSize`), at least 1
   * @param nodesMax peers remembered at once, at least 1
   */
  constructor(samplesMax: number, nodesMax: number) {
    assert(
      Number.isSafeInteger(samplesMax) && samplesMax >= 1,
      `Cannot create a latency filter: samplesMax "${samplesMax}" is not a positive integer`,
    );
    assert(
      Number.isSafeInteger(nodesMax) && nodesMax >= 1,
      `Cannot create a latency filter: nodesMax "${nodesMax}" is not a positive integer`,
    );
    this.#samplesMax = samplesMax;
    this.#nodesMax = nodesMax;
  }

  /**
   * Records one sample for `node` and returns the median of its kept samples: the middle one
   * of the sorted samples, the upper middle one for an even count (Serf's `sorted[len/2]`).
   *
   * @param node the peer the sample was measured to
   * @param rttSeconds the round-trip time, a finite number
   * @returns the filtered round-trip time in seconds
   */
  add(node: string, rttSeconds: number): number {
    assert(
      Number.isFinite(rttSeconds),
      `Cannot filter a round-trip time: "${rttSeconds}" is not finite`,
    );
    const samples = this.#samples.get(node) ?? [];
    this.#samples.delete(node);
    if (samples.length === 0 && this.#samples.size >= this.#nodesMax) {
      const oldest = this.#samples.keys().next().value as string;
      this.#samples.delete(oldest);
      this.#evictions += 1;
    }
    samples.push(rttSeconds);
    if (samples.length > this.#samplesMax) samples.shift();
    this.#samples.set(node, samples);
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  /**
   * Forgets every sample of `node` (Serf `ForgetNode`); call when a member is reaped.
   *
   * @param node the peer to forget
   */
  forget(node: string): void {
    this.#samples.delete(node);
  }

  /** Returns how many peers have samples kept. */
  size(): number {
    return this.#samples.size;
  }

  /** Returns how many peers were forgotten to stay within `nodesMax`. */
  evictions(): number {
    return this.#evictions;
  }
}
