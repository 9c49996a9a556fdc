/**
 * A client agent's DNS view: the catalog lives on the servers, so answers come from them
 * (`clientDns` on the server RPC, read stale as Consul's DNS does by default) and are kept for
 * {@link forwardedDnsFreshMs}. An answer is never older than that: a query that finds its entry
 * missing or older is answered once the entry is fetched again (the DNS server waits on
 * `refill()`), and SERVFAIL when no server answers (Consul's behaviour when its RPC fails).
 *
 * @module
 */

import type { DnsLookup, DnsNode, DnsServiceInstance } from "../dns/dns_lookup.ts";
import type { ServerRouter } from "./server_router.ts";

/** How long a fetched answer is used: the bound on a client's DNS staleness. @default {2_000} */
export const forwardedDnsFreshMs = 2_000;
/** Answers kept at most; past it the oldest go. @default {4_096} */
export const forwardedDnsEntriesMax = 4_096;
/** Fetches waiting at once; past it queries are answered from what is held. @default {256} */
export const forwardedDnsFetchesMax = 256;
/** Deadline of one fetch: a DNS client retries after about a second. @default {2_000} */
export const forwardedDnsTimeoutMs = 2_000;

type Wanted = { service: string; tag: string | undefined } | { node: string };

interface Entry {
  fetchedAtMs: number;
  value: readonly DnsServiceInstance[] | DnsNode | undefined;
}

/** A {@link DnsLookup} over the servers, with a short-lived cache. */
export class ForwardedDnsLookup implements DnsLookup {
  readonly datacenter: string;
  readonly domain: string;
  readonly #router: ServerRouter;
  readonly #nowMs: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #wanted = new Map<string, Wanted>();
  readonly #fetching = new Map<string, Promise<void>>();

  /**
   * @param router the way to the servers
   * @param options names of the zone, and the monotonic clock
   */
  constructor(
    router: ServerRouter,
    options: { datacenter: string; domain: string; nowMs: () => number },
  ) {
    this.#router = router;
    this.#nowMs = options.nowMs;
    this.datacenter = options.datacenter;
    this.domain = options.domain.toLowerCase();
  }

  serviceInstances(service: string, tag: string | undefined): readonly DnsServiceInstance[] {
    const key = tag === undefined ? `s\u0000${service}` : `s\u0000${service}\u0000${tag}`;
    const value = this.#read(key, { service, tag });
    return Array.isArray(value) ? value : [];
  }

  node(name: string): DnsNode | undefined {
    const value = this.#read(`n\u0000${name}`, { node: name });
    return value === undefined || Array.isArray(value) ? undefined : value as DnsNode;
  }

  refill(): Promise<void> | undefined {
    if (this.#wanted.size === 0) return undefined;
    const wanted = [...this.#wanted];
    this.#wanted.clear();
    return Promise.all(wanted.map(([key, what]) => this.#fetch(key, what))).then(() => {});
  }

  #read(key: string, what: Wanted): Entry["value"] {
    const entry = this.#entries.get(key);
    if (entry !== undefined && this.#nowMs() - entry.fetchedAtMs < forwardedDnsFreshMs) {
      return entry.value;
    }
    if (this.#wanted.size + this.#fetching.size < forwardedDnsFetchesMax) {
      this.#wanted.set(key, what);
    }
    return entry?.value;
  }

  #fetch(key: string, what: Wanted): Promise<void> {
    const running = this.#fetching.get(key);
    if (running !== undefined) return running;
    const fetching = this.#router.call("clientDns", what, {
      timeoutMs: forwardedDnsTimeoutMs,
      idempotent: true,
    }).then((answer) => {
      this.#store(key, decodeAnswer(answer, "service" in what));
    }).finally(() => this.#fetching.delete(key));
    this.#fetching.set(key, fetching);
    return fetching;
  }

  #store(key: string, value: Entry["value"]): void {
    this.#entries.delete(key);
    if (this.#entries.size >= forwardedDnsEntriesMax) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, { fetchedAtMs: this.#nowMs(), value });
  }
}

function decodeAnswer(answer: unknown, service: boolean): Entry["value"] {
  const fields = answer as { instances?: unknown; node?: unknown } | null;
  if (service) {
    if (!Array.isArray(fields?.instances)) {
      throw new Error("Cannot look up: a server answered malformed");
    }
    return fields.instances as DnsServiceInstance[];
  }
  const node = fields?.node;
  if (node === null || node === undefined) return undefined;
  if (typeof (node as DnsNode).node !== "string" || typeof (node as DnsNode).address !== "string") {
    throw new Error("Cannot look up: a server answered malformed");
  }
  const { node: name, address, meta } = node as DnsNode;
  return { node: name, address, meta: meta ?? {} };
}
