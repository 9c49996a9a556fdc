/**
 * `/v1/catalog/*` (Consul's `agent/catalog_endpoint.go`): register and deregister nodes,
 * services and checks directly, and list datacenters, nodes and services.
 *
 * @module
 */

import { z } from "zod";
import { serviceSchema, toServiceInput } from "../agent/service_definition.ts";
import type { CheckInput, NodeInput, ServiceInput } from "../core/state/commands.ts";
import type { NodeRecord } from "../core/state/types.ts";
import { sortByDistance } from "../core/vivaldi/distance_sort.ts";
import { badRequest, HttpError } from "./http_error.ts";
import { ciObject, parseWith, readJson, stringMap } from "./json_input.ts";
import { renderCatalogService, renderNode, renderService } from "./render.ts";
import type { RequestContext, Routes } from "./routes.ts";

const healthStatus = z.enum(["passing", "warning", "critical"]);

const catalogCheck = ciObject({
  Node: z.string().default(""),
  CheckID: z.string().default(""),
  Name: z.string().default(""),
  Status: z.preprocess((value) => value === "" ? undefined : value, healthStatus.optional()),
  Notes: z.string().default(""),
  Output: z.string().default(""),
  ServiceID: z.string().default(""),
  Type: z.string().default(""),
});

const registerBody = ciObject({
  ID: z.string().default(""),
  Node: z.string().default(""),
  Address: z.string().default(""),
  Datacenter: z.string().default(""),
  TaggedAddresses: stringMap,
  NodeMeta: stringMap,
  Service: z.preprocess((value) => value ?? undefined, serviceSchema.optional()),
  Check: z.preprocess((value) => value ?? undefined, catalogCheck.optional()),
  Checks: z.preprocess((value) => value ?? [], z.array(catalogCheck)),
  SkipNodeUpdate: z.boolean().default(false),
});

const deregisterBody = ciObject({
  Node: z.string().default(""),
  Datacenter: z.string().default(""),
  ServiceID: z.string().default(""),
  CheckID: z.string().default(""),
});

/** Registers the catalog endpoints. */
export function registerCatalogRoutes(routes: Routes): void {
  routes.add("/v1/catalog/register", { PUT: registerEntity });
  routes.add("/v1/catalog/deregister", { PUT: deregisterEntity });
  routes.add("/v1/catalog/datacenters", { GET: datacenters });
  routes.add("/v1/catalog/nodes", { GET: nodes });
  routes.add("/v1/catalog/services", { GET: services });
  routes.add("/v1/catalog/service/:name", { GET: serviceNodes });
  routes.add("/v1/catalog/node/:node", { GET: nodeServices });
  routes.add("/v1/catalog/node-services/:node", { GET: nodeServiceList });
}

async function registerEntity(request: RequestContext): Promise<Response> {
  const raw = await readJson(request.hono.req.raw, request.backend.kvValueBytesMax);
  const body = parseWith(registerBody, raw, "register");
  if (body.Node === "") throw badRequest("Must provide node");
  if (body.Address === "" && !body.SkipNodeUpdate) throw badRequest("Must provide address");
  let service: ServiceInput | undefined;
  if (body.Service !== undefined) service = asServiceInput(body.Service);
  const checks = [...(body.Check === undefined ? [] : [body.Check]), ...body.Checks].map((check) =>
    toCheckInput(check)
  );
  const node: NodeInput = {
    id: body.ID,
    node: body.Node,
    address: body.Address,
    datacenter: request.backend.agent.datacenter,
    taggedAddresses: body.TaggedAddresses,
    meta: body.NodeMeta,
  };
  const result = await request.backend.server.propose({
    type: "register",
    node,
    skipNodeUpdate: body.SkipNodeUpdate,
    service,
    checks,
  });
  if (!result.ok) throw new HttpError(result.status, result.error);
  return request.json(true);
}

function asServiceInput(parsed: z.infer<typeof serviceSchema>): ServiceInput {
  try {
    return toServiceInput(parsed);
  } catch (error) {
    throw badRequest(`Invalid service: ${(error as Error).message}`);
  }
}

function toCheckInput(check: z.infer<typeof catalogCheck>): CheckInput {
  const checkId = check.CheckID !== "" ? check.CheckID : check.Name;
  if (checkId === "") throw badRequest("Missing check ID or name");
  return {
    checkId,
    name: check.Name !== "" ? check.Name : checkId,
    status: check.Status ?? "critical",
    notes: check.Notes,
    output: check.Output,
    // Without a ServiceID a check is a node check, even beside a service (as in Consul).
    serviceId: check.ServiceID,
    type: check.Type,
    intervalMs: 0,
    timeoutMs: 0,
    definition: {},
  };
}

async function deregisterEntity(request: RequestContext): Promise<Response> {
  const raw = await readJson(request.hono.req.raw, request.backend.kvValueBytesMax);
  const body = parseWith(deregisterBody, raw, "deregister");
  if (body.Node === "") throw badRequest("Must provide node");
  const result = await request.backend.server.propose({
    type: "deregister",
    node: body.Node,
    serviceId: body.ServiceID,
    checkId: body.CheckID,
  });
  if (!result.ok) throw new HttpError(result.status, result.error);
  return request.json(true);
}

/**
 * The datacenters the WAN pool knows, nearest first by median RTT (Consul's
 * `Router.GetDatacentersByDistance`); an agent without a WAN pool knows only its own.
 */
function datacenters(request: RequestContext): Response {
  const agent = request.backend.agent;
  return request.json(agent.datacenters?.() ?? [agent.datacenter]);
}

/** Parses `node-meta=key:value` filters (repeatable; all must match). */
export function nodeMetaFilter(request: RequestContext): (node: NodeRecord) => boolean {
  const pairs = request.query.all("node-meta").map((pair) => {
    const at = pair.indexOf(":");
    return at === -1 ? [pair, ""] : [pair.slice(0, at), pair.slice(at + 1)];
  });
  return (node) => pairs.every(([key, value]) => node.meta[key] === value);
}

/** Refuses `?filter=`: cairn does not evaluate filter expressions yet. */
export function refuseFilter(request: RequestContext): void {
  if (request.query.string("filter") === undefined) return;
  throw badRequest(
    "Failed to create evaluator for expression: ?filter is not supported by cairn yet",
  );
}

async function nodes(request: RequestContext): Promise<Response> {
  refuseFilter(request);
  const store = request.backend.server.store;
  const matches = nodeMetaFilter(request);
  const result = await request.block(() => store.nodes());
  const selected = result.value.filter(matches);
  return request.json(sortNear(request, selected).map(renderNode), { index: result.index });
}

/** `?near=_agent|<node>` sorts by estimated round-trip time from that node (Vivaldi). */
export function sortNear<T extends NodeRecord | { node: NodeRecord }>(
  request: RequestContext,
  items: T[],
): T[] {
  const near = request.query.string("near");
  if (near === undefined || near === "") return items;
  const target = near === "_agent" ? request.backend.agent.nodeName : near;
  const nameOf = (item: T) =>
    "node" in item && typeof item.node === "object"
      ? (item.node as NodeRecord).node
      : (item as NodeRecord).node;
  const store = request.backend.server.store;
  const origin = store.coordinate(target)?.coord;
  // Without a coordinate for the source (gossip has not measured it yet) only the source
  // itself can be placed: first, with the rest in catalog order.
  if (origin === undefined) {
    return [...items].sort((a, b) => Number(nameOf(b) === target) - Number(nameOf(a) === target));
  }
  return sortByDistance(origin, items, (item) => store.coordinate(nameOf(item))?.coord);
}

async function services(request: RequestContext): Promise<Response> {
  refuseFilter(request);
  const store = request.backend.server.store;
  const result = await request.block(() => store.services());
  const out: Record<string, string[]> = {};
  for (const [name, tags] of result.value) out[name] = tags;
  return request.json(out, { index: result.index });
}

async function serviceNodes(request: RequestContext): Promise<Response> {
  refuseFilter(request);
  const store = request.backend.server.store;
  const name = request.param("name");
  const tags = request.query.all("tag");
  const matches = nodeMetaFilter(request);
  const result = await request.block(() => store.serviceNodes(name, tags));
  const selected = sortNear(request, result.value.filter((entry) => matches(entry.node)));
  return request.json(
    selected.map((entry) => renderCatalogService(entry.node, entry.service)),
    { index: result.index },
  );
}

async function nodeServices(request: RequestContext): Promise<Response> {
  refuseFilter(request);
  const store = request.backend.server.store;
  const result = await request.block(() => store.nodeServices(request.param("node")));
  const node = result.value.node;
  if (node === undefined) return request.json(null, { index: result.index });
  const servicesById: Record<string, unknown> = {};
  for (const service of result.value.services) {
    servicesById[service.id] = renderService(service, node.datacenter);
  }
  return request.json({ Node: renderNode(node), Services: servicesById }, {
    index: result.index,
  });
}

async function nodeServiceList(request: RequestContext): Promise<Response> {
  refuseFilter(request);
  const store = request.backend.server.store;
  const result = await request.block(() => store.nodeServices(request.param("node")));
  const node = result.value.node;
  if (node === undefined) return request.json(null, { index: result.index });
  const list = result.value.services.map((service) => renderService(service, node.datacenter));
  return request.json({ Node: renderNode(node), Services: list }, { index: result.index });
}
