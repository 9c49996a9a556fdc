/**
 * Transactions (`/v1/txn`, `agent/consul/state/txn.go`): every operation runs in order inside
 * one write; the first failure rolls the whole write back and the errors name the operation.
 *
 * @module
 */

import type { Tables } from "./_tables.ts";
import { deregister, ensureCheck, ensureNode, ensureService, removeCheck } from "./catalog.ts";
import { removeService } from "./catalog.ts";
import type { CatalogOp, KvOp, TxnOp } from "./commands.ts";
import { deleteKv, setKv } from "./kv_store.ts";
import type { CheckRecord, KvRecord, NodeRecord, ServiceRecord } from "./types.ts";

/** One result of a transaction, in operation order. */
export type TxnResult =
  | { kind: "kv"; record: KvRecord; withValue: boolean }
  | { kind: "node"; record: NodeRecord }
  | { kind: "service"; record: ServiceRecord }
  | { kind: "check"; record: CheckRecord };

/** One failed operation of a transaction. */
export interface TxnError {
  opIndex: number;
  what: string;
}

/** What a transaction did: results when every operation succeeded, otherwise errors. */
export type TxnOutcome = { ok: true; results: TxnResult[] } | { ok: false; errors: TxnError[] };

/** Runs `ops` in order; the caller rolls back the write when the outcome is not ok. */
export function runTxn(tables: Tables, ops: TxnOp[]): TxnOutcome {
  const results: TxnResult[] = [];
  const errors: TxnError[] = [];
  // Like Consul, every operation runs and every failure is reported; any failure aborts all.
  for (let opIndex = 0; opIndex < ops.length; opIndex += 1) {
    const op = ops[opIndex];
    const error = op.kind === "kv"
      ? runKvOp(tables, op.kv, results)
      : runCatalogOp(tables, op, results);
    if (error !== undefined) errors.push({ opIndex, what: error });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, results };
}

function runKvOp(tables: Tables, op: KvOp, results: TxnResult[]): string | undefined {
  const key = JSON.stringify(op.key);
  const existing = tables.kv.get(op.key);
  switch (op.verb) {
    case "set":
    case "cas":
    case "lock":
    case "unlock": {
      const outcome = setKv(tables, op);
      if (!outcome.ok) return `failed to ${op.verb} key ${key}: ${outcome.error}`;
      if (!outcome.done) return kvFailure(op.verb, key);
      results.push({ kind: "kv", record: tables.kv.get(op.key) as KvRecord, withValue: false });
      return undefined;
    }
    case "delete":
    case "delete-cas":
    case "delete-tree": {
      const outcome = deleteKv(tables, op);
      if (outcome.ok && !outcome.done) return `failed to delete key ${key}, index is stale`;
      return undefined;
    }
    case "get":
      if (existing === undefined) return `key ${key} doesn't exist`;
      results.push({ kind: "kv", record: existing, withValue: true });
      return undefined;
    case "get-or-empty": {
      // A missing key answers an empty entry, so results still line up with operations.
      const record = existing ?? emptyKvRecord(op.key);
      results.push({ kind: "kv", record, withValue: true });
      return undefined;
    }
    case "get-tree":
      for (const [, record] of tables.kv.entriesWithPrefix(op.key)) {
        results.push({ kind: "kv", record, withValue: true });
      }
      return undefined;
    default:
      return checkKvOp(op, existing, results);
  }
}

function checkKvOp(
  op: KvOp,
  existing: KvRecord | undefined,
  results: TxnResult[],
): string | undefined {
  const key = JSON.stringify(op.key);
  switch (op.verb) {
    case "check-index":
      if (existing === undefined) return `key ${key} doesn't exist`;
      if (existing.modifyIndex !== op.index) {
        return `current modify index ${existing.modifyIndex} != ${op.index}`;
      }
      break;
    case "check-session":
      if (existing === undefined) return `key ${key} doesn't exist`;
      if (existing.session !== op.session) {
        return `current session "${existing.session}" != "${op.session}"`;
      }
      break;
    case "check-not-exists":
      if (existing !== undefined) return `key ${key} exists`;
      return undefined;
    default:
      return `unknown KV verb "${op.verb}"`;
  }
  results.push({ kind: "kv", record: existing, withValue: false });
  return undefined;
}

function emptyKvRecord(key: string): KvRecord {
  return {
    key,
    value: new Uint8Array(0),
    flags: 0,
    lockIndex: 0,
    session: "",
    createIndex: 0,
    modifyIndex: 0,
  };
}

function kvFailure(verb: string, key: string): string {
  if (verb === "lock") return `failed to lock key ${key}, lock is already held`;
  if (verb === "unlock") {
    return `failed to unlock key ${key}, lock isn't held, or is held by another session`;
  }
  return `failed to set key ${key}, index is stale`;
}

function runCatalogOp(tables: Tables, op: CatalogOp, results: TxnResult[]): string | undefined {
  if (op.kind === "node") return runNodeOp(tables, op, results);
  if (op.kind === "service") return runServiceOp(tables, op, results);
  return runCheckOp(tables, op, results);
}

function staleIndex(verb: string, current: number | undefined, wanted: number): boolean {
  if (verb !== "cas" && verb !== "delete-cas") return false;
  return (current ?? 0) !== wanted;
}

function runNodeOp(
  tables: Tables,
  op: Extract<CatalogOp, { kind: "node" }>,
  results: TxnResult[],
): string | undefined {
  const name = op.node.node;
  const existing = tables.nodes.get(name);
  if (staleIndex(op.verb, existing?.modifyIndex, op.index)) {
    return `failed to ${op.verb} node "${name}", index is stale`;
  }
  if (op.verb === "get") {
    if (existing === undefined) return `node "${name}" doesn't exist`;
    results.push({ kind: "node", record: existing });
    return undefined;
  }
  if (op.verb === "delete" || op.verb === "delete-cas") {
    deregister(tables, name, { serviceId: "", checkId: "" });
    return undefined;
  }
  ensureNode(tables, op.node);
  results.push({ kind: "node", record: tables.nodes.get(name) as NodeRecord });
  return undefined;
}

function runServiceOp(
  tables: Tables,
  op: Extract<CatalogOp, { kind: "service" }>,
  results: TxnResult[],
): string | undefined {
  const existing = tables.services.get(op.node)?.get(op.service.id);
  if (staleIndex(op.verb, existing?.modifyIndex, op.index)) {
    return `failed to ${op.verb} service "${op.service.id}", index is stale`;
  }
  if (op.verb === "get") {
    if (existing === undefined) return `service "${op.service.id}" doesn't exist`;
    results.push({ kind: "service", record: existing });
    return undefined;
  }
  if (op.verb === "delete" || op.verb === "delete-cas") {
    removeService(tables, op.node, op.service.id);
    return undefined;
  }
  if (!tables.nodes.has(op.node)) return `node "${op.node}" doesn't exist`;
  ensureService(tables, op.node, op.service);
  const record = tables.services.get(op.node)?.get(op.service.id) as ServiceRecord;
  results.push({ kind: "service", record });
  return undefined;
}

function runCheckOp(
  tables: Tables,
  op: Extract<CatalogOp, { kind: "check" }>,
  results: TxnResult[],
): string | undefined {
  const id = op.check.checkId;
  const existing = tables.checks.get(op.node)?.get(id);
  if (staleIndex(op.verb, existing?.modifyIndex, op.index)) {
    return `failed to ${op.verb} check "${id}", index is stale`;
  }
  if (op.verb === "get") {
    if (existing === undefined) return `check "${id}" doesn't exist`;
    results.push({ kind: "check", record: existing });
    return undefined;
  }
  if (op.verb === "delete" || op.verb === "delete-cas") {
    removeCheck(tables, op.node, id);
    return undefined;
  }
  const outcome = ensureCheck(tables, op.node, op.check);
  if (!outcome.ok) return outcome.error;
  results.push({ kind: "check", record: tables.checks.get(op.node)?.get(id) as CheckRecord });
  return undefined;
}
