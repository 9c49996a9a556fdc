/**
 * What the HTTP API needs from the agent and its server: the state store for reads, a way to
 * propose writes, and the agent's own local state. The HTTP layer never reaches further.
 *
 * @module
 */

import type { ApplyResult } from "../core/state/commands.ts";
import type { StateStore } from "../core/state/state_store.ts";
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

/** The keyring of one gossip pool, as `/v1/operator/keyring` lists it. */
export interface KeyringView {
  /** Installed keys (base64), primary first. */
  keys: string[];
  /** The primary key (base64), used to send. */
  primary: string;
  /** Members counted: the alive members of the pool, ourselves included. */
  numNodes: number;
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
   * The LAN pool's keyring (`GET /v1/operator/keyring`): installed keys, primary first, and how
   * many members hold each as this agent can tell; throws naming the cause (no gossip, no
   * `-encrypt`). Absent on agents without gossip.
   */
  keyring?(): KeyringView;
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
