/**
 * Tuning for the Raft core. Durations are counted in ticks: the shell calls `Raft.tick()` at a
 * fixed interval (Consul's shell uses 100 ms), so timeouts scale with that interval.
 *
 * @module
 */

/** Tuning for one Raft server; every bound is a `...Max` with a default. */
export interface RaftConfig {
  /**
   * Ticks a follower waits without hearing a leader before it campaigns; each election draws a
   * timeout in [electionTimeoutTicks, 2 * electionTimeoutTicks) so that candidates rarely tie
   * (Raft §5.2). @default {10}
   */
  electionTimeoutTicks: number;
  /** Ticks between a leader's heartbeats; well below the election timeout. @default {1} */
  heartbeatTicks: number;
  /**
   * Run a pre-vote round before bumping the term, so a server that was partitioned away cannot
   * disrupt a healthy leader when it returns (Raft thesis §9.6). @default {true}
   */
  preVote: boolean;
  /**
   * A leader that has not heard from a majority within an election timeout steps down, and
   * followers that heard a leader recently ignore vote requests (Raft thesis §6.2); this is
   * also what makes the leader lease sound. @default {true}
   */
  checkQuorum: boolean;
  /**
   * Ticks taken off the lease to cover clock drift and tick phase between servers; the lease is
   * `electionTimeoutTicks - leaseMarginTicks` after the heartbeat round a majority acknowledged.
   * @default {2}
   */
  leaseMarginTicks: number;
  /** Entries in one AppendEntries message (batching). @default {256} */
  appendEntriesMax: number;
  /** Payload bytes in one AppendEntries message; one entry may exceed it alone. @default {1_048_576} */
  appendBytesMax: number;
  /**
   * AppendEntries messages in flight to one follower before the leader waits for acks
   * (pipelining window). @default {64}
   */
  inflightMessagesMax: number;
  /**
   * Entries the leader holds that are not committed yet; proposals past it are rejected with
   * `busy` (back-pressure, never unbounded memory). @default {4_096}
   */
  proposalsInFlightMax: number;
  /** Bytes of one proposal's data. @default {524_288} */
  entryBytesMax: number;
  /** Read-index requests waiting for a heartbeat quorum; more are rejected `busy`. @default {4_096} */
  readRequestsMax: number;
  /** Committed entries handed out by one `ready()`. @default {4_096} */
  applyEntriesMax: number;
  /** Messages queued between two `ready()` calls; past it they are dropped and counted. @default {65_536} */
  outboxMessagesMax: number;
  /** Applied entries since the last snapshot that make `snapshotDue()` true (Consul's default). @default {16_384} */
  snapshotThresholdEntries: number;
  /** Entries kept before a snapshot's index so slow followers avoid a snapshot (Consul's default). @default {10_240} */
  trailingEntries: number;
}

/** Defaults matching Consul's server (with a 100 ms tick: 1 s election timeout). */
export function defaultRaftConfig(): RaftConfig {
  return {
    electionTimeoutTicks: 10, // 1 s at a 100 ms tick, Consul's LAN election timeout.
    heartbeatTicks: 1, // 100 ms: ten heartbeats per election timeout.
    preVote: true, // A rejoining server must not depose a healthy leader.
    checkQuorum: true, // Required for lease reads.
    leaseMarginTicks: 2, // Two ticks of drift and phase between servers.
    appendEntriesMax: 256, // Batching: one message carries many proposals.
    appendBytesMax: 1_048_576, // 1 MiB per message keeps frames small.
    inflightMessagesMax: 64, // Pipelining window per follower.
    proposalsInFlightMax: 4_096, // Back-pressure on writers.
    entryBytesMax: 524_288, // Consul's 512 KiB KV value limit.
    readRequestsMax: 4_096, // Pending consistent reads.
    applyEntriesMax: 4_096, // Bounds one apply batch.
    outboxMessagesMax: 65_536, // Bounds memory between two ready() calls.
    snapshotThresholdEntries: 16_384, // Consul's raft_snapshot_threshold.
    trailingEntries: 10_240, // Consul's raft_trailing_logs.
  };
}

/** Throws `RangeError` if `config` cannot work; the message names the fix. */
export function validateRaftConfig(config: RaftConfig): void {
  for (const [name, value] of Object.entries(config)) {
    if (typeof value === "boolean") continue;
    if (
      !Number.isSafeInteger(value) ||
      value < (name === "leaseMarginTicks" || name === "trailingEntries" ? 0 : 1)
    ) {
      throw new RangeError(
        `Cannot use Raft config as ${name} must be a positive integer (or 0 for leaseMarginTicks and trailingEntries): current value is ${value}`,
      );
    }
  }
  if (config.heartbeatTicks >= config.electionTimeoutTicks) {
    throw new RangeError(
      "Cannot use Raft config as heartbeatTicks must be < electionTimeoutTicks: " +
        `current values are ${config.heartbeatTicks} and ${config.electionTimeoutTicks}`,
    );
  }
  if (config.leaseMarginTicks >= config.electionTimeoutTicks) {
    throw new RangeError(
      "Cannot use Raft config as leaseMarginTicks must be < electionTimeoutTicks: " +
        `current values are ${config.leaseMarginTicks} and ${config.electionTimeoutTicks}`,
    );
  }
}
