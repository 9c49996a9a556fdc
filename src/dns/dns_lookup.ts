/**
 * The narrow view of the catalog that the DNS interface reads. The agent implements it over its
 * state store; tests implement it with plain objects. Every method is synchronous and must be
 * cheap: it runs once per DNS query, on the hot path.
 *
 * @module
 */

/** A service instance that DNS may return: its node and service are not critical. */
export interface DnsServiceInstance {
  /** The node's name, as registered (e.g. "web-1"); becomes the SRV target `<node>.node.<dc>.<domain>`. */
  node: string;
  /** The node's address: an IPv4 or IPv6 literal, or a hostname (answered as a CNAME). */
  nodeAddress: string;
  /**
   * The service's own address; "" means "use `nodeAddress`" (Consul's rule). An IP that differs from
   * `nodeAddress` makes the SRV target `<hex-ip>.addr.<dc>.<domain>`.
   */
  serviceAddress: string;
  /** The service's port, 0..65535, used in SRV records. */
  port: number;
  /** The node's metadata; DNS emits it as TXT records (RFC 1464 `key=value`). */
  nodeMeta: Readonly<Record<string, string>>;
  /** Aggregated health of the instance's service and node checks; critical ones are never returned. */
  status: "passing" | "warning";
  /** SRV weight when `status` is "passing" (Consul `Weights.Passing`, default 1). */
  weightPassing: number;
  /** SRV weight when `status` is "warning" (Consul `Weights.Warning`, default 1). */
  weightWarning: number;
}

/** A catalog node as DNS sees it. */
export interface DnsNode {
  /** The node's name, as registered. */
  node: string;
  /** An IPv4 or IPv6 literal, or a hostname (answered as a CNAME). */
  address: string;
  /** The node's metadata, emitted as TXT records. */
  meta: Readonly<Record<string, string>>;
}

/** What the DNS interface asks of the catalog. */
export interface DnsLookup {
  /** The datacenter this lookup answers for, lower case (e.g. "dc1"). */
  readonly datacenter: string;
  /** The DNS domain, lower case with the final dot (e.g. "consul."). */
  readonly domain: string;
  /**
   * Instances of `service` that are not critical (service and node checks considered), filtered
   * to those carrying `tag` when it is given. Names compare case-insensitively (Consul's catalog
   * rule); the DNS layer passes them lower-cased. The caller does not keep or mutate the array.
   */
  serviceInstances(service: string, tag: string | undefined): readonly DnsServiceInstance[];
  /** The node called `name` (case-insensitive, passed lower-cased), whatever its health. */
  node(name: string): DnsNode | undefined;
  /**
   * For a lookup that fetches its data from elsewhere (a client agent's, from a server): after an
   * answer, a promise that settles once what that answer found missing or stale is fetched, or
   * `undefined` when nothing was. The DNS server then answers the query once more, or SERVFAIL
   * when the promise rejects. Lookups over a local store leave it out.
   */
  refill?(): Promise<void> | undefined;
  /**
   * The lookup of another datacenter (`web.service.dc2.consul`), or `undefined` when no path to
   * it is known: DNS then answers NXDOMAIN, as Consul for `No path to datacenter`. Its answers
   * usually live on that datacenter's servers: what they lack is fetched by this lookup's
   * `refill()` (the returned lookup has none of its own). A lookup without this method answers
   * for its own datacenter only.
   */
  forDatacenter?(datacenter: string): DnsLookup | undefined;
}
