/**
 * The Raft consensus core for one server (Ongaro and Ousterhout 2014; Ongaro's thesis 2014),
 * shaped after etcd-io/raft: synchronous, no I/O, no clock, no ambient randomness. The shell
 * calls `tick()` at a fixed interval, `step()` for each message received, `propose()` and
 * `readIndex()` for clients, then drains `ready()` and confirms with `advance()`.
 *
 * @module
 */

import { assert } from "../assert.ts";
import type { Random } from "../random.ts";
import { randomBelow } from "../random.ts";
import type { RaftConfig } from "./config.ts";
import { defaultRaftConfig, validateRaftConfig } from "./config.ts";
import type {
  AppendEntries,
  AppendEntriesResponse,
  Entry,
  HardState,
  Heartbeat,
  HeartbeatResponse,
  InstallSnapshot,
  Membership,
  MembershipChange,
  Message,
  RequestVote,
  RequestVoteResponse,
  ServerId,
  Snapshot,
  SnapshotMeta,
} from "./messages.ts";
import { Progress } from "./progress.ts";
import { majorityValue, voteResult } from "./quorum.ts";
import type {
  ProposeOutcome,
  ReadState,
  Ready,
  Rejected,
  RejectReason,
  RequestOutcome,
  Role,
  SoftState,
} from "./ready.ts";
import { RaftLog } from "./raft_log.ts";

/** Heartbeat rounds are `tick * ROUNDS_PER_TICK + n`, so a round names the tick it left at. */
const ROUNDS_PER_TICK = 1_048_576;

/** What the shell persisted, handed back at start-up. */
export interface RaftStorageState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | undefined;
  /** Persisted entries in index order (entries at or before the snapshot's end are ignored). */
  readonly entries: readonly Entry[];
}

/** Options for `new Raft()`. */
export interface RaftOptions {
  /** This server's name. */
  readonly id: ServerId;
  /** Seeded in simulation; from the runtime in production. Draws election timeouts. */
  readonly random: Random;
  /** @default {defaultRaftConfig()} */
  readonly config?: RaftConfig;
  /** What the shell persisted; absent for a brand-new server. */
  readonly storage?: RaftStorageState;
  /**
   * For a brand-new cluster: the initial voters. Every bootstrapping server writes the same
   * first entry (index 1, term 1, this membership), as etcd's bootstrap does. Ignored when
   * `storage` holds any state. A server joining an existing cluster passes neither and waits
   * for the leader to send it the log.
   */
  readonly bootstrapVoters?: readonly ServerId[];
}

/** What the last `ready()` handed out, confirmed by `advance()`. */
interface Handed {
  readonly lastIndex: number;
  readonly persistEpoch: number;
  readonly applied: number;
  readonly hardState: HardState;
  readonly snapshot: Snapshot | undefined;
}

interface PendingRead {
  readonly requestId: number;
  readonly index: number;
  readonly round: number;
}

/**
 * One Raft server. All methods are synchronous and deterministic given the `Random`.
 *
 * @example
 * ```ts
 * const raft = new Raft({ id: "a", random: new SeededRandom(1), bootstrapVoters: ["a"] });
 * for (let i = 0; i < 30; i += 1) raft.tick();
 * const ready = raft.ready(); // persist, send, apply: see ready.ts
 * raft.advance();
 * ```
 */
export class Raft {
  readonly #id: ServerId;
  readonly #config: RaftConfig;
  readonly #random: Random;
  readonly #log: RaftLog;
  #term = 0;
  #vote: ServerId | undefined;
  #leader: ServerId | undefined;
  #role: Role = "follower";
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #randomizedElectionTimeout = 0;
  #tickCount = 0;
  /** Refuse votes for an election timeout after start-up, as if a leader had just been heard. */
  #startupGuard = true;
  readonly #progress = new Map<ServerId, Progress>();
  readonly #votes = new Map<ServerId, boolean>();
  #transferee: ServerId | undefined;
  #transferElapsed = 0;
  #leaseForfeited = false;
  #lastRound = 0;
  #quorumRound = 0;
  /** A heartbeat round still in the outbox (it leaves with the next `ready()`), or 0. */
  #unsentRound = 0;
  #pendingReads: PendingRead[] = [];
  #readStates: ReadState[] = [];
  #messages: Message[] = [];
  #droppedMessageCount = 0;
  /** Leader: entries or commit news wait for the next `ready()` so they go out in batches. */
  #appendPending = false;
  readonly #emptyAppendWanted = new Set<ServerId>();
  #persistedHardState: HardState;
  #handed: Handed | undefined;

  /** @param options identity, randomness, config, persisted state or bootstrap voters */
  constructor(options: RaftOptions) {
    this.#id = options.id;
    this.#random = options.random;
    this.#config = options.config ?? defaultRaftConfig();
    validateRaftConfig(this.#config);
    const storage = options.storage;
    this.#log = RaftLog.restore(storage?.snapshot, storage?.entries ?? []);
    const hardState = storage?.hardState ?? { term: 0, vote: undefined, commit: 0 };
    // A torn write can keep entries whose term record was lost: never run behind the log.
    this.#term = Math.max(hardState.term, this.#log.lastTerm);
    this.#vote = hardState.term === this.#term ? hardState.vote : undefined;
    assert(
      hardState.commit <= this.#log.lastIndex,
      `Cannot restore Raft: commit ${hardState.commit} is past the log's end ${this.#log.lastIndex}`,
    );
    this.#log.commitTo(hardState.commit);
    this.#persistedHardState = { term: this.#term, vote: this.#vote, commit: this.#log.committed };
    if (this.#log.lastIndex === 0 && this.#term === 0 && options.bootstrapVoters !== undefined) {
      this.#bootstrap(options.bootstrapVoters);
    }
    this.#resetRandomizedElectionTimeout();
  }

  #bootstrap(voters: readonly ServerId[]): void {
    assert(voters.length > 0, "Cannot bootstrap: no voters given");
    assert(new Set(voters).size === voters.length, "Cannot bootstrap: voters repeat");
    const membership: Membership = { voters: [...voters].sort(), nonVoters: [] };
    this.#term = 1;
    this.#log.append([{ type: "membership", index: 1, term: 1, membership }]);
    this.#log.commitTo(1);
  }

  /** This server's name. */
  get id(): ServerId {
    return this.#id;
  }

  /** The current term. */
  get term(): number {
    return this.#term;
  }

  /** The current role. */
  get role(): Role {
    return this.#role;
  }

  /** The leader known for the current term, if any. */
  get leader(): ServerId | undefined {
    return this.#leader;
  }

  /** The membership in force (the newest in the log, committed or not). */
  get membership(): Membership {
    return this.#log.membership;
  }

  /** Highest index known committed. */
  get commitIndex(): number {
    return this.#log.committed;
  }

  /** Highest index applied (confirmed by `advance()`). */
  get appliedIndex(): number {
    return this.#log.applied;
  }

  /** Index of the last log entry. */
  get lastIndex(): number {
    return this.#log.lastIndex;
  }

  /** First index still held in the log (older entries are compacted into the snapshot). */
  get firstIndex(): number {
    return this.#log.firstIndex;
  }

  /** Index of the newest snapshot (taken here or installed), 0 when there is none. */
  get snapshotIndex(): number {
    return this.#log.snapshot?.meta.index ?? 0;
  }

  /** Messages dropped because the outbox was full (`outboxMessagesMax`). */
  get droppedMessageCount(): number {
    return this.#droppedMessageCount;
  }

  /** Returns the log entry at `index`, if held (for tests and diagnostics). */
  entry(index: number): Entry | undefined {
    return this.#log.entry(index);
  }

  /** Returns the term of the entry at `index`, if known. */
  termAt(index: number): number | undefined {
    return this.#log.term(index);
  }

  /** The leader's view of `follower`'s log (match index, state), for promotion decisions. */
  progressOf(follower: ServerId): { match: number; next: number; state: string } | undefined {
    const progress = this.#progress.get(follower);
    if (progress === undefined) return undefined;
    return { match: progress.match, next: progress.next, state: progress.state };
  }

  /** Volatile state for status endpoints. */
  softState(): SoftState {
    return { leader: this.#leader, role: this.#role, term: this.#term };
  }

  #hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.#log.committed };
  }

  #isVoter(id: ServerId): boolean {
    return this.#log.membership.voters.includes(id);
  }

  #resetRandomizedElectionTimeout(): void {
    const base = this.#config.electionTimeoutTicks;
    this.#randomizedElectionTimeout = base + randomBelow(this.#random, base);
  }

  #send(message: Message): void {
    if (this.#messages.length >= this.#config.outboxMessagesMax) {
      this.#droppedMessageCount += 1;
      return;
    }
    this.#messages.push(message);
  }

  // ---------------------------------------------------------------------------------------------
  // Time.

  /** Advances logical time by one tick: elections for followers, heartbeats for leaders. */
  tick(): void {
    this.#tickCount += 1;
    if (this.#role === "leader") this.#tickLeader();
    else this.#tickElection();
  }

  #tickElection(): void {
    this.#electionElapsed += 1;
    if (this.#electionElapsed >= this.#config.electionTimeoutTicks) this.#startupGuard = false;
    if (!this.#isVoter(this.#id)) return;
    if (this.#electionElapsed < this.#randomizedElectionTimeout) return;
    this.#electionElapsed = 0;
    this.#campaign(this.#config.preVote ? "preVote" : "election");
  }

  #tickLeader(): void {
    this.#heartbeatElapsed += 1;
    this.#electionElapsed += 1;
    if (this.#transferee !== undefined) {
      this.#transferElapsed += 1;
      // A transfer that has not finished within an election timeout is abandoned (etcd).
      if (this.#transferElapsed >= this.#config.electionTimeoutTicks) this.#transferee = undefined;
    }
    if (this.#electionElapsed >= this.#config.electionTimeoutTicks) {
      this.#electionElapsed = 0;
      if (this.#config.checkQuorum && !this.#quorumActive()) {
        // Check-quorum: a leader that cannot reach a majority steps down (thesis §6.2).
        this.#becomeFollower(this.#term, undefined);
        return;
      }
      for (const progress of this.#progress.values()) progress.recentActive = false;
    }
    for (const progress of this.#progress.values()) {
      const waited = this.#tickCount - progress.snapshotSentTick;
      // A snapshot lost on the way is resent after an election timeout without an answer.
      if (progress.state === "snapshot" && waited >= this.#config.electionTimeoutTicks) {
        progress.becomeProbe();
        this.#appendPending = true;
      }
    }
    if (this.#heartbeatElapsed >= this.#config.heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.#broadcastHeartbeat();
      this.#updateQuorumRound(); // A lone voter confirms its own rounds.
    }
  }

  #quorumActive(): boolean {
    let active = 0;
    const voters = this.#log.membership.voters;
    for (const voter of voters) {
      if (voter === this.#id || this.#progress.get(voter)?.recentActive === true) active += 1;
    }
    return active >= Math.floor(voters.length / 2) + 1;
  }

  // ---------------------------------------------------------------------------------------------
  // Role changes.

  #reset(term: number): void {
    if (term !== this.#term) {
      this.#term = term;
      this.#vote = undefined;
    }
    this.#leader = undefined;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#resetRandomizedElectionTimeout();
    this.#transferee = undefined;
    this.#transferElapsed = 0;
    this.#leaseForfeited = false;
    this.#votes.clear();
    this.#progress.clear();
    this.#emptyAppendWanted.clear();
    this.#appendPending = false;
    // Reads waiting for a heartbeat quorum cannot be confirmed by a non-leader; their clients
    // time out and retry at the new leader.
    this.#pendingReads = [];
    this.#quorumRound = 0;
    this.#unsentRound = 0;
  }

  #becomeFollower(term: number, leader: ServerId | undefined): void {
    this.#reset(term);
    this.#role = "follower";
    this.#leader = leader;
  }

  #becomePreCandidate(): void {
    // A pre-candidate keeps its term and vote: it only asks whether it could win (thesis §9.6).
    this.#role = "preCandidate";
    this.#leader = undefined;
    this.#votes.clear();
  }

  #becomeCandidate(): void {
    this.#reset(this.#term + 1);
    this.#vote = this.#id;
    this.#role = "candidate";
  }

  #becomeLeader(): void {
    assert(this.#role === "candidate", `Cannot become leader: role is "${this.#role}"`);
    this.#reset(this.#term);
    this.#role = "leader";
    this.#leader = this.#id;
    this.#syncProgress();
    // A no-op of the new term lets the leader commit (and learn the commit of) everything before
    // it, which reads and membership changes wait for (Raft §8, thesis §6.4).
    this.#appendAsLeader({ type: "noop", index: this.#log.lastIndex + 1, term: this.#term });
  }

  /** Leader: one Progress per member but itself, matching the membership in force. */
  #syncProgress(): void {
    const { voters, nonVoters } = this.#log.membership;
    const members = new Set([...voters, ...nonVoters]);
    members.delete(this.#id);
    for (const id of this.#progress.keys()) if (!members.has(id)) this.#progress.delete(id);
    for (const id of members) {
      if (this.#progress.has(id)) continue;
      const progress = new Progress(this.#log.lastIndex + 1, this.#config.inflightMessagesMax);
      progress.recentActive = true; // New members get an election timeout's grace.
      this.#progress.set(id, progress);
    }
  }

  #campaign(kind: "preVote" | "election" | "transfer"): void {
    if (kind === "preVote") this.#becomePreCandidate();
    else this.#becomeCandidate();
    const preVote = kind === "preVote";
    const term = preVote ? this.#term + 1 : this.#term;
    this.#votes.set(this.#id, true);
    if (this.#tallyVotes()) return;
    for (const voter of this.#log.membership.voters) {
      if (voter === this.#id) continue;
      this.#send({
        type: "requestVote",
        from: this.#id,
        to: voter,
        term,
        preVote,
        lastIndex: this.#log.lastIndex,
        lastTerm: this.#log.lastTerm,
        force: kind === "transfer",
      });
    }
  }

  /** Acts on the votes so far; returns true when the election is decided. */
  #tallyVotes(): boolean {
    const result = voteResult(this.#log.membership.voters, this.#votes);
    if (result === "pending") return false;
    if (result === "lost") {
      this.#becomeFollower(this.#term, undefined);
      return true;
    }
    if (this.#role === "preCandidate") this.#campaign("election");
    else this.#becomeLeader();
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Messages.

  /**
   * Handles one message from another server. Messages may arrive late, twice or out of order;
   * stale ones are ignored or answered so that their sender catches up.
   *
   * @param message a message whose `to` is this server
   */
  step(message: Message): void {
    assert(message.to === this.#id, `Cannot step a message: it is for "${message.to}"`);
    if (message.from === this.#id) return;
    if (message.term > this.#term && !this.#stepHigherTerm(message)) return;
    if (message.term < this.#term) {
      this.#stepLowerTerm(message);
      return;
    }
    switch (message.type) {
      case "requestVote":
        return this.#handleRequestVote(message);
      case "requestVoteResponse":
        return this.#handleVoteResponse(message);
      case "appendEntries":
      case "heartbeat":
      case "installSnapshot":
        return this.#stepFromLeader(message);
      case "appendEntriesResponse":
        if (this.#role === "leader") this.#handleAppendResponse(message);
        return;
      case "heartbeatResponse":
        if (this.#role === "leader") this.#handleHeartbeatResponse(message);
        return;
      case "timeoutNow":
        if (this.#role !== "leader" && this.#isVoter(this.#id)) this.#campaign("transfer");
        return;
    }
  }

  /** A message from a newer term; returns false when it must be ignored. */
  #stepHigherTerm(message: Message): boolean {
    if (message.type === "requestVote") {
      const inLease = this.#config.checkQuorum &&
        (this.#leader !== undefined || this.#startupGuard) &&
        this.#electionElapsed < this.#config.electionTimeoutTicks;
      // A server that heard a leader within the election timeout ignores candidates, unless a
      // leadership transfer sent them (thesis §4.2.3, §6.4.1): this is what makes leases sound.
      if (inLease && !message.force) return false;
      if (message.preVote) return true; // Pre-votes never change the term.
    }
    if (message.type === "requestVoteResponse" && message.preVote && message.granted) return true;
    const fromLeader = message.type === "appendEntries" || message.type === "heartbeat" ||
      message.type === "installSnapshot";
    this.#becomeFollower(message.term, fromLeader ? message.from : undefined);
    return true;
  }

  #stepLowerTerm(message: Message): void {
    const fromLeader = message.type === "appendEntries" || message.type === "heartbeat";
    if (fromLeader && (this.#config.checkQuorum || this.#config.preVote)) {
      // A deposed leader partitioned away cannot learn the new term from votes (pre-vote and
      // lease both silence them), so tell it directly (etcd).
      this.#send({
        type: "appendEntriesResponse",
        from: this.#id,
        to: message.from,
        term: this.#term,
        index: 0,
        reject: false,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (message.type === "requestVote" && message.preVote) {
      this.#sendVoteResponse(message, false);
    }
  }

  #sendVoteResponse(request: RequestVote, granted: boolean): void {
    this.#send({
      type: "requestVoteResponse",
      from: this.#id,
      to: request.from,
      // A granted pre-vote carries the term it was asked for, so the pre-candidate counts it.
      term: granted ? request.term : this.#term,
      preVote: request.preVote,
      granted,
    });
  }

  #handleRequestVote(message: RequestVote): void {
    const canVote = this.#vote === message.from ||
      (this.#vote === undefined && this.#leader === undefined) ||
      (message.preVote && message.term > this.#term);
    const granted = canVote && this.#log.isUpToDate(message.lastIndex, message.lastTerm);
    this.#sendVoteResponse(message, granted);
    if (granted && !message.preVote) {
      this.#electionElapsed = 0;
      this.#vote = message.from;
    }
  }

  #handleVoteResponse(message: RequestVoteResponse): void {
    const expected = message.preVote ? "preCandidate" : "candidate";
    if (this.#role !== expected) return;
    if (!this.#votes.has(message.from)) this.#votes.set(message.from, message.granted);
    this.#tallyVotes();
  }

  #stepFromLeader(message: AppendEntries | Heartbeat | InstallSnapshot): void {
    if (this.#role === "leader") {
      // Two leaders in one term would break election safety (Raft §5.2).
      assert(false, `Cannot have two leaders in term ${this.#term}: "${message.from}" too`);
    }
    if (this.#role !== "follower") this.#becomeFollower(this.#term, message.from);
    this.#leader = message.from;
    this.#electionElapsed = 0;
    if (message.type === "appendEntries") this.#handleAppendEntries(message);
    else if (message.type === "heartbeat") this.#handleHeartbeat(message);
    else this.#handleInstallSnapshot(message);
  }

  #respondAppend(to: ServerId, index: number, reject = false, hint = { index: 0, term: 0 }): void {
    this.#send({
      type: "appendEntriesResponse",
      from: this.#id,
      to,
      term: this.#term,
      index,
      reject,
      hintIndex: hint.index,
      hintTerm: hint.term,
    });
  }

  #handleAppendEntries(message: AppendEntries): void {
    if (message.prevIndex < this.#log.committed) {
      // Entries through commit already match; tell the leader where we are.
      this.#respondAppend(message.from, this.#log.committed);
      return;
    }
    const lastNew = this.#log.maybeAppend(message.prevIndex, message.prevTerm, message.entries);
    if (lastNew !== undefined) {
      this.#log.commitTo(Math.min(message.commit, lastNew));
      this.#respondAppend(message.from, lastNew);
      return;
    }
    // Point the leader past our whole conflicting term at once (etcd's fast backtracking).
    const hint = this.#log.findConflictByTerm(
      Math.min(message.prevIndex, this.#log.lastIndex),
      message.prevTerm,
    );
    this.#respondAppend(message.from, message.prevIndex, true, hint);
  }

  #handleHeartbeat(message: Heartbeat): void {
    // The leader sends min(commit, our match), so this never commits past our matching log.
    this.#log.commitTo(Math.min(message.commit, this.#log.lastIndex));
    const response: HeartbeatResponse = {
      type: "heartbeatResponse",
      from: this.#id,
      to: message.from,
      term: this.#term,
      round: message.round,
    };
    this.#send(response);
  }

  #handleInstallSnapshot(message: InstallSnapshot): void {
    const meta = message.snapshot.meta;
    if (meta.index <= this.#log.committed) {
      this.#respondAppend(message.from, this.#log.committed);
      return;
    }
    if (this.#log.matchTerm(meta.index, meta.term)) {
      // The log already holds the snapshot's end: only the commit point moves (etcd).
      this.#log.commitTo(meta.index);
      this.#respondAppend(message.from, this.#log.committed);
      return;
    }
    this.#log.restoreSnapshot(message.snapshot);
    this.#respondAppend(message.from, this.#log.lastIndex);
  }

  #handleAppendResponse(message: AppendEntriesResponse): void {
    const progress = this.#progress.get(message.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    if (message.reject) {
      let hintNext = message.hintIndex + 1;
      if (message.hintTerm > 0) {
        hintNext = this.#log.findConflictByTerm(message.hintIndex, message.hintTerm).index + 1;
      }
      if (progress.maybeDecrease(message.index, hintNext)) {
        if (progress.state === "replicate") progress.becomeProbe();
        this.#appendPending = true;
      }
      return;
    }
    const wasPaused = progress.isPaused();
    if (!progress.maybeUpdate(message.index)) {
      if (wasPaused && !progress.isPaused()) this.#appendPending = true;
      return;
    }
    if (progress.state === "probe") progress.becomeReplicate();
    else if (progress.state === "snapshot" && progress.match + 1 >= this.#log.firstIndex) {
      progress.becomeProbe();
      progress.becomeReplicate();
    }
    if (this.#maybeCommit()) this.#afterCommit();
    this.#appendPending = true;
    if (message.from === this.#transferee && progress.match === this.#log.lastIndex) {
      this.#sendTimeoutNow(message.from);
    }
  }

  #handleHeartbeatResponse(message: HeartbeatResponse): void {
    const progress = this.#progress.get(message.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    progress.probeSent = false;
    progress.freeFirstInflight();
    if (progress.match < this.#log.lastIndex) {
      // The follower is behind (an append may have been lost): re-send, even if empty (etcd).
      this.#emptyAppendWanted.add(message.from);
      this.#appendPending = true;
    }
    if (message.round > progress.ackedRound) {
      progress.ackedRound = message.round;
      this.#updateQuorumRound();
    }
  }

  #updateQuorumRound(): void {
    const rounds = this.#log.membership.voters.map((voter) =>
      voter === this.#id ? this.#lastRound : this.#progress.get(voter)?.ackedRound ?? 0
    );
    const quorumRound = majorityValue(rounds);
    if (quorumRound <= this.#quorumRound) return;
    this.#quorumRound = quorumRound;
    // Every read whose heartbeat round a majority echoed is confirmed (thesis §6.4 step 3).
    let released = 0;
    while (released < this.#pendingReads.length) {
      const read = this.#pendingReads[released];
      if (read.round > quorumRound) break;
      this.#readStates.push({ requestId: read.requestId, index: read.index });
      released += 1;
    }
    if (released > 0) this.#pendingReads = this.#pendingReads.slice(released);
  }

  #nextRound(): number {
    const base = this.#tickCount * ROUNDS_PER_TICK;
    this.#lastRound = Math.max(base, this.#lastRound + 1);
    assert(this.#lastRound < base + ROUNDS_PER_TICK, "Cannot number a heartbeat: tick is full");
    return this.#lastRound;
  }

  /** Sends a heartbeat round to every follower; returns its number. */
  #broadcastHeartbeat(): number {
    const round = this.#nextRound();
    this.#unsentRound = round;
    for (const [id, progress] of this.#progress) {
      this.#send({
        type: "heartbeat",
        from: this.#id,
        to: id,
        term: this.#term,
        commit: Math.min(progress.match, this.#log.committed),
        round,
      });
    }
    return round;
  }

  #sendTimeoutNow(to: ServerId): void {
    this.#send({ type: "timeoutNow", from: this.#id, to, term: this.#term });
  }

  /**
   * Leader: commits the highest index a majority stores, if it is of this term (Raft §5.4.2).
   * Its own log counts only through what its disk holds: its appends may leave before its own
   * fsync (see `Ready.sendBeforePersist`), so followers can ack entries it has not persisted.
   */
  #maybeCommit(): boolean {
    const matches = this.#log.membership.voters.map((voter) =>
      voter === this.#id ? this.#log.persistedIndex : this.#progress.get(voter)?.match ?? 0
    );
    const index = majorityValue(matches);
    if (index <= this.#log.committed || this.#log.term(index) !== this.#term) return false;
    return this.#log.commitTo(index);
  }

  #afterCommit(): void {
    // Followers learn the new commit point with the next append, sent even if empty.
    for (const id of this.#progress.keys()) this.#emptyAppendWanted.add(id);
    this.#appendPending = true;
    // A leader removed from the membership leaves once the removal is committed (thesis §4.2.2).
    if (!this.#isVoter(this.#id) && this.#log.committed >= this.#log.membershipIndex) {
      this.#becomeFollower(this.#term, undefined);
    }
  }

  /** Leader: sends what each follower lacks, batching entries and respecting each window. */
  #flushAppends(): void {
    if (!this.#appendPending || this.#role !== "leader") return;
    this.#appendPending = false;
    for (const [id, progress] of this.#progress) {
      let sendIfEmpty = this.#emptyAppendWanted.has(id);
      for (let sent = 0; sent <= this.#config.inflightMessagesMax; sent += 1) {
        if (!this.#sendAppend(id, progress, sendIfEmpty)) break;
        sendIfEmpty = false;
      }
    }
    this.#emptyAppendWanted.clear();
  }

  #sendAppend(to: ServerId, progress: Progress, sendIfEmpty: boolean): boolean {
    if (progress.isPaused()) return false;
    const prevIndex = progress.next - 1;
    const prevTerm = this.#log.term(prevIndex);
    if (prevTerm === undefined || progress.next < this.#log.firstIndex) {
      return this.#sendSnapshot(to, progress);
    }
    const { appendEntriesMax, appendBytesMax } = this.#config;
    const entries = this.#log.slice(progress.next, appendEntriesMax, appendBytesMax);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.#send({
      type: "appendEntries",
      from: this.#id,
      to,
      term: this.#term,
      prevIndex,
      prevTerm,
      entries,
      commit: this.#log.committed,
    });
    progress.sentEntries(prevIndex + entries.length, entries.length);
    return true;
  }

  #sendSnapshot(to: ServerId, progress: Progress): boolean {
    const snapshot = this.#log.snapshot;
    assert(snapshot !== undefined, "Cannot send a snapshot: the log was compacted without one");
    this.#send({ type: "installSnapshot", from: this.#id, to, term: this.#term, snapshot });
    progress.becomeSnapshot(snapshot.meta.index, this.#tickCount);
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Client requests.

  #rejected(reason: RejectReason): Rejected {
    return { type: "rejected", reason, leader: this.#leader };
  }

  #leaderRefusal(): RejectReason | undefined {
    if (this.#role !== "leader") return "notLeader";
    if (this.#transferee !== undefined) return "transferring";
    return undefined;
  }

  #appendAsLeader(entry: Entry): void {
    this.#log.append([entry]);
    if (entry.type === "membership") this.#syncProgress();
    if (this.#maybeCommit()) this.#afterCommit();
    this.#appendPending = true;
  }

  /**
   * Appends `data` to the log if this server leads. Never throws for operating conditions: a
   * follower, a full pipeline or an oversized entry is a `rejected` outcome. An accepted
   * proposal is committed when an entry at `index` with `term` comes out of `committedEntries`;
   * if a different entry comes out at `index`, the proposal was lost.
   *
   * @param data the command, opaque to the core
   */
  propose(data: Uint8Array): ProposeOutcome {
    const refusal = this.#leaderRefusal();
    if (refusal !== undefined) return this.#rejected(refusal);
    if (data.byteLength > this.#config.entryBytesMax) return this.#rejected("tooLarge");
    if (this.#log.lastIndex - this.#log.committed >= this.#config.proposalsInFlightMax) {
      return this.#rejected("busy");
    }
    const index = this.#log.lastIndex + 1;
    this.#appendAsLeader({ type: "normal", index, term: this.#term, data });
    return { type: "accepted", index, term: this.#term };
  }

  /**
   * Proposes one single-server membership change (thesis §4.1). It takes effect on each server
   * as soon as the entry is in its log; one change at a time, and only after the leader has
   * committed an entry of its own term (the fix to single-server changes, thesis §4.1 errata).
   * Promoting a non-voter once it has caught up (see `progressOf()`) is the caller's decision.
   *
   * @param change the change
   */
  proposeMembership(change: MembershipChange): ProposeOutcome {
    const refusal = this.#leaderRefusal();
    if (refusal !== undefined) return this.#rejected(refusal);
    if (this.#log.term(this.#log.committed) !== this.#term) return this.#rejected("leaderNotReady");
    if (this.#log.membershipIndex > this.#log.committed) return this.#rejected("membershipPending");
    const membership = applyMembershipChange(this.#log.membership, change);
    if (membership === undefined) return this.#rejected("invalidChange");
    const index = this.#log.lastIndex + 1;
    this.#appendAsLeader({ type: "membership", index, term: this.#term, membership });
    return { type: "accepted", index, term: this.#term };
  }

  /**
   * Starts a linearizable read (read-index, thesis §6.4): the leader notes its commit index and
   * confirms it still leads with a heartbeat round; then a `ReadState` with `requestId` comes
   * out of `ready()`. Followers reject with `notLeader`: the shell forwards to the leader.
   *
   * @param requestId the caller's id for this read, echoed in the `ReadState`
   */
  readIndex(requestId: number): RequestOutcome {
    if (this.#role !== "leader") return this.#rejected("notLeader");
    if (this.#log.term(this.#log.committed) !== this.#term) return this.#rejected("leaderNotReady");
    if (this.#pendingReads.length >= this.#config.readRequestsMax) return this.#rejected("busy");
    // The round goes out after the read arrived, so its echo proves leadership since then. A
    // round still in the outbox leaves after this read too: reads between two ready() calls
    // share one round (etcd batches read-index requests the same way).
    const round = this.#unsentRound !== 0 ? this.#unsentRound : this.#broadcastHeartbeat();
    this.#pendingReads.push({ requestId, index: this.#log.committed, round });
    this.#updateQuorumRound();
    return { type: "accepted" };
  }

  /**
   * True while this leader may answer reads from its own state without a round trip: a
   * majority echoed a heartbeat sent less than `electionTimeoutTicks - leaseMarginTicks` ago,
   * and each of them ignores candidates for an election timeout after hearing it (thesis
   * §6.4.1). Read after applying through `commitIndex` at the time of this call. Assumes the
   * servers' tick rates agree within the margin; a leader that started a transfer forfeits
   * its lease for the rest of its term.
   */
  leaseValid(): boolean {
    if (this.#role !== "leader" || this.#leaseForfeited || !this.#config.checkQuorum) return false;
    if (this.#log.term(this.#log.committed) !== this.#term) return false;
    if (this.#log.membership.voters.length === 1 && this.#isVoter(this.#id)) return true;
    if (this.#quorumRound === 0) return false;
    const sentTick = Math.floor(this.#quorumRound / ROUNDS_PER_TICK);
    const leaseTicks = this.#config.electionTimeoutTicks - this.#config.leaseMarginTicks;
    return this.#tickCount < sentTick + leaseTicks;
  }

  /**
   * Hands leadership to `target` (thesis §3.10): new proposals are refused while it lasts; the
   * target is brought up to date, then told to campaign at once. Abandoned after an election
   * timeout.
   *
   * @param target a voter
   */
  transferLeadership(target: ServerId): RequestOutcome {
    if (this.#role !== "leader") return this.#rejected("notLeader");
    const progress = this.#progress.get(target);
    if (progress === undefined || !this.#isVoter(target)) return this.#rejected("invalidChange");
    if (this.#transferee === target) return { type: "accepted" };
    this.#transferee = target;
    this.#transferElapsed = 0;
    this.#leaseForfeited = true;
    if (progress.match === this.#log.lastIndex) this.#sendTimeoutNow(target);
    else this.#appendPending = true;
    return { type: "accepted" };
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots.

  /** True when enough entries were applied since the last snapshot to take a new one. */
  snapshotDue(): boolean {
    const since = this.#log.applied - (this.#log.snapshot?.meta.index ?? 0);
    return since >= this.#config.snapshotThresholdEntries;
  }

  /**
   * Records a snapshot of the state machine taken at `appliedIndex` (at most `appliedIndex`)
   * and compacts the log, keeping `trailingEntries` before it so that slightly slow followers
   * still get entries. The shell persists the snapshot (temp file, fsync, rename) and may then
   * delete persisted entries before the returned `firstIndexKept`.
   *
   * @param index the last applied index the snapshot covers
   * @param data the serialized state machine
   * @param options `trailingEntries` to keep instead of the configured number (after a restore
   *   the entries before it are its chunks: followers behind them are better served the
   *   snapshot, and the memory they hold is better freed at once)
   */
  createSnapshot(
    index: number,
    data: Uint8Array,
    options: { trailingEntries?: number } = {},
  ): { meta: SnapshotMeta; firstIndexKept: number } {
    const trailing = options.trailingEntries ?? this.#config.trailingEntries;
    assert(
      Number.isSafeInteger(trailing) && trailing >= 0,
      `Cannot snapshot keeping ${trailing} trailing entries: a count >= 0 is needed`,
    );
    assert(
      index <= this.#log.applied,
      `Cannot snapshot at ${index}: applied is ${this.#log.applied}`,
    );
    const previous = this.#log.snapshot?.meta.index ?? 0;
    assert(index > previous, `Cannot snapshot at ${index}: a snapshot at ${previous} exists`);
    const meta = this.#log.snapshotMetaAt(index);
    const firstIndexKept = this.#log.compact({ meta, data }, trailing);
    return { meta, firstIndexKept };
  }

  // ---------------------------------------------------------------------------------------------
  // Ready / advance.

  /**
   * True when `ready()` has something for the shell. Pending appends are built into the
   * outbox here (as `ready()` would): an ack that leaves nothing to send (the follower has
   * every entry, and its commit news already left) then makes no empty `Ready`, which cost
   * the shell a turn of its ready loop for every second ack of every write.
   */
  hasReady(): boolean {
    if (this.#handed !== undefined) return false;
    this.#flushAppends();
    if (this.#messages.length > 0 || this.#readStates.length > 0) return true;
    if (this.#log.pendingSnapshot !== undefined) return true;
    if (this.#log.hasUnpersisted()) return true;
    if (this.#log.committed > this.#log.applied) return true;
    return !sameHardState(this.#hardState(), this.#persistedHardState);
  }

  /**
   * Collects the work for the shell; see `ready.ts` for the order and the durability contract.
   * Call `advance()` once it is handled before the next `ready()`; `step`, `tick` and requests
   * may be called in between (their output goes into the next `Ready`).
   */
  ready(): Ready {
    assert(this.#handed === undefined, "Cannot take a Ready: the previous one is not advanced");
    this.#flushAppends();
    const entriesToPersist = this.#log.unpersisted();
    const committedEntries = this.#log.committedAfter(
      this.#log.applied,
      this.#config.applyEntriesMax,
    );
    const hardState = this.#hardState();
    const snapshotToApply = this.#log.pendingSnapshot;
    const persisted = this.#persistedHardState;
    this.#handed = {
      lastIndex: entriesToPersist.at(-1)?.index ?? 0,
      persistEpoch: this.#log.persistEpoch,
      applied: committedEntries.at(-1)?.index ?? this.#log.applied,
      hardState,
      snapshot: snapshotToApply,
    };
    const ready: Ready = {
      softState: this.softState(),
      hardState: sameHardState(hardState, this.#persistedHardState) ? undefined : hardState,
      snapshotToApply,
      entriesToPersist,
      messagesToSend: this.#messages,
      // Led throughout, in a term and vote already durable: nothing here vouches for this
      // server's disk (its own entries count toward commit only after advance()).
      sendBeforePersist: this.#role === "leader" && hardState.term === persisted.term &&
        hardState.vote === persisted.vote && snapshotToApply === undefined,
      committedEntries,
      readStates: this.#readStates,
    };
    this.#messages = [];
    this.#unsentRound = 0; // The outbox was handed out: its rounds are leaving.
    this.#readStates = [];
    return ready;
  }

  /** Confirms that the last `Ready` was persisted, sent and applied. */
  advance(): void {
    const handed = this.#handed;
    assert(handed !== undefined, "Cannot advance: no Ready was taken");
    this.#handed = undefined;
    if (handed.snapshot !== undefined) this.#log.snapshotApplied(handed.snapshot);
    if (handed.lastIndex > 0) {
      this.#log.persistedTo(handed.lastIndex, handed.persistEpoch);
      // The leader's own entries count toward a majority once durable.
      if (this.#role === "leader" && this.#maybeCommit()) this.#afterCommit();
    }
    // A snapshot installed after the Ready was taken already moved `applied` past this batch.
    if (handed.applied > this.#log.applied) this.#log.appliedTo(handed.applied);
    this.#persistedHardState = handed.hardState;
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * Returns the membership after `change`, or `undefined` when the change does not apply (adding
 * a member twice, promoting a voter, removing a stranger or the last voter).
 *
 * @param membership the membership in force
 * @param change one single-server change
 */
export function applyMembershipChange(
  membership: Membership,
  change: MembershipChange,
): Membership | undefined {
  const { voters, nonVoters } = membership;
  const id = change.id;
  const isVoter = voters.includes(id);
  const isNonVoter = nonVoters.includes(id);
  const sorted = (ids: ServerId[]): ServerId[] => ids.sort();
  switch (change.type) {
    case "addVoter":
      if (isVoter) return undefined;
      return {
        voters: sorted([...voters, id]),
        nonVoters: nonVoters.filter((other) => other !== id),
      };
    case "addNonVoter":
      if (isVoter || isNonVoter) return undefined;
      return { voters: [...voters], nonVoters: sorted([...nonVoters, id]) };
    case "promote":
      if (!isNonVoter) return undefined;
      return {
        voters: sorted([...voters, id]),
        nonVoters: nonVoters.filter((other) => other !== id),
      };
    case "remove":
      if (!isVoter && !isNonVoter) return undefined;
      if (isVoter && voters.length === 1) return undefined;
      return {
        voters: voters.filter((other) => other !== id),
        nonVoters: nonVoters.filter((other) => other !== id),
      };
  }
}
