/**
 * `/v1/agent/*` (Consul's `agent/agent_endpoint.go`): the local agent's services, checks,
 * maintenance, members and self-description. Writes answer 200 with an empty body.
 *
 * @module
 */

import { z } from "zod";
import type { HealthStatus } from "../core/state/types.ts";
import type { MemberView } from "./api_backend.ts";
import { badRequest } from "./http_error.ts";
import { ciObject, parseWith, readJson } from "./json_input.ts";
import { renderAgentService, renderCheck } from "./render.ts";
import type { RequestContext, Routes } from "./routes.ts";

const updateBody = ciObject({
  Status: z.enum(["passing", "warning", "critical"]),
  Output: z.string().default(""),
});

/** Registers the agent endpoints. */
export function registerAgentRoutes(routes: Routes): void {
  routes.add("/v1/agent/self", { GET: (request) => request.json(request.backend.agent.self()) });
  routes.add("/v1/agent/version", { GET: version });
  routes.add("/v1/agent/members", { GET: members });
  routes.add("/v1/agent/services", { GET: services });
  routes.add("/v1/agent/service/:id", { GET: service });
  routes.add("/v1/agent/checks", { GET: checks });
  routes.add("/v1/agent/service/register", { PUT: registerService });
  // GET on these writes is what Consul before 1.0 accepted and python-consul 0.7 (Debian's
  // python3-consul) still sends; cairn keeps accepting it (see docs/compatibility.md).
  routes.add("/v1/agent/service/deregister/:id", {
    PUT: deregisterService,
    GET: deregisterService,
  });
  routes.add("/v1/agent/service/maintenance/:id", { PUT: serviceMaintenance });
  routes.add("/v1/agent/maintenance", { PUT: nodeMaintenance });
  routes.add("/v1/agent/check/register", { PUT: registerCheck });
  routes.add("/v1/agent/check/deregister/:id", { PUT: deregisterCheck, GET: deregisterCheck });
  for (const [verb, status] of [["pass", "passing"], ["warn", "warning"], ["fail", "critical"]]) {
    const handler = (request: RequestContext) => ttlNote(request, status as HealthStatus);
    routes.add(`/v1/agent/check/${verb}/:id`, { PUT: handler, GET: handler });
  }
  routes.add("/v1/agent/check/update/:id", { PUT: ttlUpdate });
  routes.add("/v1/agent/leave", { PUT: leave });
  routes.add("/v1/agent/join/:address", { PUT: join });
  routes.add("/v1/agent/force-leave/:node", { PUT: forceLeave });
}

function version(request: RequestContext): Response {
  const self = request.backend.agent.self() as { Config?: { Version?: string } };
  const human = self.Config?.Version ?? "";
  return request.json({ SHA: "", BuildDate: "", HumanVersion: human, FIPS: "" });
}

/** A member as `/v1/agent/members` renders it. */
export function renderMember(member: MemberView): Record<string, unknown> {
  const versions = member.versions?.length === 6 ? member.versions : [1, 5, 2, 2, 5, 4];
  return {
    Name: member.name,
    Addr: member.addr,
    Port: member.port,
    Tags: member.tags,
    Status: member.status,
    // memberlist's Vsn bytes when the pool knows them; a gossip-less agent shows serf 0.9.4's.
    ProtocolMin: versions[0],
    ProtocolMax: versions[1],
    ProtocolCur: versions[2],
    DelegateMin: versions[3],
    DelegateMax: versions[4],
    DelegateCur: versions[5],
  };
}

function members(request: RequestContext): Response {
  const wan = request.query.flag("wan");
  return request.json(request.backend.agent.members(wan).map(renderMember));
}

function services(request: RequestContext): Response {
  const agent = request.backend.agent;
  const out: Record<string, unknown> = {};
  for (const service of agent.services()) {
    out[service.id] = renderAgentService(service, agent.datacenter);
  }
  return request.json(out);
}

async function service(request: RequestContext): Promise<Response> {
  const agent = request.backend.agent;
  const id = request.param("id");
  const found = agent.services().find((candidate) => candidate.id === id);
  if (found === undefined) {
    return request.text(`unknown service ID: ${id}`, { status: 404 });
  }
  const rendered = renderAgentService(found, agent.datacenter);
  const hash = await contentHash(JSON.stringify(rendered));
  return new Response(JSON.stringify({ ...rendered, ContentHash: hash }), {
    headers: { "Content-Type": "application/json", "X-Consul-ContentHash": hash },
  });
}

async function contentHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest).slice(0, 8)].map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

function checks(request: RequestContext): Response {
  const out: Record<string, unknown> = {};
  for (const check of request.backend.agent.checks()) out[check.checkId] = renderCheck(check);
  return request.json(out);
}

async function registerService(request: RequestContext): Promise<Response> {
  const body = await readJson(request.hono.req.raw, request.backend.kvValueBytesMax);
  const replaceExistingChecks = request.query.flag("replace-existing-checks");
  await request.backend.agent.registerService(body, { replaceExistingChecks });
  return request.text("");
}

async function deregisterService(request: RequestContext): Promise<Response> {
  await request.backend.agent.deregisterService(request.param("id"));
  return request.text("");
}

function enableFlag(request: RequestContext): boolean {
  const value = request.query.string("enable");
  if (value === undefined) throw badRequest("Missing value for enable");
  if (value !== "true" && value !== "false") throw badRequest("Invalid value for enable");
  return value === "true";
}

async function serviceMaintenance(request: RequestContext): Promise<Response> {
  const enable = enableFlag(request);
  const reason = request.query.string("reason") ?? "";
  await request.backend.agent.setServiceMaintenance(request.param("id"), enable, reason);
  return request.text("");
}

async function nodeMaintenance(request: RequestContext): Promise<Response> {
  const enable = enableFlag(request);
  await request.backend.agent.setNodeMaintenance(enable, request.query.string("reason") ?? "");
  return request.text("");
}

async function registerCheck(request: RequestContext): Promise<Response> {
  const body = await readJson(request.hono.req.raw, request.backend.kvValueBytesMax);
  await request.backend.agent.registerCheck(body);
  return request.text("");
}

async function deregisterCheck(request: RequestContext): Promise<Response> {
  await request.backend.agent.deregisterCheck(request.param("id"));
  return request.text("");
}

async function ttlNote(request: RequestContext, status: HealthStatus): Promise<Response> {
  const note = request.query.string("note") ?? "";
  await request.backend.agent.updateTtlCheck(request.param("id"), status, note);
  return request.text("");
}

async function ttlUpdate(request: RequestContext): Promise<Response> {
  const raw = await readJson(request.hono.req.raw, request.backend.kvValueBytesMax);
  const body = parseWith(updateBody, raw, "check update");
  await request.backend.agent.updateTtlCheck(request.param("id"), body.Status, body.Output);
  return request.text("");
}

async function join(request: RequestContext): Promise<Response> {
  const agent = request.backend.agent;
  // Consul answers a failed join with 500 and the reason.
  if (agent.join === undefined) throw new Error("Cannot join: this agent runs no gossip pool");
  await agent.join(request.param("address"), request.query.flag("wan"));
  return request.text("");
}

async function forceLeave(request: RequestContext): Promise<Response> {
  const agent = request.backend.agent;
  if (agent.forceLeave === undefined) {
    throw new Error("Cannot force-leave: this agent runs no gossip pool");
  }
  const node = request.param("node");
  if (node === "") throw badRequest("Missing node name");
  await agent.forceLeave(node, request.query.flag("prune"), request.query.flag("wan"));
  return request.text("");
}

async function leave(request: RequestContext): Promise<Response> {
  await request.backend.agent.leave();
  return request.text("");
}
