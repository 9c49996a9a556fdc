/**
 * Renders state records with Consul's JSON field names, exactly as its clients read them.
 *
 * @module
 */

import { encodeBase64 } from "../core/base64.ts";
import { formatGoDuration } from "../core/go_duration.ts";
import type { ServiceHealth } from "../core/state/state_store.ts";
import type {
  CheckRecord,
  KvRecord,
  NodeRecord,
  ServiceRecord,
  SessionRecord,
} from "../core/state/types.ts";

/** A JSON object. */
export type Json = Record<string, unknown>;

/** `Node` objects of `/v1/catalog/nodes` and friends. */
export function renderNode(node: NodeRecord): Json {
  return {
    ID: node.id,
    Node: node.node,
    Address: node.address,
    Datacenter: node.datacenter,
    TaggedAddresses: node.taggedAddresses,
    Meta: node.meta,
    CreateIndex: node.createIndex,
    ModifyIndex: node.modifyIndex,
  };
}

/** A KV pair; `Value` is base64, or null when not asked for or empty-less. */
export function renderKv(record: KvRecord, withValue = true): Json {
  const json: Json = {
    LockIndex: record.lockIndex,
    Key: record.key,
    Flags: record.flags,
    Value: withValue && record.value.length > 0 ? encodeBase64(record.value) : null,
  };
  if (record.session !== "") json.Session = record.session;
  json.CreateIndex = record.createIndex;
  json.ModifyIndex = record.modifyIndex;
  return json;
}

function renderTaggedServiceAddresses(service: ServiceRecord): Json {
  const out: Json = {};
  for (const [name, tagged] of Object.entries(service.taggedAddresses)) {
    out[name] = { Address: tagged.address, Port: tagged.port };
  }
  return out;
}

/** The `Service` of a `ServiceEntry` (health) or of `/v1/catalog/node`. */
export function renderService(service: ServiceRecord, datacenter: string): Json {
  return {
    ID: service.id,
    Service: service.service,
    Tags: service.tags,
    Address: service.address,
    TaggedAddresses: renderTaggedServiceAddresses(service),
    Meta: service.meta,
    Port: service.port,
    Weights: { Passing: service.weights.passing, Warning: service.weights.warning },
    EnableTagOverride: service.enableTagOverride,
    Kind: service.kind,
    Datacenter: datacenter,
    CreateIndex: service.createIndex,
    ModifyIndex: service.modifyIndex,
  };
}

/** An entry of `/v1/agent/services`. */
export function renderAgentService(service: ServiceRecord, datacenter: string): Json {
  const { CreateIndex: _c, ModifyIndex: _m, ...rest } = renderService(service, datacenter);
  return rest;
}

/** An entry of `/v1/catalog/service/:name`. */
export function renderCatalogService(node: NodeRecord, service: ServiceRecord): Json {
  return {
    ID: node.id,
    Node: node.node,
    Address: node.address,
    Datacenter: node.datacenter,
    TaggedAddresses: node.taggedAddresses,
    NodeMeta: node.meta,
    ServiceKind: service.kind,
    ServiceID: service.id,
    ServiceName: service.service,
    ServiceTags: service.tags,
    ServiceAddress: service.address,
    ServiceTaggedAddresses: renderTaggedServiceAddresses(service),
    ServiceWeights: { Passing: service.weights.passing, Warning: service.weights.warning },
    ServiceMeta: service.meta,
    ServicePort: service.port,
    ServiceEnableTagOverride: service.enableTagOverride,
    CreateIndex: service.createIndex,
    ModifyIndex: service.modifyIndex,
  };
}

/** A `HealthCheck`. */
export function renderCheck(check: CheckRecord): Json {
  const definition = check.definition;
  const json: Json = {
    Node: check.node,
    CheckID: check.checkId,
    Name: check.name,
    Status: check.status,
    Notes: check.notes,
    Output: check.output,
    ServiceID: check.serviceId,
    ServiceName: check.serviceName,
    ServiceTags: check.serviceTags,
    Type: check.type,
    Interval: check.intervalMs > 0 ? formatGoDuration(check.intervalMs) : "",
    Timeout: check.timeoutMs > 0 ? formatGoDuration(check.timeoutMs) : "",
    ExposedPort: 0,
    Definition: {
      HTTP: definition.http ?? "",
      Header: definition.header ?? null,
      Method: definition.method ?? "",
      Body: definition.body ?? "",
      TLSSkipVerify: definition.tlsSkipVerify ?? false,
      TCP: definition.tcp ?? "",
      Interval: formatGoDuration(definition.intervalMs ?? 0),
      Timeout: formatGoDuration(definition.timeoutMs ?? 0),
      DeregisterCriticalServiceAfter: formatGoDuration(
        definition.deregisterCriticalServiceAfterMs ?? 0,
      ),
    },
    CreateIndex: check.createIndex,
    ModifyIndex: check.modifyIndex,
  };
  return json;
}

/** A `ServiceEntry` of `/v1/health/service/:name`. */
export function renderServiceHealth(entry: ServiceHealth): Json {
  return {
    Node: renderNode(entry.node),
    Service: renderService(entry.service, entry.node.datacenter),
    Checks: entry.checks.map(renderCheck),
  };
}

/** A session; `LockDelay` is in nanoseconds, `TTL` a Go duration string. */
export function renderSession(session: SessionRecord): Json {
  return {
    ID: session.id,
    Name: session.name,
    Node: session.node,
    LockDelay: Math.round(session.lockDelayMs * 1e6),
    Behavior: session.behavior,
    TTL: session.ttlMs > 0 ? formatGoDuration(session.ttlMs) : "",
    Checks: session.nodeChecks,
    NodeChecks: session.nodeChecks,
    ServiceChecks: session.serviceChecks.length === 0
      ? null
      : session.serviceChecks.map((check) => ({ ID: check.id, Namespace: check.namespace })),
    CreateIndex: session.createIndex,
    ModifyIndex: session.modifyIndex,
  };
}
