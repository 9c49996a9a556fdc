/**
 * Coalescing of user events (Serf 0.9.4 `coalesce.go`, `coalesce_user.go`): of the events
 * flagged `coalesce` with one name seen in a window, only those with the newest clock are
 * delivered. The window closes `periodMs` after its first event, or `quiescentMs` after its
 * latest, whichever comes first. Events not flagged pass straight through. This is local to
 * the receiving member; the wire never sees it.
 *
 * @module
 */

import { coalescedNamesMax } from "./config.ts";

/** A user event as the coalescer sees it. */
export interface CoalescibleEvent {
  /** Event clock. */
  lamportTime: number;
  /** Event name. */
  name: string;
  /** Event payload. */
  payload: Uint8Array | undefined;
  /** Whether it may be coalesced (`CC`). */
  coalesce: boolean;
}

/**
 * Holds coalescible user events until their window closes.
 *
 * @example
 * ```ts
 * const coalescer = new UserEventCoalescer(3_000, 1_000);
 * coalescer.push(event1, 0); // [] (held)
 * coalescer.push(event2, 10); // [] (held; same name, newer clock replaces event1)
 * coalescer.flushDue(1_010); // [event2]
 * ```
 */
export class UserEventCoalescer {
  readonly #periodMs: number;
  readonly #quiescentMs: number;
  readonly #latest = new Map<string, { lamportTime: number; events: CoalescibleEvent[] }>();
  #periodEndsAtMs: number | undefined;
  #quiescentEndsAtMs: number | undefined;

  /**
   * @param periodMs longest hold from the window's first event; 0 disables coalescing
   * @param quiescentMs hold after the latest event; 0 means only `periodMs` counts
   */
  constructor(periodMs: number, quiescentMs: number) {
    this.#periodMs = periodMs;
    this.#quiescentMs = quiescentMs;
  }

  /**
   * Offers an event; returns the events to deliver now (the event itself when it is not
   * coalescible, coalescing is off, or too many names are held).
   */
  push(event: CoalescibleEvent, nowMs: number): CoalescibleEvent[] {
    if (this.#periodMs <= 0 || !event.coalesce) return [event];
    const latest = this.#latest.get(event.name);
    if (latest === undefined && this.#latest.size >= coalescedNamesMax) return [event];
    this.#periodEndsAtMs ??= nowMs + this.#periodMs;
    if (this.#quiescentMs > 0) this.#quiescentEndsAtMs = nowMs + this.#quiescentMs;
    if (latest === undefined || latest.lamportTime < event.lamportTime) {
      this.#latest.set(event.name, { lamportTime: event.lamportTime, events: [event] });
    } else if (latest.lamportTime === event.lamportTime) {
      latest.events.push(event);
    }
    return [];
  }

  /** Returns when the held events are due, or `undefined` when none are held. */
  deadlineMs(): number | undefined {
    if (this.#periodEndsAtMs === undefined) return undefined;
    if (this.#quiescentEndsAtMs === undefined) return this.#periodEndsAtMs;
    return Math.min(this.#periodEndsAtMs, this.#quiescentEndsAtMs);
  }

  /** Returns (and forgets) the held events when their window has closed at `nowMs`. */
  flushDue(nowMs: number): CoalescibleEvent[] {
    const deadline = this.deadlineMs();
    if (deadline === undefined || nowMs < deadline) return [];
    const out: CoalescibleEvent[] = [];
    for (const latest of this.#latest.values()) out.push(...latest.events);
    this.#latest.clear();
    this.#periodEndsAtMs = undefined;
    this.#quiescentEndsAtMs = undefined;
    return out;
  }
}
