/**
 * Serf on top of memberlist, compatible with HashiCorp Serf 0.9.4 (gossip-wire.md §11): Lamport
 * clocks, join and leave intents, member statuses alive / leaving / left / failed, reaping and
 * reconnects, tags in node meta, user events with coalescing, queries with filters, acks,
 * responses and relays, internal queries (ping, name conflicts, keyring), and the member
 * snapshot. A synchronous core: the shell feeds it memberlist's news (`MemberlistEvent`) and
 * carries its outputs to memberlist and the application.
 *
 * @example
 * ```ts
 * import { Serf } from "./mod.ts";
 * import { SeededRandom } from "../random.ts";
 *
 * const address = { address: Uint8Array.of(127, 0, 0, 2), port: 8301 };
 * const serf = new Serf({ name: "a", address, random: new SeededRandom(1), tags: { role: "web" } }, 0);
 * serf.userEvent("deploy", new TextEncoder().encode("v2"), true, 10);
 * serf.poll(); // { type: "memberEvent", event: "join", member: { name: "a", ... } }
 * ```
 *
 * @module
 */

export * from "./config.ts";
export * from "./lamport_clock.ts";
export * from "./messages.ts";
export * from "./intents.ts";
export * from "./events.ts";
export * from "./coalesce.ts";
export * from "./query.ts";
export * from "./internal_query.ts";
export * from "./member_table.ts";
export * from "./snapshot.ts";
export * from "./serf.ts";
