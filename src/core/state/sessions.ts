/**
 * Sessions (`agent/consul/state/session.go`): creation checks that the node and every listed
 * check exist and are not critical; invalidation releases or deletes the locks the session
 * holds, as its behavior says, and starts lock-delay on each of those keys.
 *
 * @module
 */

import type { Tables } from "./_tables.ts";
import type { ApplyResult, SessionInput } from "./commands.ts";
import { removeKey } from "./kv_store.ts";

/** Creates a session; fails when its node or checks are missing or critical. */
export function createSession(tables: Tables, input: SessionInput): ApplyResult {
  if (tables.sessions.has(input.id)) {
    return { ok: false, error: `Cannot create session "${input.id}": it exists`, status: 500 };
  }
  if (!tables.nodes.has(input.node)) {
    return { ok: false, error: `Missing node registration`, status: 500 };
  }
  const checks = tables.checks.get(input.node);
  const wanted = [...input.nodeChecks, ...input.serviceChecks.map((check) => check.id)];
  for (const checkId of wanted) {
    const check = checks?.get(checkId);
    if (check === undefined) {
      return { ok: false, error: `Missing check '${checkId}' registration`, status: 500 };
    }
    if (check.status === "critical") {
      return { ok: false, error: `Check '${checkId}' is in critical state`, status: 500 };
    }
  }
  const index = tables.write.index;
  tables.putSession({ ...input, createIndex: index, modifyIndex: index });
  tables.bump("sessions");
  tables.bump(`session:${input.id}`);
  tables.bump(`sessions-node:${input.node}`);
  return { ok: true, value: input.id };
}

/** Destroys a session, releasing or deleting its locks; a missing session is not an error. */
export function destroySession(tables: Tables, id: string): void {
  const session = tables.sessions.get(id);
  if (session === undefined) return;
  const keys = [...(tables.sessionKeys.get(id) ?? [])].sort();
  const untilMs = tables.write.atMs + session.lockDelayMs;
  for (const key of keys) {
    if (session.lockDelayMs > 0) tables.setLockDelay(key, untilMs);
    const record = tables.kv.get(key);
    if (record === undefined) continue;
    if (session.behavior === "delete") {
      removeKey(tables, key);
      continue;
    }
    tables.putKv({ ...record, session: "", modifyIndex: tables.write.index });
    tables.bump("kvs");
  }
  tables.removeSession(id);
  tables.bump("sessions");
  tables.bump(`session:${id}`);
  tables.bump(`sessions-node:${session.node}`);
}

/** Destroys every session of `node` (the node is gone). */
export function destroySessionsOfNode(tables: Tables, node: string): void {
  const ids: string[] = [];
  for (const session of tables.sessions.values()) {
    if (session.node === node) ids.push(session.id);
  }
  for (const id of ids.sort()) destroySession(tables, id);
}

/** Destroys the sessions that depend on check `checkId` of `node` (gone or critical). */
export function destroySessionsOfCheck(tables: Tables, node: string, checkId: string): void {
  const ids: string[] = [];
  for (const session of tables.sessions.values()) {
    if (session.node !== node) continue;
    const depends = session.nodeChecks.includes(checkId) ||
      session.serviceChecks.some((check) => check.id === checkId);
    if (depends) ids.push(session.id);
  }
  for (const id of ids.sort()) destroySession(tables, id);
}
