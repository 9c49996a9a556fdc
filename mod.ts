/**
 * cairn: a service-discovery and configuration agent that speaks Consul's HTTP API and DNS, on
 * Deno, Bun and Node. This module embeds an agent in the caller's process ({@link createAgent})
 * or connects to a remote one ({@link connect}); both give the same typed {@link CairnClient}:
 * services, checks, KV, health and blocking-query watches.
 *
 * @example
 * ```ts
 * import { createAgent } from "./mod.ts";
 *
 * const agent = await createAgent({ nodeName: "embedded" }); // no sockets unless asked
 * await agent.services.register({ name: "web", port: 8080, check: { ttl: "30s" } });
 * await agent.checks.pass("service:web");
 * const healthy = await agent.health.service("web", { passing: true });
 * console.log(healthy.map((instance) => `${instance.address}:${instance.service.port}`));
 * await agent.stop();
 * ```
 *
 * @module
 */

import { detectRuntime } from "./runtimes/mod.ts";
import {
  type ConnectOptions,
  connectRemote,
  type CreateAgentOptions,
  createEmbeddedAgent,
  type EmbeddedAgent,
  parseCreateAgentOptions,
  type RemoteClient,
} from "./src/client/mod.ts";

export { cairnVersion, type RunningAgent, startAgent } from "./src/agent/agent.ts";
export { type AgentConfig, defaultAgentConfig, devAgentConfig } from "./src/agent/config.ts";
export type { Address, Runtime } from "./src/runtime.ts";
export { detectRuntime } from "./runtimes/mod.ts";
export {
  type CairnClient,
  type CheckDefinition,
  type CheckRegistration,
  type ChecksApi,
  type CheckStatus,
  ClientError,
  type ConnectOptions,
  connectOptionsSchema,
  type CreateAgentOptions,
  createAgentOptionsSchema,
  type EmbeddedAgent,
  type HealthApi,
  type HealthCheck,
  type HealthServiceOptions,
  type KvApi,
  type KvDeleteOptions,
  type KvEntry,
  type KvPutOptions,
  type NodeInfo,
  type RemoteClient,
  type ResolvedAgentOptions,
  type ServiceHealth,
  type ServiceInstance,
  type ServiceRegistration,
  type ServicesApi,
  type ServiceWatchOptions,
  type Watch,
  type WatchApi,
  type WatchOptions,
} from "./src/client/mod.ts";

/**
 * Starts an agent inside this process on the runtime that runs it (Deno, Bun or Node) and
 * returns it with the typed client bound to it. No socket opens unless `httpPort` or `dnsPort` is
 * given (0 picks a free port). Its timers are unref'd: a program whose own work is done exits
 * even while the agent, or a watch on it, runs. `stop()` ends its watches and shuts it down.
 * With `mode: "client"` it is a client agent of a running cluster instead: it joins the LAN
 * gossip pool through `retryJoin` and keeps its data on the servers
 * (`createAgent({ mode: "client", retryJoin: ["10.0.0.5"], httpPort: 0 })`).
 *
 * @param options validated with zod; see {@link CreateAgentOptions}
 * @returns the running agent
 * @throws {TypeError} naming each invalid option
 * @example
 * ```ts
 * import { createAgent } from "./mod.ts";
 *
 * const agent = await createAgent({ httpPort: 0 }); // an HTTP API on a free loopback port
 * await agent.kv.put("app/port", "8080");
 * console.log((await agent.kv.get("app/port"))?.value, agent.httpAddress?.port);
 * await agent.stop();
 * ```
 */
export async function createAgent(options: CreateAgentOptions = {}): Promise<EmbeddedAgent> {
  // Validated before the runtime loads, so bad options fail fast and alike everywhere.
  parseCreateAgentOptions(options);
  return await createEmbeddedAgent(await detectRuntime(), options);
}

/**
 * Returns the typed client of a remote agent (cairn or Consul) over its HTTP API. Nothing is sent
 * until a method is called. `close()` ends the client's watches; it does not stop the agent.
 *
 * @param address "http://127.0.0.1:8500", "https://host:8501" or "host:port"
 * @param options `token` and `datacenter`
 * @returns the client
 * @throws {TypeError} for an address that is not http(s) or invalid options
 * @example
 * ```ts ignore
 * import { connect } from "./mod.ts";
 *
 * const consul = connect("http://127.0.0.1:8500");
 * const watch = consul.watch.kvPrefix("app/", (entries) => console.log(entries.length));
 * // later
 * watch.cancel();
 * consul.close();
 * ```
 */
export function connect(address: string, options: ConnectOptions = {}): RemoteClient {
  return connectRemote(detectRuntime(), address, options);
}
