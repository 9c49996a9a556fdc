/**
 * The transmit-limited broadcast queue (memberlist `queue.go` `TransmitLimitedQueue`;
 * gossip-wire.md §6.6): broadcasts ride on outgoing packets, least transmitted and newest first,
 * each until it has gone out `retransmitMult * ceil(log10(n + 1))` times; a newer broadcast
 * about a member replaces the queued one. The queue is bounded: past its limit the most sent
 * and oldest broadcasts are dropped and counted.
 *
 * @module
 */

import { assert } from "../assert.ts";
import type { MemberlistMessage } from "../wire/mod.ts";

/** Bytes a compound message adds per part (memberlist `compoundOverhead`). */
export const compoundPartOverheadBytes = 2;
/** Bytes of a compound message's header (memberlist `compoundHeaderOverhead`). */
export const compoundHeaderOverheadBytes = 2;
/** Broadcasts skipped for size in one `take()` before it gives up on filling the packet. */
export const skippedPerTakeMax = 64;

/**
 * How many times each broadcast is sent: `retransmitMult * ceil(log10(n + 1))`.
 *
 * @param retransmitMult `retransmitMult`
 * @param memberCount members known, self included
 */
export function retransmitLimit(retransmitMult: number, memberCount: number): number {
  return retransmitMult * Math.ceil(Math.log10(memberCount + 1));
}

interface QueuedBroadcast {
  id: number;
  key: string | undefined;
  message: MemberlistMessage;
  bytes: number;
  transmits: number;
  token: number | undefined;
  /** Neighbours in its tier's list (older, newer). */
  older: QueuedBroadcast | undefined;
  newer: QueuedBroadcast | undefined;
}

/** A doubly linked list of broadcasts with the same transmit count, oldest to newest. */
interface Tier {
  oldest: QueuedBroadcast | undefined;
  newest: QueuedBroadcast | undefined;
}

/**
 * A bounded queue of broadcasts waiting to be piggybacked. Each tier (transmit count) is a
 * linked list in order of entry, so every operation is O(1) per broadcast: at thousands of
 * members the queue holds a thousand alive messages and is taken from on every packet.
 *
 * @example
 * ```ts
 * const queue = new BroadcastQueue(1_024);
 * queue.push({ type: "suspect", node: "b", incarnation: 3, from: "a" }, 29, { key: "b" });
 * const messages = queue.take(2, 1_300, retransmitLimit(4, 10)); // [the suspect]
 * ```
 */
export class BroadcastQueue {
  readonly #max: number;
  /** `#tiers[t]` holds broadcasts sent `t` times. */
  readonly #tiers: Tier[] = [];
  readonly #byKey = new Map<string, QueuedBroadcast>();
  readonly #finishedTokens: number[] = [];
  #length = 0;
  #nextId = 1;
  #droppedCount = 0;

  /** @param max `broadcastQueueMax` */
  constructor(max: number) {
    assert(Number.isSafeInteger(max) && max >= 1, `Cannot create queue: max "${max}" is invalid`);
    this.#max = max;
  }

  /** Broadcasts queued. */
  get length(): number {
    return this.#length;
  }

  /** Broadcasts dropped because the queue was full. */
  get droppedCount(): number {
    return this.#droppedCount;
  }

  /**
   * Queues `message` of `bytes` encoded bytes. A queued broadcast with the same `key` (the
   * member's name, for alive/suspect/dead) is replaced; user broadcasts have no key.
   *
   * @param options `key`: what the broadcast is about; `token`: reported by
   *   `takeFinished()` once the broadcast is done (sent enough times, replaced or dropped)
   */
  push(
    message: MemberlistMessage,
    bytes: number,
    options: { key?: string; token?: number } = {},
  ): void {
    if (options.key !== undefined) {
      const old = this.#byKey.get(options.key);
      if (old !== undefined) this.#finish(this.#unlink(old));
    }
    this.#append({
      id: this.#nextId++,
      key: options.key,
      message,
      bytes,
      transmits: 0,
      token: options.token,
      older: undefined,
      newer: undefined,
    });
    while (this.#length > this.#max) this.#dropOne();
  }

  /**
   * Takes broadcasts that fit in `limitBytes`, each costing `overheadBytes` more, least
   * transmitted first and newest first within a tier, and counts one transmission each.
   *
   * @param overheadBytes per-broadcast framing cost
   * @param limitBytes room left in the packet
   * @param transmitLimit sends after which a broadcast is done (see {@link retransmitLimit})
   */
  take(overheadBytes: number, limitBytes: number, transmitLimit: number): MemberlistMessage[] {
    const taken: MemberlistMessage[] = [];
    const reinsert: QueuedBroadcast[] = [];
    let usedBytes = 0;
    let skipped = 0;
    for (const tier of this.#tiers) {
      let item = tier?.newest;
      while (item !== undefined) {
        const freeBytes = limitBytes - usedBytes - overheadBytes;
        if (freeBytes <= 0 || skipped > skippedPerTakeMax) break;
        const older: QueuedBroadcast | undefined = item.older;
        if (item.bytes > freeBytes) {
          skipped += 1;
        } else {
          usedBytes += overheadBytes + item.bytes;
          taken.push(item.message);
          this.#unlink(item);
          item.transmits += 1;
          if (item.transmits >= transmitLimit) this.#finish(item);
          else reinsert.push(item);
        }
        item = older;
      }
    }
    // Taken newest first; append oldest first so that each tier stays in entry order.
    for (let i = reinsert.length - 1; i >= 0; i -= 1) this.#append(reinsert[i]);
    return taken;
  }

  /** Returns and clears the tokens of broadcasts that are done. */
  takeFinished(): number[] {
    return this.#finishedTokens.splice(0, this.#finishedTokens.length);
  }

  /** Whether a broadcast with `key` is queued. */
  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  #append(item: QueuedBroadcast): void {
    const tier = (this.#tiers[item.transmits] ??= { oldest: undefined, newest: undefined });
    item.older = tier.newest;
    item.newer = undefined;
    if (tier.newest !== undefined) tier.newest.newer = item;
    else tier.oldest = item;
    tier.newest = item;
    this.#length += 1;
    if (item.key !== undefined) this.#byKey.set(item.key, item);
  }

  #unlink(item: QueuedBroadcast): QueuedBroadcast {
    const tier = this.#tiers[item.transmits];
    assert(tier !== undefined, `Cannot remove broadcast ${item.id}: its tier is missing`);
    if (item.older !== undefined) item.older.newer = item.newer;
    else tier.oldest = item.newer;
    if (item.newer !== undefined) item.newer.older = item.older;
    else tier.newest = item.older;
    item.older = undefined;
    item.newer = undefined;
    this.#length -= 1;
    return item;
  }

  #finish(item: QueuedBroadcast): void {
    if (item.key !== undefined && this.#byKey.get(item.key) === item) this.#byKey.delete(item.key);
    if (item.token !== undefined) this.#finishedTokens.push(item.token);
  }

  #dropOne(): void {
    for (let t = this.#tiers.length - 1; t >= 0; t -= 1) {
      const oldest = this.#tiers[t]?.oldest;
      if (oldest === undefined) continue;
      this.#finish(this.#unlink(oldest));
      this.#droppedCount += 1;
      return;
    }
  }
}
