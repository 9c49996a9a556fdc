/**
 * The replicated state machine: catalog (nodes, services, checks), KV, sessions. Writes enter
 * only through {@link StateStore.apply}, in log-index order; reads return the index a blocking
 * query compares against and the topics to watch for the next change.
 *
 * @module
 */

import { assert } from "../assert.ts";
import { Tables } from "./_tables.ts";
import { deregister, register } from "./catalog.ts";
import type { ApplyResult, Command, TxnOp } from "./commands.ts";
import { deleteKv, kvResult, prefixIndex, reapTombstones, setKv } from "./kv_store.ts";
import { createSession, destroySession } from "./sessions.ts";
import {
  decodeSnapshot,
  restoreSnapshotAt,
  RestoreStaging,
  type StateSnapshot,
} from "./snapshot.ts";
import { runTxn, type TxnOutcome } from "./txn.ts";
import type {
  CheckRecord,
  CoordinateRecord,
  HealthStatus,
  KvRecord,
  NodeRecord,
  ServiceRecord,
  SessionRecord,
} from "./types.ts";
import { WatchHub } from "./watches.ts";

/** A read's answer with what a blocking query needs: its index and what to watch. */
export interface QueryResult<T> {
  /** Compared against `?index=`; at least 1. */
  index: number;
  value: T;
  /** Topics whose change may change the answer. */
  topics: string[];
  /** KV prefixes whose change may change the answer. */
  prefixes: string[];
}

/** A service instance with its node and every check that bears on its health. */
export interface ServiceHealth {
  node: NodeRecord;
  service: ServiceRecord;
  checks: CheckRecord[];
}

/** A service instance with its node. */
export interface ServiceOnNode {
  node: NodeRecord;
  service: ServiceRecord;
}

/** The state store. Not thread-safe; one instance per agent or server. */
export class StateStore {
  readonly #tables = new Tables();
  /** Waiters of blocking queries, woken after each applied command. */
  readonly watches: WatchHub = new WatchHub();
  /** A restore's chunks until its `restore` entry (see `RestoreStaging`). */
  readonly restoreStaging: RestoreStaging = new RestoreStaging();

  /** Index of the last applied command. */
  get lastIndex(): number {
    return this.#tables.lastIndex;
  }

  /**
   * Applies `command` at log `index`, which must be above the last applied one. Failures are
   * returned as values and leave no trace but the consumed index.
   */
  apply(index: number, command: Command): ApplyResult {
    const tables = this.#tables;
    assert(index > tables.lastIndex, `Cannot apply index ${index}: at ${tables.lastIndex} already`);
    this.restoreStaging.expire(index);
    // A restore replaces the tables whole: nothing to journal, nothing to roll back.
    if (command.type === "restore" || command.type === "restoreChunk") {
      return this.#restore(index, command);
    }
    tables.lastIndex = index;
    tables.begin({ index, atMs: command.atMs });
    let result: ApplyResult;
    try {
      result = this.#dispatch(command);
    } catch (error) {
      tables.rollback();
      throw error;
    }
    // A failed command, or a failed transaction, leaves no trace but the consumed index: a
    // registration whose check names an unknown service must not leave its node behind.
    const failedTxn = command.type === "txn" && result.ok && !(result.value as TxnOutcome).ok;
    if (!result.ok || failedTxn) {
      tables.rollback();
      return result;
    }
    const keys = [...tables.touchedKeys];
    const topics = [...tables.touchedTopics, ...keys.map((key) => `kv:${key}`)];
    tables.commit();
    this.watches.fire(topics, keys);
    return result;
  }

  #restore(
    index: number,
    command: Extract<Command, { type: "restore" | "restoreChunk" }>,
  ): ApplyResult {
    if (command.type === "restoreChunk") {
      this.#tables.lastIndex = index;
      const error = this.restoreStaging.add(index, command);
      return error === undefined ? { ok: true, value: index } : { ok: false, error, status: 400 };
    }
    let bytes = command.snapshot;
    if (bytes === undefined) {
      const { id, chunkCount, bytes: size } = command;
      const taken = this.restoreStaging.take(String(id), Number(chunkCount), Number(size));
      if (typeof taken === "string") {
        this.#tables.lastIndex = index;
        return { ok: false, error: taken, status: 400 };
      }
      bytes = taken;
    }
    let snapshot: StateSnapshot;
    try {
      snapshot = decodeSnapshot(bytes);
    } catch (error) {
      // The leader checks first; a replica that still meets garbage consumes the index only.
      this.#tables.lastIndex = index;
      return { ok: false, error: (error as Error).message, status: 400 };
    }
    restoreSnapshotAt(this, snapshot, index);
    return { ok: true, value: index };
  }

  #dispatch(command: Command): ApplyResult {
    const tables = this.#tables;
    switch (command.type) {
      case "register":
        return register(tables, command.node, {
          skipNodeUpdate: command.skipNodeUpdate,
          service: command.service,
          checks: command.checks,
        });
      case "deregister":
        return deregister(tables, command.node, command);
      case "kvSet":
        return kvResult(setKv(tables, command.op));
      case "kvDelete":
        return kvResult(deleteKv(tables, command.op));
      case "sessionCreate":
        return createSession(tables, command.session);
      case "sessionDestroy":
        destroySession(tables, command.id);
        return { ok: true, value: true };
      case "txn":
        // A failed transaction is rolled back by apply(); its errors are the value.
        return { ok: true, value: runTxn(tables, command.ops) };
      case "tombstoneReap":
        return { ok: true, value: reapTombstones(tables, command.throughIndex) };
      case "coordinateBatchUpdate":
        return { ok: true, value: updateCoordinates(tables, command.updates) };
      case "restore":
      case "restoreChunk":
        throw new Error("Cannot dispatch a restore: apply() handles it");
    }
  }

  /** Runs a read-only transaction on a write that is always rolled back. */
  readTxn(ops: TxnOp[], atMs: number): TxnOutcome {
    const tables = this.#tables;
    tables.begin({ index: tables.lastIndex + 1, atMs });
    try {
      return runTxn(tables, ops);
    } finally {
      tables.rollback();
    }
  }

  // ---- KV reads -------------------------------------------------------------------------

  /** One key; the index is its ModifyIndex, or the KV table's when absent. */
  kvGet(key: string): QueryResult<KvRecord | undefined> {
    const record = this.#tables.kv.get(key);
    const index = record?.modifyIndex ?? this.#kvTableIndex();
    return { index: atLeastOne(index), value: record, topics: [`kv:${key}`], prefixes: [] };
  }

  /** Every key under `prefix`, in order; the index covers tombstones under it. */
  kvList(prefix: string): QueryResult<KvRecord[]> {
    const records = [...this.#tables.kv.entriesWithPrefix(prefix)].map(([, record]) => record);
    return { index: this.#kvListIndex(prefix), value: records, topics: [], prefixes: [prefix] };
  }

  /** Keys under `prefix`, rolled up at the first `separator` after it when one is given. */
  kvKeys(prefix: string, separator: string): QueryResult<string[]> {
    const keys: string[] = [];
    let lastRollup = "";
    for (const key of this.#tables.kv.keysWithPrefix(prefix)) {
      if (separator !== "") {
        const at = key.indexOf(separator, prefix.length);
        if (at !== -1) {
          const rollup = key.slice(0, at + separator.length);
          if (rollup !== lastRollup) keys.push(rollup);
          lastRollup = rollup;
          continue;
        }
      }
      keys.push(key);
    }
    return { index: this.#kvListIndex(prefix), value: keys, topics: [], prefixes: [prefix] };
  }

  /** Lock-delay end for `key`, for diagnostics. */
  lockDelayUntilMs(key: string): number | undefined {
    return this.#tables.lockDelays.get(key);
  }

  #kvTableIndex(): number {
    return Math.max(this.#tables.indexOf("kvs"), this.#tables.indexOf("tombstones"));
  }

  #kvListIndex(prefix: string): number {
    const index = prefix === "" ? this.#kvTableIndex() : prefixIndex(this.#tables, prefix);
    return atLeastOne(index === 0 ? this.#kvTableIndex() : index);
  }

  // ---- catalog reads --------------------------------------------------------------------

  /** Every node, by name. */
  nodes(): QueryResult<NodeRecord[]> {
    const nodes = [...this.#tables.nodes.values()].sort(byName);
    return this.#tableResult(["nodes"], nodes);
  }

  /** One node and its services; the node is undefined when unknown. */
  nodeServices(name: string): QueryResult<{ node?: NodeRecord; services: ServiceRecord[] }> {
    const node = this.#tables.nodes.get(name);
    const services = this.#tables.servicesOf(name);
    return this.#tableResult(["nodes", "services"], { node, services }, [`node:${name}`]);
  }

  /** Service names with the union of their tags. */
  services(): QueryResult<Map<string, string[]>> {
    const tags = new Map<string, Set<string>>();
    for (const byId of this.#tables.services.values()) {
      for (const service of byId.values()) {
        const set = tags.get(service.service) ?? new Set<string>();
        for (const tag of service.tags) set.add(tag);
        tags.set(service.service, set);
      }
    }
    const names = [...tags.keys()].sort();
    const value = new Map(names.map((name) => [name, [...(tags.get(name) ?? [])].sort()]));
    return this.#tableResult(["services"], value);
  }

  /** Instances of service `name` having every tag in `tags`. */
  serviceNodes(name: string, tags: string[]): QueryResult<ServiceOnNode[]> {
    const found: ServiceOnNode[] = [];
    for (const [nodeName, byId] of this.#tables.services) {
      const node = this.#tables.nodes.get(nodeName);
      if (node === undefined) continue;
      for (const service of byId.values()) {
        if (service.service !== name) continue;
        if (!hasTags(service, tags)) continue;
        found.push({ node, service });
      }
    }
    found.sort((a, b) => compare(a.node.node, b.node.node) || compare(a.service.id, b.service.id));
    return this.#serviceResult(name, found);
  }

  /** Instances of `name` with node and service checks; `passingOnly` drops unhealthy ones. */
  serviceHealth(
    name: string,
    options: { tags: string[]; passingOnly: boolean },
  ): QueryResult<ServiceHealth[]> {
    const instances = this.serviceNodes(name, options.tags).value;
    const entries: ServiceHealth[] = [];
    for (const { node, service } of instances) {
      const checks = this.#tables.checksOf(node.node).filter((check) =>
        check.serviceId === "" || check.serviceId === service.id
      );
      if (options.passingOnly && checks.some((check) => check.status !== "passing")) continue;
      entries.push({ node, service, checks });
    }
    return this.#serviceResult(name, entries);
  }

  /** The checks of one node. */
  nodeChecks(name: string): QueryResult<CheckRecord[]> {
    return this.#tableResult(["checks"], this.#tables.checksOf(name), [`node:${name}`]);
  }

  /** Checks of every instance of service `name`. */
  serviceChecks(name: string): QueryResult<CheckRecord[]> {
    const checks: CheckRecord[] = [];
    for (const byId of this.#tables.checks.values()) {
      for (const check of byId.values()) if (check.serviceName === name) checks.push(check);
    }
    checks.sort((a, b) => compare(a.node, b.node) || compare(a.checkId, b.checkId));
    return this.#serviceResult(name, checks);
  }

  /** Checks in `state`, or all with "any". */
  checksInState(state: HealthStatus | "any"): QueryResult<CheckRecord[]> {
    const checks: CheckRecord[] = [];
    for (const byId of this.#tables.checks.values()) {
      for (const check of byId.values()) {
        if (state === "any" || check.status === state) checks.push(check);
      }
    }
    checks.sort((a, b) => compare(a.node, b.node) || compare(a.checkId, b.checkId));
    return this.#tableResult(["checks"], checks);
  }

  /** A node record, without watch bookkeeping (for internal use). */
  node(name: string): NodeRecord | undefined {
    return this.#tables.nodes.get(name);
  }

  /** A check record, without watch bookkeeping (for internal use). */
  check(node: string, checkId: string): CheckRecord | undefined {
    return this.#tables.checks.get(node)?.get(checkId);
  }

  // ---- coordinate reads ----------------------------------------------------------------

  /** The latest coordinate of every node that has one, by node name. */
  coordinates(): QueryResult<CoordinateRecord[]> {
    const records = [...this.#tables.coordinates.values()].sort((a, b) => compare(a.node, b.node));
    return this.#tableResult(["coordinates"], records);
  }

  /** One node's coordinate, without watch bookkeeping. */
  coordinate(node: string): CoordinateRecord | undefined {
    return this.#tables.coordinates.get(node);
  }

  // ---- session reads --------------------------------------------------------------------

  /** One session (an empty list when unknown, as Consul answers). */
  session(id: string): QueryResult<SessionRecord[]> {
    const session = this.#tables.sessions.get(id);
    return this.#tableResult(["sessions"], session === undefined ? [] : [session]);
  }

  /** Every session, by id. */
  sessionList(): QueryResult<SessionRecord[]> {
    const sessions = [...this.#tables.sessions.values()].sort((a, b) => compare(a.id, b.id));
    return this.#tableResult(["sessions"], sessions);
  }

  /** Sessions of one node. */
  nodeSessions(node: string): QueryResult<SessionRecord[]> {
    const sessions = this.sessionList().value.filter((session) => session.node === node);
    return this.#tableResult(["sessions"], sessions);
  }

  /** Index of a table or sub-table ("kvs", "service:web"), 0 when it never changed. */
  indexOf(name: string): number {
    return this.#tables.indexOf(name);
  }

  #tableResult<T>(tables: string[], value: T, extraTopics: string[] = []): QueryResult<T> {
    const index = Math.max(...tables.map((table) => this.#tables.indexOf(table)));
    return { index: atLeastOne(index), value, topics: [...tables, ...extraTopics], prefixes: [] };
  }

  #serviceResult<T>(name: string, value: T): QueryResult<T> {
    const own = this.#tables.indexOf(`service:${name}`);
    const index = own > 0 ? own : this.#tables.indexOf("services");
    return { index: atLeastOne(index), value, topics: [`service:${name}`], prefixes: [] };
  }

  /** @internal The tables, for snapshot and restore in this folder only. */
  get tablesForSnapshot(): Tables {
    return this.#tables;
  }
}

/**
 * Stores coordinates of known nodes; updates for unknown nodes are skipped, as Consul's
 * CoordinateBatchUpdate does (the node may have been deregistered since it was measured).
 */
function updateCoordinates(tables: Tables, updates: CoordinateRecord[]): number {
  let stored = 0;
  for (const update of updates) {
    if (!tables.nodes.has(update.node)) continue;
    tables.putCoordinate(update);
    stored += 1;
  }
  if (stored > 0) tables.bump("coordinates");
  return stored;
}

function atLeastOne(index: number): number {
  return index < 1 ? 1 : index;
}

function hasTags(service: ServiceRecord, tags: string[]): boolean {
  // Consul compares tags case-insensitively for ?tag= filters.
  return tags.every((tag) => {
    const wanted = tag.toLowerCase();
    return service.tags.some((own) => own.toLowerCase() === wanted);
  });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byName(a: NodeRecord, b: NodeRecord): number {
  return compare(a.node, b.node);
}
