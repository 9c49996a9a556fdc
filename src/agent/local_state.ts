/**
 * The agent's own services and checks: the source of truth that anti-entropy copies into the
 * catalog (Consul's `agent/local/state.go`). Checks defined with a TTL, HTTP, TCP or script run
 * here; their results change the local records, and every change marks the record for sync.
 *
 * @module
 */

import type { CheckInput, ServiceInput } from "../core/state/commands.ts";
import type { CheckRecord, HealthStatus, ServiceRecord } from "../core/state/types.ts";
import type { Runtime, TimerHandle } from "../runtime.ts";
import { type CheckDefinition, type CheckMonitor, createCheckMonitor } from "./checks/mod.ts";

/** One local check: its record, and the monitor that runs it when it has one. */
export interface LocalCheck {
  input: CheckInput;
  definition: CheckDefinition | undefined;
  monitor: CheckMonitor | undefined;
  /** Deregister the check's service after this long critical; 0 never. */
  deregisterCriticalAfterMs: number;
  /** When the check last turned critical (monotonic), or undefined when it is not critical. */
  criticalSinceMs: number | undefined;
  /** The status or something else that must reach the catalog changed. */
  dirty: boolean;
  /** Only the output changed since the last sync (synced lazily, as Consul does). */
  outputDirty: boolean;
}

/** What the agent keeps about its node. */
export interface LocalStateOptions {
  nodeName: string;
  /** Called after any local change, to schedule a sync. */
  changed: () => void;
}

/** Local services and checks. */
export class LocalState {
  readonly #runtime: Runtime;
  readonly #options: LocalStateOptions;
  readonly services = new Map<string, ServiceInput>();
  readonly checks = new Map<string, LocalCheck>();
  /** Services removed locally and not yet removed from the catalog. */
  readonly removedServices = new Set<string>();
  /** Checks removed locally and not yet removed from the catalog. */
  readonly removedChecks = new Set<string>();
  readonly dirtyServices = new Set<string>();
  #reaper: TimerHandle | undefined;

  constructor(runtime: Runtime, options: LocalStateOptions) {
    this.#runtime = runtime;
    this.#options = options;
  }

  /** Adds or replaces a service. */
  addService(service: ServiceInput): void {
    this.services.set(service.id, service);
    this.removedServices.delete(service.id);
    this.dirtyServices.add(service.id);
    this.#options.changed();
  }

  /** Removes a service and its checks; false when unknown. */
  removeService(id: string): boolean {
    if (!this.services.delete(id)) return false;
    for (const [checkId, check] of [...this.checks]) {
      if (check.input.serviceId === id) this.removeCheck(checkId);
    }
    this.dirtyServices.delete(id);
    this.removedServices.add(id);
    this.#options.changed();
    return true;
  }

  /** Adds or replaces a check, starting its monitor. */
  addCheck(
    input: CheckInput,
    definition: CheckDefinition | undefined,
    deregisterCriticalAfterMs: number,
  ): void {
    this.checks.get(input.checkId)?.monitor?.stop();
    const check: LocalCheck = {
      input,
      definition,
      monitor: undefined,
      deregisterCriticalAfterMs,
      criticalSinceMs: input.status === "critical" ? this.#runtime.clock.monotonicMs() : undefined,
      dirty: true,
      outputDirty: false,
    };
    this.checks.set(input.checkId, check);
    this.removedChecks.delete(input.checkId);
    if (definition !== undefined) {
      check.monitor = createCheckMonitor(this.#runtime, definition, (status, output) => {
        if (this.checks.get(input.checkId) === check) this.setStatus(check, status, output);
      });
      check.monitor.start();
    }
    this.#options.changed();
  }

  /** Removes a check; false when unknown. */
  removeCheck(id: string): boolean {
    const check = this.checks.get(id);
    if (check === undefined) return false;
    check.monitor?.stop();
    this.checks.delete(id);
    this.removedChecks.add(id);
    this.#options.changed();
    return true;
  }

  /** Records a check result; a status change syncs at once, an output change lazily. */
  setStatus(check: LocalCheck, status: HealthStatus, output: string): void {
    const input = check.input;
    if (input.status === status && input.output === output) return;
    const statusChanged = input.status !== status;
    check.input = { ...input, status, output };
    if (!statusChanged) {
      check.outputDirty = true;
      return;
    }
    check.criticalSinceMs = status === "critical" ? this.#runtime.clock.monotonicMs() : undefined;
    check.dirty = true;
    this.#options.changed();
  }

  /** Services as `/v1/agent/services` shows them. */
  serviceRecords(): ServiceRecord[] {
    return [...this.services.values()].sort((a, b) => compare(a.id, b.id)).map((service) => ({
      ...service,
      node: this.#options.nodeName,
      createIndex: 0,
      modifyIndex: 0,
    }));
  }

  /** Checks as `/v1/agent/checks` shows them. */
  checkRecords(): CheckRecord[] {
    return [...this.checks.values()]
      .sort((a, b) => compare(a.input.checkId, b.input.checkId))
      .map(({ input }) => {
        const service = this.services.get(input.serviceId);
        return {
          ...input,
          node: this.#options.nodeName,
          serviceName: service?.service ?? "",
          serviceTags: service?.tags ?? [],
          createIndex: 0,
          modifyIndex: 0,
        };
      });
  }

  /** Starts reaping services whose checks stayed critical past DeregisterCriticalServiceAfter. */
  startReaper(intervalMs: number): void {
    this.#reaper = this.#runtime.timers.every(intervalMs, () => this.#reap());
  }

  /** Stops every monitor and the reaper. */
  stop(): void {
    this.#reaper?.cancel();
    for (const check of this.checks.values()) check.monitor?.stop();
  }

  #reap(): void {
    const nowMs = this.#runtime.clock.monotonicMs();
    for (const check of [...this.checks.values()]) {
      const after = check.deregisterCriticalAfterMs;
      if (after <= 0 || check.criticalSinceMs === undefined) continue;
      if (nowMs - check.criticalSinceMs < after) continue;
      if (check.input.serviceId !== "") this.removeService(check.input.serviceId);
    }
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
