/**
 * What goes into and comes out of the Serf core. Serf sits on memberlist (our `src/core/swim`)
 * through the small {@link MemberlistEvent} interface below, which a shell fills from memberlist's
 * outputs, and through the `broadcast` / `sendUserMessage` / `setMeta` outputs, which the shell
 * hands back to memberlist. Nothing here names the swim core, so the two stay independent.
 *
 * Wiring contract for the shell (Serf 0.9.4's delegates, gossip-wire.md §11):
 * - memberlist `alive` about a new, dead or left member (NotifyJoin, also for ourselves) →
 *   `memberJoined`; `alive` with new meta or address (NotifyUpdate) → `memberUpdated`;
 *   `dead` or `left` (NotifyLeave) → `memberLeft`. Suspicion is not reported to Serf.
 * - a memberlist `user` message, by UDP, TCP or gossip → `userMessage` with the bytes after
 *   the `0x08` byte (`[serf type][msgpack body]`).
 * - push/pull: send `serf.localState(join)` as the user state; hand the peer's user state to
 *   `remoteState`. Advertise `serf.localMeta()` as our node meta.
 * - `broadcast`: queue `payload` as a memberlist user broadcast (retransmit-limited, never
 *   invalidated, as Serf's `broadcast` type). Order does not matter beyond best effort.
 * - `sendUserMessage`: one UDP packet `[0x08] + payload` to `to` (memberlist `SendToAddress`).
 * - `setMeta`: publish new meta (memberlist `UpdateNode`, a new alive with a higher incarnation).
 * - `reconnect` / `rejoin`: memberlist-join the address; no report back is needed.
 * - `leaveMemberlist`: call memberlist's leave, then report `memberlistLeft` when its dead
 *   message went out (or do nothing: the core moves on after `broadcastTimeoutMs`).
 * - `keyringRequest`: apply the operation to memberlist's keyring and report `keyringResult`
 *   with the same `requestId`; late answers (past the query's deadline) are dropped.
 * - `shutdown`: stop memberlist and the agent (lost a name conflict vote).
 *
 * @module
 */

import type { SerfKeyResponse } from "../wire/mod.ts";

/** A member's gossip address: 4 (IPv4) or 16 (IPv6) raw bytes and a port. */
export interface SerfAddress {
  /** Raw address bytes. */
  address: Uint8Array;
  /** UDP and TCP port. */
  port: number;
}

/** A member as memberlist reports it to Serf. */
export interface MemberlistNode extends SerfAddress {
  /** Unique member name. */
  name: string;
  /** The member's node meta: Serf tags (`encodeTags`). */
  meta: Uint8Array;
  /**
   * memberlist `Vsn`: protocol min, max, current, delegate min, max, current. Absent means
   * Serf 0.9.4's `1 5 2 2 5 5`.
   */
  versions?: Uint8Array;
}

/** What the shell reports from memberlist (Serf's memberlist delegates). */
export type MemberlistEvent =
  /** A member became alive: new, back from dead, or ourselves at start (`NotifyJoin`). */
  | { type: "memberJoined"; node: MemberlistNode }
  /** An alive member changed meta or address (`NotifyUpdate`). */
  | { type: "memberUpdated"; node: MemberlistNode }
  /** A member was declared dead or left memberlist (`NotifyLeave`). */
  | { type: "memberLeft"; name: string }
  /** A Serf message from memberlist, without the `0x08` user byte (`NotifyMsg`). */
  | { type: "userMessage"; payload: Uint8Array }
  /** A peer's push/pull user state (`MergeRemoteState`); `join` for join exchanges. */
  | { type: "remoteState"; state: Uint8Array; join: boolean }
  /** Two addresses claim `name` (`NotifyConflict`). */
  | { type: "conflict"; name: string; existing: SerfAddress; other: SerfAddress };

/** Everything `Serf.handle()` accepts. */
export type SerfInput =
  | MemberlistEvent
  /** The shell starts a memberlist join; `ignoreOldEvents` skips replaying earlier events. */
  | { type: "joinStarted"; ignoreOldEvents: boolean }
  /** A memberlist join ended having reached `contacted` members; > 0 broadcasts our join. */
  | { type: "joinFinished"; contacted: number }
  /** Our leave intent went out (optional: the core waits `broadcastTimeoutMs` otherwise). */
  | { type: "leaveIntentSent" }
  /** memberlist's leave finished (optional, as above). */
  | { type: "memberlistLeft" }
  /** The shell's answer to a `keyringRequest`. */
  | { type: "keyringResult"; requestId: number; result: KeyringResult };

/** A member's Serf status. */
export type MemberStatusName = "alive" | "leaving" | "left" | "failed";

/** A member as Serf sees it (Serf's `Member` plus its status clock). */
export interface MemberInfo extends SerfAddress {
  /** Unique name. */
  name: string;
  /** Tags decoded from the member's meta. */
  tags: Map<string, string>;
  /** Current status. */
  status: MemberStatusName;
  /** Member clock of the last join or leave intent applied (`statusLTime`). */
  statusLamportTime: number;
  /** The 6 version bytes (`Vsn`). */
  versions: Uint8Array;
  /** When the member became failed or left, else `undefined` (`leaveTime`). */
  leftAtMs: number | undefined;
}

/** A member event's kind, as Serf's `EventType` (`member-join`, ...). */
export type MemberEventKind = "join" | "leave" | "failed" | "update" | "reap";

/** A keyring operation carried by an internal query. */
export type KeyringOperation = "install" | "use" | "remove" | "list";

/** The shell's answer to a keyring operation (what the keyring did). */
export interface KeyringResult {
  /** Whether the operation succeeded. */
  ok: boolean;
  /** Error text when it did not. */
  message: string;
  /** For `list`: the installed keys (raw bytes); empty otherwise. */
  keys: Uint8Array[];
  /** For `list`: the primary key; `undefined` otherwise. */
  primaryKey: Uint8Array | undefined;
}

/** A query received from the cluster that passed our filters (non-internal names only). */
export interface IncomingQuery {
  /** The handle to pass to `Serf.respond()`. */
  handle: number;
  /** Query clock. */
  lamportTime: number;
  /** The origin's random id. */
  id: number;
  /** Query name. */
  name: string;
  /** Query payload. */
  payload: Uint8Array | undefined;
  /** The origin's name. */
  sourceNode: string;
  /** Responses after this are refused (receipt time + the query's timeout). */
  deadlineAtMs: number;
}

/** What the Serf core asks of its shell, or tells the application. */
export type SerfOutput =
  /** Gossip `payload` (`[serf type][body]`) as a memberlist user broadcast. */
  | { type: "broadcast"; kind: "intent" | "event" | "query"; payload: Uint8Array }
  /** Send `[0x08] + payload` to one address by UDP (acks, responses, relays). */
  | { type: "sendUserMessage"; to: SerfAddress; node: string | undefined; payload: Uint8Array }
  /** Advertise new node meta (tags) through memberlist. */
  | { type: "setMeta"; meta: Uint8Array }
  /** A member joined, left, failed, changed or was reaped. */
  | { type: "memberEvent"; event: MemberEventKind; member: MemberInfo }
  /** A user event to deliver (after coalescing when enabled). */
  | {
    type: "userEvent";
    lamportTime: number;
    name: string;
    payload: Uint8Array | undefined;
    coalesce: boolean;
  }
  /** A query for the application; answer with `Serf.respond(query.handle, ...)`. */
  | { type: "queryReceived"; query: IncomingQuery }
  /** An ack to our query `id` (at `lamportTime`) from `from`. */
  | { type: "queryAck"; lamportTime: number; id: number; from: string }
  /** A response to our query. */
  | {
    type: "queryResponse";
    lamportTime: number;
    id: number;
    name: string;
    from: string;
    payload: Uint8Array | undefined;
  }
  /** Our query timed out: no more acks or responses will be reported. */
  | {
    type: "queryClosed";
    lamportTime: number;
    id: number;
    name: string;
    acks: number;
    responses: number;
  }
  /** Try to memberlist-join a failed member (Serf's reconnect). */
  | { type: "reconnect"; name: string; to: SerfAddress }
  /** Apply a keyring operation and report `keyringResult`. */
  | { type: "keyringRequest"; requestId: number; operation: KeyringOperation; key: Uint8Array }
  /** Graceful leave: our intent is out; now leave memberlist. */
  | { type: "leaveMemberlist" }
  /** Graceful leave finished: stop gossiping (snapshot: append `leave`). */
  | { type: "left" }
  /** Stop: another member owns our name (lost the `_serf_conflict` vote). */
  | { type: "shutdown"; reason: string };

/** Counters of what the core dropped or refused, for metrics and tests. */
export interface SerfStats {
  /** Serf messages that failed to decode. */
  malformedMessages: number;
  /** Events refused as older than the event buffer. */
  eventsTooOld: number;
  /** Events seen before (same clock, name and payload). */
  eventsDuplicate: number;
  /** Queries refused as older than the query buffer. */
  queriesTooOld: number;
  /** Queries seen before (same clock and id). */
  queriesDuplicate: number;
  /** Outputs dropped because `poll()` was not called often enough. */
  outputsDropped: number;
  /** Members, intents, queries or keyring requests dropped at a bound. */
  boundsDropped: number;
  /** Responses or relays not sent for their size. */
  responsesTooLarge: number;
}

/** Re-exported for callers decoding keyring answers. */
export type { SerfKeyResponse };
