/**
 * The in-memory Raft log of one server: a snapshot's end (`offset`), the entries after it, the
 * commit and apply points, and which entries the shell has not been asked to persist yet. The
 * log stays bounded because the shell snapshots and the log compacts (see `RaftConfig`).
 *
 * @module
 */

import { assert } from "../assert.ts";
import type { Entry, Membership, Snapshot, SnapshotMeta } from "./messages.ts";
import { entryPayloadBytes } from "./messages.ts";

const EMPTY_MEMBERSHIP: Membership = { voters: [], nonVoters: [] };

/** A Raft log: entries after `offset`, with commit, apply and persistence points. */
export class RaftLog {
  #offset = 0;
  /** The term of the entry at `offset`; unknown after a restart with trailing entries. */
  #offsetTerm: number | undefined = 0;
  #entries: Entry[] = [];
  #committed = 0;
  #applied = 0;
  /** First index not yet handed to the shell for persistence. */
  #persistFrom = 1;
  /** Bumped when entries handed out for persistence are replaced (truncation, snapshot). */
  #persistEpoch = 0;
  #snapshot: Snapshot | undefined;
  /** A snapshot received from the leader that the shell must persist and apply. */
  #pendingSnapshot: Snapshot | undefined;
  /** Membership as of `offset`, and the membership entries after it. */
  #baseMembership: Membership = EMPTY_MEMBERSHIP;
  #membershipEntries: { index: number; membership: Membership }[] = [];

  /**
   * Rebuilds the log from what the shell persisted.
   *
   * @param snapshot the latest persisted snapshot, if any
   * @param entries the persisted entries, contiguous, possibly starting before the snapshot's end
   */
  static restore(snapshot: Snapshot | undefined, entries: readonly Entry[]): RaftLog {
    const log = new RaftLog();
    if (snapshot !== undefined) {
      log.#snapshot = snapshot;
      log.#offset = snapshot.meta.index;
      log.#offsetTerm = snapshot.meta.term;
      log.#baseMembership = snapshot.meta.membership;
    }
    // Trailing entries at or before the snapshot's end are dropped on restart: their terms are
    // covered by the snapshot, and a follower that needs them gets the snapshot instead.
    for (const entry of entries) {
      if (entry.index <= log.#offset) continue;
      assert(
        entry.index === log.lastIndex + 1,
        `Cannot restore the log: entry ${entry.index} does not follow ${log.lastIndex}`,
      );
      log.#push(entry);
    }
    log.#committed = log.#offset;
    log.#applied = log.#offset;
    log.#persistFrom = log.lastIndex + 1;
    return log;
  }

  /** Index of the last entry (or of the snapshot's end when there are none). */
  get lastIndex(): number {
    return this.#offset + this.#entries.length;
  }

  /** Term of the last entry. */
  get lastTerm(): number {
    const term = this.term(this.lastIndex);
    assert(term !== undefined, "Cannot read the last term: it is unknown");
    return term;
  }

  /** Index of the first entry held (entries before it are compacted). */
  get firstIndex(): number {
    return this.#offset + 1;
  }

  /** Highest index known committed. */
  get committed(): number {
    return this.#committed;
  }

  /** Highest index handed out for applying and confirmed by `advance()`. */
  get applied(): number {
    return this.#applied;
  }

  /** The latest snapshot (made locally or installed), if any. */
  get snapshot(): Snapshot | undefined {
    return this.#snapshot;
  }

  /** The snapshot the shell must persist and apply, if one arrived from a leader. */
  get pendingSnapshot(): Snapshot | undefined {
    return this.#pendingSnapshot;
  }

  /** The membership in force: the newest in the log, committed or not (Raft thesis §4.1). */
  get membership(): Membership {
    const last = this.#membershipEntries.at(-1);
    return last === undefined ? this.#baseMembership : last.membership;
  }

  /** Index of the entry that set the membership in force (0 if it came from before the log). */
  get membershipIndex(): number {
    return this.#membershipEntries.at(-1)?.index ?? this.#offset;
  }

  /** The membership as of `index` (for snapshot metadata). */
  membershipAt(index: number): Membership {
    let membership = this.#baseMembership;
    for (const entry of this.#membershipEntries) {
      if (entry.index > index) break;
      membership = entry.membership;
    }
    return membership;
  }

  /** Returns the term of the entry at `index`, or `undefined` if compacted or absent. */
  term(index: number): number | undefined {
    if (index === this.#offset) return this.#offsetTerm;
    if (index < this.#offset || index > this.lastIndex) return undefined;
    return this.#entries[index - this.#offset - 1].term;
  }

  /** Returns the entry at `index`, or `undefined` if compacted or absent. */
  entry(index: number): Entry | undefined {
    if (index <= this.#offset || index > this.lastIndex) return undefined;
    return this.#entries[index - this.#offset - 1];
  }

  /** True when the log holds an entry at `index` with `term`. */
  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** True when a log ending at (`lastIndex`, `lastTerm`) is at least as up to date (Raft §5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  /**
   * Returns the first index at or below `index` whose term is at most `term`, with that term:
   * where a leader should probe next after a rejection (etcd `findConflictByTerm`).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let at = Math.min(index, this.lastIndex);
    for (; at > this.#offset; at -= 1) {
      const atTerm = this.term(at);
      if (atTerm !== undefined && atTerm <= term) return { index: at, term: atTerm };
    }
    return { index: at, term: this.term(at) ?? 0 };
  }

  /** Appends entries that follow the last one (the leader's own proposals). */
  append(entries: readonly Entry[]): void {
    for (const entry of entries) {
      assert(
        entry.index === this.lastIndex + 1,
        `Cannot append entry ${entry.index}: the log ends at ${this.lastIndex}`,
      );
      this.#push(entry);
    }
  }

  /**
   * Appends a leader's entries after (`prevIndex`, `prevTerm`), truncating a conflicting suffix
   * (Raft §5.3). Returns the index of the last entry known to match, or `undefined` when the log
   * does not contain `prevIndex` at `prevTerm`.
   */
  maybeAppend(prevIndex: number, prevTerm: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    for (let i = 0; i < entries.length; i += 1) {
      const entry = entries[i];
      assert(entry.index === prevIndex + 1 + i, "Cannot append: entries are not contiguous");
      const existing = this.term(entry.index);
      if (existing === entry.term) continue;
      if (existing !== undefined) this.#truncateFrom(entry.index);
      this.append(entries.slice(i));
      break;
    }
    return prevIndex + entries.length;
  }

  #truncateFrom(index: number): void {
    assert(
      index > this.#committed,
      `Cannot truncate the log at ${index}: entries through ${this.#committed} are committed`,
    );
    this.#entries.length = index - this.#offset - 1;
    while ((this.#membershipEntries.at(-1)?.index ?? 0) >= index) this.#membershipEntries.pop();
    this.#persistFrom = Math.min(this.#persistFrom, index);
    this.#persistEpoch += 1;
  }

  #push(entry: Entry): void {
    this.#entries.push(entry);
    if (entry.type === "membership") {
      this.#membershipEntries.push({ index: entry.index, membership: entry.membership });
    }
  }

  /** Entries from `from`, at most `countMax` and about `bytesMax` (always at least one). */
  slice(from: number, countMax: number, bytesMax: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = from; index <= this.lastIndex && out.length < countMax; index += 1) {
      const entry = this.entry(index);
      assert(entry !== undefined, `Cannot slice the log: entry ${index} is compacted`);
      bytes += entryPayloadBytes(entry);
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(entry);
    }
    return out;
  }

  /** Raises the commit point; never lowers it. */
  commitTo(index: number): boolean {
    if (index <= this.#committed) return false;
    assert(
      index <= this.lastIndex,
      `Cannot commit ${index}: the log ends at ${this.lastIndex}`,
    );
    this.#committed = index;
    return true;
  }

  /** Changes whenever entries already handed out for persistence are replaced. */
  get persistEpoch(): number {
    return this.#persistEpoch;
  }

  /**
   * Index of the last entry the shell confirmed durable as it stands in the log now (entries
   * handed out in the `Ready` being persisted are not counted until `advance()`). The leader
   * counts this, not `lastIndex`, as its own match: it may send entries before they are
   * durable on its own disk (Raft thesis §10.2.1).
   */
  get persistedIndex(): number {
    return this.#persistFrom - 1;
  }

  /** True when some entries were not handed out for persistence yet. */
  hasUnpersisted(): boolean {
    return this.#persistFrom <= this.lastIndex;
  }

  /** Entries not yet handed out for persistence. */
  unpersisted(): Entry[] {
    return this.#entries.slice(Math.max(0, this.#persistFrom - this.#offset - 1));
  }

  /**
   * Records that entries through `index`, handed out in `epoch`, were persisted; ignored when
   * some of them were replaced since (they are handed out again).
   */
  persistedTo(index: number, epoch: number): void {
    if (epoch !== this.#persistEpoch) return;
    if (index >= this.#persistFrom) this.#persistFrom = index + 1;
  }

  /** The next committed entries to apply after `after`, at most `countMax`. */
  committedAfter(after: number, countMax: number): Entry[] {
    const to = Math.min(this.#committed, after + countMax);
    if (to <= after) return [];
    return this.slice(after + 1, to - after, Number.MAX_SAFE_INTEGER);
  }

  /** Records that entries through `index` were applied by the shell. */
  appliedTo(index: number): void {
    assert(
      index <= this.#committed && index >= this.#applied,
      `Cannot apply through ${index}: applied is ${this.#applied}, committed ${this.#committed}`,
    );
    this.#applied = index;
  }

  /** Replaces the log with a leader's snapshot that is ahead of it (Raft §7). */
  restoreSnapshot(snapshot: Snapshot): void {
    const meta = snapshot.meta;
    assert(meta.index > this.#committed, "Cannot restore a snapshot: it is not ahead of commit");
    this.#offset = meta.index;
    this.#offsetTerm = meta.term;
    this.#entries = [];
    this.#membershipEntries = [];
    this.#baseMembership = meta.membership;
    this.#committed = meta.index;
    this.#applied = meta.index;
    this.#persistFrom = meta.index + 1;
    this.#persistEpoch += 1;
    this.#snapshot = snapshot;
    this.#pendingSnapshot = snapshot;
  }

  /** Clears the pending snapshot once the shell persisted and applied it. */
  snapshotApplied(snapshot: Snapshot): void {
    if (this.#pendingSnapshot === snapshot) this.#pendingSnapshot = undefined;
  }

  /** Metadata for a snapshot of the state machine at applied `index`. */
  snapshotMetaAt(index: number): SnapshotMeta {
    const term = this.term(index);
    assert(term !== undefined, `Cannot describe a snapshot at ${index}: its term is unknown`);
    return { index, term, membership: this.membershipAt(index) };
  }

  /**
   * Records a snapshot made by the shell and drops entries before `index - trailing`. Returns
   * the first index still held: the shell may delete persisted entries before it.
   */
  compact(snapshot: Snapshot, trailing: number): number {
    const index = snapshot.meta.index;
    assert(index <= this.#applied, `Cannot compact through ${index}: applied is ${this.#applied}`);
    this.#snapshot = snapshot;
    const newOffset = Math.max(this.#offset, index - trailing);
    if (newOffset > this.#offset) {
      this.#baseMembership = this.membershipAt(newOffset);
      this.#offsetTerm = this.term(newOffset);
      this.#entries = this.#entries.slice(newOffset - this.#offset);
      this.#membershipEntries = this.#membershipEntries.filter((m) => m.index > newOffset);
      this.#offset = newOffset;
    }
    return this.firstIndex;
  }
}
