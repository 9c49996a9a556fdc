/**
 * Requests for another datacenter (`?dc=dc2`), as Consul's servers forward RPCs across the WAN
 * (`agent/consul/rpc.go` `forwardDC`): a server picks, among the alive servers of that
 * datacenter its WAN pool knows, one at random and ships the HTTP data request to it over the
 * server RPC (`clientHttp`, the same call client agents use to reach their own servers); that
 * server answers it against its own HTTP API, where the datacenter is local. A datacenter the
 * WAN pool does not know answers Consul's 500 "No path to datacenter".
 *
 * Client agents do not forward across datacenters themselves: their data requests go to a
 * server of their own datacenter first (`ForwardingServerApi`), which forwards from there.
 *
 * DNS names of another datacenter (`web.service.dc2.consul`) are looked up the same way: the
 * server asks a server of that datacenter (`clientDns`, answered there as its own datacenter's;
 * see `forwarded_dns.ts`).
 *
 * Keyring operations reach every datacenter the same way (Consul's `KeyringOperation` with
 * `globalRPC`): the server that got the request runs the WAN and its own LAN query, and asks a
 * server of each other datacenter to run the query on its LAN pool (`keyringLan`).
 *
 * @module
 */

import type { Runtime } from "../runtime.ts";
import type { RpcHandler } from "../server/rpc.ts";
import type { KeyringAction, KeyringPoolResponse } from "../http/api_backend.ts";
import type { LanPool } from "./gossip/mod.ts";
import {
  decodeForwardedResponse,
  forwardedTimeoutMs,
  fromForwardedResponse,
  toForwardedRequest,
} from "../http/forwarding.ts";
import {
  type DatacenterDnsSource,
  type DnsRequest,
  forwardedDnsWanTimeoutMs,
} from "./forwarded_dns.ts";
import { type GossipMember, ServerFinder } from "./server_finder.ts";
import { ServerRouter } from "./server_router.ts";

/** Datacenters with a router (and its connections) kept at once; the oldest go past this. */
export const datacenterRoutersMax = 64;
/** How long a server waits for another datacenter's keyring answer (its query, and the trip). */
export const keyringLanTimeoutMs = 60_000;
/** Consul's answer for a datacenter no server knows (`structs.ErrNoDCPath`). */
export const noPathMessage = "No path to datacenter";
/** DNS lookups in other datacenters waiting at once; past it they fail at once. */
export const datacenterDnsLookupsMax = 256;

/** Forwards data requests to the servers of other datacenters. */
export class DatacenterForwarder implements DatacenterDnsSource {
  readonly #runtime: Runtime;
  readonly #members: () => readonly GossipMember[];
  readonly #routers = new Map<string, ServerRouter>();
  #dnsLookups = 0;

  /**
   * @param runtime sockets, timers, the clock and random bytes
   * @param members the WAN pool's members now (servers of every datacenter)
   */
  constructor(runtime: Runtime, members: () => readonly GossipMember[]) {
    this.#runtime = runtime;
    this.#members = members;
  }

  /**
   * Answers `request` through a server of `datacenter`: its answer as it gave it, or a 500
   * naming why none answered ("No path to datacenter" when the WAN pool knows none of its
   * servers).
   *
   * @throws HttpError 413 when the body is too large to forward
   */
  async forward(datacenter: string, request: Request): Promise<Response> {
    if (!this.knows(datacenter)) return plainText(500, noPathMessage);
    const forwarded = await toForwardedRequest(request);
    let answer: unknown;
    try {
      answer = await this.#router(datacenter).call("clientHttp", forwarded, {
        timeoutMs: forwardedTimeoutMs(forwarded),
        idempotent: forwarded.method === "GET",
      });
    } catch (error) {
      const reason = (error as Error).message.split("\n")[0];
      return plainText(500, `Cannot reach datacenter "${datacenter}": ${reason}`);
    }
    const decoded = decodeForwardedResponse(answer);
    if (decoded === undefined) {
      return plainText(
        500,
        `Cannot forward to datacenter "${datacenter}": a server answered malformed`,
      );
    }
    return fromForwardedResponse(decoded);
  }

  /** Whether the WAN pool knows an alive server of `datacenter`. */
  knows(datacenter: string): boolean {
    return this.#members().some((member) =>
      member.status === 1 && member.tags.role === "consul" && member.tags.dc === datacenter
    );
  }

  /**
   * Asks a server of `datacenter` for a DNS answer (`clientDns`), answered there as its own
   * datacenter's; its answer as it gave it.
   *
   * @throws Error naming the datacenter when none of its servers answered in time, or when
   *   {@link datacenterDnsLookupsMax} lookups are waiting already
   */
  async lookupDns(datacenter: string, request: DnsRequest): Promise<unknown> {
    if (this.#dnsLookups >= datacenterDnsLookupsMax) {
      throw new Error(
        `Cannot look up in datacenter "${datacenter}": ${datacenterDnsLookupsMax} lookups wait`,
      );
    }
    this.#dnsLookups++;
    try {
      return await this.#router(datacenter).call("clientDns", request, {
        timeoutMs: forwardedDnsWanTimeoutMs,
        idempotent: true,
      });
    } catch (error) {
      const reason = (error as Error).message.split("\n")[0];
      throw new Error(`Cannot reach datacenter "${datacenter}": ${reason}`);
    } finally {
      this.#dnsLookups--;
    }
  }

  /** The other datacenters with an alive server in the WAN pool, sorted. */
  otherDatacenters(local: string): string[] {
    const found = new Set<string>();
    for (const member of this.#members()) {
      const dc = member.tags.dc;
      if (member.status !== 1 || member.tags.role !== "consul" || dc === undefined) continue;
      if (dc !== "" && dc !== local) found.add(dc);
    }
    return [...found].sort();
  }

  /**
   * Runs a keyring operation on the LAN pool of `datacenter` through one of its servers. A
   * datacenter that cannot be reached answers with its `error` set and no nodes.
   */
  async keyringLan(
    datacenter: string,
    action: KeyringAction,
    key: string,
    relayFactor = 0,
  ): Promise<KeyringPoolResponse> {
    try {
      const payload = { action, key, relayFactor };
      const answer = await this.#router(datacenter).call("keyringLan", payload, {
        timeoutMs: keyringLanTimeoutMs,
        idempotent: action === "list",
      });
      const decoded = decodeKeyringPoolResponse(answer);
      if (decoded !== undefined) return decoded;
      return unreachable(datacenter, "a server answered malformed");
    } catch (error) {
      return unreachable(datacenter, (error as Error).message.split("\n")[0]);
    }
  }

  /** Closes every router's connections; calls in flight fail. */
  async close(): Promise<void> {
    const routers = [...this.#routers.values()];
    this.#routers.clear();
    await Promise.allSettled(routers.map((router) => router.close()));
  }

  #router(datacenter: string): ServerRouter {
    let router = this.#routers.get(datacenter);
    if (router !== undefined) return router;
    if (this.#routers.size >= datacenterRoutersMax) {
      const [oldest, evicted] = this.#routers.entries().next().value!;
      this.#routers.delete(oldest);
      void evicted.close();
    }
    const finder = new ServerFinder({
      members: this.#members,
      datacenter,
      nowMs: () => this.#runtime.clock.monotonicMs(),
      random: () => {
        const bytes = this.#runtime.randomBytes(new Uint8Array(4));
        return new DataView(bytes.buffer).getUint32(0) / 2 ** 32;
      },
    });
    router = new ServerRouter(this.#runtime, finder);
    this.#routers.set(datacenter, router);
    return router;
  }
}

/**
 * The server RPC handler that runs a keyring operation on this datacenter's LAN pool for a
 * server of another datacenter.
 *
 * @param lan the LAN pool, when it runs
 * @param datacenter our datacenter
 */
export function keyringLanHandler(
  lan: () => LanPool | undefined,
  datacenter: string,
): RpcHandler {
  return async (payload) => {
    const fields = payload as { action?: unknown; key?: unknown; relayFactor?: unknown } | null;
    const action = fields?.action;
    if (action !== "list" && action !== "install" && action !== "use" && action !== "remove") {
      throw new Error("Cannot run the keyring operation: the request names no action");
    }
    const pool = lan();
    if (pool === undefined) throw new Error("Cannot use the keyring: the LAN gossip pool is off");
    const key = typeof fields?.key === "string" ? fields.key : "";
    const relay = fields?.relayFactor;
    const relayFactor = Number.isInteger(relay) && (relay as number) >= 0 && (relay as number) <= 5
      ? relay as number
      : 0;
    const tally = await pool.keyringOperation(action, key, { relayFactor });
    return { wan: false, datacenter, ...tally } satisfies KeyringPoolResponse;
  };
}

function unreachable(datacenter: string, reason: string): KeyringPoolResponse {
  return {
    wan: false,
    datacenter,
    numNodes: 0,
    numResp: 0,
    numErr: 0,
    messages: {},
    keys: {},
    primaryKeys: {},
    error: `Cannot reach datacenter "${datacenter}": ${reason}`,
  };
}

function decodeKeyringPoolResponse(value: unknown): KeyringPoolResponse | undefined {
  const fields = value as Partial<Record<keyof KeyringPoolResponse, unknown>> | null;
  const counts = [fields?.numNodes, fields?.numResp, fields?.numErr];
  if (!counts.every((count) => Number.isSafeInteger(count) && (count as number) >= 0)) {
    return undefined;
  }
  const maps = [fields?.messages, fields?.keys, fields?.primaryKeys];
  if (!maps.every((map) => typeof map === "object" && map !== null && !Array.isArray(map))) {
    return undefined;
  }
  if (typeof fields?.datacenter !== "string" || typeof fields.error !== "string") return undefined;
  return {
    wan: false,
    datacenter: fields.datacenter,
    numNodes: fields.numNodes as number,
    numResp: fields.numResp as number,
    numErr: fields.numErr as number,
    messages: fields.messages as Record<string, string>,
    keys: fields.keys as Record<string, number>,
    primaryKeys: fields.primaryKeys as Record<string, number>,
    error: fields.error,
  };
}

function plainText(status: number, body: string): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}
