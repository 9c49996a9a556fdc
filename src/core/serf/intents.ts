/**
 * Intents about members we do not know yet (Serf 0.9.4 `recentIntents`, gossip-wire.md §11.7).
 * Gossip is unordered: a join or leave intent may arrive before memberlist tells us the member
 * exists. Serf keeps the newest intent per name for a while and applies it when the member
 * appears, so a leave that overtook the join is not lost.
 *
 * @module
 */

import { recentIntentsMax } from "./config.ts";

/** Which intent: join or leave. */
export type IntentKind = "join" | "leave";

/** The newest intent seen about one unknown member. */
export interface RecentIntent {
  /** Join or leave. */
  kind: IntentKind;
  /** The intent's member clock. */
  lamportTime: number;
  /** When we stored it, for expiry. */
  storedAtMs: number;
}

/**
 * A bounded table of the newest intent per unknown member.
 *
 * @example
 * ```ts
 * const intents = new RecentIntents();
 * intents.upsert("b", "leave", 5, nowMs); // true: new, so re-gossip it
 * intents.upsert("b", "join", 4, nowMs); // false: older than what we hold
 * intents.take("b"); // { kind: "leave", lamportTime: 5, ... }, and forgets it
 * ```
 */
export class RecentIntents {
  readonly #intents = new Map<string, RecentIntent>();
  readonly #capacity: number;
  #dropped = 0;

  /** @param capacity names held at most; the oldest stored goes first past it */
  constructor(capacity = recentIntentsMax) {
    this.#capacity = capacity;
  }

  /**
   * Stores the intent when it is newer than the one held (Serf's `upsertIntent`).
   *
   * @returns whether it was stored, which is whether it deserves re-gossip
   */
  upsert(name: string, kind: IntentKind, lamportTime: number, nowMs: number): boolean {
    const held = this.#intents.get(name);
    if (held !== undefined && lamportTime <= held.lamportTime) return false;
    if (held === undefined && this.#intents.size >= this.#capacity) {
      // Map order is insertion order: the first key is the oldest stored.
      const oldest = this.#intents.keys().next().value as string;
      this.#intents.delete(oldest);
      this.#dropped += 1;
    }
    this.#intents.delete(name);
    this.#intents.set(name, { kind, lamportTime, storedAtMs: nowMs });
    return true;
  }

  /** Returns the intent held for `name`, if any, without removing it. */
  get(name: string): RecentIntent | undefined {
    return this.#intents.get(name);
  }

  /** Returns and removes the intent held for `name`. */
  take(name: string): RecentIntent | undefined {
    const intent = this.#intents.get(name);
    this.#intents.delete(name);
    return intent;
  }

  /** Forgets intents stored more than `timeoutMs` before `nowMs` (Serf's `reapIntents`). */
  expire(nowMs: number, timeoutMs: number): void {
    for (const [name, intent] of this.#intents) {
      if (nowMs - intent.storedAtMs > timeoutMs) this.#intents.delete(name);
    }
  }

  /** Intents held. */
  get size(): number {
    return this.#intents.size;
  }

  /** Intents dropped at the bound. */
  get dropped(): number {
    return this.#dropped;
  }
}
