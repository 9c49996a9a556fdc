/**
 * The tables of the state store and the primitives that change them. Every primitive records
 * how to undo itself while a write is open, so a transaction that fails midway rolls back whole,
 * and records which topics it touched, so watches fire once the write commits.
 *
 * Private to `src/core/state`: other rooms use `StateStore`.
 *
 * @module
 */

import { assert } from "../assert.ts";
import { SortedMap } from "./sorted_map.ts";
import type {
  CheckRecord,
  CoordinateRecord,
  KvRecord,
  NodeRecord,
  ServiceRecord,
  SessionRecord,
} from "./types.ts";

/** The open write: its log index, the proposer's time, and what it touched. */
export interface WriteContext {
  index: number;
  atMs: number;
}

/** All records, keyed for the lookups the queries and commands need. */
export class Tables {
  readonly nodes = new Map<string, NodeRecord>();
  /** node name → service id → service */
  readonly services = new Map<string, Map<string, ServiceRecord>>();
  /** node name → check id → check */
  readonly checks = new Map<string, Map<string, CheckRecord>>();
  readonly kv = new SortedMap<KvRecord>();
  /** Deleted keys → the index of their deletion, so a prefix's index never drops. */
  readonly tombstones = new SortedMap<number>();
  readonly sessions = new Map<string, SessionRecord>();
  /** session id → keys it holds */
  readonly sessionKeys = new Map<string, Set<string>>();
  /** key → wall time until which a lock cannot be acquired (lock-delay). */
  readonly lockDelays = new Map<string, number>();
  /** node → its latest network coordinate */
  readonly coordinates = new Map<string, CoordinateRecord>();
  /** table or sub-table name ("kvs", "service:web") → index of its last change */
  readonly indexes = new Map<string, number>();
  lastIndex = 0;

  #write: WriteContext | undefined;
  #undo: (() => void)[] = [];
  readonly touchedTopics = new Set<string>();
  readonly touchedKeys = new Set<string>();

  /** The open write; asserts there is one. */
  get write(): WriteContext {
    assert(this.#write !== undefined, "Cannot change state: no write is open");
    return this.#write;
  }

  /** Opens a write at `index`. */
  begin(context: WriteContext): void {
    assert(this.#write === undefined, "Cannot begin a write: one is already open");
    this.#write = context;
    this.#undo = [];
    this.touchedTopics.clear();
    this.touchedKeys.clear();
  }

  /** Closes the write, keeping its changes. */
  commit(): void {
    this.#write = undefined;
    this.#undo = [];
  }

  /** Closes the write, undoing its changes in reverse order. */
  rollback(): void {
    for (let i = this.#undo.length - 1; i >= 0; i -= 1) this.#undo[i]();
    this.#write = undefined;
    this.#undo = [];
    this.touchedTopics.clear();
    this.touchedKeys.clear();
  }

  /** Sets the index of `name` to the open write's index and marks it touched. */
  bump(name: string): void {
    const previous = this.indexes.get(name);
    this.#undo.push(() => restore(this.indexes, name, previous));
    this.indexes.set(name, this.write.index);
    this.touchedTopics.add(name);
  }

  /** The index of `name`, 0 when it never changed. */
  indexOf(name: string): number {
    return this.indexes.get(name) ?? 0;
  }

  putNode(record: NodeRecord): void {
    const previous = this.nodes.get(record.node);
    this.#undo.push(() => restore(this.nodes, record.node, previous));
    this.nodes.set(record.node, record);
  }

  removeNode(name: string): void {
    const previous = this.nodes.get(name);
    this.#undo.push(() => restore(this.nodes, name, previous));
    this.nodes.delete(name);
  }

  putService(record: ServiceRecord): void {
    putNested(this.services, record.node, record.id, record, this.#undo);
  }

  removeService(node: string, id: string): void {
    putNested(this.services, node, id, undefined, this.#undo);
  }

  putCheck(record: CheckRecord): void {
    putNested(this.checks, record.node, record.checkId, record, this.#undo);
  }

  removeCheck(node: string, id: string): void {
    putNested(this.checks, node, id, undefined, this.#undo);
  }

  putKv(record: KvRecord): void {
    const previous = this.kv.get(record.key);
    this.#undo.push(() => restoreSorted(this.kv, record.key, previous));
    this.kv.set(record.key, record);
    if (previous !== undefined && previous.session !== "") {
      this.#unlinkSessionKey(previous.session, record.key);
    }
    if (record.session !== "") this.#linkSessionKey(record.session, record.key);
    this.touchedKeys.add(record.key);
  }

  removeKv(key: string): void {
    const previous = this.kv.get(key);
    if (previous === undefined) return;
    this.#undo.push(() => restoreSorted(this.kv, key, previous));
    this.kv.delete(key);
    if (previous.session !== "") this.#unlinkSessionKey(previous.session, key);
    this.touchedKeys.add(key);
  }

  putTombstone(key: string, index: number): void {
    const previous = this.tombstones.get(key);
    this.#undo.push(() => restoreSorted(this.tombstones, key, previous));
    this.tombstones.set(key, index);
  }

  removeTombstone(key: string): void {
    const previous = this.tombstones.get(key);
    this.#undo.push(() => restoreSorted(this.tombstones, key, previous));
    this.tombstones.delete(key);
  }

  putSession(record: SessionRecord): void {
    const previous = this.sessions.get(record.id);
    this.#undo.push(() => restore(this.sessions, record.id, previous));
    this.sessions.set(record.id, record);
  }

  removeSession(id: string): void {
    const previous = this.sessions.get(id);
    this.#undo.push(() => restore(this.sessions, id, previous));
    this.sessions.delete(id);
  }

  putCoordinate(record: CoordinateRecord): void {
    const previous = this.coordinates.get(record.node);
    this.#undo.push(() => restore(this.coordinates, record.node, previous));
    this.coordinates.set(record.node, record);
  }

  removeCoordinate(node: string): void {
    const previous = this.coordinates.get(node);
    if (previous === undefined) return;
    this.#undo.push(() => restore(this.coordinates, node, previous));
    this.coordinates.delete(node);
    this.bump("coordinates");
  }

  removeLockDelay(key: string): void {
    const previous = this.lockDelays.get(key);
    this.#undo.push(() => restore(this.lockDelays, key, previous));
    this.lockDelays.delete(key);
  }

  setLockDelay(key: string, untilMs: number): void {
    const previous = this.lockDelays.get(key);
    this.#undo.push(() => restore(this.lockDelays, key, previous));
    this.lockDelays.set(key, untilMs);
  }

  /** Services of `node`, in id order. */
  servicesOf(node: string): ServiceRecord[] {
    const map = this.services.get(node);
    return map === undefined ? [] : sortedValues(map);
  }

  /** Checks of `node`, in id order. */
  checksOf(node: string): CheckRecord[] {
    const map = this.checks.get(node);
    return map === undefined ? [] : sortedValues(map);
  }

  #linkSessionKey(session: string, key: string): void {
    let keys = this.sessionKeys.get(session);
    if (keys === undefined) {
      keys = new Set();
      this.sessionKeys.set(session, keys);
    }
    keys.add(key);
    this.#undo.push(() => this.#unlinkRaw(session, key));
  }

  #unlinkSessionKey(session: string, key: string): void {
    this.#unlinkRaw(session, key);
    this.#undo.push(() => {
      let keys = this.sessionKeys.get(session);
      if (keys === undefined) {
        keys = new Set();
        this.sessionKeys.set(session, keys);
      }
      keys.add(key);
    });
  }

  #unlinkRaw(session: string, key: string): void {
    const keys = this.sessionKeys.get(session);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) this.sessionKeys.delete(session);
  }
}

function restore<V>(map: Map<string, V>, key: string, previous: V | undefined): void {
  if (previous === undefined) map.delete(key);
  else map.set(key, previous);
}

function restoreSorted<V>(map: SortedMap<V>, key: string, previous: V | undefined): void {
  if (previous === undefined) map.delete(key);
  else map.set(key, previous);
}

function putNested<V>(
  outer: Map<string, Map<string, V>>,
  first: string,
  second: string,
  value: V | undefined,
  undo: (() => void)[],
): void {
  const previous = outer.get(first)?.get(second);
  const apply = (next: V | undefined) => {
    let inner = outer.get(first);
    if (next === undefined) {
      inner?.delete(second);
      if (inner !== undefined && inner.size === 0) outer.delete(first);
      return;
    }
    if (inner === undefined) {
      inner = new Map();
      outer.set(first, inner);
    }
    inner.set(second, next);
  };
  undo.push(() => apply(previous));
  apply(value);
}

function sortedValues<V>(map: Map<string, V>): V[] {
  return [...map.keys()].sort().map((key) => map.get(key) as V);
}
