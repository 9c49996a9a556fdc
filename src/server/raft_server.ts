/**
 * A server: the shell around one Raft core. It owns the core, a tick timer, the write-ahead log
 * (through a group committer), the snapshot files and the state store, and carries every
 * `Ready` out under the contract in `src/core/raft/ready.ts`:
 *
 * 1. persist the snapshot (file, then a WAL reset), the entries and the hard state — one
 *    fdatasync for entries and hard state together;
 * 2. send messages (none leave before step 1 is durable, except a leader's when the core marks
 *    the `Ready` `sendBeforePersist`: those go before step 1, Raft thesis §10.2.1);
 * 3. apply the snapshot, then the committed entries, to the state store, resolving the proposals
 *    and reads waiting on them; on the leader, leader duties follow each command (without a
 *    snapshot, committed entries are applied before step 1's write, as the core's contract
 *    allows);
 * 4. advance; then take a snapshot when one is due, and compact the WAL behind it. Right after
 *    a restore (`PUT /v1/snapshot`) one is taken at once, keeping no trailing entries, so the
 *    restore's chunk entries leave the log; none is taken while a restore is being staged.
 *
 * `-dev` runs this same server on in-memory files; `-server -data-dir` on disk. Given an
 * {@link RpcTransport}, messages travel to the other servers over the server RPC (port 8300),
 * and a follower forwards writes and default/consistent reads to the leader:
 *
 * - a write (`propose`) goes to the leader as a `forwardPropose` call, answered with the
 *   leader's `ApplyResult`;
 * - a read (`readBarrier`) asks the leader for a read index with `forwardRead` (the leader
 *   answers its commit index while its lease holds in default mode, else after a read-index
 *   heartbeat round), then waits until this server has applied through it and reads its own
 *   store. Only the index crosses the network, never the data, and `?stale` stays local.
 *
 * @example
 * ```ts ignore
 * const server = await RaftServer.open(runtime, {
 *   id: "node-1",
 *   address: "127.0.0.1:8300",
 *   files: await runtime.files(`${dataDir}/raft`),
 *   bootstrap: true,
 * });
 * const result = await server.propose({ type: "kvSet", op });
 * await server.stop();
 * ```
 *
 * @module
 */

import type { Membership, ServerId, Snapshot } from "../core/raft/messages.ts";
import type { RaftConfig } from "../core/raft/config.ts";
import { defaultRaftConfig } from "../core/raft/config.ts";
import { Raft } from "../core/raft/raft.ts";
import type { Ready, Role } from "../core/raft/ready.ts";
import { SeededRandom } from "../core/random.ts";
import type { ApplyResult, Command } from "../core/state/commands.ts";
import {
  decodeSnapshot as decodeStateSnapshot,
  encodeSnapshot as encodeStateSnapshot,
  restoreSnapshot,
} from "../core/state/snapshot.ts";
import { StateStore } from "../core/state/state_store.ts";
import type { FileStore, Runtime, TimerHandle } from "../runtime.ts";
import { GroupCommitter } from "../storage/group_committer.ts";
import { SnapshotStore } from "../storage/snapshot_store.ts";
import type { HardState, WriteAheadLogOptions } from "../storage/wal.ts";
import { WriteAheadLog } from "../storage/wal.ts";
import {
  decodeCommand,
  decodeMembership,
  encodeCommand,
  encodeMembership,
  fromLogEntry,
  toLogEntry,
} from "./_entry_codec.ts";
import {
  defaultLeaderDutiesConfig,
  LeaderDuties,
  type LeaderDutiesConfig,
} from "./leader_duties.ts";
import { noLeaderResult, type Proposal } from "./proposal.ts";
import {
  decodeRaftMessage,
  decodeServerInfo,
  type ServerInfo,
  snapshotHeader,
} from "./_raft_wire.ts";
import { decodePacked, encodePacked, EntryPacker, isPackable } from "./_raft_binary.ts";
import type { RpcTransport } from "./rpc.ts";
import { ServerDirectory } from "./server_directory.ts";
import type { MembershipChange, Message } from "../core/raft/messages.ts";

/** Tuning for one Raft server. */
export interface RaftServerConfig {
  /** Time between `Raft.tick()` calls; the core's timeouts are counted in ticks. @default {100} (Consul's) */
  tickMs: number;
  /** The consensus core's tuning. @default {defaultRaftConfig()} */
  raft: RaftConfig;
  /** Session TTLs and tombstone reaping on the leader. @default {defaultLeaderDutiesConfig()} */
  duties: LeaderDutiesConfig;
  /** Proposals waiting to be applied; past it a write answers 503 at once. @default {8_192} */
  pendingProposalsMax: number;
  /** Consistent reads waiting for their read index; past it a read answers 503. @default {4_096} */
  pendingReadsMax: number;
  /** Write-ahead log tuning. @default {{}} (the log's own defaults) */
  wal: WriteAheadLogOptions;
  /** Deadline of a write or read forwarded to the leader. @default {5_000} */
  forwardTimeoutMs: number;
  /** A non-voter within this many entries of the leader's log is promoted to voter. @default {64} */
  promoteLagEntriesMax: number;
  /**
   * How long the leader holds an empty append (commit news) for the next append with entries
   * to replace it; 0 sends it at once. @default {2}
   */
  commitNewsDelayMs: number;
}

/** Consul's defaults. */
export function defaultRaftServerConfig(): RaftServerConfig {
  return {
    tickMs: 100, // Consul's shell ticks Raft every 100 ms: a 1 s election timeout.
    // A 512 KiB KV value (Consul's limit) plus its key and the command's fields must fit one entry.
    raft: { ...defaultRaftConfig(), entryBytesMax: 1_048_576 },
    duties: defaultLeaderDutiesConfig(),
    pendingProposalsMax: 8_192, // Twice the core's uncommitted bound: room for applied-not-answered.
    pendingReadsMax: 4_096, // As the core's readRequestsMax.
    wal: {},
    forwardTimeoutMs: 5_000, // Consul's RPC hold timeout is 7 s; a write answers within it.
    promoteLagEntriesMax: 64, // Caught up: less than one AppendEntries batch behind.
    // A writer's next request comes well within 2 ms on a LAN; followers learn the commit at
    // most this late when none does (their reads wait for it).
    commitNewsDelayMs: 2,
  };
}

/**
 * Consul's defaults with the agent's snapshot knobs over them (`raft_snapshot_threshold`,
 * `raft_trailing_logs` in a config file).
 *
 * @param tuning the agent config's Raft fields; absent ones keep the core's defaults
 * @returns the server tuning
 */
export function raftServerConfigFor(
  tuning: { raftSnapshotThreshold?: number; raftTrailingLogs?: number },
): RaftServerConfig {
  const config = defaultRaftServerConfig();
  const raft = { ...config.raft };
  if (tuning.raftSnapshotThreshold !== undefined) {
    raft.snapshotThresholdEntries = tuning.raftSnapshotThreshold;
  }
  if (tuning.raftTrailingLogs !== undefined) raft.trailingEntries = tuning.raftTrailingLogs;
  return { ...config, raft };
}

/** Where the server logs what recovery found. */
export interface RaftServerLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Options for {@link RaftServer.open}. */
export interface RaftServerOptions {
  /** This server's Raft id (its node ID). */
  id: ServerId;
  /** "ip:port" of this server's RPC, as status endpoints show it. */
  address: string;
  /** The directory of the WAL and snapshots (`<data-dir>/raft`, or in memory for `-dev`). */
  files: FileStore;
  /**
   * When `files` hold no Raft state: `true` makes this server the sole voter of a new cluster;
   * a function is asked (only then) for the voters to bootstrap with, or `undefined` to wait to
   * be added to a running cluster. A server with state never bootstraps again.
   */
  bootstrap: boolean | (() => Promise<readonly ServerId[] | undefined>);
  /** The node name, shown by the operator endpoints. @default {id} */
  name?: string;
  /** The server RPC carrying Raft messages and forwarded requests; without it, a sole server. */
  rpc?: RpcTransport;
  /** Where other servers are, shared with cluster formation. @default {a new one} */
  directory?: ServerDirectory;
  /** Called by `stop()` once the server has stopped: closes what was opened for it. */
  onStop?: () => Promise<void>;
  /** @default {defaultRaftServerConfig()} */
  config?: RaftServerConfig;
  /** @default {drops every line} */
  log?: RaftServerLog;
}

/** Counters, for tests, `/v1/agent/self` and benchmarks. */
export interface RaftServerStats {
  /** Batches written to the WAL, each one fdatasync. */
  walBatches: number;
  /** Entries applied to the state store since start (replay included). */
  appliedEntries: number;
  /** Snapshots taken since start. */
  snapshots: number;
  /** Snapshots installed from the leader (InstallSnapshot) since start. */
  installedSnapshots: number;
  /** Messages not sent: no transport, an unknown address, or a full queue. */
  droppedMessages: number;
  /** Raft messages sent over the RPC. */
  sentMessages: number;
  /** Raft messages received that were malformed or not for this server. */
  rejectedMessages: number;
  /** Writes forwarded to the leader. */
  forwardedProposals: number;
  /** Reads whose index was asked of the leader. */
  forwardedReads: number;
}

/** One server of the Raft configuration, as `/v1/operator/raft/configuration` shows it. */
export interface RaftServerView {
  readonly id: string;
  readonly node: string;
  readonly address: string;
  readonly leader: boolean;
  readonly voter: boolean;
}

interface PendingProposal {
  readonly term: number;
  readonly resolve: (result: ApplyResult) => void;
}

interface PendingRead {
  resolve(result: ApplyResult | undefined, index: number): void;
  /** The applied index the read must wait for; `undefined` until the core confirms it. */
  index: number | undefined;
  /** Answer as soon as the index is known (a follower asked for it), without waiting to apply. */
  readonly forwarded: boolean;
}

interface AppliedWaiter {
  readonly index: number;
  resolve(reached: boolean): void;
}

const quiet: RaftServerLog = { info() {}, warn() {}, error() {} };

/** One Raft server and its state store. */
export class RaftServer {
  /** The replicated state; read it directly for `?stale` and (on the leader) default reads. */
  readonly store: StateStore;
  readonly #runtime: Runtime;
  readonly #id: ServerId;
  readonly #address: string;
  readonly #config: RaftServerConfig;
  readonly #log: RaftServerLog;
  readonly #raft: Raft;
  readonly #wal: WriteAheadLog;
  readonly #committer: GroupCommitter;
  readonly #snapshots: SnapshotStore;
  readonly #duties: LeaderDuties;
  readonly #pending = new Map<number, PendingProposal>();
  readonly #reads = new Map<number, PendingRead>();
  readonly #stats: RaftServerStats = {
    walBatches: 0,
    appliedEntries: 0,
    snapshots: 0,
    installedSnapshots: 0,
    droppedMessages: 0,
    sentMessages: 0,
    rejectedMessages: 0,
    forwardedProposals: 0,
    forwardedReads: 0,
  };
  readonly #rpc: RpcTransport | undefined;
  readonly #directory: ServerDirectory;
  readonly #appliedWaiters: AppliedWaiter[] = [];
  /** Empty appends held by `#holdCommitNews`, by follower, and the timer that sends them. */
  readonly #heldCommitNews = new Map<ServerId, { message: Message; sinceMs: number }>();
  #commitNewsTimer: TimerHandle | undefined;
  /** Packs the entries of one batch of sends once for every follower. */
  readonly #packer = new EntryPacker();
  readonly #onStop: (() => Promise<void>) | undefined;
  /** A hard state whose only change is its commit index, written with the next entries. */
  #commitUnwritten: HardState | undefined;
  #leaderContactAtMs = 0;
  /** Index of a restore applied since the last snapshot: snapshot (and compact) at once. */
  #restoredAtIndex = 0;
  #ticks = 0;
  #nextReadId = 1;
  #role: Role = "follower";
  #tickTimer: TimerHandle | undefined;
  #driving: Promise<void> | undefined;
  #driveAgain = false;
  #kickScheduled = false;
  #failure: Error | undefined;
  #stopped = false;
  #leaving = false;

  private constructor(
    runtime: Runtime,
    options: RaftServerOptions,
    parts: { store: StateStore; raft: Raft; wal: WriteAheadLog; snapshots: SnapshotStore },
  ) {
    this.#runtime = runtime;
    this.#id = options.id;
    this.#address = options.address;
    this.#rpc = options.rpc;
    this.#directory = options.directory ?? new ServerDirectory({
      id: options.id,
      name: options.name ?? options.id,
      address: options.address,
    });
    this.#onStop = options.onStop;
    this.#config = options.config ?? defaultRaftServerConfig();
    this.#log = options.log ?? quiet;
    this.store = parts.store;
    this.#raft = parts.raft;
    this.#wal = parts.wal;
    this.#committer = new GroupCommitter(parts.wal);
    this.#snapshots = parts.snapshots;
    this.#duties = new LeaderDuties(runtime, {
      store: this.store,
      propose: (proposal) => this.propose(proposal),
      config: this.#config.duties,
    });
  }

  /**
   * Recovers a server from `options.files`: loads the newest valid snapshot into a new state
   * store, opens the WAL (cutting a torn tail, which it reports), hands both to the Raft core,
   * replays the committed entries, and starts ticking. A sole voter elects itself at once.
   *
   * @param runtime clock, timers, randomness
   * @param options identity, files, bootstrap, tuning
   * @returns the running server, with every entry committed before the restart applied
   * @throws Error "Cannot open the write-ahead log: ..." when the log is damaged in the middle
   */
  static async open(runtime: Runtime, options: RaftServerOptions): Promise<RaftServer> {
    const config = options.config ?? defaultRaftServerConfig();
    const log = options.log ?? quiet;
    const snapshots = new SnapshotStore(options.files);
    const loaded = await snapshots.load();
    for (const { name, reason } of loaded.skipped) {
      log.warn(`Skipped snapshot ${name} in ${options.files.dir}: ${reason}`);
    }
    const wal = await WriteAheadLog.open(options.files, config.wal);
    reportRecovery(log, options.files.dir, wal);
    const store = new StateStore();
    let snapshot: Snapshot | undefined;
    if (loaded.snapshot !== undefined) {
      const { index, term, configuration, data } = loaded.snapshot;
      restoreSnapshot(store, decodeStateSnapshot(data));
      snapshot = { meta: { index, term, membership: decodeMembership(configuration) }, data };
      log.info(`Restored snapshot ${loaded.name} (index ${index}, term ${term})`);
    }
    const from = Math.max(wal.firstIndex, (snapshot?.meta.index ?? 0) + 1);
    const entries = from <= wal.lastIndex
      ? (await wal.entries(from, wal.lastIndex + 1)).map(fromLogEntry)
      : [];
    const hardState = wal.hardState;
    const empty = snapshot === undefined && wal.lastIndex === 0 && hardState.term === 0;
    const seed = new Uint32Array(1);
    runtime.randomBytes(new Uint8Array(seed.buffer));
    let bootstrapVoters: readonly ServerId[] | undefined;
    if (empty && options.bootstrap === true) bootstrapVoters = [options.id];
    else if (empty && typeof options.bootstrap === "function") {
      bootstrapVoters = await options.bootstrap();
    }
    const raft = new Raft({
      id: options.id,
      random: new SeededRandom(seed[0]),
      config: config.raft,
      storage: empty ? undefined : {
        hardState: {
          term: hardState.term,
          vote: hardState.vote === "" ? undefined : hardState.vote,
          commit: hardState.commit,
        },
        snapshot,
        entries,
      },
      bootstrapVoters,
    });
    if (bootstrapVoters !== undefined) {
      log.info(`Bootstrapped a new cluster with voters ${JSON.stringify(bootstrapVoters)}`);
    }
    const server = new RaftServer(runtime, options, { store, raft, wal, snapshots });
    await server.#start();
    return server;
  }

  async #start(): Promise<void> {
    // Replay: the first Readys hand out every entry committed before the restart.
    this.#campaignIfSoleVoter();
    await this.#drive();
    if (this.#failure !== undefined) throw this.#failure;
    this.#registerRpc();
    this.#tickTimer = this.#runtime.timers.every(this.#config.tickMs, () => {
      if (this.#stopped || this.#failure !== undefined) return;
      this.#raft.tick();
      this.#ticks += 1;
      if (this.#ticks % 10 === 0) this.#promoteCaughtUp();
      this.#kick();
    });
  }

  #registerRpc(): void {
    const rpc = this.#rpc;
    if (rpc === undefined) return;
    rpc.onMessage("raft", (payload, bytes) => this.#receive(payload, bytes));
    rpc.onMessage("renewSession", (payload) => {
      const id = (payload as { id?: unknown } | null)?.id;
      if (this.isLeader && typeof id === "string") this.#duties.renewSession(id);
    });
    rpc.handle("forwardPropose", (payload) => {
      // One hop only: a server that does not lead answers "No cluster leader" rather than
      // forwarding again, so two servers with stale views cannot bounce a write between them.
      if (!this.isLeader) return noLeaderResult();
      // Servers trust each other on port 8300 (as Consul's RPC without TLS does); still, only
      // something shaped like a command is proposed.
      const type = (payload as { type?: unknown } | null)?.type;
      if (typeof type !== "string" || Array.isArray(payload)) {
        return {
          ok: false,
          error: "Cannot propose: the forwarded write is no command",
          status: 400,
        };
      }
      return this.propose(payload as Proposal);
    });
    rpc.handle("forwardRead", async (payload) => {
      const mode = (payload as { mode?: unknown } | null)?.mode === "default"
        ? "default"
        : "consistent";
      return await this.#leaderReadIndex(mode);
    });
    rpc.handle("forwardMembership", (payload) => {
      if (!this.isLeader) return noLeaderResult();
      const change = payload as { type?: unknown; id?: unknown } | null;
      const types = ["addVoter", "addNonVoter", "promote", "remove"];
      if (!types.includes(change?.type as string) || typeof change?.id !== "string") {
        return {
          ok: false,
          error: "Cannot change the Raft configuration: the forwarded change is malformed",
          status: 400,
        };
      }
      return this.changeMembership(payload as MembershipChange);
    });
    rpc.handle("status", () => ({
      id: this.#id,
      leader: this.leaderAddress(),
      peers: this.peers(),
      lastIndex: this.#raft.lastIndex,
      appliedIndex: this.#raft.appliedIndex,
      term: this.#raft.term,
    }));
  }

  /** A Raft message from another server: checked field by field, then stepped. */
  #receive(payload: unknown, bytes: Uint8Array | undefined): void {
    if (this.#stopped || this.#failure !== undefined) return;
    let sender: ServerInfo | undefined;
    let message: Message | undefined;
    if (payload instanceof Uint8Array) {
      const packed = decodePacked(payload); // The hot messages travel packed.
      sender = packed?.sender;
      message = packed?.message;
    } else {
      const fields = payload as { sender?: unknown; message?: unknown } | null;
      sender = decodeServerInfo(fields?.sender);
      message = decodeRaftMessage(fields?.message, bytes);
    }
    if (sender === undefined || message === undefined || message.to !== this.#id) {
      this.#stats.rejectedMessages += 1;
      return;
    }
    if (message.from !== sender.id) {
      this.#stats.rejectedMessages += 1;
      return;
    }
    this.#directory.learn(sender);
    this.#raft.step(message);
    if (this.#raft.leader === message.from) {
      this.#leaderContactAtMs = this.#runtime.clock.monotonicMs();
    }
    this.#kick();
  }

  /** Sends the core's messages to their servers' addresses; unknown ones are dropped. */
  #send(messages: readonly Message[], holdEmptyAppends = true): void {
    const rpc = this.#rpc;
    if (rpc === undefined) {
      this.#stats.droppedMessages += messages.length;
      return;
    }
    const sender = this.#directory.self;
    for (const message of messages) {
      if (message.type === "appendEntries") {
        if (holdEmptyAppends && message.entries.length === 0 && this.#holdCommitNews(message)) {
          continue;
        }
        // Entries carry the newest commit index too: a held empty append adds nothing.
        this.#heldCommitNews.delete(message.to);
      }
      const address = this.#directory.get(message.to)?.address;
      let sent = false;
      if (address !== undefined) {
        if (message.type === "installSnapshot") {
          const header = { sender, message: snapshotHeader(message) };
          sent = rpc.sendChunked(address, "raft", header, message.snapshot.data);
        } else if (isPackable(message)) {
          sent = rpc.send(address, "raft", encodePacked(sender, message, this.#packer));
        } else sent = rpc.send(address, "raft", { sender, message });
      }
      if (sent) this.#stats.sentMessages += 1;
      else this.#stats.droppedMessages += 1;
    }
    this.#packer.clear();
  }

  /**
   * Holds an empty append (commit news, or a probe of a follower with nothing to send) for up
   * to `commitNewsDelayMs`: the next append with entries to that follower carries the newer
   * commit index and replaces it, so a steady writer costs one append and one ack per write
   * and follower, not two. Dropping a held append is safe (Raft treats it as a lost message);
   * heartbeats carry the commit index too. Returns false when it must go now.
   * The delay counts from the first news held for that follower (a newer one replaces it but
   * keeps that time), not from the timer's start: a steady writer's next append then replaces
   * every commit news, rather than the timer sending whichever news it happens to find.
   */
  #holdCommitNews(message: Extract<Message, { type: "appendEntries" }>): boolean {
    const delayMs = this.#config.commitNewsDelayMs;
    if (delayMs <= 0 || this.#stopped) return false;
    const sinceMs = this.#heldCommitNews.get(message.to)?.sinceMs ??
      this.#runtime.clock.monotonicMs();
    this.#heldCommitNews.set(message.to, { message, sinceMs });
    this.#commitNewsTimer ??= this.#runtime.timers.after(delayMs, () => this.#sendDueNews());
    return true;
  }

  /** Sends the held appends that waited `commitNewsDelayMs`; waits again for the others. */
  #sendDueNews(): void {
    this.#commitNewsTimer = undefined;
    if (this.#stopped) return;
    const delayMs = this.#config.commitNewsDelayMs;
    const nowMs = this.#runtime.clock.monotonicMs();
    const due: Message[] = [];
    let waitMs = delayMs;
    for (const [to, held] of this.#heldCommitNews) {
      const leftMs = held.sinceMs + delayMs - nowMs;
      // Timers fire in whole milliseconds: one due within half of one goes now.
      if (leftMs > 0.5) waitMs = Math.min(waitMs, leftMs);
      else {
        due.push(held.message);
        this.#heldCommitNews.delete(to);
      }
    }
    if (due.length > 0) this.#send(due, false);
    if (this.#heldCommitNews.size > 0) {
      this.#commitNewsTimer = this.#runtime.timers.after(
        Math.ceil(waitMs),
        () => this.#sendDueNews(),
      );
    }
  }

  /**
   * The leader promotes a non-voter that has caught up (within `promoteLagEntriesMax` of its
   * log), one change at a time (Raft thesis §4.2.1: a new server catches up before it votes).
   */
  #promoteCaughtUp(): void {
    if (!this.isLeader) return;
    for (const id of this.#raft.membership.nonVoters) {
      const progress = this.#raft.progressOf(id);
      if (progress === undefined) continue;
      if (progress.match + this.#config.promoteLagEntriesMax < this.#raft.lastIndex) continue;
      const outcome = this.#raft.proposeMembership({ type: "promote", id });
      if (outcome.type === "accepted") {
        const name = this.#directory.get(id)?.name ?? id;
        this.#log.info(`Promoted "${name}" (${id}) to voter at index ${outcome.index}`);
        this.#kick();
      }
      return;
    }
  }

  /**
   * A cluster whose only voter is this server needs no election timeout: nobody else can vote
   * or lead, so run the election now (etcd's `Campaign()` in effect) by ticking through it.
   */
  #campaignIfSoleVoter(): void {
    const { voters } = this.#raft.membership;
    if (voters.length !== 1 || voters[0] !== this.#id) return;
    const ticksMax = 2 * this.#config.raft.electionTimeoutTicks + 2;
    for (let tick = 0; tick < ticksMax && this.#raft.role !== "leader"; tick++) this.#raft.tick();
  }

  /** This server's Raft id. */
  get id(): ServerId {
    return this.#id;
  }

  /** True while this server leads. */
  get isLeader(): boolean {
    return this.#raft.role === "leader";
  }

  /** The role in the current term. */
  get role(): Role {
    return this.#raft.role;
  }

  /** The voters and non-voters in force. */
  get membership(): Membership {
    return this.#raft.membership;
  }

  /** The last index applied to the state store (Raft's, noop and membership entries included). */
  get appliedIndex(): number {
    return this.#raft.appliedIndex;
  }

  /** The current term. */
  get term(): number {
    return this.#raft.term;
  }

  /** Counters so far (a copy). */
  get stats(): RaftServerStats {
    return { ...this.#stats, walBatches: this.#committer.stats.batches };
  }

  /** The id ↔ name ↔ address map of the servers this one knows. */
  get directory(): ServerDirectory {
    return this.#directory;
  }

  /** The Raft id of the leader this server knows, if any. */
  get leaderId(): ServerId | undefined {
    return this.#raft.leader;
  }

  /** The last index in this server's log. */
  get lastIndex(): number {
    return this.#raft.lastIndex;
  }

  /** "ip:port" of the leader, "" when none is known (or its address is not). */
  leaderAddress(): string {
    const leader = this.#raft.leader;
    if (leader === undefined) return "";
    return this.#directory.get(leader)?.address ?? "";
  }

  /** "ip:port" of every voter whose address is known. */
  peers(): string[] {
    const addresses: string[] = [];
    for (const id of this.#raft.membership.voters) {
      const address = this.#directory.get(id)?.address;
      if (address !== undefined) addresses.push(address);
    }
    return addresses;
  }

  /**
   * Milliseconds since this server last heard its leader (0 on the leader itself), as
   * `X-Consul-LastContact` reports it; `undefined` when no leader is known.
   */
  lastContactMs(): number | undefined {
    if (this.#raft.leader === undefined) return undefined;
    if (this.isLeader) return 0;
    return Math.max(0, Math.round(this.#runtime.clock.monotonicMs() - this.#leaderContactAtMs));
  }

  /** Voters and non-voters with their names and addresses, for the operator endpoints. */
  configuration(): { servers: RaftServerView[]; index: number } {
    const { voters, nonVoters } = this.#raft.membership;
    const view = (id: string, voter: boolean): RaftServerView => {
      const known = this.#directory.get(id);
      return {
        id,
        node: known?.name ?? id,
        address: known?.address ?? "",
        leader: this.#raft.leader === id,
        voter,
      };
    };
    return {
      servers: [...voters.map((id) => view(id, true)), ...nonVoters.map((id) => view(id, false))],
      index: this.#raft.commitIndex,
    };
  }

  /**
   * Proposes one membership change on the leader (forwarded to it from a follower) and
   * resolves once the entry is applied.
   *
   * @param change add, promote or remove one server
   */
  changeMembership(change: MembershipChange): Promise<ApplyResult> {
    if (this.#stopped || this.#failure !== undefined) return Promise.resolve(noLeaderResult());
    if (!this.isLeader) return this.#forward("forwardMembership", change);
    const outcome = this.#raft.proposeMembership(change);
    if (outcome.type === "rejected") {
      const status = outcome.reason === "invalidChange" ? 400 : 503;
      return Promise.resolve({
        ok: false,
        error: `Cannot change the Raft configuration: ${outcome.reason}`,
        status,
      });
    }
    const result = new Promise<ApplyResult>((resolve) => {
      this.#pending.set(outcome.index, { term: outcome.term, resolve });
    });
    this.#kick();
    return result;
  }

  /**
   * Removes a server from the Raft configuration, named by id or RPC address (Consul's
   * `DELETE /v1/operator/raft/peer`).
   *
   * @param selector `id` or `address` ("ip:port")
   * @returns the outcome; 400 when no such server is in the configuration
   */
  removePeer(selector: { id?: string; address?: string }): Promise<ApplyResult> {
    const id = selector.id ?? this.#directory.byAddress(selector.address ?? "")?.id;
    const { voters, nonVoters } = this.#raft.membership;
    if (id === undefined || (!voters.includes(id) && !nonVoters.includes(id))) {
      const what = selector.id === undefined
        ? `address "${selector.address}"`
        : `id "${selector.id}"`;
      return Promise.resolve({
        ok: false,
        error: `Cannot remove the Raft peer: ${what} was not found in the Raft configuration`,
        status: 400,
      });
    }
    return this.changeMembership({ type: "remove", id });
  }

  /** True once `leave()` began: cluster formation must not ask to join again. */
  get leaving(): boolean {
    return this.#leaving;
  }

  /**
   * Hands leadership to the most up-to-date other voter (Raft thesis §3.10: the leader brings
   * it up to date, then sends TimeoutNow so it campaigns at once), trying three times as
   * Consul's `leadershipTransfer()` does. Writes are refused while a transfer runs, and resume
   * at the new leader, with no election timeout to wait out.
   *
   * @returns true when another server leads now; false when this server does not lead, has no
   *   other voter, or no transfer finished in time
   */
  async transferLeadership(): Promise<boolean> {
    // An attempt the core has not finished within an election timeout is abandoned by it.
    const attemptMs = (this.#config.raft.electionTimeoutTicks + 2) * this.#config.tickMs;
    for (let attempt = 1; attempt <= 3 && this.isLeader && !this.#stopped; attempt++) {
      const target = this.#transferTarget();
      if (target === undefined) return false;
      const name = this.#directory.get(target)?.name ?? target;
      const outcome = this.#raft.transferLeadership(target);
      if (outcome.type === "rejected") {
        this.#log.warn(`Cannot transfer leadership to "${name}": ${outcome.reason}`);
        return false;
      }
      this.#kick();
      const startedAtMs = this.#runtime.clock.monotonicMs();
      while (this.isLeader && !this.#stopped) {
        if (this.#runtime.clock.monotonicMs() - startedAtMs >= attemptMs) break;
        await this.#pause(10);
      }
      if (!this.isLeader) {
        const tookMs = Math.round(this.#runtime.clock.monotonicMs() - startedAtMs);
        this.#log.info(`Transferred leadership to "${name}" in ${tookMs} ms`);
        return true;
      }
      this.#log.warn(`Cannot transfer leadership to "${name}": attempt ${attempt} of 3 timed out`);
    }
    return false;
  }

  /** The other voter whose log matches the leader's furthest, if any. */
  #transferTarget(): ServerId | undefined {
    let best: { id: ServerId; match: number } | undefined;
    for (const id of this.#raft.membership.voters) {
      if (id === this.#id) continue;
      const match = this.#raft.progressOf(id)?.match ?? -1;
      if (best === undefined || match > best.match) best = { id, match };
    }
    return best?.id;
  }

  /**
   * Leaves the cluster gracefully, as Consul's `Server.Leave()`: a leader first hands its
   * leadership to an up-to-date voter; then the leader removes this server from the Raft
   * configuration (asked over the RPC, since there is no gossip leave for it to see), so the
   * quorum shrinks rather than counting a server that is gone. A sole voter stays (removing it
   * would leave no one). Bounded by `timeoutMs`; it never throws.
   *
   * @param timeoutMs how long to keep asking for the removal
   * @returns true when this server is out of the configuration (or never was in it)
   */
  async leave(timeoutMs = 10_000): Promise<boolean> {
    if (this.#stopped || this.#failure !== undefined) return false;
    this.#leaving = true;
    const { voters, nonVoters } = this.#raft.membership;
    if (!voters.includes(this.#id) && !nonVoters.includes(this.#id)) return true;
    if (voters.length === 1 && voters[0] === this.#id) {
      this.#log.info("Staying in the Raft configuration: this server is its only voter");
      return false;
    }
    if (this.isLeader) await this.transferLeadership();
    const deadlineMs = this.#runtime.clock.monotonicMs() + timeoutMs;
    for (;;) {
      // On the new leader; on this one when no transfer took (it steps down once committed).
      const result = await this.changeMembership({ type: "remove", id: this.#id });
      // "invalidChange" now means "not a member": an earlier attempt that timed out took.
      if (result.ok || /invalidChange/.test(result.error)) {
        this.#log.info("Left the Raft configuration");
        return true;
      }
      if (this.#stopped || this.#runtime.clock.monotonicMs() >= deadlineMs) {
        this.#log.warn(
          `Cannot leave the Raft configuration: ${result.error}; remove this server with ` +
            `"cairn operator raft remove-peer -id=${this.#id}"`,
        );
        return false;
      }
      await this.#pause(2 * this.#config.tickMs);
    }
  }

  #pause(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      this.#runtime.timers.after(delayMs, resolve, { keepAlive: true });
    });
  }

  async #forward(method: string, payload: unknown): Promise<ApplyResult> {
    const address = this.leaderAddress();
    if (this.#rpc === undefined || address === "" || address === this.#address) {
      return noLeaderResult();
    }
    try {
      const answer = await this.#rpc.call(address, method, payload, {
        timeoutMs: this.#config.forwardTimeoutMs,
      });
      const result = answer as ApplyResult | null;
      if (typeof result?.ok !== "boolean") {
        return {
          ok: false,
          error: `Cannot forward to the leader: a malformed answer`,
          status: 500,
        };
      }
      return result;
    } catch (error) {
      return {
        ok: false,
        error: `Cannot forward to the leader at ${address}: ${(error as Error).message}`,
        status: 500,
      };
    }
  }

  /** True while this leader may answer default-consistency reads from its own state. */
  leaseValid(): boolean {
    return this.#raft.leaseValid();
  }

  /**
   * Stamps `proposal` with this server's wall time, appends it to the log, and resolves once it
   * is applied, with the state store's result. Resolves `{ ok: false }` at once when this
   * server does not lead or is saturated, and later if leadership is lost before the entry is
   * applied (the write may or may not have happened, as with Consul).
   *
   * @param proposal the command without its time
   */
  propose(proposal: Proposal): Promise<ApplyResult> {
    if (this.#failure !== undefined) {
      return Promise.resolve({
        ok: false,
        error: `Cannot propose: the server failed: ${this.#failure.message}`,
        status: 500,
      });
    }
    if (this.#stopped) return Promise.resolve(noLeaderResult());
    if (this.#pending.size >= this.#config.pendingProposalsMax) {
      return Promise.resolve(busyResult(`${this.#pending.size} proposals are pending`));
    }
    if (!this.isLeader && this.#rpc !== undefined) {
      this.#stats.forwardedProposals += 1;
      return this.#forward("forwardPropose", proposal);
    }
    const command = { ...proposal, atMs: this.#runtime.clock.wallMs() } as Command;
    const outcome = this.#raft.propose(encodeCommand(command));
    if (outcome.type === "rejected") {
      if (outcome.reason === "busy") {
        return Promise.resolve(busyResult("the log holds too many uncommitted entries"));
      }
      if (outcome.reason === "tooLarge") {
        return Promise.resolve({
          ok: false,
          error: "Cannot propose: the command is larger than entryBytesMax " +
            `(${this.#config.raft.entryBytesMax} bytes)`,
          status: 413,
        });
      }
      return Promise.resolve(noLeaderResult());
    }
    const result = new Promise<ApplyResult>((resolve) => {
      this.#pending.set(outcome.index, { term: outcome.term, resolve });
    });
    // At once, not after this turn's I/O as reads are: measured, that cost writes more
    // latency than the batches it formed saved (the ready loop batches writes while it waits
    // for the disk anyway).
    this.#kick();
    return result;
  }

  /**
   * Waits until this server may answer a linearizable read from its state store: the leader
   * confirms it still leads with a heartbeat round (read-index, Raft thesis §6.4), then waits
   * until it has applied through the commit index noted when the read arrived. A follower asks
   * the leader for that index (`forwardRead`; in `default` mode the leader answers from its
   * lease when it holds) and waits until it has applied through it itself.
   *
   * @param mode `consistent` (a read-index round) or `default` (the leader's lease may do)
   * @returns `undefined` when the store may be read, else the error to answer
   */
  async readBarrier(
    mode: "default" | "consistent" = "consistent",
  ): Promise<ApplyResult | undefined> {
    if (this.#stopped || this.#failure !== undefined) return noLeaderResult();
    if (this.isLeader || this.#rpc === undefined) {
      if (mode === "default" && this.#raft.leaseValid()) return undefined;
      const local = await this.#leaderReadIndex("consistent", false);
      return "index" in local ? undefined : local;
    }
    this.#stats.forwardedReads += 1;
    const answer = await this.#forward("forwardRead", { mode });
    if (!answer.ok) return answer;
    const index = (answer.value as { index?: unknown } | null)?.index;
    if (typeof index !== "number" || !Number.isSafeInteger(index)) {
      return { ok: false, error: "Cannot read: the leader answered no read index", status: 500 };
    }
    if (await this.#waitApplied(index)) return undefined;
    return {
      ok: false,
      error: `Cannot read: this server did not apply through index ${index} in time`,
      status: 500,
    };
  }

  /** Resolves true once `index` is applied here, false after `forwardTimeoutMs` or a stop. */
  #waitApplied(index: number): Promise<boolean> {
    if (this.#raft.appliedIndex >= index) return Promise.resolve(true);
    if (this.#appliedWaiters.length >= this.#config.pendingReadsMax) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = this.#runtime.timers.after(this.#config.forwardTimeoutMs, () => {
        const at = this.#appliedWaiters.indexOf(waiter);
        if (at >= 0) this.#appliedWaiters.splice(at, 1);
        resolve(false);
      });
      const waiter: AppliedWaiter = {
        index,
        resolve: (reached) => {
          timer.cancel();
          resolve(reached);
        },
      };
      this.#appliedWaiters.push(waiter);
    });
  }

  /**
   * The leader's read index: its commit index at once while its lease holds (default mode),
   * else after a read-index heartbeat round. With `forwarded`, answered without waiting for
   * this server to apply through it (the follower that asked waits for its own apply).
   */
  #leaderReadIndex(
    mode: "default" | "consistent",
    forwarded = true,
  ): Promise<ApplyResult | { index: number }> {
    const okIndex = (index: number) =>
      forwarded ? { ok: true as const, value: { index } } : { index };
    if (this.#stopped || this.#failure !== undefined) return Promise.resolve(noLeaderResult());
    if (!this.isLeader) return Promise.resolve(noLeaderResult());
    if (mode === "default" && this.#raft.leaseValid()) {
      return Promise.resolve(okIndex(this.#raft.commitIndex));
    }
    if (this.#reads.size >= this.#config.pendingReadsMax) {
      return Promise.resolve(busyResult(`${this.#reads.size} consistent reads are pending`));
    }
    const requestId = this.#nextReadId++;
    const outcome = this.#raft.readIndex(requestId);
    if (outcome.type === "rejected") {
      if (outcome.reason === "busy") {
        return Promise.resolve(busyResult("too many consistent reads are pending"));
      }
      return Promise.resolve(noLeaderResult());
    }
    const read = new Promise<ApplyResult | { index: number }>((resolve) => {
      this.#reads.set(requestId, {
        resolve: (result, index) => resolve(result ?? okIndex(index)),
        index: undefined,
        forwarded,
      });
    });
    this.#kickAfterIo();
    return read;
  }

  /**
   * Restarts a session's TTL countdown (on the leader, where the timers are).
   *
   * @param id the session
   * @returns false when the session does not exist
   */
  renewSession(id: string): boolean {
    const leader = this.leaderAddress();
    if (!this.isLeader && this.#rpc !== undefined && leader !== "") {
      // The TTL timers run on the leader: tell it (best effort; clients renew well within
      // the TTL, and the leader waits twice the TTL, as Consul does).
      this.#rpc.send(leader, "renewSession", { id });
    }
    return this.#duties.renewSession(id);
  }

  /** Stops ticking and leader duties, fails waiting requests, and waits for the write in flight. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#tickTimer?.cancel();
    this.#commitNewsTimer?.cancel();
    this.#duties.stop();
    this.#failWaiting();
    for (const waiter of this.#appliedWaiters.splice(0)) waiter.resolve(false);
    await this.#driving;
    await this.#onStop?.();
  }

  /**
   * Resolves true once a leader (with a known address) is known, false after `timeoutMs`.
   *
   * @param timeoutMs how long to wait
   */
  async waitForLeader(timeoutMs: number): Promise<boolean> {
    const deadlineMs = this.#runtime.clock.monotonicMs() + timeoutMs;
    while (this.leaderAddress() === "" || !this.#hasLeaderCommit()) {
      if (this.#stopped || this.#runtime.clock.monotonicMs() >= deadlineMs) return false;
      await new Promise<void>((resolve) => {
        this.#runtime.timers.after(this.#config.tickMs, resolve, { keepAlive: true });
      });
    }
    return true;
  }

  /** True once this server has applied an entry of the current term (the leader's noop). */
  #hasLeaderCommit(): boolean {
    return this.#raft.termAt(this.#raft.appliedIndex) === this.#raft.term;
  }

  // ---------------------------------------------------------------------------------------------
  // The ready loop.

  /**
   * Runs the ready loop once the requests that arrived with this one were read: reads in one
   * turn of the event loop then share one heartbeat round (`Raft.readIndex()` batches the
   * rounds still in its outbox), instead of a round per read.
   */
  #kickAfterIo(): void {
    if (this.#kickScheduled) return;
    this.#kickScheduled = true;
    setImmediate(() => {
      this.#kickScheduled = false;
      this.#kick();
    });
  }

  /** Runs the ready loop soon, unless it is running (then it loops once more). */
  #kick(): void {
    if (this.#driving !== undefined) {
      this.#driveAgain = true;
      return;
    }
    // Most kicks after a write's first ack find nothing to do: skip the loop's promises then.
    if (!this.#raft.hasReady()) return;
    void this.#drive();
  }

  #drive(): Promise<void> {
    if (this.#driving !== undefined) {
      this.#driveAgain = true;
      return this.#driving;
    }
    // `.finally` runs as a later microtask, so it clears `#driving` even when the loop had
    // nothing to do and finished synchronously; work that arrived in between runs again.
    this.#driving = this.#readyLoop().finally(() => {
      this.#driving = undefined;
      if (this.#driveAgain && !this.#stopped && this.#failure === undefined) this.#kick();
    });
    return this.#driving;
  }

  async #readyLoop(): Promise<void> {
    try {
      do {
        this.#driveAgain = false;
        while (!this.#stopped && this.#failure === undefined && this.#raft.hasReady()) {
          await this.#handleReady(this.#raft.ready());
          await this.#maybeSnapshot();
        }
      } while (this.#driveAgain && !this.#stopped && this.#failure === undefined);
    } catch (error) {
      this.#fail(error);
    }
  }

  async #handleReady(ready: Ready): Promise<void> {
    // A leader's appends leave first, so its fsync overlaps its followers' round trip and
    // fsync (Raft thesis §10.2.1); the core counts its own entries only once they are durable.
    const sentEarly = ready.sendBeforePersist && ready.messagesToSend.length > 0;
    if (sentEarly) this.#send(ready.messagesToSend);
    // 1. Persist: nothing else of this Ready leaves the process before it is durable.
    const snapshot = ready.snapshotToApply;
    if (snapshot !== undefined) {
      await this.#snapshots.save({
        index: snapshot.meta.index,
        term: snapshot.meta.term,
        configuration: encodeMembership(snapshot.meta.membership),
        data: snapshot.data,
      });
      await this.#wal.reset(snapshot.meta.index);
    }
    // Committed entries are durable on a majority already: apply them (and answer their
    // writers) before this Ready's new entries are written, not one fsync later (etcd applies
    // concurrently with its WAL write too). A snapshot to install keeps the strict order.
    // Measured against applying once the write is issued, or (on followers) after the ack:
    // this order did as well or better at 1, 16 and 64 clients.
    const applyBeforeWrite = snapshot === undefined;
    if (applyBeforeWrite) { for (const entry of ready.committedEntries) this.#applyEntry(entry); }
    const entries = ready.entriesToPersist.map(toLogEntry);
    const hardState = this.#hardStateToWrite(ready, entries.length);
    if (entries.length > 0 || hardState !== undefined) {
      this.#commitUnwritten = undefined;
      await this.#committer.append(entries, hardState);
    }
    // 2. Send, now that everything above is durable.
    if (!sentEarly && ready.messagesToSend.length > 0) this.#send(ready.messagesToSend);
    // 3. Apply.
    if (!applyBeforeWrite) {
      this.#applySnapshot(snapshot);
      for (const entry of ready.committedEntries) this.#applyEntry(entry);
    }
    for (const state of ready.readStates) {
      const read = this.#reads.get(state.requestId);
      if (read !== undefined) read.index = state.index;
    }
    this.#followRole(ready.softState.role);
    // 4. Advance; then reads whose index is now applied may be answered.
    this.#raft.advance();
    this.#answerReads();
  }

  /** The hard state to write with `ready`'s entries, or `undefined` when none is due. */
  #hardStateToWrite(ready: Ready, entryCount: number): HardState | undefined {
    const hard = ready.hardState;
    const hardState = hard === undefined
      ? this.#commitUnwritten
      : { term: hard.term, vote: hard.vote ?? "", commit: hard.commit };
    const written = this.#wal.hardState;
    if (
      entryCount === 0 && ready.snapshotToApply === undefined && hardState !== undefined &&
      hardState.term === written.term && hardState.vote === written.vote
    ) {
      // Only the commit index moved. It is volatile state in Raft (§5, Figure 2): a restart
      // that finds an older one only replays fewer entries and relearns the rest from the
      // leader. So it waits for the next batch of entries rather than costing an fsync of its
      // own before the commit news leaves and the entries are applied (etcd's `MustSync`).
      this.#commitUnwritten = hardState;
      return undefined;
    }
    return hardState;
  }

  #applySnapshot(snapshot: Snapshot): void {
    restoreSnapshot(this.store, decodeStateSnapshot(snapshot.data));
    // Only InstallSnapshot hands a snapshot to apply (a restart loads its own before the core).
    this.#stats.installedSnapshots += 1;
    this.#log.info(
      `Installed a snapshot from the leader at index ${snapshot.meta.index} (term ` +
        `${snapshot.meta.term}, ${snapshot.data.byteLength} bytes)`,
    );
    // Proposals at indexes the snapshot covers can no longer be matched to their entry.
    for (const [index, pending] of this.#pending) {
      if (index > snapshot.meta.index) continue;
      this.#pending.delete(index);
      pending.resolve(noLeaderResult());
    }
  }

  #applyEntry(entry: Ready["committedEntries"][number]): void {
    this.#stats.appliedEntries += 1;
    let result: ApplyResult | undefined;
    let command: Command | undefined;
    if (entry.type === "normal") {
      command = decodeCommand(entry.data);
      result = this.store.apply(entry.index, command);
      if (this.#duties.active) this.#duties.afterApply(command, result);
      if (command.type === "restore" && result.ok) this.#restoredAtIndex = entry.index;
    } else if (entry.type === "membership") {
      result = { ok: true, value: true }; // What changeMembership() resolves with.
    }
    const pending = this.#pending.get(entry.index);
    if (pending === undefined) return;
    this.#pending.delete(entry.index);
    // Another entry at this index means the proposal was lost with its leader's term (Raft §5.3).
    if (pending.term !== entry.term || result === undefined) pending.resolve(noLeaderResult());
    else pending.resolve(result);
  }

  #answerReads(): void {
    const applied = this.#raft.appliedIndex;
    for (const [requestId, read] of this.#reads) {
      if (read.index === undefined || (read.index > applied && !read.forwarded)) continue;
      this.#reads.delete(requestId);
      read.resolve(undefined, read.index);
    }
    for (let at = this.#appliedWaiters.length - 1; at >= 0; at--) {
      const waiter = this.#appliedWaiters[at];
      if (waiter.index > applied) continue;
      this.#appliedWaiters.splice(at, 1);
      waiter.resolve(true);
    }
  }

  #followRole(role: Role): void {
    if (role === this.#role) return;
    const wasLeader = this.#role === "leader";
    this.#role = role;
    if (role === "leader") {
      this.#log.info(`Leading term ${this.#raft.term}`);
      this.#duties.start();
    } else if (wasLeader) {
      this.#log.warn(`Lost leadership in term ${this.#raft.term}`);
      this.#duties.stop();
      this.#failWaiting();
    }
  }

  async #maybeSnapshot(): Promise<void> {
    // An installed snapshot may already cover the restore; nothing new to snapshot then.
    if (this.#raft.appliedIndex <= this.#raft.snapshotIndex) this.#restoredAtIndex = 0;
    const afterRestore = this.#restoredAtIndex > 0;
    if (!this.#raft.snapshotDue() && !afterRestore) return;
    // A snapshot in the middle of a restore's chunks would lose those before it on a follower
    // that installs it (the staging is not in snapshots): wait for its `restore` entry.
    if (this.store.restoreStaging.open) return;
    const data = encodeStateSnapshot(this.store);
    // Right after a restore, its chunks are the entries before it: drop them from the log and
    // the memory (a follower behind them gets the snapshot, which is about as large).
    const { meta, firstIndexKept } = this.#raft.createSnapshot(
      this.#raft.appliedIndex,
      data,
      afterRestore ? { trailingEntries: 0 } : {},
    );
    this.#restoredAtIndex = 0;
    // The snapshot file first: the WAL behind it may go only once the snapshot is durable.
    await this.#snapshots.save({
      index: meta.index,
      term: meta.term,
      configuration: encodeMembership(meta.membership),
      data,
    });
    const removed = await this.#wal.compact(firstIndexKept - 1);
    this.#stats.snapshots += 1;
    this.#log.info(
      `Took a snapshot at index ${meta.index}; removed ${removed} WAL segment(s) before ` +
        `index ${firstIndexKept}`,
    );
  }

  #failWaiting(): void {
    for (const pending of this.#pending.values()) pending.resolve(noLeaderResult());
    this.#pending.clear();
    for (const read of this.#reads.values()) read.resolve(noLeaderResult(), 0);
    this.#reads.clear();
  }

  #fail(error: unknown): void {
    // A failed fsync cannot be retried (the kernel may have dropped the pages): stop writing,
    // answer every waiting request, and leave recovery to a restart.
    this.#failure = error instanceof Error ? error : new Error(String(error));
    this.#log.error(`Cannot continue the Raft server: ${this.#failure.message}`);
    this.#tickTimer?.cancel();
    this.#duties.stop();
    this.#failWaiting();
  }
}

function busyResult(why: string): ApplyResult {
  return { ok: false, error: `Cannot propose: ${why}; retry later`, status: 503 };
}

function reportRecovery(log: RaftServerLog, dir: string, wal: WriteAheadLog): void {
  const report = wal.recovery;
  for (const tail of report.tornTails) {
    log.warn(
      `Cut a torn tail off the write-ahead log in ${dir}: ${tail.segment} at offset ` +
        `${tail.offset}, ${tail.bytesDropped} bytes (${tail.reason})`,
    );
  }
  for (const removed of report.segmentsRemoved) {
    log.warn(`Removed write-ahead log segment ${removed.segment} in ${dir}: ${removed.reason}`);
  }
  if (report.segmentsRead > 0) {
    log.info(
      `Recovered the write-ahead log in ${dir}: ${report.segmentsRead} segment(s), ` +
        `${report.recordsKept} records, entries ${wal.firstIndex}..${wal.lastIndex}`,
    );
  }
}
