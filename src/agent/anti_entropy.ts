/**
 * Anti-entropy (Consul's `agent/ae` and `agent/local/state.go` SyncChanges/SyncFull): local
 * changes are pushed to the catalog as they happen; a full sync every minute repairs any drift,
 * removing what the catalog holds for this node but the agent does not, and re-registering
 * what differs. Services with EnableTagOverride take their tags from the catalog.
 *
 * @module
 */

import type { ApplyResult, NodeInput } from "../core/state/commands.ts";
import type { CheckRecord, ServiceRecord } from "../core/state/types.ts";
import type { ServerApi } from "../http/api_backend.ts";
import type { Runtime, TimerHandle } from "../runtime.ts";
import type { LocalState } from "./local_state.ts";

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
  readonly #server: ServerApi;
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
    parts: { server: ServerApi; local: LocalState; node: () => NodeInput },
    config: AntiEntropyConfig,
  ) {
    this.#runtime = runtime;
    this.#server = parts.server;
    this.#local = parts.local;
    this.#node = parts.node;
    this.#config = config;
  }

  /** Starts periodic full syncs. */
  start(): void {
    this.#timer = this.#runtime.timers.every(
      this.#config.fullSyncIntervalMs,
      () => void this.fullSync(),
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
    const store = this.#server.store;
    const catalog = store.nodeServices(node.node).value;
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
    this.#diffChecks(store.nodeChecks(node.node).value);
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

  async #propose(proposal: Parameters<ServerApi["propose"]>[0]): Promise<ApplyResult> {
    const result = await this.#server.propose(proposal);
    if (!result.ok) throw new Error(`Cannot sync with the catalog: ${result.error}`);
    return result;
  }
}

function sameJson(left: unknown, right: unknown): boolean {
  return JSON.stringify(left) === JSON.stringify(right);
}
