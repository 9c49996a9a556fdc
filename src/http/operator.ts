/**
 * `/v1/operator/raft/*`: the Raft configuration and removing a server from it, as Consul's
 * `operator_endpoint.go` answers them (`ProtocolVersion` is always "3", Raft protocol 3); and
 * `/v1/operator/keyring`: list (GET), install (POST), use (PUT) and remove (DELETE) a gossip
 * key on every member of the WAN pool (servers) and the LAN pool, through Serf's keyring
 * queries. As Consul: the list answers one entry per pool; a change answers 200 with an empty
 * body; when a member failed or did not answer, 500 with each pool's error and the members'
 * messages (`keyringErrorsOrNil`).
 *
 * @module
 */

import { z } from "zod";
import type { KeyringAction, KeyringPoolResponse } from "./api_backend.ts";
import { badRequest, HttpError } from "./http_error.ts";
import { ciObject, parseWith, readJson } from "./json_input.ts";
import type { RequestContext, Routes } from "./routes.ts";

const keyringBody = ciObject({ Key: z.string().min(1, "must be a base64 key") });

/** Largest `?relay-factor` Consul accepts (`maxRelayFactor`). */
export const keyringRelayFactorMax = 5;

/** Registers the operator endpoints. */
export function registerOperatorRoutes(routes: Routes): void {
  routes.add("/v1/operator/keyring", {
    GET: (request: RequestContext) => keyring(request, "list"),
    POST: (request: RequestContext) => keyring(request, "install"),
    PUT: (request: RequestContext) => keyring(request, "use"),
    DELETE: (request: RequestContext) => keyring(request, "remove"),
  });
  routes.add("/v1/operator/raft/configuration", {
    GET: (request: RequestContext) => {
      const server = request.backend.server;
      if (server.raftConfiguration === undefined) {
        throw new HttpError(500, "Cannot read the Raft configuration: this agent has no server");
      }
      const { servers, index } = server.raftConfiguration();
      return request.json({
        Servers: servers.map((entry) => ({
          ID: entry.id,
          Node: entry.node,
          Address: entry.address,
          Leader: entry.leader,
          Voter: entry.voter,
          ProtocolVersion: "3",
        })),
        Index: index,
      });
    },
  });
  routes.add("/v1/operator/raft/peer", {
    DELETE: async (request: RequestContext) => {
      const id = request.url.searchParams.get("id") ?? "";
      const address = request.url.searchParams.get("address") ?? "";
      if ((id === "") === (address === "")) {
        // Consul's words for the same mistake.
        throw new HttpError(
          400,
          "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
        );
      }
      const server = request.backend.server;
      if (server.removeRaftPeer === undefined) {
        throw new HttpError(500, "Cannot remove a Raft peer: this agent has no server");
      }
      const result = await server.removeRaftPeer(id === "" ? { address } : { id });
      if (!result.ok) throw new HttpError(result.status, result.error);
      return request.text("");
    },
  });
}

async function keyring(request: RequestContext, action: KeyringAction): Promise<Response> {
  const agent = request.backend.agent;
  if (agent.keyring === undefined) {
    throw new HttpError(500, "Cannot use the keyring: this agent runs no gossip pool");
  }
  const relayFactor = request.query.integer("relay-factor", "relay-factor") ?? 0;
  if (relayFactor < 0 || relayFactor > keyringRelayFactorMax) {
    // Consul's words (`agent/operator_endpoint.go`).
    throw badRequest(`Relay factor must be in range: [0, ${keyringRelayFactorMax}]`);
  }
  const localOnly = request.query.flag("local-only");
  if (localOnly && action !== "list") {
    throw badRequest("Cannot use ?local-only: it applies to listing keys (GET) only");
  }
  let key = "";
  if (action !== "list") {
    const raw = await readJson(request.hono.req.raw, request.backend.kvValueBytesMax);
    key = parseWith(keyringBody, raw, "keyring request").Key;
  }
  let responses: KeyringPoolResponse[];
  try {
    responses = await agent.keyring(action, key, { relayFactor, localOnly });
  } catch (error) {
    // A key that is not base64 of 16, 24 or 32 bytes is the caller's mistake.
    if (error instanceof RangeError && /^Cannot use (the|encryption) key:/.test(error.message)) {
      throw badRequest(error.message);
    }
    throw error;
  }
  const failure = keyringFailure(responses);
  if (failure !== undefined) throw new HttpError(500, failure);
  if (action !== "list") return request.text("");
  return request.json(responses.map((response) => ({
    WAN: response.wan,
    Datacenter: response.datacenter,
    Segment: "",
    Messages: response.messages,
    Keys: response.keys,
    PrimaryKeys: response.primaryKeys,
    NumNodes: response.numNodes,
    NumResp: response.numResp,
    NumErr: response.numErr,
  })));
}

/**
 * Consul's `keyringErrorsOrNil`: one line per pool that reported an error, then one per member
 * message of that pool; `undefined` when every pool succeeded.
 */
export function keyringFailure(responses: readonly KeyringPoolResponse[]): string | undefined {
  const lines: string[] = [];
  for (const response of responses) {
    if (response.error === "") continue;
    const pool = response.wan ? "WAN" : `${response.datacenter} (LAN)`;
    lines.push(`${pool} error: ${response.error}`);
    for (const [node, message] of Object.entries(response.messages).sort()) {
      lines.push(`${node}: ${message}`);
    }
  }
  return lines.length === 0 ? undefined : lines.join("\n");
}
