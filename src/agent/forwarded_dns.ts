/**
 * DNS answers that live on servers, fetched over the server RPC (`clientDns`, read stale as
 * Consul's DNS does by default) and kept for {@link forwardedDnsFreshMs}:
 *
 * - a client agent's DNS view ({@link ForwardedDnsLookup}): every datacenter's answers come from
 *   a server of its own datacenter, which answers another datacenter's by asking one of its
 *   servers (Consul: agent → its server → the other datacenter's server);
 * - a server agent's view of other datacenters ({@link DatacentersDnsLookup}): its own
 *   datacenter is read from its store, another's is fetched from a server of that datacenter
 *   picked from the WAN pool.
 *
 * An answer is never older than that: a query that finds its entry missing or older is answered
 * once the entry is fetched again (the DNS server waits on `refill()`), and SERVFAIL when no
 * server answers (Consul's behaviour when its RPC fails). A datacenter no server knows answers
 * NXDOMAIN (Consul's `No path to datacenter`).
 *
 * @module
 */

import type { DnsLookup, DnsNode, DnsServiceInstance } from "../dns/dns_lookup.ts";
import type { ServerRouter } from "./server_router.ts";

/** How long a fetched answer is used: the bound on a client's DNS staleness. @default {2_000} */
export const forwardedDnsFreshMs = 2_000;
/** Answers kept at most, every datacenter together; past it the oldest go. @default {4_096} */
export const forwardedDnsEntriesMax = 4_096;
/** Fetches waiting at once; past it queries are answered from what is held. @default {256} */
export const forwardedDnsFetchesMax = 256;
/** Deadline of one fetch: a DNS client retries after about a second. @default {2_000} */
export const forwardedDnsTimeoutMs = 2_000;
/**
 * Deadline of a server's fetch from another datacenter's server; a client's fetch of another
 * datacenter through its server waits this much longer than {@link forwardedDnsTimeoutMs}.
 * @default {2_000}
 */
export const forwardedDnsWanTimeoutMs = 2_000;
/** Views of other datacenters kept at once; past it they are made afresh. @default {64} */
export const forwardedDnsDatacentersMax = 64;

/**
 * The payload of a `clientDns` call: a service's instances, a node, or (from a client) the
 * datacenters its server knows. `datacenter` names another datacenter than the server's own.
 */
export type DnsRequest =
  | { service: string; tag: string | undefined; datacenter?: string }
  | { node: string; datacenter?: string }
  | { datacenters: true };

/** Fetches the answer to `request` from a server that holds `datacenter`'s catalog. */
export type DnsFetch = (datacenter: string, request: DnsRequest) => Promise<unknown>;

/** How a server reaches the servers of other datacenters (the WAN pool's). */
export interface DatacenterDnsSource {
  /** Whether an alive server of `datacenter` is known. */
  knows(datacenter: string): boolean;
  /** The other datacenters with an alive server known, sorted. */
  otherDatacenters(local: string): string[];
  /** Asks a server of `datacenter` to answer `request` as its own datacenter's. */
  lookupDns(datacenter: string, request: DnsRequest): Promise<unknown>;
}

type Value = readonly DnsServiceInstance[] | DnsNode | readonly string[] | undefined;

interface Entry {
  fetchedAtMs: number;
  value: Value;
}

/** The answers fetched for every datacenter, their staleness, and what is to be fetched. */
class DnsFetchCache {
  readonly #fetch: DnsFetch;
  readonly #nowMs: () => number;
  readonly #domain: string;
  readonly #entries = new Map<string, Entry>();
  readonly #wanted = new Map<string, { datacenter: string; request: DnsRequest }>();
  readonly #fetching = new Map<string, Promise<void>>();
  readonly #views = new Map<string, DatacenterView>();

  constructor(fetch: DnsFetch, options: { domain: string; nowMs: () => number }) {
    this.#fetch = fetch;
    this.#nowMs = options.nowMs;
    this.#domain = options.domain;
  }

  /** The lookup of `datacenter` over this cache. */
  view(datacenter: string): DatacenterView {
    let view = this.#views.get(datacenter);
    if (view !== undefined) return view;
    if (this.#views.size >= forwardedDnsDatacentersMax) this.#views.clear();
    view = new DatacenterView(this, datacenter, this.#domain);
    this.#views.set(datacenter, view);
    return view;
  }

  /**
   * The entry under `key`, fresh or not; one missing or stale is wanted for the next refill
   * (unless {@link forwardedDnsFetchesMax} are already waiting).
   */
  read(key: string, datacenter: string, request: DnsRequest): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined && this.isFresh(entry)) return entry;
    if (this.#wanted.size + this.#fetching.size < forwardedDnsFetchesMax) {
      this.#wanted.set(key, { datacenter, request });
    }
    return entry;
  }

  isFresh(entry: Entry): boolean {
    return this.#nowMs() - entry.fetchedAtMs < forwardedDnsFreshMs;
  }

  refill(): Promise<void> | undefined {
    if (this.#wanted.size === 0) return undefined;
    const wanted = [...this.#wanted];
    this.#wanted.clear();
    return Promise.all(wanted.map(([key, what]) => this.#load(key, what.datacenter, what.request)))
      .then(() => {});
  }

  #load(key: string, datacenter: string, request: DnsRequest): Promise<void> {
    const running = this.#fetching.get(key);
    if (running !== undefined) return running;
    const fetching = this.#fetch(datacenter, request)
      .then((answer) => this.#store(key, decodeAnswer(answer, request)))
      .finally(() => this.#fetching.delete(key));
    this.#fetching.set(key, fetching);
    return fetching;
  }

  #store(key: string, value: Value): void {
    this.#entries.delete(key);
    if (this.#entries.size >= forwardedDnsEntriesMax) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, { fetchedAtMs: this.#nowMs(), value });
  }
}

/** One datacenter's answers in a {@link DnsFetchCache}; its `refill` is the cache owner's. */
class DatacenterView implements DnsLookup {
  readonly #cache: DnsFetchCache;
  readonly datacenter: string;
  readonly domain: string;

  constructor(cache: DnsFetchCache, datacenter: string, domain: string) {
    this.#cache = cache;
    this.datacenter = datacenter;
    this.domain = domain;
  }

  serviceInstances(service: string, tag: string | undefined): readonly DnsServiceInstance[] {
    const dc = this.datacenter;
    const key = tag === undefined
      ? `${dc}\u0000s\u0000${service}`
      : `${dc}\u0000s\u0000${service}\u0000${tag}`;
    const request: DnsRequest = { service, tag };
    const value = this.#cache.read(key, dc, request)?.value;
    return Array.isArray(value) ? value as readonly DnsServiceInstance[] : [];
  }

  node(name: string): DnsNode | undefined {
    const dc = this.datacenter;
    const value = this.#cache.read(`${dc}\u0000n\u0000${name}`, dc, { node: name })?.value;
    return value === undefined || Array.isArray(value) ? undefined : value as DnsNode;
  }
}

/**
 * A client agent's {@link DnsLookup}: every answer, its own datacenter's or another's, comes
 * from a server of its datacenter, with a short-lived cache.
 */
export class ForwardedDnsLookup implements DnsLookup {
  readonly datacenter: string;
  readonly domain: string;
  readonly #cache: DnsFetchCache;
  readonly #local: DatacenterView;

  /**
   * @param router the way to the servers
   * @param options names of the zone, and the monotonic clock
   */
  constructor(
    router: ServerRouter,
    options: { datacenter: string; domain: string; nowMs: () => number },
  ) {
    const local = options.datacenter;
    this.datacenter = local;
    this.domain = options.domain.toLowerCase();
    this.#cache = new DnsFetchCache((datacenter, request) => {
      const other = datacenter !== local;
      return router.call("clientDns", other ? { ...request, datacenter } : request, {
        timeoutMs: forwardedDnsTimeoutMs + (other ? forwardedDnsWanTimeoutMs : 0),
        idempotent: true,
      });
    }, { domain: this.domain, nowMs: options.nowMs });
    this.#local = this.#cache.view(local);
  }

  serviceInstances(service: string, tag: string | undefined): readonly DnsServiceInstance[] {
    return this.#local.serviceInstances(service, tag);
  }

  node(name: string): DnsNode | undefined {
    return this.#local.node(name);
  }

  /**
   * The view of `datacenter`, unless the datacenters fetched from a server moments ago lack it.
   * While that list is missing or stale the view is given all the same, so that its answer and
   * the list are fetched together; the second answer then knows.
   */
  forDatacenter(datacenter: string): DnsLookup | undefined {
    const listed = this.#cache.read("\u0000d", this.datacenter, { datacenters: true });
    const known = listed?.value as readonly string[] | undefined;
    if (listed !== undefined && this.#cache.isFresh(listed) && !known!.includes(datacenter)) {
      return undefined;
    }
    return this.#cache.view(datacenter);
  }

  refill(): Promise<void> | undefined {
    return this.#cache.refill();
  }
}

/**
 * A server agent's {@link DnsLookup}: its own datacenter from `local` (its store), another from
 * one of that datacenter's servers, with a short-lived cache.
 */
export class DatacentersDnsLookup implements DnsLookup {
  readonly datacenter: string;
  readonly domain: string;
  readonly #local: DnsLookup;
  readonly #source: DatacenterDnsSource;
  readonly #cache: DnsFetchCache;

  /**
   * @param local the lookup of this datacenter
   * @param source the way to other datacenters' servers
   * @param nowMs the monotonic clock
   */
  constructor(local: DnsLookup, source: DatacenterDnsSource, nowMs: () => number) {
    this.#local = local;
    this.#source = source;
    this.datacenter = local.datacenter;
    this.domain = local.domain;
    this.#cache = new DnsFetchCache(
      (datacenter, request) => source.lookupDns(datacenter, request),
      { domain: local.domain, nowMs },
    );
  }

  serviceInstances(service: string, tag: string | undefined): readonly DnsServiceInstance[] {
    return this.#local.serviceInstances(service, tag);
  }

  node(name: string): DnsNode | undefined {
    return this.#local.node(name);
  }

  forDatacenter(datacenter: string): DnsLookup | undefined {
    return this.#source.knows(datacenter) ? this.#cache.view(datacenter) : undefined;
  }

  refill(): Promise<void> | undefined {
    const local = this.#local.refill?.();
    const others = this.#cache.refill();
    if (local === undefined || others === undefined) return local ?? others;
    return Promise.all([local, others]).then(() => {});
  }
}

/**
 * The DNS lookup a server agent serves: `local` with other datacenters reached through
 * `source`, or `local` alone when there is no source (no WAN pool) or it already reaches them.
 */
export function withOtherDatacenters(
  local: DnsLookup,
  source: DatacenterDnsSource | undefined,
  nowMs: () => number,
): DnsLookup {
  if (source === undefined || local.forDatacenter !== undefined) return local;
  return new DatacentersDnsLookup(local, source, nowMs);
}

function decodeAnswer(answer: unknown, request: DnsRequest): Value {
  const fields = answer as { instances?: unknown; node?: unknown; datacenters?: unknown } | null;
  if ("service" in request) {
    if (!Array.isArray(fields?.instances)) throw malformed();
    return fields.instances as DnsServiceInstance[];
  }
  if ("datacenters" in request) {
    const listed = fields?.datacenters;
    if (!Array.isArray(listed) || !listed.every((name) => typeof name === "string")) {
      throw malformed();
    }
    return listed as string[];
  }
  const node = fields?.node;
  if (node === null || node === undefined) return undefined;
  if (typeof (node as DnsNode).node !== "string" || typeof (node as DnsNode).address !== "string") {
    throw malformed();
  }
  const { node: name, address, meta } = node as DnsNode;
  return { node: name, address, meta: meta ?? {} };
}

function malformed(): Error {
  return new Error("Cannot look up: a server answered malformed");
}
