/**
 * `/v1/event/*`: fire a user event and list the recent ones (blocking on a new one). Names that
 * start with "_" are reserved, as in Consul.
 *
 * @module
 */

import { encodeBase64 } from "../core/base64.ts";
import type { UserEvent } from "./api_backend.ts";
import { badRequest } from "./http_error.ts";
import { readBody } from "./json_input.ts";
import type { RequestContext, Routes } from "./routes.ts";

/** Largest event payload: Serf's user event limit. */
export const eventPayloadBytesMax = 512;

/** Registers the event endpoints. */
export function registerEventRoutes(routes: Routes): void {
  routes.add("/v1/event/fire/:name", { PUT: fire });
  routes.add("/v1/event/list", { GET: list });
}

function renderEvent(event: UserEvent): Record<string, unknown> {
  return {
    ID: event.id,
    Name: event.name,
    Payload: event.payload === undefined ? null : encodeBase64(event.payload),
    NodeFilter: event.nodeFilter,
    ServiceFilter: event.serviceFilter,
    TagFilter: event.tagFilter,
    Version: event.version,
    LTime: event.lTime,
  };
}

async function fire(request: RequestContext): Promise<Response> {
  const name = request.param("name");
  if (name === "") throw badRequest("Missing name");
  if (name.startsWith("_")) {
    throw badRequest("Invalid event name: names starting with _ are reserved");
  }
  const body = await readBody(request.hono.req.raw, eventPayloadBytesMax);
  const event = await request.backend.agent.fireEvent({
    name,
    payload: body.length === 0 ? undefined : body,
    nodeFilter: request.query.string("node") ?? "",
    serviceFilter: request.query.string("service") ?? "",
    tagFilter: request.query.string("tag") ?? "",
  });
  return request.json(renderEvent(event));
}

async function list(request: RequestContext): Promise<Response> {
  const agent = request.backend.agent;
  const name = request.query.string("name") ?? "";
  const result = await request.block(() => {
    const { index, events } = agent.events();
    const matching = events.filter((event) => name === "" || event.name === name);
    return { index, value: matching, topics: [agent.eventTopic], prefixes: [] };
  });
  return request.json(result.value.map(renderEvent), { index: result.index });
}
