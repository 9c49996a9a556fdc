/**
 * The user events this agent has seen, newest last, bounded like Consul's (256). Until gossip
 * carries them cluster-wide, an event fired here is delivered here.
 *
 * @module
 */

import type { UserEvent } from "../http/api_backend.ts";

/** Events kept for `/v1/event/list`. @default {256} Consul's userEventMaxVersion buffer */
export const eventsKeptMax = 256;

/** A bounded log of user events with a Lamport time and an index that moves per event. */
export class EventLog {
  readonly #events: UserEvent[] = [];
  #lTime = 0;
  #index = 1;

  /** Index of the newest event (at least 1). */
  get index(): number {
    return this.#index;
  }

  /** Stamps and stores a new event; the oldest drops past the bound. */
  add(event: Omit<UserEvent, "lTime" | "version">): UserEvent {
    this.#lTime += 1;
    const stored: UserEvent = { ...event, version: 1, lTime: this.#lTime };
    this.#events.push(stored);
    if (this.#events.length > eventsKeptMax) this.#events.shift();
    this.#index += 1;
    return stored;
  }

  /** The kept events, oldest first. */
  list(): UserEvent[] {
    return [...this.#events];
  }
}
