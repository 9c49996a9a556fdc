/**
 * An agent inside the caller's process with the typed client on it: `createAgent()` in `mod.ts`.
 * Requests go through the agent's own `fetch` (the HTTP API without a socket); no listener opens
 * unless a port is given. Every timer the agent holds is unref'd, so a finished program exits
 * even while the agent, or a watch on it, is running.
 *
 * @module
 */

import { z } from "zod";
import { type RunningAgent, startAgent } from "../agent/agent.ts";
import { defaultAgentConfig, devAgentConfig, type LogLevel } from "../agent/config.ts";
import type { Runtime, Timers } from "../runtime.ts";
import type { CairnClient } from "./cairn_client.ts";
import { createFetchClient } from "./fetch_client.ts";

const portSchema: z.ZodDefault<z.ZodNumber> = z.number().int().min(-1).max(65_535).default(-1);
const logLevelSchema: z.ZodEnum<{ [level in LogLevel]: level }> = z.enum([
  "trace",
  "debug",
  "info",
  "warn",
  "error",
]);

/**
 * The options of `createAgent()`, as a zod schema; {@link CreateAgentOptions} is inferred from it.
 * Unknown keys are refused, so a misspelt option fails instead of being ignored.
 */
export const createAgentOptionsSchema: z.ZodObject<{
  mode: z.ZodOptional<z.ZodEnum<{ dev: "dev"; client: "client" }>>;
  dev: z.ZodDefault<z.ZodBoolean>;
  retryJoin: z.ZodDefault<z.ZodArray<z.ZodString>>;
  bindAddr: z.ZodDefault<z.ZodString>;
  serfLanPort: z.ZodDefault<z.ZodNumber>;
  dataDir: z.ZodOptional<z.ZodString>;
  nodeName: z.ZodDefault<z.ZodString>;
  datacenter: z.ZodDefault<z.ZodString>;
  httpPort: z.ZodDefault<z.ZodNumber>;
  dnsPort: z.ZodDefault<z.ZodNumber>;
  clientAddr: z.ZodDefault<z.ZodString>;
  logLevel: z.ZodDefault<typeof logLevelSchema>;
  nodeMeta: z.ZodDefault<z.ZodRecord<z.ZodString, z.ZodString>>;
}, z.core.$strict> = z.strictObject({
  /**
   * "dev" (the default): an in-memory server that is its own leader. "client": a client agent
   * that joins the LAN gossip pool through `retryJoin` and keeps its data on the servers.
   */
  mode: z.enum(["dev", "client"]).optional(),
  /** Dev mode, when `mode` is not given; false without `mode: "client"` is refused. */
  dev: z.boolean().default(true),
  /** Client mode: gossip addresses of any agents of the cluster (`host` or `host:port`). */
  retryJoin: z.array(z.string().min(1)).max(64).default([]),
  /** Client mode: the IP the gossip pool binds and advertises. */
  bindAddr: z.string().min(1).default("127.0.0.1"),
  /** Client mode: the LAN gossip port (UDP and TCP); 0 picks a free one. */
  serfLanPort: z.number().int().min(0).max(65_535).default(8301),
  /** Client mode: where the node ID and the gossip snapshot are kept; none keeps nothing. */
  dataDir: z.string().min(1).optional(),
  nodeName: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, "must be 1 to 128 letters, digits, _ . -")
    .default("cairn-embedded"),
  datacenter: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be letters, digits, _ and -")
    .default("dc1"),
  /** 0 picks a free port, -1 (the default) opens no HTTP server. */
  httpPort: portSchema,
  /** 0 picks a free port, -1 (the default) opens no DNS server. */
  dnsPort: portSchema,
  clientAddr: z.string().min(1).default("127.0.0.1"),
  logLevel: logLevelSchema.default("warn"),
  nodeMeta: z.record(z.string(), z.string()).default({}),
});

/**
 * What `createAgent()` accepts; every field is optional:
 * - `mode`: "dev" (the default) runs an in-memory server that is its own leader; "client" runs a
 *   client agent that joins the cluster's LAN gossip pool through `retryJoin` (gossip addresses
 *   of any agents) from `bindAddr:serfLanPort` (default 127.0.0.1:8301), keeps its node ID and
 *   gossip snapshot in `dataDir` when given, and reaches the catalog through the servers;
 * - `dev` (default true): the older switch for dev mode;
 * - `nodeName` (default "cairn-embedded"), `datacenter` (default "dc1"), `nodeMeta`;
 * - `httpPort`, `dnsPort`: 0 picks a free port, -1 (the default) opens no listener;
 * - `clientAddr` (default "127.0.0.1"): where those listeners bind;
 * - `logLevel` (default "warn"): the agent logs to stderr.
 */
export type CreateAgentOptions = z.input<typeof createAgentOptionsSchema>;

/** {@link CreateAgentOptions} with every default filled in. */
export type ResolvedAgentOptions = z.output<typeof createAgentOptionsSchema>;

/** An agent running in this process, with the typed client bound to it. */
export interface EmbeddedAgent extends RunningAgent, CairnClient {}

/**
 * Checks options and fills in defaults.
 *
 * @param options what the caller gave
 * @returns the options with defaults
 * @throws {TypeError} naming every invalid option
 */
export function parseCreateAgentOptions(options: unknown): ResolvedAgentOptions {
  const parsed = createAgentOptionsSchema.safeParse(options ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.length === 0 ? "options" : issue.path.join(".");
    return `${path}: ${issue.message}`;
  });
  throw new TypeError(`Cannot create agent: invalid options (${problems.join("; ")})`);
}

/**
 * Starts an agent in this process on `runtime` and binds the typed client to it.
 *
 * @param runtime the runtime running this code
 * @param options validated with {@link createAgentOptionsSchema}
 * @returns the agent: its client methods, `fetch`, `stop()` and `stopped`
 * @throws {TypeError} for invalid options; `RangeError` for `dev: false` without a client mode
 */
export async function createEmbeddedAgent(
  runtime: Runtime,
  options: CreateAgentOptions = {},
): Promise<EmbeddedAgent> {
  const resolved = parseCreateAgentOptions(options);
  const client = resolved.mode === "client";
  if (!client && !resolved.dev) {
    throw new RangeError(
      'Cannot create a non-dev embedded agent without mode "client": give mode: "client" and ' +
        "retryJoin, or leave dev on",
    );
  }
  const config = client ? defaultAgentConfig(resolved.nodeName) : devAgentConfig(resolved.nodeName);
  config.datacenter = resolved.datacenter;
  config.clientAddr = resolved.clientAddr;
  // A dev agent runs no gossip pool in-process: it opens no socket unless asked (see above).
  // A client needs its LAN pool (and only it: no WAN pool, no server RPC listener).
  config.ports = {
    ...config.ports,
    http: resolved.httpPort,
    dns: resolved.dnsPort,
    serfLan: client ? resolved.serfLanPort : -1,
  };
  if (client) {
    config.bindAddr = resolved.bindAddr;
    config.retryJoin = resolved.retryJoin;
    config.dataDir = resolved.dataDir;
  }
  config.logLevel = resolved.logLevel;
  config.nodeMeta = resolved.nodeMeta;
  const agent = await startAgent(runtime, config);
  const lifetime = new AbortController();
  // `PUT /v1/agent/leave` also stops the agent: watches end then too.
  void agent.stopped.then(() => lifetime.abort());
  const typed = createFetchClient({
    baseUrl: "http://cairn.embedded",
    fetch: async (request) => await agent.fetch(request),
    sleep: (delayMs, signal) => sleep(runtime.timers, delayMs, signal),
    lifetime: lifetime.signal,
  });
  return {
    ...typed,
    get config() {
      return agent.config;
    },
    get httpAddress() {
      return agent.httpAddress;
    },
    get dnsAddress() {
      return agent.dnsAddress;
    },
    fetch: agent.fetch,
    stopped: agent.stopped,
    stop(): Promise<void> {
      // Watches end first, so none of them re-queries an agent that is going away.
      lifetime.abort();
      return agent.stop();
    },
  };
}

/**
 * Resolves after `delayMs` on an unref'd timer, or at once when `signal` aborts.
 *
 * @param timers the runtime's timers
 * @param delayMs how long to wait
 * @param signal ends the wait early
 */
export function sleep(timers: Timers, delayMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const finish = () => {
      timer.cancel();
      signal.removeEventListener("abort", finish);
      resolve();
    };
    const timer = timers.after(delayMs, finish);
    signal.addEventListener("abort", finish);
  });
}
