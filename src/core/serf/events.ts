/**
 * Serf's user-event buffer (`eventBuffer`, gossip-wire.md §11.8): a ring of slots keyed by
 * event clock modulo its size. It de-duplicates re-gossiped events, refuses events too old to
 * be checked against it, and is what push/pull hands to a joining member.
 *
 * @module
 */

import { assert } from "../assert.ts";
import type { SerfBufferedEvent, SerfEventSlot } from "../wire/mod.ts";
import { slotEventsMax } from "./config.ts";

/** Why an event was refused, or `"accepted"`. */
export type EventVerdict = "accepted" | "belowMinimum" | "tooOld" | "duplicate" | "slotFull";

/**
 * The event buffer: one slot per clock value modulo `size`.
 *
 * @example
 * ```ts
 * const buffer = new EventBuffer(512);
 * buffer.accept({ lamportTime: 3, name: "deploy", payload: undefined }, 4, 0); // "accepted"
 * buffer.accept({ lamportTime: 3, name: "deploy", payload: undefined }, 4, 0); // "duplicate"
 * ```
 */
export class EventBuffer {
  readonly #slots: Array<SerfEventSlot | undefined>;

  /** @param size slots (Serf's `EventBuffer`, 512) */
  constructor(size: number) {
    assert(Number.isInteger(size) && size >= 1, `Cannot create event buffer: size "${size}"`);
    this.#slots = new Array(size).fill(undefined);
  }

  /**
   * Records an event if it is new (Serf's `handleUserEvent`, after the clock witnessed it).
   *
   * @param event the event and its clock
   * @param clockTime the event clock's value now
   * @param minimumTime events below this are refused (after a join that ignores old events)
   * @returns `"accepted"` when the event is new and recorded, else why it was refused
   */
  accept(
    event: SerfBufferedEvent & { lamportTime: number },
    clockTime: number,
    minimumTime: number,
  ): EventVerdict {
    if (event.lamportTime < minimumTime) return "belowMinimum";
    const size = this.#slots.length;
    if (clockTime > size && event.lamportTime < clockTime - size) return "tooOld";
    const index = event.lamportTime % size;
    let slot = this.#slots[index];
    if (slot !== undefined && slot.lamportTime === event.lamportTime) {
      if (slot.events.some((seen) => sameEvent(seen, event))) return "duplicate";
      // Serf keeps any number; a peer could fill one clock value with junk, so we bound it.
      if (slot.events.length >= slotEventsMax) return "slotFull";
    } else {
      slot = { lamportTime: event.lamportTime, events: [] };
      this.#slots[index] = slot;
    }
    slot.events.push({ name: event.name, payload: event.payload });
    return "accepted";
  }

  /** Returns the slots as push/pull carries them (index = clock modulo size). */
  slots(): Array<SerfEventSlot | undefined> {
    return this.#slots.slice();
  }
}

function sameEvent(a: SerfBufferedEvent, b: SerfBufferedEvent): boolean {
  return a.name === b.name && bytesEqual(a.payload, b.payload);
}

/** Compares two optional byte strings; nil and empty are equal, as Go's `bytes.Equal`. */
export function bytesEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  const left = a ?? new Uint8Array(0);
  const right = b ?? new Uint8Array(0);
  if (left.length !== right.length) return false;
  for (let i = 0; i < left.length; i += 1) if (left[i] !== right[i]) return false;
  return true;
}
