/**
 * Anti-entropy (Consul's `agent/ae` and `agent/local/state.go` SyncChanges/SyncFull): local
 * changes are pushed to the catalog as they happen; a full sync every minute repairs any drift,
 * removing what the catalog holds for this node but the agent does not, and re-registering
 * what differs. Services with EnableTagOverride take their tags from the catalog.
 *
 * @module
 */

import type { ApplyResult, NodeInput } from "../core/state/commands.ts";
import type { CheckRecord, NodeRecord, ServiceRecord } from "../core/state/types.ts";
import type { ServerApi } from "../http/api_backend.ts";
import type { Runtime, TimerHandle } from "../runtime.ts";
import type { Proposal } from "../server/proposal.ts";
import type { LocalState } from "./local_state.ts";

/**
 * The catalog as anti-entropy reaches it: on a server its own store and log, on a client a
 * server over the RPC (`ForwardingServerApi`).
 */
export interface NodeCatalog {
  /** Writes a register or deregister; failures are results. */
  propose(proposal: Proposal): Promise<ApplyResult>;
  /** The catalog's entry for `node`: its record, services and checks. */
  readNode(node: string): Promise<{
    node: NodeRecord | undefined;
    services: ServiceRecord[];
    checks: CheckRecord[];
  }>;
}

/** A {@link NodeCatalog} over a server's own state store. */
export function storeNodeCatalog(server: ServerApi): NodeCatalog {
  return {
    propose: (proposal) => server.propose(proposal),
    readNode: (node) => {
      const { node: record, services } = server.store.nodeServices(node).value;
      const checks = server.store.nodeChecks(node).value;
      return Promise.resolve({ node: record, services, checks });
    },
  };
}

/** Checks on the node that the servers own, never removed by the agent. */
const serverOwnedChecks = new Set(["serfHealth"]);

/** Services on the node that the servers own (Consul's `structs.ConsulServiceID`). */
const serverOwnedServices = new Set(["consul"]);

/** Tuning of anti-entropy. Durations are milliseconds. */
export interface AntiEntropyConfig {
  /** Between full syncs. @default {60_000} Consul's ae_interval */
  fullSyncIntervalMs: number;
  /** After a failed sync, wait this long. @default {15_000} */
  retryMs: number;
}

/** Pushes local state into the catalog. */
export class AntiEntropy {
  readonly #runtime: Runtime;
  readonly #catalog: NodeCatalog;
  readonly #local: LocalState;
  readonly #node: () => NodeInput;
  readonly #config: AntiEntropyConfig;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: TimerHandle | undefined;
  #stopped = false;
  /** Sync errors in a row; for logs and /v1/agent/self. */
  failures = 0;

  constructor(
    runtime: Runtime,
    parts: { catalog: NodeCatalog; local: LocalState; node: () => NodeInput },
    config: AntiEntropyConfig,
  ) {
    this.#runtime = runtime;
    this.#catalog = parts.catalog;
    this.#local = parts.local;
    this.#node = parts.node;
    this.#config = config;
  }

  /** Starts periodic full syncs. */
  start(): void {
    // A failed full sync (no server reachable) is counted and tried again at the next period.
    this.#timer = this.#runtime.timers.every(
      this.#config.fullSyncIntervalMs,
      () => void this.fullSync().catch(() => this.failures += 1),
    );
  }

  /** Stops syncing. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
  }

  /** Pushes pending local changes; concurrent calls coalesce into one more run. */
  syncChanges(): Promise<void> {
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.#pushChanges();
        this.failures = 0;
      } catch {
        this.failures += 1;
        this.#runtime.timers.after(this.#config.retryMs, () => void this.syncChanges());
        return;
      }
    } while (this.#again && !this.#stopped);
  }

  /** Compares the catalog with local state, marks differences, then pushes them. */
  async fullSync(): Promise<void> {
    if (this.#stopped) return;
    const node = this.#node();
    const catalog = await this.#catalog.readNode(node.node);
    const stored = catalog.node;
    if (stored === undefined || stored.address !== node.address) {
      await this.#propose({
        type: "register",
        node,
        skipNodeUpdate: false,
        service: undefined,
        checks: [],
      });
    }
    this.#diffServices(catalog.services);
    this.#diffChecks(catalog.checks);
    await this.syncChanges();
  }

  #diffServices(catalogServices: ServiceRecord[]): void {
    const local = this.#local;
    for (const record of catalogServices) {
      if (serverOwnedServices.has(record.id)) continue;
      const mine = local.services.get(record.id);
      if (mine === undefined) {
        local.removedServices.add(record.id);
        continue;
      }
      if (mine.enableTagOverride && !sameJson(mine.tags, record.tags)) {
        local.services.set(record.id, { ...mine, tags: record.tags });
        continue;
      }
      const { node: _n, createIndex: _c, modifyIndex: _m, ...fields } = record;
      if (!sameJson(fields, mine)) local.dirtyServices.add(record.id);
    }
    for (const id of local.services.keys()) {
      if (!catalogServices.some((record) => record.id === id)) local.dirtyServices.add(id);
    }
  }

  #diffChecks(catalogChecks: CheckRecord[]): void {
    const local = this.#local;
    for (const record of catalogChecks) {
      if (serverOwnedChecks.has(record.checkId)) continue;
      const mine = local.checks.get(record.checkId);
      if (mine === undefined) {
        local.removedChecks.add(record.checkId);
        continue;
      }
      const drift = mine.input.status !== record.status || mine.input.output !== record.output ||
        mine.input.serviceId !== record.serviceId || mine.input.name !== record.name;
      if (drift || mine.outputDirty) mine.dirty = true;
    }
    for (const [id, check] of local.checks) {
      if (!catalogChecks.some((record) => record.checkId === id)) check.dirty = true;
    }
  }

  async #pushChanges(): Promise<void> {
    const local = this.#local;
    const node = this.#node();
    for (const id of [...local.removedServices]) {
      await this.#propose({ type: "deregister", node: node.node, serviceId: id, checkId: "" });
      local.removedServices.delete(id);
    }
    for (const id of [...local.removedChecks]) {
      await this.#propose({ type: "deregister", node: node.node, serviceId: "", checkId: id });
      local.removedChecks.delete(id);
    }
    for (const id of [...local.dirtyServices]) {
      const service = local.services.get(id);
      local.dirtyServices.delete(id);
      if (service === undefined) continue;
      const checks = [...local.checks.values()].filter((check) => check.input.serviceId === id);
      for (const check of checks) check.dirty = false;
      await this.#propose({
        type: "register",
        node,
        skipNodeUpdate: false,
        service,
        checks: checks.map((check) => check.input),
      });
    }
    for (const check of [...local.checks.values()]) {
      // Output-only changes wait for the next full sync (Consul's check_update_interval).
      if (!check.dirty) continue;
      check.dirty = false;
      check.outputDirty = false;
      if (check.input.serviceId !== "" && !local.services.has(check.input.serviceId)) continue;
      await this.#propose({
        type: "register",
        node,
        skipNodeUpdate: false,
        service: undefined,
        checks: [check.input],
      });
    }
  }

  async #propose(proposal: Proposal): Promise<ApplyResult> {
    const result = await this.#catalog.propose(proposal);
    if (!result.ok) throw new Error(`Cannot sync with the catalog: ${result.error}`);
    return result;
  }
}

function sameJson(left: unknown, right: unknown): boolean {
  return JSON.stringify(left) === JSON.stringify(right);
}
