// Goal: a virtual network for the Raft simulation that misbehaves the way real ones do, and
// reproducibly. Method: each send draws, from the seeded random source, whether the message is
// lost, duplicated, and how long each copy takes (independent delays reorder messages);
// partitions block delivery between groups until healed. Rates come from the seed.

import type { Random } from "../../src/core/random.ts";
import { randomBelow } from "../../src/core/random.ts";

/** Fault rates for one run; picked by the seed (swarm testing). */
export interface NetworkFaults {
  /** Probability a message is lost. */
  lossRate: number;
  /** Probability a delivered message is delivered twice. */
  duplicateRate: number;
  delayMinMs: number;
  delayMaxMs: number;
}

/** No faults: every message arrives once after `delayMinMs`..`delayMaxMs`. */
export function reliableFaults(): NetworkFaults {
  return { lossRate: 0, duplicateRate: 0, delayMinMs: 1, delayMaxMs: 5 };
}

/** Returns a float in [0, 1) from `random`. */
export function randomUnit(random: Random): number {
  return random.nextUint32() / 0x1_0000_0000;
}

/** A seeded lossy network between named nodes. */
export class SimNetwork {
  readonly #random: Random;
  faults: NetworkFaults;
  /** Node name to partition group; nodes in different groups cannot talk. */
  readonly #group = new Map<string, number>();
  sentCount = 0;
  lostCount = 0;

  /**
   * @param random the seeded source for this network
   * @param faults the fault rates
   */
  constructor(random: Random, faults: NetworkFaults) {
    this.#random = random;
    this.faults = faults;
  }

  /** True when `from` and `to` are on the same side of every partition. */
  connected(from: string, to: string): boolean {
    return (this.#group.get(from) ?? 0) === (this.#group.get(to) ?? 0);
  }

  /** Splits the nodes: each listed group is cut off from the others (unlisted nodes form group 0). */
  partition(groups: readonly (readonly string[])[]): void {
    this.#group.clear();
    groups.forEach((group, i) => {
      for (const name of group) this.#group.set(name, i + 1);
    });
  }

  /** Cuts `name` off from every other node. */
  isolate(name: string): void {
    this.#group.set(name, 1_000 + this.#group.size);
  }

  /** Removes every partition. */
  heal(): void {
    this.#group.clear();
  }

  /**
   * Returns the delays (0, 1 or 2 of them) after which a message sent now arrives; a message
   * across a partition never arrives. Whether it is still connected at delivery is checked
   * again by the caller (a partition cuts messages in flight too).
   */
  deliveries(from: string, to: string): number[] {
    this.sentCount += 1;
    if (!this.connected(from, to) || randomUnit(this.#random) < this.faults.lossRate) {
      this.lostCount += 1;
      return [];
    }
    const copies = randomUnit(this.#random) < this.faults.duplicateRate ? 2 : 1;
    const delays: number[] = [];
    const span = this.faults.delayMaxMs - this.faults.delayMinMs + 1;
    for (let i = 0; i < copies; i += 1) {
      delays.push(this.faults.delayMinMs + randomBelow(this.#random, span));
    }
    return delays;
  }
}
