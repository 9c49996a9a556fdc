/**
 * `/v1/health/*` (Consul's `agent/health_endpoint.go`): checks of a node, of a service, in a
 * state, and the service entries (node, service, checks) that load balancers and DNS use.
 *
 * @module
 */

import { badRequest } from "./http_error.ts";
import { nodeMetaFilter, refuseFilter, sortNear } from "./catalog.ts";
import { renderCheck, renderServiceHealth } from "./render.ts";
import type { RequestContext, Routes } from "./routes.ts";

/** Registers the health endpoints. */
export function registerHealthRoutes(routes: Routes): void {
  routes.add("/v1/health/node/:node", { GET: nodeChecks });
  routes.add("/v1/health/checks/:service", { GET: serviceChecks });
  routes.add("/v1/health/service/:service", { GET: serviceHealth });
  routes.add("/v1/health/state/:state", { GET: checksInState });
}

async function nodeChecks(request: RequestContext): Promise<Response> {
  refuseFilter(request);
  const store = request.backend.server.store;
  const result = await request.block(() => store.nodeChecks(request.param("node")));
  return request.json(result.value.map(renderCheck), { index: result.index });
}

async function serviceChecks(request: RequestContext): Promise<Response> {
  refuseFilter(request);
  const store = request.backend.server.store;
  const result = await request.block(() => store.serviceChecks(request.param("service")));
  return request.json(result.value.map(renderCheck), { index: result.index });
}

async function serviceHealth(request: RequestContext): Promise<Response> {
  refuseFilter(request);
  const store = request.backend.server.store;
  const name = request.param("service");
  const options = { tags: request.query.all("tag"), passingOnly: request.query.flag("passing") };
  const matches = nodeMetaFilter(request);
  const result = await request.block(() => store.serviceHealth(name, options));
  const entries = sortNear(request, result.value.filter((entry) => matches(entry.node)));
  return request.json(entries.map(renderServiceHealth), { index: result.index });
}

async function checksInState(request: RequestContext): Promise<Response> {
  refuseFilter(request);
  const state = request.param("state");
  if (state !== "any" && state !== "passing" && state !== "warning" && state !== "critical") {
    throw badRequest(`Invalid state: "${state}" (want any, passing, warning or critical)`);
  }
  const store = request.backend.server.store;
  const result = await request.block(() => store.checksInState(state));
  return request.json(result.value.map(renderCheck), { index: result.index });
}
