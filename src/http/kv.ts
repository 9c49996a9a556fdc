/**
 * `/v1/kv/*` (Consul's `agent/kvs_endpoint.go`): get one key, a tree or its keys; put with
 * flags, cas, acquire and release; delete one key or a tree, optionally with cas.
 *
 * @module
 */

import type { KvDeleteVerb, KvOp, KvSetVerb } from "../core/state/commands.ts";
import { badRequest, HttpError } from "./http_error.ts";
import { readBody } from "./json_input.ts";
import { renderKv } from "./render.ts";
import type { RequestContext, Routes } from "./routes.ts";

const prefix = "/v1/kv/";

/** Registers the KV endpoints. */
export function registerKvRoutes(routes: Routes): void {
  const handlers = { GET: getKv, PUT: putKv, DELETE: deleteKv };
  routes.add("/v1/kv", handlers);
  routes.add("/v1/kv/*", handlers);
}

function keyOf(request: RequestContext): string {
  return request.url.pathname.length <= prefix.length ? "" : request.rest(prefix);
}

async function getKv(request: RequestContext): Promise<Response> {
  const key = keyOf(request);
  const query = request.query;
  const store = request.backend.server.store;
  if (query.flag("keys")) {
    const separator = query.string("separator") ?? query.string("seperator") ?? "";
    const result = await request.block(() => store.kvKeys(key, separator));
    if (result.value.length === 0 && key !== "") return request.text("", notFound(result.index));
    return request.json(result.value, { index: result.index });
  }
  if (query.flag("recurse")) {
    const result = await request.block(() => store.kvList(key));
    if (result.value.length === 0) return request.text("", notFound(result.index));
    return request.json(result.value.map((record) => renderKv(record)), { index: result.index });
  }
  if (key === "") throw badRequest("Missing key name");
  const result = await request.block(() => store.kvGet(key));
  const record = result.value;
  if (record === undefined) return request.text("", notFound(result.index));
  if (query.flag("raw")) return rawValue(record.value, result.index);
  return request.json([renderKv(record)], { index: result.index });
}

function notFound(index: number) {
  return { status: 404, index };
}

function rawValue(value: Uint8Array, index: number): Response {
  return new Response(value as Uint8Array<ArrayBuffer>, {
    status: 200,
    headers: {
      "Content-Type": "text/plain",
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "sandbox",
      "X-Consul-Index": String(index),
      "X-Consul-KnownLeader": "true",
      "X-Consul-LastContact": "0",
    },
  });
}

async function putKv(request: RequestContext): Promise<Response> {
  const key = keyOf(request);
  if (key === "") throw badRequest("Missing key name");
  const query = request.query;
  const conflicting = ["cas", "acquire", "release"].filter((name) =>
    query.string(name) !== undefined
  );
  if (conflicting.length > 1) throw badRequest(`Conflicting flags: ${conflicting.join(", ")}`);
  const flags = query.uint64("flags") ?? 0;
  const value = await readBody(request.hono.req.raw, request.backend.kvValueBytesMax);
  let verb: KvSetVerb = "set";
  let session = "";
  let index = 0;
  if (query.string("cas") !== undefined) {
    verb = "cas";
    index = query.integer("cas", "cas index") ?? 0;
  } else if (query.string("acquire") !== undefined) {
    verb = "lock";
    session = query.string("acquire") ?? "";
  } else if (query.string("release") !== undefined) {
    verb = "unlock";
    session = query.string("release") ?? "";
  }
  const op: KvOp = { verb, key, value, flags, index, session };
  return await proposeKv(request, { type: "kvSet", op });
}

async function deleteKv(request: RequestContext): Promise<Response> {
  const key = keyOf(request);
  const query = request.query;
  const recurse = query.flag("recurse");
  const cas = query.integer("cas", "cas index");
  if (recurse && cas !== undefined) throw badRequest("Conflicting flags: cas, recurse");
  if (key === "" && !recurse) throw badRequest("Missing key name");
  const verb: KvDeleteVerb = recurse ? "delete-tree" : cas !== undefined ? "delete-cas" : "delete";
  const op: KvOp = { verb, key, value: new Uint8Array(0), flags: 0, index: cas ?? 0, session: "" };
  return await proposeKv(request, { type: "kvDelete", op });
}

async function proposeKv(
  request: RequestContext,
  proposal: { type: "kvSet" | "kvDelete"; op: KvOp },
): Promise<Response> {
  const result = await request.backend.server.propose(proposal);
  if (!result.ok) throw new HttpError(result.status, result.error);
  return request.json(result.value === true);
}
