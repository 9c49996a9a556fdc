/**
 * Snapshot and restore of the whole state store, as msgpack. A snapshot is self-describing
 * (`format` and `version`) so a newer cairn can refuse or migrate an older one explicitly.
 *
 * @module
 */

import { decode, encode } from "@msgpack/msgpack";
import type { StateStore } from "./state_store.ts";
import type {
  CheckRecord,
  CoordinateRecord,
  KvRecord,
  NodeRecord,
  ServiceRecord,
  SessionRecord,
} from "./types.ts";

const snapshotFormat = "cairn-state";
const snapshotVersion = 1;

/** The decoded body of a snapshot. */
export interface StateSnapshot {
  format: string;
  version: number;
  lastIndex: number;
  nodes: NodeRecord[];
  services: ServiceRecord[];
  checks: CheckRecord[];
  kv: KvRecord[];
  tombstones: [string, number][];
  sessions: SessionRecord[];
  lockDelays: [string, number][];
  /** Absent in snapshots written before coordinates existed. */
  coordinates?: CoordinateRecord[];
  indexes: [string, number][];
}

/** Encodes every table of `store`. */
export function encodeSnapshot(store: StateStore): Uint8Array {
  const tables = store.tablesForSnapshot;
  const snapshot: StateSnapshot = {
    format: snapshotFormat,
    version: snapshotVersion,
    lastIndex: tables.lastIndex,
    nodes: [...tables.nodes.values()],
    services: [...tables.services.values()].flatMap((byId) => [...byId.values()]),
    checks: [...tables.checks.values()].flatMap((byId) => [...byId.values()]),
    // msgpack has no exact uint64 here: bigint flags travel as decimal text.
    kv: [...tables.kv.entries()].map(([, record]) =>
      typeof record.flags === "bigint" ? { ...record, flags: record.flags.toString() } : record
    ) as KvRecord[],
    tombstones: [...tables.tombstones.entries()],
    sessions: [...tables.sessions.values()],
    lockDelays: [...tables.lockDelays.entries()],
    coordinates: [...tables.coordinates.values()],
    indexes: [...tables.indexes.entries()],
  };
  // Unset optional fields (a check definition's `http`, ...) stay absent: encoded as nil they
  // would come back as null and no longer equal the agent's registrations.
  return encode(snapshot, { ignoreUndefined: true });
}

/** Decodes a snapshot, throwing `SyntaxError` when the bytes are not one. */
export function decodeSnapshot(bytes: Uint8Array): StateSnapshot {
  let decoded: unknown;
  try {
    decoded = decode(bytes);
  } catch (error) {
    throw new SyntaxError(`Cannot decode snapshot: ${(error as Error).message}`);
  }
  const snapshot = decoded as Partial<StateSnapshot>;
  if (snapshot?.format !== snapshotFormat) {
    throw new SyntaxError("Cannot decode snapshot: not a cairn state snapshot");
  }
  if (snapshot.version !== snapshotVersion) {
    throw new SyntaxError(`Cannot decode snapshot: version ${snapshot.version} is not supported`);
  }
  // Refuse a damaged body here: restore clears the store first and must not stop halfway.
  const tables = ["nodes", "services", "checks", "kv", "tombstones", "sessions", "lockDelays"];
  const damaged = [...tables, "indexes"].filter((name) =>
    !Array.isArray((snapshot as Record<string, unknown>)[name])
  );
  if (!Number.isSafeInteger(snapshot.lastIndex)) damaged.push("lastIndex");
  if (damaged.length > 0) {
    throw new SyntaxError(`Cannot decode snapshot: ${JSON.stringify(damaged)} missing or damaged`);
  }
  return snapshot as StateSnapshot;
}

/** Replaces every table of `store` with the snapshot's and wakes every blocking query. */
export function restoreSnapshot(store: StateStore, snapshot: StateSnapshot): void {
  const tables = store.tablesForSnapshot;
  tables.nodes.clear();
  tables.services.clear();
  tables.checks.clear();
  tables.kv.clear();
  tables.tombstones.clear();
  tables.sessions.clear();
  tables.sessionKeys.clear();
  tables.lockDelays.clear();
  tables.coordinates.clear();
  tables.indexes.clear();
  for (const node of snapshot.nodes) tables.nodes.set(node.node, node);
  for (const service of snapshot.services) {
    nested(tables.services, service.node).set(service.id, service);
  }
  for (const check of snapshot.checks) nested(tables.checks, check.node).set(check.checkId, check);
  for (const record of snapshot.kv) {
    // Copy: the decoder's bytes are views into the snapshot buffer, which the caller may reuse
    // and which a single retained view would keep alive whole.
    const value = new Uint8Array(record.value);
    const flags = typeof record.flags === "string" ? BigInt(record.flags) : record.flags;
    tables.kv.set(record.key, { ...record, value, flags });
    if (record.session !== "") {
      const keys = tables.sessionKeys.get(record.session) ?? new Set<string>();
      keys.add(record.key);
      tables.sessionKeys.set(record.session, keys);
    }
  }
  for (const [key, index] of snapshot.tombstones) tables.tombstones.set(key, index);
  for (const session of snapshot.sessions) tables.sessions.set(session.id, session);
  for (const [key, until] of snapshot.lockDelays) tables.lockDelays.set(key, until);
  for (const record of snapshot.coordinates ?? []) tables.coordinates.set(record.node, record);
  for (const [name, index] of snapshot.indexes) tables.indexes.set(name, index);
  tables.lastIndex = snapshot.lastIndex;
  store.watches.fireAll();
}

/**
 * Restores `snapshot` as the state at log `index` (a replicated restore, `PUT /v1/snapshot`):
 * the store's last index and every table index become `index`, so blocking queries see the
 * change; a key whose record differs from the one it replaces, and a key the restore removes
 * (as a tombstone), take `index` too, so `?index` waits on single keys and prefixes wake up
 * with a larger index. Indexes in the snapshot above `index` (a snapshot from another cluster)
 * are lowered to `index`, so no record is newer than the log. Deterministic: every server
 * applies the same entry to the same state.
 *
 * @param store the store to replace
 * @param snapshot from {@link decodeSnapshot}
 * @param index the log index of the restore entry, above `store.lastIndex`
 */
export function restoreSnapshotAt(store: StateStore, snapshot: StateSnapshot, index: number): void {
  const tables = store.tablesForSnapshot;
  const before = new Map<string, number>();
  for (const [key, record] of tables.kv.entries()) before.set(key, record.modifyIndex);
  const names = new Set([...tables.indexes.keys(), ...snapshot.indexes.map(([name]) => name)]);
  const clamp = <T extends { createIndex: number; modifyIndex: number }>(record: T): T =>
    record.createIndex <= index && record.modifyIndex <= index ? record : {
      ...record,
      createIndex: Math.min(record.createIndex, index),
      modifyIndex: Math.min(record.modifyIndex, index),
    };
  const kv = snapshot.kv.map((record) => {
    const clamped = clamp(record);
    return before.get(record.key) === clamped.modifyIndex
      ? clamped
      : { ...clamped, modifyIndex: index };
  });
  const kept = new Set(kv.map((record) => record.key));
  const tombstones = new Map<string, number>();
  for (const [key, deletedAt] of snapshot.tombstones) {
    if (!kept.has(key)) tombstones.set(key, Math.min(deletedAt, index));
  }
  for (const key of before.keys()) if (!kept.has(key)) tombstones.set(key, index);
  restoreSnapshot(store, {
    ...snapshot,
    lastIndex: index,
    nodes: snapshot.nodes.map(clamp),
    services: snapshot.services.map(clamp),
    checks: snapshot.checks.map(clamp),
    kv,
    tombstones: [...tombstones.entries()],
    sessions: snapshot.sessions.map(clamp),
    indexes: [...names].map((name) => [name, index]),
  });
}

function nested<V>(outer: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let inner = outer.get(key);
  if (inner === undefined) {
    inner = new Map();
    outer.set(key, inner);
  }
  return inner;
}
