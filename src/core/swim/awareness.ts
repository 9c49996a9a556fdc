/**
 * Lifeguard local health awareness (memberlist `awareness.go`; Lifeguard §4.1 "LHA"): a member
 * that misses nacks, fails probes or has to refute is probably slow itself, so it stretches its
 * probe deadlines instead of accusing healthy peers.
 *
 * @module
 */

import { assert } from "../assert.ts";

/**
 * A health score in [0, `multiplierMax` - 1]; 0 is healthy.
 *
 * @example
 * ```ts
 * const awareness = new Awareness(8);
 * awareness.applyDelta(2);
 * awareness.scaleTimeout(1_000); // 3000
 * ```
 */
export class Awareness {
  readonly #multiplierMax: number;
  #score = 0;

  /** @param multiplierMax `awarenessMaxMultiplier`; 1 keeps the score at 0 (awareness off) */
  constructor(multiplierMax: number) {
    assert(
      Number.isSafeInteger(multiplierMax) && multiplierMax >= 1,
      `Cannot create awareness: multiplier "${multiplierMax}" is not a positive integer`,
    );
    this.#multiplierMax = multiplierMax;
  }

  /** The current score: 0 is healthy, higher means this member is likely slow. */
  get score(): number {
    return this.#score;
  }

  /**
   * Adds `delta` to the score, clamped to [0, multiplierMax - 1].
   *
   * @param delta +1 per missed nack or refutation, -1 per successful probe
   * @returns the new score
   */
  applyDelta(delta: number): number {
    assert(Number.isSafeInteger(delta), `Cannot apply awareness delta: "${delta}" is no integer`);
    this.#score = Math.min(Math.max(this.#score + delta, 0), this.#multiplierMax - 1);
    return this.#score;
  }

  /** Returns `timeoutMs * (score + 1)`: the stretched probe deadline. */
  scaleTimeout(timeoutMs: number): number {
    return timeoutMs * (this.#score + 1);
  }
}
