/**
 * `/v1/session/*` (Consul's `agent/session_endpoint.go`): create, destroy, renew and read
 * sessions. TTLs run on the leader at twice their value (Consul's SessionTTLMultiplier).
 *
 * @module
 */

import { z } from "zod";
import { parseGoDurationMs } from "../core/go_duration.ts";
import { randomUuid } from "../core/uuid.ts";
import type { SessionInput } from "../core/state/commands.ts";
import { HttpError } from "./http_error.ts";
import { ciObject, parseWith, readJson } from "./json_input.ts";
import { renderSession } from "./render.ts";
import type { RequestContext, Routes } from "./routes.ts";

/** Session limits, as Consul's defaults. */
export const sessionTtlMinMs = 10_000;
/** The longest session TTL: 24 h (Consul's SessionTTLMax). */
export const sessionTtlMaxMs = 86_400_000;
const lockDelayDefaultMs = 15_000;
const lockDelayMaxMs = 60_000;

const durationInput = z.union([z.string(), z.number()]).optional().nullable();

const createBody = ciObject({
  ID: z.string().optional(),
  Name: z.string().default(""),
  Node: z.string().default(""),
  LockDelay: durationInput,
  Behavior: z.string().default(""),
  TTL: z.string().default(""),
  Checks: z.array(z.string()).optional().nullable(),
  NodeChecks: z.array(z.string()).optional().nullable(),
  ServiceChecks: z.array(ciObject({ ID: z.string(), Namespace: z.string().default("") }))
    .optional().nullable(),
});

/** Registers the session endpoints. */
export function registerSessionRoutes(routes: Routes): void {
  routes.add("/v1/session/create", { PUT: createSession });
  routes.add("/v1/session/destroy/:id", { PUT: destroySession });
  routes.add("/v1/session/renew/:id", { PUT: renewSession });
  routes.add("/v1/session/info/:id", { GET: sessionInfo });
  routes.add("/v1/session/node/:node", { GET: nodeSessions });
  routes.add("/v1/session/list", { GET: listSessions });
}

function lockDelayMs(value: string | number | null | undefined): number {
  if (value === undefined || value === null) return lockDelayDefaultMs;
  // Consul reads small numbers as seconds and large ones as nanoseconds (FixupLockDelay).
  if (typeof value === "number") return value < 1_000 ? value * 1_000 : value / 1e6;
  try {
    return parseGoDurationMs(value);
  } catch (error) {
    throw new HttpError(400, `Request decode failed: ${(error as Error).message}`);
  }
}

function sessionTtlMs(text: string): number {
  if (text === "") return 0;
  let ttlMs: number;
  try {
    ttlMs = parseGoDurationMs(text);
  } catch {
    throw new HttpError(500, `Invalid Session TTL '${text}': not a duration`);
  }
  if (ttlMs !== 0 && (ttlMs < sessionTtlMinMs || ttlMs > sessionTtlMaxMs)) {
    throw new HttpError(500, `Invalid Session TTL '${text}', must be between [10s=24h0m0s]`);
  }
  return ttlMs;
}

async function createSession(request: RequestContext): Promise<Response> {
  const raw = await readJson(request.hono.req.raw, request.backend.kvValueBytesMax);
  const body = parseWith(createBody, raw ?? {}, "session");
  const behavior = body.Behavior === "" ? "release" : body.Behavior;
  if (behavior !== "release" && behavior !== "delete") {
    throw new HttpError(500, `Invalid Behavior setting '${behavior}'`);
  }
  const delayMs = lockDelayMs(body.LockDelay);
  if (delayMs < 0 || delayMs > lockDelayMaxMs) {
    throw new HttpError(500, `Invalid LockDelay: must be between 0s and 1m0s`);
  }
  // Consul decodes the body over defaults (serfHealth in both Checks and NodeChecks), then
  // applies fixupEmptySessionChecks (agent/session_endpoint.go): an empty Checks empties
  // NodeChecks, the default Checks is dropped, an empty NodeChecks drops Checks. ServiceChecks
  // alone keep serfHealth. The session then depends on both lists.
  let nodeChecks = body.NodeChecks === undefined ? ["serfHealth"] : body.NodeChecks ?? [];
  let legacy = body.Checks === undefined ? ["serfHealth"] : body.Checks ?? [];
  if (legacy.length === 0) nodeChecks = [];
  else if (legacy.length === 1 && legacy[0] === "serfHealth") legacy = [];
  else if (nodeChecks.length === 0) legacy = [];
  const session: SessionInput = {
    id: randomUuid((bytes) => request.backend.runtime.randomBytes(bytes)),
    name: body.Name,
    node: body.Node !== "" ? body.Node : request.backend.agent.nodeName,
    lockDelayMs: delayMs,
    behavior,
    ttlMs: sessionTtlMs(body.TTL),
    nodeChecks: [...new Set([...nodeChecks, ...legacy])],
    serviceChecks: (body.ServiceChecks ?? []).map((check) => ({
      id: check.ID,
      namespace: check.Namespace,
    })),
  };
  const result = await request.backend.server.propose({ type: "sessionCreate", session });
  if (!result.ok) throw new HttpError(result.status, result.error);
  return request.json({ ID: session.id });
}

async function destroySession(request: RequestContext): Promise<Response> {
  const result = await request.backend.server.propose({
    type: "sessionDestroy",
    id: request.param("id"),
  });
  if (!result.ok) throw new HttpError(result.status, result.error);
  return request.json(true);
}

function renewSession(request: RequestContext): Response {
  const id = request.param("id");
  const server = request.backend.server;
  if (!server.renewSession(id)) {
    throw new HttpError(404, `Session id '${id}' not found`);
  }
  const result = server.store.session(id);
  return request.json(result.value.map(renderSession), { index: result.index });
}

async function sessionInfo(request: RequestContext): Promise<Response> {
  const store = request.backend.server.store;
  const result = await request.block(() => store.session(request.param("id")));
  return request.json(result.value.map(renderSession), { index: result.index });
}

async function nodeSessions(request: RequestContext): Promise<Response> {
  const store = request.backend.server.store;
  const result = await request.block(() => store.nodeSessions(request.param("node")));
  return request.json(result.value.map(renderSession), { index: result.index });
}

async function listSessions(request: RequestContext): Promise<Response> {
  const store = request.backend.server.store;
  const result = await request.block(() => store.sessionList());
  return request.json(result.value.map(renderSession), { index: result.index });
}
