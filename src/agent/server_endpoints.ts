/**
 * What a server agent answers its client agents on the server RPC (port 8300), the other end of
 * `ForwardingServerApi` and `ForwardedDnsLookup`:
 *
 * - `clientHttp`: a forwarded HTTP data request, run against this server's own HTTP API; the
 *   answer (status, headers, body up to 3 MiB) goes back with this server's view of the leader;
 * - `clientPropose`: a catalog register/deregister or coordinate update, proposed here (and so
 *   forwarded to the leader when this server follows);
 * - `clientNode`: one node's catalog entry after a default-consistency read barrier;
 * - `clientDns`: a DNS lookup (service instances or a node) from this server's store, stale as
 *   Consul's DNS answers by default (`dns_config.allow_stale`); one naming another datacenter is
 *   asked of a server of that datacenter (none known: no instances, no node, as NXDOMAIN), and
 *   `{ datacenters: true }` lists the datacenters with a server known, this one included.
 *
 * @module
 */

import type { DnsLookup } from "../dns/dns_lookup.ts";
import type { DatacenterDnsSource, DnsRequest } from "./forwarded_dns.ts";
import { decodeForwardedRequest, executeForwarded } from "../http/forwarding.ts";
import type { RaftServer } from "../server/raft_server.ts";
import type { RpcHandler } from "../server/rpc.ts";
import type { Proposal } from "../server/proposal.ts";
import { clientProposalTypes } from "./forwarding_server_api.ts";

/** The HTTP handler of the server agent, once it exists. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * The handlers to register on the server RPC.
 *
 * @param server the Raft server
 * @param parts the agent's HTTP handler (late: the RPC answers before the HTTP API is built), its
 *   DNS view of the store, and its way to other datacenters' servers (none without a WAN pool)
 */
export function clientRpcHandlers(
  server: RaftServer,
  parts: {
    fetch: () => FetchHandler | undefined;
    dns: () => DnsLookup;
    datacenters?: () => DatacenterDnsSource | undefined;
  },
): Record<string, RpcHandler> {
  return {
    clientHttp: async (payload) => {
      const forwarded = decodeForwardedRequest(payload);
      if (forwarded === undefined) throw new Error("Cannot answer: a malformed forwarded request");
      const fetch = parts.fetch();
      if (fetch === undefined) throw new Error("Cannot answer: the server agent is starting");
      return await executeForwarded(fetch, forwarded, server.leaderAddress());
    },
    clientPropose: (payload) => {
      const type = (payload as { type?: unknown } | null)?.type;
      if (typeof type !== "string" || !clientProposalTypes.has(type) || Array.isArray(payload)) {
        return {
          ok: false,
          error: `Cannot propose from a client: "${String(type)}" is not a catalog write`,
          status: 400,
        };
      }
      return server.propose(payload as Proposal);
    },
    clientNode: async (payload) => {
      const node = (payload as { node?: unknown } | null)?.node;
      if (typeof node !== "string") throw new Error("Cannot read a node: the request names none");
      const refused = await server.readBarrier("default");
      if (refused !== undefined && !refused.ok) throw new Error(refused.error);
      const { node: record, services } = server.store.nodeServices(node).value;
      const checks = server.store.nodeChecks(node).value;
      return { node: record ?? null, services, checks, leader: server.leaderAddress() };
    },
    clientDns: (payload) => clientDns(payload, parts.dns(), parts.datacenters?.()),
  };
}

/**
 * Answers a client's DNS lookup: from `lookup` for this datacenter, through `others` for another
 * (none known to have a server: an empty answer, which DNS turns into NXDOMAIN).
 */
function clientDns(
  payload: unknown,
  lookup: DnsLookup,
  others: DatacenterDnsSource | undefined,
): unknown {
  const fields = payload as {
    service?: unknown;
    tag?: unknown;
    node?: unknown;
    datacenter?: unknown;
    datacenters?: unknown;
  } | null;
  const local = lookup.datacenter;
  if (fields?.datacenters === true) {
    return { datacenters: [local, ...others?.otherDatacenters(local) ?? []] };
  }
  let request: DnsRequest;
  if (typeof fields?.service === "string") {
    const tag = typeof fields.tag === "string" ? fields.tag : undefined;
    request = { service: fields.service, tag };
  } else if (typeof fields?.node === "string") request = { node: fields.node };
  else throw new Error("Cannot look up: the request names no service and no node");
  const datacenter = fields.datacenter;
  if (datacenter !== undefined && typeof datacenter !== "string") {
    throw new Error("Cannot look up: the datacenter must be a string");
  }
  if (datacenter === undefined || datacenter === local) {
    return "service" in request
      ? { instances: lookup.serviceInstances(request.service, request.tag) }
      : { node: lookup.node(request.node) ?? null };
  }
  if (others === undefined || !others.knows(datacenter)) {
    return "service" in request ? { instances: [] } : { node: null };
  }
  return others.lookupDns(datacenter, request);
}
