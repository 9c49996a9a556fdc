/**
 * KV writes with Consul's semantics (`agent/consul/state/kvs.go`): plain set keeps the lock
 * holder, `cas` 0 means "only if absent", `lock` bumps `LockIndex` only on a new acquisition and
 * honours lock-delay, deletes leave tombstones so a prefix's index never drops.
 *
 * @module
 */

import type { Tables } from "./_tables.ts";
import type { ApplyResult, KvOp } from "./commands.ts";
import type { KvRecord } from "./types.ts";

/** A KV outcome: true/false for the verb, or an error that fails a transaction. */
export type KvOutcome = { ok: true; done: boolean } | { ok: false; error: string };

/** Applies a set verb (set, cas, lock, unlock). */
export function setKv(tables: Tables, op: KvOp): KvOutcome {
  const existing = tables.kv.get(op.key);
  switch (op.verb) {
    case "set":
      writeKv(tables, op, existing, existing?.session ?? "", existing?.lockIndex ?? 0);
      return { ok: true, done: true };
    case "cas": {
      const matches = op.index === 0
        ? existing === undefined
        : existing !== undefined && existing.modifyIndex === op.index;
      if (!matches) return { ok: true, done: false };
      writeKv(tables, op, existing, existing?.session ?? "", existing?.lockIndex ?? 0);
      return { ok: true, done: true };
    }
    case "lock":
      return lockKv(tables, op, existing);
    case "unlock":
      // Consul's kvsUnlockTxn only needs a session: one that is gone is simply not the holder.
      if (op.session === "") return invalidSession(op.session);
      if (existing === undefined || existing.session !== op.session) {
        return { ok: true, done: false };
      }
      writeKv(tables, op, existing, "", existing.lockIndex);
      return { ok: true, done: true };
    default:
      return { ok: false, error: `Cannot set key "${op.key}": unknown verb "${op.verb}"` };
  }
}

function lockKv(tables: Tables, op: KvOp, existing: KvRecord | undefined): KvOutcome {
  if (!tables.sessions.has(op.session)) return invalidSession(op.session);
  if (existing !== undefined && existing.session === op.session) {
    writeKv(tables, op, existing, op.session, existing.lockIndex);
    return { ok: true, done: true };
  }
  if (existing !== undefined && existing.session !== "") return { ok: true, done: false };
  const delayUntilMs = tables.lockDelays.get(op.key);
  if (delayUntilMs !== undefined && tables.write.atMs < delayUntilMs) {
    return { ok: true, done: false };
  }
  writeKv(tables, op, existing, op.session, (existing?.lockIndex ?? 0) + 1);
  return { ok: true, done: true };
}

function invalidSession(session: string): KvOutcome {
  if (session === "") return { ok: false, error: "missing session" };
  return { ok: false, error: `invalid session ${JSON.stringify(session)}` };
}

function writeKv(
  tables: Tables,
  op: KvOp,
  existing: KvRecord | undefined,
  session: string,
  lockIndex: number,
): void {
  const index = tables.write.index;
  tables.putKv({
    key: op.key,
    value: op.value,
    flags: op.flags,
    session,
    lockIndex,
    createIndex: existing?.createIndex ?? index,
    modifyIndex: index,
  });
  tables.bump("kvs");
}

/** Applies a delete verb (delete, delete-cas, delete-tree). */
export function deleteKv(tables: Tables, op: KvOp): KvOutcome {
  if (op.verb === "delete-tree") {
    const keys = [...tables.kv.keysWithPrefix(op.key)];
    for (const key of keys) removeKey(tables, key);
    return { ok: true, done: true };
  }
  const existing = tables.kv.get(op.key);
  if (op.verb === "delete-cas") {
    if (existing === undefined) return { ok: true, done: true };
    if (existing.modifyIndex !== op.index) return { ok: true, done: false };
  }
  if (existing !== undefined) removeKey(tables, op.key);
  return { ok: true, done: true };
}

/** Removes `key`, leaving a tombstone at the write's index. */
export function removeKey(tables: Tables, key: string): void {
  tables.removeKv(key);
  tables.putTombstone(key, tables.write.index);
  tables.bump("kvs");
  tables.bump("tombstones");
}

/** Turns a KV outcome of a plain (non-txn) command into an apply result. */
export function kvResult(outcome: KvOutcome): ApplyResult {
  if (!outcome.ok) return { ok: false, error: outcome.error, status: 500 };
  return { ok: true, value: outcome.done };
}

/** The largest index among keys and tombstones under `prefix`; 0 when there are none. */
export function prefixIndex(tables: Tables, prefix: string): number {
  let index = 0;
  for (const [, record] of tables.kv.entriesWithPrefix(prefix)) {
    if (record.modifyIndex > index) index = record.modifyIndex;
  }
  for (const [, deletedAt] of tables.tombstones.entriesWithPrefix(prefix)) {
    if (deletedAt > index) index = deletedAt;
  }
  return index;
}

/**
 * Removes tombstones deleted at or before `throughIndex` (their GC, after TombstoneTTL), and
 * lock-delays that have ended, so neither grows without bound.
 */
export function reapTombstones(tables: Tables, throughIndex: number): number {
  const reaped: string[] = [];
  for (const [key, deletedAt] of tables.tombstones.entries()) {
    if (deletedAt <= throughIndex) reaped.push(key);
  }
  for (const key of reaped) tables.removeTombstone(key);
  const ended: string[] = [];
  for (const [key, untilMs] of tables.lockDelays) {
    if (untilMs <= tables.write.atMs) ended.push(key);
  }
  for (const key of ended) tables.removeLockDelay(key);
  return reaped.length;
}
