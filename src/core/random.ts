/**
 * A seeded pseudo-random source for the deterministic cores: the same seed gives the same
 * sequence on every runtime, which is what lets a simulation replay a failure exactly.
 *
 * @module
 */

import { assert } from "./assert.ts";

/** A source of random 32-bit integers; seeded in tests, from the runtime in production. */
export interface Random {
  /** Returns a uniformly distributed integer in [0, 2^32). */
  nextUint32(): number;
  /** Returns an independent source derived from this one (one per component). */
  fork(): Random;
}

/**
 * xoshiro128** (Blackman and Vigna, 2018) seeded through splitmix32: small, fast, 32-bit only,
 * so it gives identical sequences on every JavaScript engine.
 *
 * @example
 * ```ts
 * const random = new SeededRandom(42);
 * const die = randomBelow(random, 6) + 1;
 * ```
 */
export class SeededRandom implements Random {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /** @param seed any safe integer; equal seeds give equal sequences */
  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), `Cannot seed random: seed "${seed}" is not a safe integer`);
    let state = (seed ^ Math.floor(seed / 0x1_0000_0000)) >>> 0;
    const next = (): number => {
      // splitmix32 expands one word of seed into four well-mixed words of state.
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** Returns the next integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** Returns a new source seeded from this one's next outputs. */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32() * 0x20_0000 + (this.nextUint32() >>> 11));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Returns a uniformly distributed integer in [0, bound).
 *
 * @param random the source
 * @param bound exclusive upper limit, 1 to 2^32
 * @returns an integer in [0, bound)
 */
export function randomBelow(random: Random, bound: number): number {
  assert(
    Number.isInteger(bound) && bound >= 1 && bound <= 0x1_0000_0000,
    `Cannot draw a random number: bound "${bound}" is not an integer in [1, 2^32]`,
  );
  // Multiply-shift (Lemire) without the rejection step: the bias is below 2^-32 * bound.
  return Math.floor((random.nextUint32() / 0x1_0000_0000) * bound);
}
