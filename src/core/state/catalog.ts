/**
 * Catalog writes (`agent/consul/state/catalog.go`): registration upserts a node, a service and
 * checks, skipping records that did not change so anti-entropy does not churn indexes;
 * deregistration removes a check, a service with its checks, or a node with everything on it.
 * Each change bumps the table index and the per-service index that `/health/service` blocks on.
 *
 * @module
 */

import type { Tables } from "./_tables.ts";
import type { ApplyResult, CheckInput, NodeInput, ServiceInput } from "./commands.ts";
import { destroySessionsOfCheck, destroySessionsOfNode } from "./sessions.ts";
import type { CheckRecord, NodeRecord, ServiceRecord } from "./types.ts";

/** Upserts a node, optionally a service and checks. */
export function register(
  tables: Tables,
  node: NodeInput,
  options: { skipNodeUpdate: boolean; service?: ServiceInput; checks: CheckInput[] },
): ApplyResult {
  if (!options.skipNodeUpdate || !tables.nodes.has(node.node)) ensureNode(tables, node);
  if (options.service !== undefined) ensureService(tables, node.node, options.service);
  for (const check of options.checks) {
    const result = ensureCheck(tables, node.node, check);
    if (!result.ok) return result;
  }
  return { ok: true, value: true };
}

/** Upserts a node; a record equal to the stored one changes nothing. */
export function ensureNode(tables: Tables, input: NodeInput): void {
  const existing = tables.nodes.get(input.node);
  if (existing !== undefined && sameRecord(existing, input)) return;
  const index = tables.write.index;
  tables.putNode({ ...input, createIndex: existing?.createIndex ?? index, modifyIndex: index });
  touchNode(tables, input.node);
}

/** Upserts a service on an existing node. */
export function ensureService(tables: Tables, node: string, input: ServiceInput): void {
  const existing = tables.services.get(node)?.get(input.id);
  const candidate = { ...input, node };
  if (existing !== undefined && sameRecord(existing, candidate)) return;
  const index = tables.write.index;
  tables.putService({
    ...candidate,
    createIndex: existing?.createIndex ?? index,
    modifyIndex: index,
  });
  tables.bump("services");
  tables.bump(`service:${input.service}`);
  if (existing !== undefined && existing.service !== input.service) {
    tables.bump(`service:${existing.service}`);
  }
  tables.bump(`node:${node}`);
  refreshCheckServiceFields(tables, node, input.id);
}

/** Upserts a check; a critical status invalidates the sessions that depend on it. */
export function ensureCheck(tables: Tables, node: string, input: CheckInput): ApplyResult {
  if (!tables.nodes.has(node)) {
    return { ok: false, error: "Missing node registration", status: 500 };
  }
  let service: ServiceRecord | undefined;
  if (input.serviceId !== "") {
    service = tables.services.get(node)?.get(input.serviceId);
    if (service === undefined) {
      return { ok: false, error: "Missing service registration", status: 500 };
    }
  }
  const existing = tables.checks.get(node)?.get(input.checkId);
  const candidate = {
    ...input,
    node,
    serviceName: service?.service ?? "",
    serviceTags: service?.tags ?? [],
  };
  if (existing !== undefined && sameRecord(existing, candidate)) return { ok: true, value: true };
  const index = tables.write.index;
  tables.putCheck({
    ...candidate,
    createIndex: existing?.createIndex ?? index,
    modifyIndex: index,
  });
  touchCheck(tables, node, candidate.serviceName);
  if (input.status === "critical") destroySessionsOfCheck(tables, node, input.checkId);
  return { ok: true, value: true };
}

/** Removes a check, a service (with its checks), or a whole node. */
export function deregister(
  tables: Tables,
  node: string,
  target: { serviceId: string; checkId: string },
): ApplyResult {
  if (!tables.nodes.has(node)) return { ok: true, value: true };
  if (target.serviceId !== "") {
    removeService(tables, node, target.serviceId);
    return { ok: true, value: true };
  }
  if (target.checkId !== "") {
    removeCheck(tables, node, target.checkId);
    return { ok: true, value: true };
  }
  for (const service of tables.servicesOf(node)) removeService(tables, node, service.id);
  for (const check of tables.checksOf(node)) removeCheck(tables, node, check.checkId);
  destroySessionsOfNode(tables, node);
  tables.removeCoordinate(node);
  tables.removeNode(node);
  tables.bump("nodes");
  tables.bump(`node:${node}`);
  return { ok: true, value: true };
}

/** Removes one service and the checks bound to it. */
export function removeService(tables: Tables, node: string, serviceId: string): void {
  const service = tables.services.get(node)?.get(serviceId);
  if (service === undefined) return;
  for (const check of tables.checksOf(node)) {
    if (check.serviceId === serviceId) removeCheck(tables, node, check.checkId);
  }
  tables.removeService(node, serviceId);
  tables.bump("services");
  tables.bump(`service:${service.service}`);
  tables.bump(`node:${node}`);
}

/** Removes one check, invalidating the sessions that depend on it. */
export function removeCheck(tables: Tables, node: string, checkId: string): void {
  const check = tables.checks.get(node)?.get(checkId);
  if (check === undefined) return;
  tables.removeCheck(node, checkId);
  touchCheck(tables, node, check.serviceName);
  destroySessionsOfCheck(tables, node, checkId);
}

function touchNode(tables: Tables, node: string): void {
  tables.bump("nodes");
  tables.bump(`node:${node}`);
  for (const service of tables.servicesOf(node)) tables.bump(`service:${service.service}`);
}

function touchCheck(tables: Tables, node: string, serviceName: string): void {
  tables.bump("checks");
  tables.bump(`node:${node}`);
  if (serviceName !== "") {
    tables.bump(`service:${serviceName}`);
    return;
  }
  // A node check changes the health of every service on the node.
  for (const service of tables.servicesOf(node)) tables.bump(`service:${service.service}`);
}

function refreshCheckServiceFields(tables: Tables, node: string, serviceId: string): void {
  const service = tables.services.get(node)?.get(serviceId);
  if (service === undefined) return;
  for (const check of tables.checksOf(node)) {
    if (check.serviceId !== serviceId) continue;
    if (check.serviceName === service.service && sameValue(check.serviceTags, service.tags)) {
      continue;
    }
    const updated: CheckRecord = {
      ...check,
      serviceName: service.service,
      serviceTags: service.tags,
      modifyIndex: tables.write.index,
    };
    tables.putCheck(updated);
    tables.bump("checks");
  }
}

/** True when every field of `input` equals the stored record's (indexes aside). */
function sameRecord(
  stored: NodeRecord | ServiceRecord | CheckRecord,
  input:
    | NodeInput
    | (ServiceInput & { node: string })
    | Omit<CheckRecord, "createIndex" | "modifyIndex">,
): boolean {
  const record = stored as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(input)) {
    if (!sameValue(record[key], value)) return false;
  }
  return true;
}

function sameValue(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  if (typeof left !== "object" || typeof right !== "object" || left === null || right === null) {
    return false;
  }
  if (left instanceof Uint8Array || right instanceof Uint8Array) return false;
  // A field set to undefined equals an absent one (a snapshot does not keep undefined fields).
  const leftRecord = left as Record<string, unknown>;
  const rightRecord = right as Record<string, unknown>;
  const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
  for (const key of keys) if (!sameValue(leftRecord[key], rightRecord[key])) return false;
  return true;
}
