/**
 * Finding servers through LAN gossip, as Consul does (`agent/consul/server_serf.go`
 * `lanNodeJoin`, `agent/router`): a LAN member whose Serf tags say `role=consul` in our
 * datacenter is a server, reachable on the server RPC at its gossip address and the tag `port`.
 * Servers feed these addresses to cluster formation; clients pick one at random for each request
 * and move to another when one cannot be reached.
 *
 * No I/O here: members, time and randomness come in as functions, so the rules are unit-tested.
 *
 * @module
 */

import { formatHostPort } from "../server/rpc.ts";

/** A gossip member as the LAN pool lists it (Consul's status codes: 1 alive ... 4 failed). */
export interface GossipMember {
  name: string;
  addr: string;
  port: number;
  tags: Readonly<Record<string, string>>;
  status: number;
}

/** A server learned from gossip. */
export interface KnownServer {
  /** Its node name. */
  name: string;
  /** Its node ID (tag `id`), "" when it gave none. */
  id: string;
  /** Its server RPC address, "ip:port". */
  rpcAddress: string;
  /** Servers it expects before bootstrapping (tag `expect`, 1 for `bootstrap`), 0 when none. */
  expect: number;
}

/** Servers one finder keeps; past it the rest are ignored. @default {256} */
export const knownServersMax = 256;

/** The Consul status code of an alive gossip member. */
const statusAlive = 1;

/**
 * The alive servers of `datacenter` among `members`, sorted by name. A member counts when its
 * tags say `role=consul`, `dc=<datacenter>` and carry a `port` of 1..65535, and it has an
 * address (Consul's `metadata.IsConsulServer`).
 *
 * @param members the LAN pool's members
 * @param datacenter our datacenter
 */
export function consulServers(
  members: readonly GossipMember[],
  datacenter: string,
): KnownServer[] {
  const servers: KnownServer[] = [];
  for (const member of members) {
    if (servers.length >= knownServersMax) break;
    const server = serverOf(member, datacenter);
    if (server !== undefined) servers.push(server);
  }
  return servers.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function serverOf(member: GossipMember, datacenter: string): KnownServer | undefined {
  const tags = member.tags;
  if (member.status !== statusAlive || tags.role !== "consul" || tags.dc !== datacenter) {
    return undefined;
  }
  if (member.addr === "" || !/^\d{1,5}$/.test(tags.port ?? "")) return undefined;
  const port = Number(tags.port);
  if (port < 1 || port > 65_535) return undefined;
  const expect = tags.bootstrap === "1"
    ? 1
    : /^\d{1,4}$/.test(tags.expect ?? "")
    ? Number(tags.expect)
    : 0;
  return {
    name: member.name,
    id: tags.id ?? "",
    rpcAddress: formatHostPort({ host: member.addr, port }),
    expect,
  };
}

/**
 * Why a server expecting `expect` servers must not bootstrap with `servers` (those gossip knows
 * in its datacenter), as Consul's `maybeBootstrap` refuses: one of them expects a different
 * number, or runs in bootstrap mode (`-bootstrap`, `-dev`); `undefined` when none does.
 *
 * @param servers the datacenter's servers gossip knows
 * @param expect our `-bootstrap-expect`
 */
export function bootstrapConflict(
  servers: readonly KnownServer[],
  expect: number,
): string | undefined {
  for (const server of servers) {
    if (server.expect === 0 || server.expect === expect) continue;
    return server.expect === 1
      ? `server "${server.name}" runs in bootstrap mode (-bootstrap or -dev); restart it with ` +
        `-bootstrap-expect=${expect}`
      : `server "${server.name}" expects ${server.expect} servers, this one ${expect}; give ` +
        "every server the same -bootstrap-expect";
  }
  return undefined;
}

/** What a {@link ServerFinder} reads. */
export interface ServerFinderOptions {
  /** The LAN pool's members now. */
  members: () => readonly GossipMember[];
  /** Our datacenter. */
  datacenter: string;
  /** The monotonic time in milliseconds. */
  nowMs: () => number;
  /** A uniform random number in [0, 1). */
  random: () => number;
  /** A server that could not be reached is skipped this long. @default {5_000} */
  failureCooldownMs?: number;
  /** The member list is read again after this long. @default {1_000} */
  refreshMs?: number;
}

/** Failed servers remembered at once. */
const failuresMax = knownServersMax;

/**
 * Picks a server for a client's request: at random among the alive servers, skipping one that
 * failed in the last `failureCooldownMs` while another is left (Consul's router rotates a failed
 * server to the end of its list; a random pick spreads clients over the servers the same way).
 */
export class ServerFinder {
  readonly #options: Required<ServerFinderOptions>;
  readonly #failedAtMs = new Map<string, number>();
  #servers: KnownServer[] = [];
  #readAtMs = -Infinity;

  constructor(options: ServerFinderOptions) {
    this.#options = { failureCooldownMs: 5_000, refreshMs: 1_000, ...options };
  }

  /** The alive servers, from a member list at most `refreshMs` old. */
  servers(): readonly KnownServer[] {
    const nowMs = this.#options.nowMs();
    if (nowMs - this.#readAtMs >= this.#options.refreshMs) {
      this.#servers = consulServers(this.#options.members(), this.#options.datacenter);
      this.#readAtMs = nowMs;
    }
    return this.#servers;
  }

  /** Reads the member list at the next call (after a join, or when a pick found nothing). */
  refresh(): void {
    this.#readAtMs = -Infinity;
  }

  /**
   * A server to call: random among those not in `tried` and not failed recently; failing
   * that, among those not in `tried`; `undefined` when none is left.
   *
   * @param tried RPC addresses already tried for this request
   */
  pick(tried: ReadonlySet<string> = new Set()): KnownServer | undefined {
    let servers = this.servers();
    if (servers.length === 0) {
      this.refresh();
      servers = this.servers();
    }
    const untried = servers.filter((server) => !tried.has(server.rpcAddress));
    const nowMs = this.#options.nowMs();
    const healthy = untried.filter((server) => {
      const failedAtMs = this.#failedAtMs.get(server.rpcAddress);
      return failedAtMs === undefined || nowMs - failedAtMs >= this.#options.failureCooldownMs;
    });
    const choices = healthy.length > 0 ? healthy : untried;
    if (choices.length === 0) return undefined;
    const at = Math.min(choices.length - 1, Math.floor(this.#options.random() * choices.length));
    return choices[at];
  }

  /** Notes that `rpcAddress` could not be reached, so picks avoid it for a while. */
  failed(rpcAddress: string): void {
    if (!this.#failedAtMs.has(rpcAddress) && this.#failedAtMs.size >= failuresMax) {
      this.#failedAtMs.delete(this.#failedAtMs.keys().next().value!);
    }
    this.#failedAtMs.set(rpcAddress, this.#options.nowMs());
  }

  /** Notes that `rpcAddress` answered. */
  succeeded(rpcAddress: string): void {
    this.#failedAtMs.delete(rpcAddress);
  }
}
