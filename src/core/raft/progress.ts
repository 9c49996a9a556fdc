/**
 * What a leader knows about one follower's log (etcd-io/raft `tracker.Progress`): how far it
 * matches, what to send next, and how many appends are in flight (the pipelining window).
 *
 * @module
 */

import { assert } from "../assert.ts";

/**
 * How the leader replicates to a follower: `probe` sends one append per heartbeat until it finds
 * where the logs match; `replicate` streams appends optimistically up to the in-flight window;
 * `snapshot` waits for an InstallSnapshot to land.
 */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** The leader's view of one follower. */
export class Progress {
  /** Highest index known to match the leader's log. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = "probe";
  /** In probe state: an append is out and unanswered, so wait for a heartbeat response. */
  probeSent = false;
  /** In snapshot state: the snapshot's index and the tick it was sent at (for a resend). */
  pendingSnapshotIndex = 0;
  snapshotSentTick = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Highest heartbeat round this follower echoed in the current term. */
  ackedRound = 0;
  readonly #inflight: number[] = [];
  readonly #inflightMax: number;

  /**
   * @param next the first index to send (the leader's last index + 1)
   * @param inflightMax the pipelining window in messages
   */
  constructor(next: number, inflightMax: number) {
    assert(next >= 1, `Cannot track progress: next index "${next}" is below 1`);
    this.next = next;
    this.#inflightMax = inflightMax;
  }

  /** Appends in flight. */
  get inflightCount(): number {
    return this.#inflight.length;
  }

  /** True when the leader must not send more appends now. */
  isPaused(): boolean {
    if (this.state === "probe") return this.probeSent;
    if (this.state === "snapshot") return true;
    return this.#inflight.length >= this.#inflightMax;
  }

  /** Switches to probing from just after `match`. */
  becomeProbe(): void {
    // After a snapshot, probe from the snapshot's end (etcd `BecomeProbe`).
    const from = this.state === "snapshot"
      ? Math.max(this.match, this.pendingSnapshotIndex)
      : this.match;
    this.state = "probe";
    this.next = from + 1;
    this.probeSent = false;
    this.pendingSnapshotIndex = 0;
    this.#inflight.length = 0;
  }

  /** Switches to streaming appends after `match`. */
  becomeReplicate(): void {
    this.state = "replicate";
    this.next = this.match + 1;
    this.probeSent = false;
    this.#inflight.length = 0;
  }

  /** Marks a snapshot at `index` as sent at `tick`. */
  becomeSnapshot(index: number, tick: number): void {
    this.state = "snapshot";
    this.pendingSnapshotIndex = index;
    this.snapshotSentTick = tick;
    this.probeSent = false;
    this.#inflight.length = 0;
  }

  /** Records that an append ending at `lastIndex` with `count` entries went out. */
  sentEntries(lastIndex: number, count: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        assert(
          this.#inflight.length < this.#inflightMax,
          `Cannot send an append: ${this.#inflight.length} already in flight`,
        );
        this.next = lastIndex + 1;
        this.#inflight.push(lastIndex);
      }
      return;
    }
    if (this.state === "probe") this.probeSent = true;
  }

  /** Records an ack up to `index`; returns false when it is stale (already known). */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    // Every append ending at or before the ack has landed: free its slot.
    while (this.#inflight.length > 0 && this.#inflight[0] <= index) this.#inflight.shift();
    return updated;
  }

  /**
   * Handles a rejected append at `rejected`; `hintNext` is where the follower suggests to
   * continue. Returns false when the rejection is stale (etcd `MaybeDecrTo`).
   */
  maybeDecrease(rejected: number, hintNext: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hintNext), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Frees one in-flight slot when the window is full and a heartbeat came back (etcd). */
  freeFirstInflight(): void {
    if (this.#inflight.length >= this.#inflightMax) this.#inflight.shift();
  }
}
