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
  // A snapshot is never taken while a restore is staged: whatever was staged is not in it.
  store.restoreStaging.clear();
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

/**
 * The largest restore (`PUT /v1/snapshot`), in state-snapshot body bytes: 256 MiB. A restored
 * state is installed on lagging followers as one Raft snapshot (at most 512 MiB over the server
 * RPC), so this leaves the state room to grow after a restore; and a restore holds the archive
 * about three times over on each server while it applies (log entries, staging, the decoded
 * state).
 */
export const RESTORE_BYTES_MAX = 256 * 1024 * 1024;
/** Bytes of archive body carried by one `restoreChunk` entry: half a 1 MiB Raft entry. */
export const RESTORE_CHUNK_BYTES = 512 * 1024;
/** Chunks of one restore: as many as {@link RESTORE_BYTES_MAX} needs, numbered from 0. */
export const RESTORE_CHUNKS_MAX = RESTORE_BYTES_MAX / RESTORE_CHUNK_BYTES;
/**
 * Applied entries after a restore's latest chunk past which its staging is dropped (an upload
 * abandoned half-way must not hold memory, or hold back snapshots, for ever). Counted in log
 * entries, so every server drops it at the same index. @default {16_384}
 */
export const RESTORE_STAGING_IDLE_ENTRIES_MAX = 16_384;

/** One chunk of a restore, as a `restoreChunk` command carries it. */
export interface RestoreChunk {
  /** The restore it belongs to: a random id chosen by the server that began it. */
  id: string;
  /** The chunk's place in the body: 0 for the first, each next one 1 more. */
  seq: number;
  data: Uint8Array;
}

/**
 * The chunks of a restore being staged, applied from `restoreChunk` entries until the
 * `restore` entry naming them replaces the state (`PUT /v1/snapshot` through the log, in pieces
 * of at most {@link RESTORE_CHUNK_BYTES}). Part of the replicated state: every server stages
 * the same chunks at the same indexes, and the staging is not in snapshots, so the shell takes
 * no snapshot while it is {@link RestoreStaging.open} (a snapshot in the middle would lose the
 * chunks before it on a follower that installs it). Chunks may come in any order (a follower
 * forwards several at once); the `restore` entry checks that all of them came.
 */
export class RestoreStaging {
  #id: string | undefined;
  #chunks = new Map<number, Uint8Array>();
  #bytes = 0;
  /** Index of the latest chunk applied. */
  #lastChunkIndex = 0;

  /** True while chunks are staged that no `restore` entry has taken yet. */
  get open(): boolean {
    return this.#id !== undefined;
  }

  /** Bytes staged. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Stages a chunk applied at `index`. A chunk of another restore than the one staged starts a
   * new staging (the newest restore wins; the older one's `restore` entry then fails).
   *
   * @returns an error when the chunk was not staged
   */
  add(index: number, chunk: RestoreChunk): string | undefined {
    if (typeof chunk.id !== "string" || !(chunk.data instanceof Uint8Array)) {
      return "Cannot stage a restore chunk: it has no id or no data";
    }
    if (this.#id !== chunk.id) this.clear();
    const seqValid = Number.isSafeInteger(chunk.seq) && chunk.seq >= 0 &&
      chunk.seq < RESTORE_CHUNKS_MAX;
    if (!seqValid || this.#chunks.has(chunk.seq)) {
      return `Cannot stage restore chunk ${chunk.seq}: it is not a new chunk number`;
    }
    if (this.#bytes + chunk.data.byteLength > RESTORE_BYTES_MAX) {
      this.clear();
      return `Cannot stage a restore: it passes ${RESTORE_BYTES_MAX} bytes`;
    }
    this.#id = chunk.id;
    // No copy: the decoder's bytes are a view into the log entry, which nothing changes and
    // which the log holds until the snapshot right after the restore anyway.
    this.#chunks.set(chunk.seq, chunk.data);
    this.#bytes += chunk.data.byteLength;
    this.#lastChunkIndex = index;
    return undefined;
  }

  /**
   * Takes the whole staged body of restore `id` and clears the staging.
   *
   * @returns the body, or why it cannot be had (another id, chunks missing)
   */
  take(id: string, chunkCount: number, bytes: number): Uint8Array | string {
    // Another restore's staging stays: it began later, and its own entry may still come.
    if (this.#id !== id) return `Cannot restore: the chunks of restore "${id}" are not staged`;
    const [chunks, stagedBytes] = [this.#chunks, this.#bytes];
    this.clear();
    const missing = Array.from({ length: chunkCount }, (_, seq) => seq)
      .filter((seq) => !chunks.has(seq));
    if (chunks.size !== chunkCount || missing.length > 0 || stagedBytes !== bytes) {
      return `Cannot restore: ${chunks.size} chunks (${stagedBytes} bytes) are staged, not ` +
        `${chunkCount} (${bytes} bytes); missing chunks ${JSON.stringify(missing.slice(0, 5))}`;
    }
    const body = new Uint8Array(stagedBytes);
    let offset = 0;
    for (let seq = 0; seq < chunkCount; seq++) {
      const chunk = chunks.get(seq)!;
      body.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return body;
  }

  /** Drops a staging idle for more than {@link RESTORE_STAGING_IDLE_ENTRIES_MAX} entries. */
  expire(index: number): void {
    if (this.open && index - this.#lastChunkIndex > RESTORE_STAGING_IDLE_ENTRIES_MAX) this.clear();
  }

  /** Drops whatever is staged. */
  clear(): void {
    this.#id = undefined;
    this.#chunks = new Map();
    this.#bytes = 0;
    this.#lastChunkIndex = 0;
  }
}
