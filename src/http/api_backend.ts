/**
 * What the HTTP API needs from the agent and its server: the state store for reads, a way to
 * propose writes, and the agent's own local state. The HTTP layer never reaches further.
 *
 * @module
 */

import type { ApplyResult } from "../core/state/commands.ts";
import type { StateStore } from "../core/state/state_store.ts";
import type { WatchHub } from "../core/state/watches.ts";
import type { CheckRecord, HealthStatus, ServiceRecord } from "../core/state/types.ts";
import type { Runtime } from "../runtime.ts";
import type { Proposal } from "../server/proposal.ts";
import type { BlockingConfig } from "./blocking_query.ts";

/** A gossip member as `/v1/agent/members` lists it. */
export interface MemberView {
  name: string;
  addr: string;
  port: number;
  tags: Record<string, string>;
  /** 1 alive, 2 leaving, 3 left, 4 failed */
  status: number;
  /** memberlist `Vsn`: protocol min, max, current, delegate min, max, current; when known. */
  versions?: number[];
}

/** A user event as `/v1/event` shows it. */
export interface UserEvent {
  id: string;
  name: string;
  payload: Uint8Array | undefined;
  nodeFilter: string;
  serviceFilter: string;
  tagFilter: string;
  version: number;
  lTime: number;
}

/** The server side: the replicated state. */
export interface ServerApi {
  readonly store: StateStore;
  /** Writes through the log (and later Raft); resolves with the apply result. */
  propose(proposal: Proposal): Promise<ApplyResult>;
  /** Resets a session's TTL; false when it does not exist. */
  renewSession(id: string): boolean;
  /**
   * For `?consistent` reads (and default reads without a leader lease here): resolves once
   * this server may answer linearizably (a read-index round, then applied through it; on a
   * follower the leader's read index is fetched over the server RPC); `undefined` when it may,
   * else the error to answer.
   */
  readBarrier(mode?: "default" | "consistent"): Promise<ApplyResult | undefined>;
  /** For default reads: true while this server leads with a valid leader lease. */
  leaseValid(): boolean;
  /** "ip:port" of the leader, "" when none. */
  leaderAddress(): string;
  /** "ip:port" of every voter. */
  peers(): string[];
  /** Milliseconds since the leader was last heard (0 on the leader), for `X-Consul-LastContact`. */
  lastContactMs?(): number | undefined;
  /** The Raft configuration, for `/v1/operator/raft/configuration`. */
  raftConfiguration?(): {
    servers: { id: string; node: string; address: string; leader: boolean; voter: boolean }[];
    index: number;
  };
  /** Removes a server from the Raft configuration by id or address (on the leader). */
  removeRaftPeer?(selector: { id?: string; address?: string }): Promise<ApplyResult>;
}

/**
 * One gossip pool's answer to a keyring operation (Consul's `structs.KeyringResponse`): the
 * members' answers to Serf's keyring query, added up.
 */
export interface KeyringPoolResponse {
  /** Whether this is the WAN pool. */
  wan: boolean;
  /** The datacenter of the LAN pool (ours for the WAN pool). */
  datacenter: string;
  /** Members asked (alive when the query left). */
  numNodes: number;
  /** Members that answered. */
  numResp: number;
  /** Members that answered with a failure. */
  numErr: number;
  /** Per member: its error or warning. */
  messages: Record<string, string>;
  /** Per installed key (base64): members holding it (list only). */
  keys: Record<string, number>;
  /** Per primary key (base64): members using it (list only). */
  primaryKeys: Record<string, number>;
  /** Serf's verdict: "" when every member succeeded, else e.g. "1/3 nodes reported failure". */
  error: string;
}

/** A keyring operation: `GET` lists, `POST` installs, `PUT` uses, `DELETE` removes. */
export type KeyringAction = "list" | "install" | "use" | "remove";

/** Consul's keyring query parameters. */
export interface KeyringOptions {
  /** `?relay-factor`: members each answer is also relayed through (0..5). */
  relayFactor?: number;
  /** `?local-only` (list only): this agent's own keys, without asking the cluster. */
  localOnly?: boolean;
}

/** One datacenter's server coordinates in the WAN pool (`/v1/coordinate/datacenters`). */
export interface WanDatacenterView {
  datacenter: string;
  coordinates: {
    node: string;
    coord: { vec: number[]; error: number; adjustment: number; height: number };
  }[];
}

/** The agent side: local services and checks, members, events. */
export interface AgentApi {
  readonly nodeName: string;
  readonly datacenter: string;
  /** Local services by id. */
  services(): ServiceRecord[];
  /** Local checks by id. */
  checks(): CheckRecord[];
  /** Registers a service from a JSON definition; throws HttpError(400) when invalid. */
  registerService(definition: unknown, options: { replaceExistingChecks: boolean }): Promise<void>;
  /** Deregisters a local service; throws HttpError(404) when unknown. */
  deregisterService(id: string): Promise<void>;
  /** Puts a service in or out of maintenance; throws HttpError(404) when unknown. */
  setServiceMaintenance(id: string, enable: boolean, reason: string): Promise<void>;
  /** Puts the node in or out of maintenance. */
  setNodeMaintenance(enable: boolean, reason: string): Promise<void>;
  /** Registers a check from a JSON definition; throws HttpError(400) when invalid. */
  registerCheck(definition: unknown): Promise<void>;
  /** Deregisters a local check; throws HttpError(404) when unknown. */
  deregisterCheck(id: string): Promise<void>;
  /** Sets a TTL check's status; throws HttpError(404/500) as Consul does. */
  updateTtlCheck(id: string, status: HealthStatus, output: string): Promise<void>;
  /** Gossip members of the LAN (or WAN) pool. */
  members(wan: boolean): MemberView[];
  /**
   * Joins the LAN (or WAN) gossip pool through `address` (`PUT /v1/agent/join/:address`);
   * throws naming the cause when no member answered. Absent on agents without gossip.
   */
  join?(address: string, wan: boolean): Promise<void>;
  /**
   * Removes a member from the LAN (or WAN) pool (`PUT /v1/agent/force-leave/:node`): it shows
   * as left, or is erased with `prune`; throws naming the cause. Absent on agents without gossip.
   */
  forceLeave?(node: string, prune: boolean, wan: boolean): Promise<void>;
  /**
   * Runs a keyring operation (`/v1/operator/keyring`) on every member of the WAN pool (servers)
   * and of the LAN pool, through Serf's keyring queries; one answer per pool, WAN first. Throws
   * RangeError for a bad key, Error naming the cause otherwise (no gossip, no encryption).
   * Absent on agents without gossip.
   */
  keyring?(
    action: KeyringAction,
    key: string,
    options?: KeyringOptions,
  ): Promise<KeyringPoolResponse[]>;
  /**
   * The datacenters known from the WAN pool, nearest first (`/v1/catalog/datacenters`); absent
   * (or `undefined`) when this agent runs no WAN pool.
   */
  datacenters?(): string[] | undefined;
  /**
   * The WAN coordinates of every datacenter's servers (`/v1/coordinate/datacenters`); absent
   * (or `undefined`) when this agent runs no WAN pool.
   */
  wanCoordinates?(): WanDatacenterView[] | undefined;
  /** The `/v1/agent/self` document. */
  self(): Record<string, unknown>;
  /** Leaves the cluster gracefully and shuts the agent down. */
  leave(): Promise<void>;
  /** Fires a user event; returns it as stored. */
  fireEvent(event: Omit<UserEvent, "id" | "lTime" | "version">): Promise<UserEvent>;
  /** Recent user events, oldest first, and an index that moves when one arrives. */
  events(): { index: number; events: UserEvent[] };
  /** Topic woken when a user event arrives. */
  readonly eventTopic: string;
}

/** Everything the HTTP API is built from. */
export interface ApiBackend {
  readonly runtime: Runtime;
  readonly server: ServerApi;
  readonly agent: AgentApi;
  /** Where blocking queries wait: the server's state store's hub, or a client's own. */
  readonly watches: WatchHub;
  /**
   * On a client agent: answers data requests (`src/http/forwarding.ts`) through a server. When
   * set, those paths never reach the local routes. Absent on servers.
   */
  readonly forward?: (request: Request) => Promise<Response>;
  /**
   * On a server with a WAN pool: answers a data request whose `?dc=` names another datacenter
   * through one of that datacenter's servers (`src/agent/datacenter_forwarder.ts`). Absent
   * elsewhere (`?dc=other` then answers 500 "No path to datacenter").
   */
  readonly forwardDatacenter?: (datacenter: string, request: Request) => Promise<Response>;
  readonly blocking: BlockingConfig;
  /** Serve the web UI under /ui. */
  readonly ui: boolean;
  /** Largest KV value and request body. @default {512 KiB} */
  readonly kvValueBytesMax: number;
  /** Largest number of operations in one `/v1/txn`. @default {128} */
  readonly txnOpsMax: number;
  /** Aborted when the agent stops: blocking queries then answer at once. */
  readonly stopSignal: AbortSignal;
}
