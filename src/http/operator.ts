/**
 * `/v1/operator/raft/*`: the Raft configuration and removing a server from it, as Consul's
 * `operator_endpoint.go` answers them (`ProtocolVersion` is always "3", Raft protocol 3); and
 * `/v1/operator/keyring`: the LAN pool's keys. The keyring is fixed at start (`-encrypt`), so
 * listing works and install/use/remove answer 500 "Cannot change the keyring: ...".
 *
 * @module
 */

import { HttpError } from "./http_error.ts";
import type { RequestContext, Routes } from "./routes.ts";

/** Registers the operator endpoints. */
export function registerOperatorRoutes(routes: Routes): void {
  const changeKeyring = () => {
    // The pool's keyring is fixed at start; say so rather than pretend (docs/compatibility.md).
    throw new HttpError(
      500,
      "Cannot change the keyring: this agent's keyring is fixed at start (-encrypt); " +
        "restart the agents with the new key",
    );
  };
  routes.add("/v1/operator/keyring", {
    GET: listKeyring,
    POST: changeKeyring,
    PUT: changeKeyring,
    DELETE: changeKeyring,
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

function listKeyring(request: RequestContext): Response {
  const agent = request.backend.agent;
  if (agent.keyring === undefined) {
    throw new HttpError(500, "Cannot list the keyring: this agent runs no gossip pool");
  }
  const { keys, primary, numNodes } = agent.keyring();
  return request.json([{
    WAN: false,
    Datacenter: agent.datacenter,
    Segment: "",
    Keys: Object.fromEntries(keys.map((key) => [key, numNodes])),
    PrimaryKeys: { [primary]: numNodes },
    NumNodes: numNodes,
  }]);
}
