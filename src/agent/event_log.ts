/**
 * The user events this agent has seen, newest last, bounded like Consul's (256). With gossip,
 * events arrive from Serf with their event clock (`ingest`); without it (`-serf-lan-port=-1`),
 * an event fired here is delivered here (`add`).
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

  /**
   * Stores an event that arrived through gossip, with the Serf event clock as its `lTime`
   * (Consul's `ingestUserEvent`); the oldest drops past the bound.
   */
  ingest(event: UserEvent): void {
    this.#lTime = Math.max(this.#lTime, event.lTime);
    this.#events.push(event);
    if (this.#events.length > eventsKeptMax) this.#events.shift();
    this.#index += 1;
  }

  /** The kept events, oldest first. */
  list(): UserEvent[] {
    return [...this.#events];
  }
}

/**
 * Whether this agent should list `event` (Consul's `shouldProcessUserEvent`): the node filter
 * must match our name; a service filter must match one of our services (by name or ID) and,
 * with a tag filter, one of that service's tags. A filter that does not compile drops the event.
 *
 * @param event the event's filters (regular expressions, empty for none)
 * @param nodeName this agent's node name
 * @param services this agent's services
 */
export function userEventMatches(
  event: Pick<UserEvent, "nodeFilter" | "serviceFilter" | "tagFilter">,
  nodeName: string,
  services: readonly { id: string; service: string; tags: readonly string[] }[],
): boolean {
  try {
    if (event.nodeFilter !== "" && !new RegExp(event.nodeFilter).test(nodeName)) return false;
    if (event.serviceFilter === "") return true;
    const serviceRe = new RegExp(event.serviceFilter);
    const tagRe = event.tagFilter === "" ? undefined : new RegExp(event.tagFilter);
    return services.some((service) =>
      (serviceRe.test(service.service) || serviceRe.test(service.id)) &&
      (tagRe === undefined || service.tags.some((tag) => tagRe.test(tag)))
    );
  } catch {
    return false;
  }
}
