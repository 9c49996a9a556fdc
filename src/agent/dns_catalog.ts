/**
 * The DNS server's view of the catalog: instances that are not critical, with Consul's rule
 * that an empty service address means the node's. Service and node names match
 * case-insensitively, as Consul's catalog indexes do.
 *
 * @module
 */

import type { StateStore } from "../core/state/state_store.ts";
import type { DnsLookup, DnsNode, DnsServiceInstance } from "../dns/dns_lookup.ts";

/** A {@link DnsLookup} over the state store. */
export class DnsCatalog implements DnsLookup {
  readonly datacenter: string;
  readonly domain: string;
  readonly #store: StateStore;

  constructor(store: StateStore, options: { datacenter: string; domain: string }) {
    this.#store = store;
    this.datacenter = options.datacenter;
    this.domain = options.domain.toLowerCase();
  }

  serviceInstances(service: string, tag: string | undefined): readonly DnsServiceInstance[] {
    const name = this.#serviceName(service);
    if (name === undefined) return [];
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
    const names = this.#store.services().value;
    if (names.has(service)) return service;
    const lower = service.toLowerCase();
    for (const name of names.keys()) if (name.toLowerCase() === lower) return name;
    return undefined;
  }
}
