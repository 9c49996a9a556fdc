/**
 * Commands: the only way the state store changes. Every write is a command applied at a log
 * index through `StateStore.apply(index, command)`, so a local log in dev mode and Raft on
 * servers feed the same entry point. Commands are plain data (msgpack-encodable) and carry the
 * proposer's wall time `atMs`, so applying them is deterministic on every replica.
 *
 * @module
 */

import type {
  CheckRecord,
  CoordinateRecord,
  KvFlags,
  NodeRecord,
  ServiceRecord,
  SessionRecord,
} from "./types.ts";

/** A node as given to a registration: a record without indexes. */
export type NodeInput = Omit<NodeRecord, "createIndex" | "modifyIndex">;

/** A service as given to a registration. */
export type ServiceInput = Omit<ServiceRecord, "node" | "createIndex" | "modifyIndex">;

/** A check as given to a registration; its node, service name and tags are derived. */
export type CheckInput = Omit<
  CheckRecord,
  "node" | "serviceName" | "serviceTags" | "createIndex" | "modifyIndex"
>;

/** A session as given to its creation. */
export type SessionInput = Omit<SessionRecord, "createIndex" | "modifyIndex">;

/** KV write verbs of `/v1/kv` and `/v1/txn`. */
export type KvSetVerb = "set" | "cas" | "lock" | "unlock";

/** KV delete verbs of `/v1/kv` and `/v1/txn`. */
export type KvDeleteVerb = "delete" | "delete-cas" | "delete-tree";

/** KV read and check verbs of `/v1/txn`. */
export type KvReadVerb =
  | "get"
  | "get-or-empty"
  | "get-tree"
  | "check-index"
  | "check-session"
  | "check-not-exists";

/** One KV operation inside a transaction. */
export interface KvOp {
  verb: KvSetVerb | KvDeleteVerb | KvReadVerb;
  key: string;
  value: Uint8Array;
  flags: KvFlags;
  /** Expected ModifyIndex for cas / delete-cas / check-index. */
  index: number;
  /** Session for lock / unlock / check-session. */
  session: string;
}

/** One catalog operation inside a transaction. */
export type CatalogOp =
  | {
    kind: "node";
    verb: "set" | "cas" | "get" | "delete" | "delete-cas";
    node: NodeInput;
    index: number;
  }
  | {
    kind: "service";
    verb: "set" | "cas" | "get" | "delete" | "delete-cas";
    node: string;
    service: ServiceInput;
    index: number;
  }
  | {
    kind: "check";
    verb: "set" | "cas" | "get" | "delete" | "delete-cas";
    node: string;
    check: CheckInput;
    index: number;
  };

/** One operation of a transaction. */
export type TxnOp = { kind: "kv"; kv: KvOp } | CatalogOp;

/** Every command the state store applies. */
export type Command =
  | {
    type: "register";
    atMs: number;
    node: NodeInput;
    /** Keep the node record as it is (Consul's SkipNodeUpdate). */
    skipNodeUpdate: boolean;
    service: ServiceInput | undefined;
    checks: CheckInput[];
  }
  | { type: "deregister"; atMs: number; node: string; serviceId: string; checkId: string }
  | { type: "kvSet"; atMs: number; op: KvOp }
  | { type: "kvDelete"; atMs: number; op: KvOp }
  | { type: "sessionCreate"; atMs: number; session: SessionInput }
  | { type: "sessionDestroy"; atMs: number; id: string }
  | { type: "txn"; atMs: number; ops: TxnOp[] }
  | { type: "tombstoneReap"; atMs: number; throughIndex: number }
  | { type: "coordinateBatchUpdate"; atMs: number; updates: CoordinateRecord[] }
  /** One piece of a restore's snapshot body, staged until its `restore` entry. */
  | { type: "restoreChunk"; atMs: number; id: string; seq: number; data: Uint8Array }
  /**
   * Replaces the whole state with a snapshot (`PUT /v1/snapshot`): the body of
   * `encodeSnapshot`, applied on every server at this entry's index, which every table index
   * then takes so blocking queries see the change. The body is the staged `restoreChunk`s of
   * restore `id` (`chunkCount` of them, `bytes` in all), or `snapshot` itself (entries written
   * before restores were chunked).
   */
  | {
    type: "restore";
    atMs: number;
    snapshot?: Uint8Array;
    id?: string;
    chunkCount?: number;
    bytes?: number;
  };

/** The outcome of one applied command. Failures are values: they do not throw. */
export type ApplyResult =
  | { ok: true; value: unknown }
  | { ok: false; error: string; status: number };
