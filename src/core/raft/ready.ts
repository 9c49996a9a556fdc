/**
 * What one `Raft.ready()` hands the shell, and the contract for handling it.
 *
 * The shell handles a `Ready` in this order, then calls `Raft.advance()`:
 *
 * 1. Persist `snapshotToApply` (if any), then `entriesToPersist` (an entry at an index already
 *    on disk replaces that entry and every one after it), then `hardState` (if any), and make
 *    them durable (fsync). Nothing in this `Ready` may leave the process before that: a vote or
 *    an acknowledgement sent before its record is durable can be forgotten by a crash, which
 *    breaks election safety or loses committed writes (etcd-io/raft's rule).
 * 2. Send `messagesToSend` (best effort: the network may drop, delay, reorder or duplicate them).
 * 3. Apply `snapshotToApply` to the state machine (replacing it), then `committedEntries` in
 *    order; answer `readStates` once the state machine has applied through their `index`.
 * 4. Call `Raft.advance()`.
 *
 * `committedEntries` may be applied before step 1 completes when there is no `snapshotToApply`:
 * they are durable on a majority already (a leader's own entries count toward a commit only once
 * persisted; a follower's may still be in this `Ready`'s write, which is safe for the same
 * reason). Reads are answered only after `advance()`, as before.
 *
 * When `sendBeforePersist` is set, step 2 may come before step 1 (and should: the leader's
 * fsync then overlaps its followers' round trip and fsync, Raft thesis §10.2.1). It is set only
 * for a leader that led throughout the `Ready` in a term and vote already durable, whose
 * messages (appends, heartbeats, snapshots, refusals) vouch for nothing on its own disk: the
 * core counts the leader's own entries toward a commit only once `advance()` confirms them.
 *
 * @module
 */

import type { Entry, HardState, Message, ServerId, Snapshot } from "./messages.ts";

/** A server's role in its current term. */
export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** Volatile state worth showing (status endpoints, leader forwarding). Need not be persisted. */
export interface SoftState {
  /** The leader this server knows for its term, if any. */
  readonly leader: ServerId | undefined;
  readonly role: Role;
  readonly term: number;
}

/**
 * A linearizable read may be answered once the state machine has applied through `index`
 * (read-index, Raft thesis §6.4).
 */
export interface ReadState {
  readonly requestId: number;
  readonly index: number;
}

/** One batch of work for the shell; see the module's contract. */
export interface Ready {
  readonly softState: SoftState;
  /** Changed persistent state, or `undefined` when unchanged since the last `Ready`. */
  readonly hardState: HardState | undefined;
  /** A leader's snapshot to persist, then apply before `committedEntries`. */
  readonly snapshotToApply: Snapshot | undefined;
  readonly entriesToPersist: readonly Entry[];
  /** Send only after everything above is durable, unless `sendBeforePersist`. */
  readonly messagesToSend: readonly Message[];
  /** The messages may leave before this `Ready` is persisted; see the module's contract. */
  readonly sendBeforePersist: boolean;
  /** Committed entries to apply, in index order, after persisting. */
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** Why the core refused a request; the shell turns it into an error or a redirect. */
export type RejectReason =
  | "notLeader" // Forward to `leader`, if known.
  | "busy" // A bound was reached (in-flight proposals or reads): back off and retry.
  | "transferring" // Leadership is moving; retry at the new leader.
  | "tooLarge" // The entry exceeds `entryBytesMax`.
  | "leaderNotReady" // A new leader has not committed an entry of its term yet.
  | "membershipPending" // A membership change is not committed yet (one at a time).
  | "invalidChange"; // The change makes no sense for the current membership.

/** A request the core refused, with the leader to try instead. */
export interface Rejected {
  readonly type: "rejected";
  readonly reason: RejectReason;
  readonly leader: ServerId | undefined;
}

/** The outcome of `Raft.propose()`: accepted at (`index`, `term`), or rejected. */
export type ProposeOutcome =
  | { readonly type: "accepted"; readonly index: number; readonly term: number }
  | Rejected;

/** The outcome of `Raft.readIndex()` or `Raft.transferLeadership()`. */
export type RequestOutcome = { readonly type: "accepted" } | Rejected;
