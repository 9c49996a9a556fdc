/**
 * Serf's Lamport clock (`serf/lamport.go`, gossip-wire.md §11.5): a counter that every local
 * happening reads or increments and every received message witnesses, so that "later" has a
 * meaning across members without synchronised wall clocks (Lamport 1978).
 *
 * @module
 */

import { assert } from "../assert.ts";

/**
 * A Lamport clock. Serf keeps three: members (join/leave intents), user events and queries.
 *
 * @example
 * ```ts
 * const clock = new LamportClock();
 * clock.increment(); // 1, as Serf does at start
 * clock.witness(7); // a message at 7 arrived: the clock moves to 8
 * clock.time(); // 8
 * ```
 */
export class LamportClock {
  #counter: number;

  /** @param start the initial value, 0 unless restored */
  constructor(start = 0) {
    assert(
      Number.isSafeInteger(start) && start >= 0,
      `Cannot create Lamport clock: start "${start}" is not a safe non-negative integer`,
    );
    this.#counter = start;
  }

  /** Returns the current value (`Time`). */
  time(): number {
    return this.#counter;
  }

  /** Adds one and returns the new value (`Increment`). */
  increment(): number {
    assert(this.#counter < Number.MAX_SAFE_INTEGER, "Cannot increment Lamport clock: at maximum");
    this.#counter += 1;
    return this.#counter;
  }

  /**
   * Records that a message stamped `value` was seen (`Witness`): the clock moves to `value + 1`
   * when `value` is at or past it, so the next local stamp is later than what was seen.
   *
   * @param value a Lamport time from the wire (a safe integer, as decoders guarantee)
   */
  witness(value: number): void {
    assert(
      Number.isSafeInteger(value) && value >= 0,
      `Cannot witness Lamport time: "${value}" is not a safe non-negative integer`,
    );
    if (value < this.#counter) return;
    // A peer at the very top of the safe range cannot push us past it.
    this.#counter = Math.min(value + 1, Number.MAX_SAFE_INTEGER);
  }
}
