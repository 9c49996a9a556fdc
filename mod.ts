/**
 * cairn: a service-discovery and configuration agent that speaks Consul's HTTP API and DNS, on
 * Deno, Bun and Node. This module embeds an agent in the caller's process.
 *
 * @example
 * ```ts
 * import { createAgent } from "./mod.ts";
 *
 * const agent = await createAgent({ nodeName: "embedded", httpPort: 0, dnsPort: -1 });
 * const response = await agent.fetch(new Request("http://cairn/v1/status/leader"));
 * console.log(await response.json());
 * await agent.stop();
 * ```
 *
 * @module
 */

import { detectRuntime } from "./runtimes/mod.ts";
import { type RunningAgent, startAgent } from "./src/agent/agent.ts";
import { type AgentConfig, devAgentConfig } from "./src/agent/config.ts";

export { cairnVersion, type RunningAgent, startAgent } from "./src/agent/agent.ts";
export { type AgentConfig, defaultAgentConfig, devAgentConfig } from "./src/agent/config.ts";
export type { Address, Runtime } from "./src/runtime.ts";
export { detectRuntime } from "./runtimes/mod.ts";

/** Options of an embedded dev agent. Ports: 0 picks a free one, -1 turns the listener off. */
export interface CreateAgentOptions {
  /** @default {"cairn-embedded"} */
  nodeName?: string;
  /** @default {"dc1"} */
  datacenter?: string;
  /** @default {-1} no HTTP server unless asked */
  httpPort?: number;
  /** @default {-1} */
  dnsPort?: number;
  /** @default {"127.0.0.1"} */
  clientAddr?: string;
  /** @default {"warn"} */
  logLevel?: AgentConfig["logLevel"];
}

/**
 * Starts a dev agent inside this process on the runtime that runs it. Its `fetch` answers the
 * HTTP API without a socket; `stop()` shuts it down.
 *
 * @param options where to listen and what to call the node
 * @returns the running agent
 */
export async function createAgent(options: CreateAgentOptions = {}): Promise<RunningAgent> {
  const config = devAgentConfig(options.nodeName ?? "cairn-embedded");
  config.datacenter = options.datacenter ?? config.datacenter;
  config.clientAddr = options.clientAddr ?? config.clientAddr;
  config.ports = { ...config.ports, http: options.httpPort ?? -1, dns: options.dnsPort ?? -1 };
  config.logLevel = options.logLevel ?? "warn";
  return await startAgent(await detectRuntime(), config);
}
