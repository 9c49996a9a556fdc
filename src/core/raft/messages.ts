/**
 * The data the Raft core exchanges with its shell: log entries, membership, snapshots and the
 * messages between servers. Plain objects; the shell encodes them for the wire and the WAL.
 *
 * @module
 */

/** A server's name, unique in the cluster. */
export type ServerId = string;

/** Who votes and who only receives the log. */
export interface Membership {
  /** Servers whose votes and acks count toward elections and commits. */
  readonly voters: readonly ServerId[];
  /** Servers that receive the log but do not vote (Consul's non-voters, etcd's learners). */
  readonly nonVoters: readonly ServerId[];
}

/** One single-server membership change (Raft thesis §4.1). */
export type MembershipChange =
  | { readonly type: "addVoter"; readonly id: ServerId }
  | { readonly type: "addNonVoter"; readonly id: ServerId }
  | { readonly type: "promote"; readonly id: ServerId }
  | { readonly type: "remove"; readonly id: ServerId };

/** One log entry. `noop` is written by each new leader; `membership` carries a whole configuration. */
export type Entry =
  | {
    readonly type: "normal";
    readonly index: number;
    readonly term: number;
    readonly data: Uint8Array;
  }
  | { readonly type: "noop"; readonly index: number; readonly term: number }
  | {
    readonly type: "membership";
    readonly index: number;
    readonly term: number;
    readonly membership: Membership;
  };

/** What must survive a crash besides the log (Raft Figure 2's persistent state, plus commit). */
export interface HardState {
  readonly term: number;
  /** The server voted for in `term`, if any. */
  readonly vote: ServerId | undefined;
  /** Highest index known committed; persisting it is optional for safety, useful for restart. */
  readonly commit: number;
}

/** Describes a snapshot: the last entry it covers and the membership as of that entry. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
}

/** A state-machine snapshot made by the shell, with its metadata. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The state machine's serialized state; opaque to the core. */
  readonly data: Uint8Array;
}

interface Envelope {
  readonly from: ServerId;
  readonly to: ServerId;
  /** The sender's term (for a pre-vote request: the term it would campaign in). */
  readonly term: number;
}

/** Leader to follower: entries after `prevIndex`, and the leader's commit (Raft §5.3). */
export interface AppendEntries extends Envelope {
  readonly type: "appendEntries";
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * Follower to leader. Accepted: `index` is the follower's last matching index. Rejected:
 * `index` is the rejected `prevIndex`, and `hintIndex`/`hintTerm` point the leader past the
 * whole conflicting term at once (etcd's fast backtracking).
 */
export interface AppendEntriesResponse extends Envelope {
  readonly type: "appendEntriesResponse";
  readonly index: number;
  readonly reject: boolean;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Leader to follower: keeps followers quiet; `round` numbers it for leases and read-index. */
export interface Heartbeat extends Envelope {
  readonly type: "heartbeat";
  readonly commit: number;
  readonly round: number;
}

/** Follower to leader: echoes the heartbeat's `round`. */
export interface HeartbeatResponse extends Envelope {
  readonly type: "heartbeatResponse";
  readonly round: number;
}

/** Candidate to voter (Raft §5.2), or pre-candidate to voter when `preVote` (thesis §9.6). */
export interface RequestVote extends Envelope {
  readonly type: "requestVote";
  readonly preVote: boolean;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Set by a leadership transfer: voters ignore their leader lease for it. */
  readonly force: boolean;
}

/** Voter to candidate. */
export interface RequestVoteResponse extends Envelope {
  readonly type: "requestVoteResponse";
  readonly preVote: boolean;
  readonly granted: boolean;
}

/**
 * Leader to a follower too far behind for the log: the whole snapshot in one message. Chunking
 * it for the wire (Raft §7's offset/done fields) is the shell's concern.
 */
export interface InstallSnapshot extends Envelope {
  readonly type: "installSnapshot";
  readonly snapshot: Snapshot;
}

/** Leader to the chosen successor: campaign now (Raft thesis §3.10). */
export interface TimeoutNow extends Envelope {
  readonly type: "timeoutNow";
}

/** Any message between two Raft servers. */
export type Message =
  | AppendEntries
  | AppendEntriesResponse
  | Heartbeat
  | HeartbeatResponse
  | RequestVote
  | RequestVoteResponse
  | InstallSnapshot
  | TimeoutNow;

/** Bytes an entry adds to a message, for batching limits. */
export function entryPayloadBytes(entry: Entry): number {
  return entry.type === "normal" ? entry.data.byteLength : 0;
}
