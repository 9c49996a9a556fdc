/**
 * Suspicion timers that shrink with independent confirmations (memberlist `suspicion.go`,
 * `util.go` `suspicionTimeout`; Lifeguard §4.2 "dynamic suspicion"; gossip-wire.md §6.4).
 *
 * @module
 */

import { assert } from "../assert.ts";

/**
 * The minimum suspicion timeout: `mult * max(1, log10(max(1, n))) * interval`, with the scale
 * kept at millisecond precision and the result floored to whole milliseconds, as memberlist.
 *
 * @param suspicionMult `suspicionMult`
 * @param memberCount members known, self and dead ones included
 * @param probeIntervalMs `probeIntervalMs`
 * @returns milliseconds
 */
export function suspicionTimeoutMs(
  suspicionMult: number,
  memberCount: number,
  probeIntervalMs: number,
): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, memberCount)));
  return Math.floor((suspicionMult * Math.floor(nodeScale * 1000) * probeIntervalMs) / 1000);
}

/**
 * Remaining time after `confirmations` of `expected`: `max - log(c + 1) / log(k + 1) *
 * (max - min)`, floored to milliseconds, never below `min`, minus `elapsedMs`.
 */
export function remainingSuspicionMs(
  confirmations: number,
  expected: number,
  elapsedMs: number,
  timeouts: { minMs: number; maxMs: number },
): number {
  const fraction = Math.log(confirmations + 1) / Math.log(expected + 1);
  const raw = timeouts.maxMs - fraction * (timeouts.maxMs - timeouts.minMs);
  return Math.max(Math.floor(raw), timeouts.minMs) - elapsedMs;
}

/**
 * One member's suspicion: started by one accuser, shortened by each new independent accuser
 * up to `expected` of them; the member is declared dead at `deadlineAtMs`.
 *
 * @example
 * ```ts
 * const suspicion = new Suspicion({ from: "b", expected: 2, minMs: 4_000, maxMs: 24_000 }, 0);
 * suspicion.confirm("c", 1_000); // true: the deadline moves from 24 s to about 11.4 s
 * ```
 */
export class Suspicion {
  readonly #expected: number;
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #startedAtMs: number;
  readonly #accusers = new Set<string>();
  #confirmations = 0;
  #deadlineAtMs: number;

  /**
   * @param options `from`: the first accuser (never counted as a confirmation); `expected`:
   *   confirmations that bring the timeout down to `minMs` (0 starts at `minMs`)
   * @param nowMs when the suspicion starts
   */
  constructor(
    options: { from: string; expected: number; minMs: number; maxMs: number },
    nowMs: number,
  ) {
    assert(
      options.expected >= 0 && options.minMs >= 0 && options.maxMs >= options.minMs,
      `Cannot start suspicion: expected ${options.expected}, min ${options.minMs}, max ${options.maxMs}`,
    );
    this.#expected = options.expected;
    this.#minMs = options.minMs;
    this.#maxMs = options.maxMs;
    this.#startedAtMs = nowMs;
    this.#accusers.add(options.from);
    this.#deadlineAtMs = nowMs + (options.expected < 1 ? options.minMs : options.maxMs);
  }

  /** When the member is to be declared dead. */
  get deadlineAtMs(): number {
    return this.#deadlineAtMs;
  }

  /** Independent confirmations counted so far (at most the expected number). */
  get confirmations(): number {
    return this.#confirmations;
  }

  /**
   * Counts an accusation from `from` if it is new and more are expected, and moves the deadline.
   *
   * @returns whether it counted (then memberlist re-broadcasts the suspect message)
   */
  confirm(from: string, nowMs: number): boolean {
    if (this.#confirmations >= this.#expected) return false;
    if (this.#accusers.has(from)) return false;
    this.#accusers.add(from);
    this.#confirmations += 1;
    const elapsedMs = nowMs - this.#startedAtMs;
    const remainingMs = remainingSuspicionMs(this.#confirmations, this.#expected, elapsedMs, {
      minMs: this.#minMs,
      maxMs: this.#maxMs,
    });
    this.#deadlineAtMs = nowMs + Math.max(remainingMs, 0);
    return true;
  }
}
