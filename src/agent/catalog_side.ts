/**
 * Where an agent's catalog lives, in the two shapes an agent takes:
 *
 * - **server** (and `-dev`): its own Raft server and state store; HTTP reads the store, writes
 *   go through the log, DNS reads the store;
 * - **client**: no store; a {@link ServerRouter} reaches a server picked from LAN gossip, HTTP
 *   data requests are forwarded to it, anti-entropy writes through it, and DNS answers come from
 *   it with a bounded staleness (`forwarded_dns.ts`).
 *
 * The agent builds one {@link CatalogSide} at start and never asks which shape it has beyond it.
 *
 * @module
 */

import { WatchHub } from "../core/state/watches.ts";
import type { DnsLookup } from "../dns/dns_lookup.ts";
import type { ServerApi } from "../http/api_backend.ts";
import type { RaftServer } from "../server/raft_server.ts";
import type { Runtime } from "../runtime.ts";
import { type NodeCatalog, storeNodeCatalog } from "./anti_entropy.ts";
import { DnsCatalog } from "./dns_catalog.ts";
import { ForwardedDnsLookup } from "./forwarded_dns.ts";
import { ForwardingServerApi } from "./forwarding_server_api.ts";
import { type GossipMember, ServerFinder } from "./server_finder.ts";
import { ServerRouter } from "./server_router.ts";

/** The agent's way to its catalog. */
export interface CatalogSide {
  /** What the HTTP API reads and writes through. */
  readonly api: ServerApi;
  /** What anti-entropy syncs through. */
  readonly catalog: NodeCatalog;
  /** Where blocking queries (and agent-local watchers) wait. */
  readonly watches: WatchHub;
  /** What DNS answers from. */
  readonly dns: DnsLookup;
  /** On a client: answers a forwarded HTTP data request through a server. */
  readonly forward?: (request: Request) => Promise<Response>;
  /** On a server: its Raft server. */
  readonly raft?: RaftServer;
  /** On a client: its way to the servers. */
  readonly router?: ServerRouter;
  /** Closes what the side opened (the Raft server is stopped by the agent). */
  close(): Promise<void>;
}

/** The catalog of a server agent: its own Raft server. */
export function serverSide(
  server: RaftServer,
  options: { datacenter: string; domain: string },
): CatalogSide {
  const api: ServerApi = {
    store: server.store,
    propose: (proposal) => server.propose(proposal),
    renewSession: (id) => server.renewSession(id),
    readBarrier: (mode) => server.readBarrier(mode),
    leaseValid: () => server.leaseValid(),
    leaderAddress: () => server.leaderAddress(),
    peers: () => server.peers(),
    lastContactMs: () => server.lastContactMs(),
    raftConfiguration: () => server.configuration(),
    removeRaftPeer: (selector) => server.removePeer(selector),
  };
  return {
    api,
    catalog: storeNodeCatalog(api),
    watches: server.store.watches,
    dns: new DnsCatalog(server.store, options),
    raft: server,
    close: () => Promise.resolve(),
  };
}

/** The catalog of a client agent: the servers its LAN pool knows. */
export function clientSide(
  runtime: Runtime,
  options: { datacenter: string; domain: string; members: () => readonly GossipMember[] },
): CatalogSide {
  const nowMs = () => runtime.clock.monotonicMs();
  const finder = new ServerFinder({
    members: options.members,
    datacenter: options.datacenter,
    nowMs,
    random: () => {
      const bytes = runtime.randomBytes(new Uint8Array(4));
      return new DataView(bytes.buffer).getUint32(0) / 2 ** 32;
    },
  });
  const router = new ServerRouter(runtime, finder);
  const api = new ForwardingServerApi(router);
  return {
    api,
    catalog: api,
    watches: new WatchHub(),
    dns: new ForwardedDnsLookup(router, { ...options, nowMs }),
    forward: (request) => api.forward(request),
    router,
    close: () => router.close(),
  };
}
