/**
 * Gossip shells of the agent: the memberlist transport (UDP and TCP on one port, encryption,
 * bounded streams, the SWIM core's timer), the Serf shell on top of it (Serf core, Vivaldi,
 * member snapshot), the LAN pool with Consul's tags and retry-join, the servers' WAN pool (the
 * same class with WAN timings), the keyring file, and the coordinate sender.
 * Protocol rules live in `src/core/swim`, `src/core/serf`, `src/core/vivaldi` and
 * `src/core/wire`; these files carry bytes and outputs.
 *
 * @example
 * ```ts
 * import { LanPool } from "./mod.ts";
 * const pool = await LanPool.start(runtime, {
 *   nodeName: "node-1",
 *   bind: { host: "127.0.0.2", port: 8301 },
 *   advertiseHost: "127.0.0.2",
 *   tags: { role: "node", dc: "dc1" },
 *   retryJoin: ["127.0.0.3"],
 *   log: logger,
 * });
 * pool.members(); // [{ name: "node-1", addr: "127.0.0.2", port: 8301, status: 1, ... }]
 * pool.userEvent("consul:event:deploy", payload, false); // cluster-wide, through Serf
 * await pool.stop();
 * ```
 *
 * @module
 */

export * from "./memberlist_transport.ts";
export * from "./serf_pool.ts";
export * from "./lan_pool.ts";
export * from "./wan_pool.ts";
export * from "./wan_flood.ts";
export * from "./keyring_file.ts";
export * from "./retry_join.ts";
export * from "./consul_tags.ts";
export * from "./coordinate_sender.ts";
