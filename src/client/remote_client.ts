/**
 * The typed client of a remote agent over HTTP: `connect()` in `mod.ts`. It speaks Consul's HTTP
 * API, so it works against cairn and against Consul itself. It owns no agent: `close()` ends its
 * watches and leaves the agent running.
 *
 * @module
 */

import { z } from "zod";
import { resolveHttpAddress } from "../cli/http_client.ts";
import type { Runtime } from "../runtime.ts";
import type { CairnClient } from "./cairn_client.ts";
import { sleep } from "./embedded_agent.ts";
import { createFetchClient } from "./fetch_client.ts";

/** The options of `connect()`, as a zod schema; {@link ConnectOptions} is inferred from it. */
export const connectOptionsSchema: z.ZodObject<{
  token: z.ZodOptional<z.ZodString>;
  datacenter: z.ZodOptional<z.ZodString>;
}, z.core.$strict> = z.strictObject({
  /** Sent as `X-Consul-Token` on every request. */
  token: z.string().min(1).optional(),
  /** Sent as `?dc=` on every request: the datacenter to query. */
  datacenter: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be letters, digits, _ and -")
    .optional(),
});

/**
 * What `connect()` accepts: `token` (sent as `X-Consul-Token`) and `datacenter` (sent as `?dc=`),
 * both optional.
 */
export type ConnectOptions = z.input<typeof connectOptionsSchema>;

/** A client of a remote agent. */
export interface RemoteClient extends CairnClient {
  /** The agent's base URL, e.g. "http://127.0.0.1:8500". */
  readonly baseUrl: string;
  /**
   * Ends every watch of this client and aborts its outstanding blocking queries. The remote
   * agent keeps running (use `PUT /v1/agent/leave` to stop it). Idempotent.
   */
  close(): void;
}

/**
 * Creates a client of the agent at `address`.
 *
 * @param runtime resolves to the runtime whose `fetch` and timers the client uses
 * @param address "http://host:port", "https://host:port" or "host:port"
 * @param options token and datacenter
 * @returns the client; nothing is sent until a method is called
 * @throws {TypeError} for an address that is not http(s) or invalid options
 */
export function connectRemote(
  runtime: Promise<Runtime>,
  address: string,
  options: ConnectOptions = {},
): RemoteClient {
  const parsed = connectOptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) =>
      `${issue.path.length === 0 ? "options" : issue.path.join(".")}: ${issue.message}`
    );
    throw new TypeError(`Cannot connect: invalid options (${problems.join("; ")})`);
  }
  const baseUrl = resolveHttpAddress(address);
  const lifetime = new AbortController();
  const client = createFetchClient({
    baseUrl,
    fetch: async (request) => {
      try {
        return await (await runtime).fetch(request);
      } catch (error) {
        if (request.signal.aborted) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        throw new TypeError(`Cannot reach the agent at ${baseUrl}: ${reason}`, { cause: error });
      }
    },
    sleep: async (delayMs, signal) => await sleep((await runtime).timers, delayMs, signal),
    lifetime: lifetime.signal,
    token: parsed.data.token,
    datacenter: parsed.data.datacenter,
  });
  return { ...client, baseUrl, close: () => lifetime.abort() };
}
