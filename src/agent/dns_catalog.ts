/**
 * The DNS server's view of the catalog: instances that are not critical, with Consul's rule
 * that an empty service address means the node's. Service and node names match
 * case-insensitively, as Consul's catalog indexes do.
 *
 * @module
 */

import type { StateStore } from "../core/state/state_store.ts";
import type { DnsLookup, DnsNode, DnsServiceInstance } from "../dns/dns_lookup.ts";

/** Cached answers kept at most; past it the cache starts over. */
export const dnsCacheEntriesMax = 4_096;

/**
 * A {@link DnsLookup} over the state store. Answers are cached per service and tag and reused
 * until the service's index moves, so a hot name costs two map lookups (Consul's pain point #9:
 * DNS cost grows with instance count).
 */
export class DnsCatalog implements DnsLookup {
  readonly datacenter: string;
  readonly domain: string;
  readonly #store: StateStore;
  readonly #answers = new Map<string, { index: number; instances: DnsServiceInstance[] }>();
  #names: { index: number; byLowerName: Map<string, string> } | undefined;

  constructor(store: StateStore, options: { datacenter: string; domain: string }) {
    this.#store = store;
    this.datacenter = options.datacenter;
    this.domain = options.domain.toLowerCase();
  }

  serviceInstances(service: string, tag: string | undefined): readonly DnsServiceInstance[] {
    const name = this.#serviceName(service);
    if (name === undefined) return [];
    const key = tag === undefined ? name : `${name}\u0000${tag.toLowerCase()}`;
    const index = this.#store.indexOf(`service:${name}`);
    const cached = this.#answers.get(key);
    if (cached !== undefined && cached.index === index) return cached.instances;
    const instances = this.#healthyInstances(name, tag);
    if (this.#answers.size >= dnsCacheEntriesMax) this.#answers.clear();
    this.#answers.set(key, { index, instances });
    return instances;
  }

  #healthyInstances(name: string, tag: string | undefined): DnsServiceInstance[] {
    const tags = tag === undefined ? [] : [tag];
    const entries = this.#store.serviceHealth(name, { tags, passingOnly: false }).value;
    const instances: DnsServiceInstance[] = [];
    for (const { node, service: record, checks } of entries) {
      if (checks.some((check) => check.status === "critical")) continue;
      instances.push({
        node: node.node,
        nodeAddress: node.address,
        serviceAddress: record.address,
        port: record.port,
        nodeMeta: node.meta,
        status: checks.some((check) => check.status === "warning") ? "warning" : "passing",
        weightPassing: record.weights.passing,
        weightWarning: record.weights.warning,
      });
    }
    return instances;
  }

  node(name: string): DnsNode | undefined {
    const exact = this.#store.node(name);
    if (exact !== undefined) return { node: exact.node, address: exact.address, meta: exact.meta };
    const lower = name.toLowerCase();
    const found = this.#store.nodes().value.find((node) => node.node.toLowerCase() === lower);
    return found === undefined
      ? undefined
      : { node: found.node, address: found.address, meta: found.meta };
  }

  #serviceName(service: string): string | undefined {
    const index = this.#store.indexOf("services");
    if (this.#names === undefined || this.#names.index !== index) {
      const byLowerName = new Map<string, string>();
      for (const name of this.#store.services().value.keys()) {
        byLowerName.set(name.toLowerCase(), name);
      }
      this.#names = { index, byLowerName };
    }
    return this.#names.byLowerName.get(service.toLowerCase());
  }
}
