// Goal: run a Raft cluster of 3 or 5 servers in one process, on a virtual clock and a faulty
// virtual network, with clients, crashes and torn writes, and check Raft's safety properties
// after every step. Method: a discrete-event loop (a heap of timed events: ticks, deliveries,
// client actions, disk writes, faults) drawn from one seed; each server's `ready()` is carried
// out as the real shell does (`src/server/raft_server.ts`): a leader's messages leave at once
// when `sendBeforePersist` allows, the write to an in-memory disk takes a seed-picked virtual
// time (messages keep arriving and are stepped meanwhile, as on the real event loop), then the
// rest is sent, applied and advanced; a crash drops everything but the disk and may tear the
// write in progress. The checks: election safety, log matching,
// leader completeness and state-machine safety as each step happens; the client history is
// kept for the linearizability checker.

import { Raft } from "../../src/core/raft/raft.ts";
import type { RaftConfig } from "../../src/core/raft/config.ts";
import { defaultRaftConfig } from "../../src/core/raft/config.ts";
import type { Entry, HardState, Message, Snapshot } from "../../src/core/raft/messages.ts";
import type { Ready } from "../../src/core/raft/ready.ts";
import { randomBelow, SeededRandom } from "../../src/core/random.ts";
import type { NetworkFaults } from "./sim_network.ts";
import { randomUnit, reliableFaults, SimNetwork } from "./sim_network.ts";
import type { KvCommand } from "./sim_kv.ts";
import { decodeCommand, encodeCommand, SimKv } from "./sim_kv.ts";
import type { KvOperation } from "./linearizability.ts";
import { EventQueue } from "./event_queue.ts";

/** A failed invariant; the message carries the seed. */
export class SimViolation extends Error {
  override name = "SimViolation";
}

/** What the seed may break, beyond the network. */
export interface ServerFaults {
  /** Mean virtual ms between fault actions; 0 disables crashes, partitions and restarts. */
  faultIntervalMs: number;
  /** Weight of crash actions among fault actions. */
  crashWeight: number;
  /** Weight of partition actions. */
  partitionWeight: number;
  /** Probability that a crash tears the write in progress. */
  tornRate: number;
}

/** Options for `SimCluster.create()`. */
export interface SimOptions {
  seed: number;
  /** Default: 3 or 5, picked by the seed. */
  nodeCount?: number;
  /** "swarm": the seed picks all fault rates; "none": a reliable network and no faults. */
  faults?: "swarm" | "none";
  raftConfig?: Partial<RaftConfig>;
  /** Concurrent clients (default 3); 0 for none. */
  clientCount?: number;
  /**
   * Longest virtual ms one disk write takes (each draws 1..this); 0 writes at once. Default:
   * picked by the seed with "swarm", 0 with "none".
   */
  diskDelayMaxMs?: number;
}

/** A client operation and what came of it. */
export interface OpRecord {
  readonly id: number;
  readonly key: string;
  readonly kind: "put" | "delete" | "cas" | "read";
  readonly mode: "write" | "consistent" | "default" | "stale";
  readonly value?: string;
  readonly expected?: string;
  readonly call: number;
  ret: number;
  output?: { value?: string; swapped?: boolean };
  status: "pending" | "ok" | "unknown" | "failed";
  node: string;
  readonly deadlineMs: number;
  /** Set when `onDone` callers (scenario tests) want to know. */
  index?: number;
}

interface Disk {
  hardState: HardState;
  snapshot: Snapshot | undefined;
  entries: Entry[];
}

interface SimNode {
  readonly id: string;
  raft: Raft | undefined;
  readonly disk: Disk;
  kv: SimKv;
  /** Bumped on crash so ticks scheduled before it are ignored. */
  incarnation: number;
  readonly tickPhaseMs: number;
  readonly pendingWrites: Map<number, { op: OpRecord; term: number }>;
  readonly pendingReads: Map<number, OpRecord>;
  waitingReads: { op: OpRecord; index: number }[];
  /** Crash during the next write that carries entries, tearing it. */
  tearNextWrite: boolean;
  /** The `Ready` whose disk write is under way (at most one, as in the real shell). */
  writing: { ready: Ready; sent: boolean; applied: boolean } | undefined;
  /** A restore's chunks staged by this server's state machine (`RestoreStaging` in the store). */
  staging: SimStaging | undefined;
  /** Index of a restore applied since this server's last snapshot, else 0. */
  restoredAt: number;
}

/** A restore being staged: its id, chunks by number, and the index of its latest chunk. */
interface SimStaging {
  id: string;
  chunks: Map<number, string>;
  lastIndex: number;
}

/**
 * The sim's restore entries, beside `KvCommand`s: chunks of the target state's JSON, then the
 * entry that swaps it in, as `PUT /v1/snapshot` does with `restoreChunk` and `restore`.
 */
type RestoreCommand =
  | { kind: "restoreChunk"; op: 0; id: string; seq: number; data: string }
  | { kind: "restore"; op: 0; id: string; chunkCount: number };

/** Entries after a staging's latest chunk past which it is dropped (the store's is 16384). */
const STAGING_IDLE_ENTRIES_MAX = 40;

type SimEvent =
  | { type: "tick"; node: string; incarnation: number }
  | { type: "deliver"; message: Message }
  | { type: "written"; node: string; incarnation: number }
  | { type: "client"; client: number }
  | { type: "fault" };

const KEYS = ["a", "b", "c"];
const TICK_MS = 10;
const CLIENT_TIMEOUT_MS = 600;

function entryDigest(entry: Entry): string {
  if (entry.type === "normal") return new TextDecoder().decode(entry.data);
  if (entry.type === "noop") return "noop";
  return JSON.stringify(entry.membership);
}

/** A simulated Raft cluster with clients and faults, all driven by one seed. */
export class SimCluster {
  readonly seed: number;
  readonly network: SimNetwork;
  readonly nodes = new Map<string, SimNode>();
  readonly history: OpRecord[] = [];
  readonly config: RaftConfig;
  readonly serverFaults: ServerFaults;
  readonly diskDelayMaxMs: number;
  nowMs = 0;
  stepCount = 0;
  clientsActive = true;
  faultsActive = true;
  readonly #random: SeededRandom;
  readonly #queue = new EventQueue<SimEvent>();
  #sequence = 0;
  #nextOpId = 1;
  #nextReadId = 1;
  readonly #leaderOfTerm = new Map<number, string>();
  /**
   * Entries known committed, by index. `commitTerm` bounds from above the term in which a
   * leader committed it: a server learns a commit only from a leader of its own term.
   */
  readonly #committed = new Map<number, { term: number; digest: string; commitTerm: number }>();
  readonly #logRegistry = new Map<string, { digest: string; prevTerm: number | undefined }>();
  readonly #checkedLeader = new Map<string, number>();
  readonly #clientCount: number;
  /** Human-readable log of fault actions, printed with a failure. */
  readonly faultLog: string[] = [];
  /**
   * The state after each `restore` entry (taken or failed), by index: every server's must match.
   */
  readonly restoredStates = new Map<number, string>();
  /** Indexes of `restore` entries that swapped a state in on some server. */
  readonly takenRestores = new Set<number>();
  #nextRestoreId = 1;

  private constructor(options: SimOptions) {
    this.seed = options.seed;
    this.#random = new SeededRandom(options.seed);
    const swarm = (options.faults ?? "swarm") === "swarm";
    const nodeCount = options.nodeCount ?? (randomBelow(this.#random, 2) === 0 ? 3 : 5);
    this.config = { ...this.#pickRaftConfig(), ...options.raftConfig };
    const faults = swarm ? this.#pickNetworkFaults() : reliableFaults();
    this.serverFaults = swarm ? this.#pickServerFaults() : {
      faultIntervalMs: 0,
      crashWeight: 0,
      partitionWeight: 0,
      tornRate: 0,
    };
    this.diskDelayMaxMs = options.diskDelayMaxMs ?? (swarm ? this.#pick([0, 1, 3, 8]) : 0);
    this.network = new SimNetwork(this.#random.fork(), faults);
    const ids = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
    for (const id of ids) this.#addNode(id, ids);
    this.#clientCount = options.clientCount ?? 3;
    for (let c = 0; c < this.#clientCount; c += 1) {
      this.#queue.push(randomBelow(this.#random, 50), { type: "client", client: c });
    }
    if (this.serverFaults.faultIntervalMs > 0) {
      this.#queue.push(this.serverFaults.faultIntervalMs, { type: "fault" });
    }
  }

  /** Creates a cluster whose every choice follows from `options.seed`. */
  static create(options: SimOptions): SimCluster {
    return new SimCluster(options);
  }

  #pick<T>(choices: readonly T[]): T {
    return choices[randomBelow(this.#random, choices.length)];
  }

  #pickRaftConfig(): RaftConfig {
    return {
      ...defaultRaftConfig(),
      electionTimeoutTicks: 10,
      heartbeatTicks: this.#pick([1, 2, 3]),
      // Without check-quorum a deposed leader lingers: read-index must still be safe.
      checkQuorum: randomUnit(this.#random) < 0.75,
      preVote: randomUnit(this.#random) < 0.75,
      appendEntriesMax: this.#pick([1, 4, 64]),
      inflightMessagesMax: this.#pick([1, 4, 16]),
      proposalsInFlightMax: this.#pick([8, 64]),
      snapshotThresholdEntries: this.#pick([8, 30, 16_384]),
      trailingEntries: this.#pick([0, 5, 20]),
    };
  }

  #pickNetworkFaults(): NetworkFaults {
    const delayMaxMs = this.#pick([3, 10, 30]);
    return {
      lossRate: this.#pick([0, 0.01, 0.05, 0.2]),
      duplicateRate: this.#pick([0, 0.02, 0.1]),
      delayMinMs: 1,
      delayMaxMs,
    };
  }

  #pickServerFaults(): ServerFaults {
    return {
      faultIntervalMs: this.#pick([0, 150, 400]),
      crashWeight: this.#pick([0, 1, 3]),
      partitionWeight: this.#pick([0, 1, 3]),
      tornRate: this.#pick([0, 0.5]),
    };
  }

  #addNode(id: string, voters: readonly string[]): void {
    const node: SimNode = {
      id,
      raft: undefined,
      disk: {
        hardState: { term: 0, vote: undefined, commit: 0 },
        snapshot: undefined,
        entries: [],
      },
      kv: new SimKv(),
      incarnation: 0,
      tickPhaseMs: randomBelow(this.#random, TICK_MS),
      pendingWrites: new Map(),
      pendingReads: new Map(),
      waitingReads: [],
      tearNextWrite: false,
      writing: undefined,
      staging: undefined,
      restoredAt: 0,
    };
    this.nodes.set(id, node);
    node.raft = new Raft({
      id,
      random: this.#random.fork(),
      config: this.config,
      bootstrapVoters: voters,
    });
    this.#scheduleTick(node, this.nowMs + node.tickPhaseMs);
  }

  #scheduleTick(node: SimNode, at: number): void {
    this.#queue.push(at, { type: "tick", node: node.id, incarnation: node.incarnation });
  }

  /** A short description of the run's parameters, printed with failures. */
  describe(): string {
    const f = this.network.faults;
    return `seed=${this.seed} nodes=${this.nodes.size} loss=${f.lossRate} dup=${f.duplicateRate} ` +
      `delayMax=${f.delayMaxMs}ms faults=${JSON.stringify(this.serverFaults)} ` +
      `checkQuorum=${this.config.checkQuorum} preVote=${this.config.preVote} ` +
      `heartbeat=${this.config.heartbeatTicks} batch=${this.config.appendEntriesMax} ` +
      `window=${this.config.inflightMessagesMax} snapshotEvery=${this.config.snapshotThresholdEntries} ` +
      `diskDelayMax=${this.diskDelayMaxMs}ms`;
  }

  #fail(message: string): never {
    throw new SimViolation(
      `${message}\n  at t=${this.nowMs}ms step=${this.stepCount}\n  ${this.describe()}\n` +
        `  faults: ${this.faultLog.slice(-12).join("; ")}`,
    );
  }

  // -------------------------------------------------------------------------------------------
  // The event loop.

  /** Runs events until virtual time passes `untilMs` (or the queue empties). */
  runUntil(untilMs: number, stop?: () => boolean): boolean {
    while (this.#queue.peekAt() <= untilMs) {
      const timed = this.#queue.pop()!;
      this.nowMs = timed.at;
      this.stepCount += 1;
      this.#handle(timed.event);
      this.#checkInvariants();
      if (stop !== undefined && stop()) return true;
    }
    this.nowMs = Math.max(this.nowMs, untilMs);
    return false;
  }

  /** Runs for `durationMs` of virtual time. */
  runForMs(durationMs: number): void {
    this.runUntil(this.nowMs + durationMs);
  }

  #handle(event: SimEvent): void {
    switch (event.type) {
      case "tick": {
        const node = this.nodes.get(event.node)!;
        if (node.raft === undefined || node.incarnation !== event.incarnation) return;
        node.raft.tick();
        this.#scheduleTick(node, this.nowMs + TICK_MS);
        this.#processReady(node);
        return;
      }
      case "deliver": {
        const node = this.nodes.get(event.message.to)!;
        if (node.raft === undefined) return;
        // A partition made while a message was in flight cuts it too.
        if (!this.network.connected(event.message.from, event.message.to)) return;
        node.raft.step(event.message);
        this.#processReady(node);
        return;
      }
      case "written": {
        const node = this.nodes.get(event.node)!;
        const writing = node.writing;
        if (node.raft === undefined || node.incarnation !== event.incarnation) return;
        if (writing === undefined) return;
        node.writing = undefined;
        if (this.#finishReady(node, writing.ready, writing.sent, writing.applied)) {
          this.#processReady(node);
        }
        return;
      }
      case "client":
        return this.#clientAction(event.client);
      case "fault":
        return this.#faultAction();
    }
  }

  #processReady(node: SimNode): void {
    for (let round = 0; round < 16; round += 1) {
      const raft = node.raft;
      if (raft === undefined || node.writing !== undefined || !raft.hasReady()) return;
      const ready = raft.ready();
      // A leader's appends leave before its own write, as the real shell sends them.
      const sent = ready.sendBeforePersist;
      if (sent) { for (const message of ready.messagesToSend) this.#send(message); }
      // Committed entries are applied (and their writers answered) while the write is under
      // way, as the real shell does when there is no snapshot to install.
      const applied = ready.snapshotToApply === undefined;
      if (applied) this.#apply(node, ready);
      if (this.diskDelayMaxMs > 0 && this.#needsWrite(node, ready)) {
        node.writing = { ready, sent, applied };
        const delayMs = 1 + randomBelow(this.#random, this.diskDelayMaxMs);
        this.#queue.push(this.nowMs + delayMs, {
          type: "written",
          node: node.id,
          incarnation: node.incarnation,
        });
        return;
      }
      if (!this.#finishReady(node, ready, sent, applied)) return;
    }
  }

  /**
   * True when `ready` costs a disk write: entries, a snapshot, or a new term or vote. A change
   * of the commit index alone is volatile (the real shell writes it with the next entries).
   */
  #needsWrite(node: SimNode, ready: Ready): boolean {
    const hard = ready.hardState;
    const disk = node.disk.hardState;
    return ready.entriesToPersist.length > 0 || ready.snapshotToApply !== undefined ||
      (hard !== undefined && (hard.term !== disk.term || hard.vote !== disk.vote));
  }

  /** Once `ready`'s write is done: persist, send and apply the rest, advance; false on a crash. */
  #finishReady(node: SimNode, ready: Ready, sent: boolean, applied: boolean): boolean {
    const raft = node.raft!;
    if (this.#maybeTornCrash(node, ready)) return false;
    this.#persist(node, ready);
    if (!sent) { for (const message of ready.messagesToSend) this.#send(message); }
    if (!applied) this.#apply(node, ready);
    raft.advance();
    this.#maybeSnapshot(node);
    this.#serveWaitingReads(node);
    return true;
  }

  #send(message: Message): void {
    for (const delayMs of this.network.deliveries(message.from, message.to)) {
      this.#queue.push(this.nowMs + delayMs, { type: "deliver", message });
    }
  }

  // -------------------------------------------------------------------------------------------
  // The disk.

  #persist(node: SimNode, ready: Ready): void {
    const disk = node.disk;
    if (ready.snapshotToApply !== undefined) {
      disk.snapshot = ready.snapshotToApply;
      disk.entries = [];
    }
    this.#writeEntries(node, ready.entriesToPersist);
    if (ready.hardState !== undefined) disk.hardState = ready.hardState;
  }

  #writeEntries(node: SimNode, entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const disk = node.disk;
    const first = entries[0].index;
    // An entry written at an index already on disk replaces it and everything after it.
    while (disk.entries.length > 0 && disk.entries.at(-1)!.index >= first) disk.entries.pop();
    const expected = disk.entries.length > 0
      ? disk.entries.at(-1)!.index + 1
      : (disk.snapshot?.meta.index ?? 0) + 1;
    if (first !== expected) {
      this.#fail(`Disk of ${node.id}: write at ${first}, expected ${expected}`);
    }
    for (const entry of entries) {
      const prev = disk.entries.at(-1);
      const prevTerm = prev !== undefined
        ? prev.term
        : entry.index - 1 === (disk.snapshot?.meta.index ?? 0)
        ? (disk.snapshot?.meta.term ?? 0)
        : undefined;
      if (prevTerm !== undefined && prevTerm > entry.term) {
        this.#fail(
          `Log of ${node.id}: term falls from ${prevTerm} to ${entry.term} at ${entry.index}`,
        );
      }
      this.#checkLogMatching(node, entry, prevTerm);
      disk.entries.push(entry);
    }
  }

  /** Log matching (Raft §5.3): one (index, term) names one entry and one predecessor term. */
  #checkLogMatching(node: SimNode, entry: Entry, prevTerm: number | undefined): void {
    const key = `${entry.index}:${entry.term}`;
    const digest = entryDigest(entry);
    const known = this.#logRegistry.get(key);
    if (known === undefined) {
      this.#logRegistry.set(key, { digest, prevTerm });
      return;
    }
    if (known.digest !== digest) {
      this.#fail(
        `Log matching: ${node.id} has a different entry at ${key}: ${digest} vs ${known.digest}`,
      );
    }
    if (known.prevTerm !== undefined && prevTerm !== undefined && known.prevTerm !== prevTerm) {
      this.#fail(`Log matching: ${node.id} has a different predecessor of ${key}`);
    }
    if (known.prevTerm === undefined) known.prevTerm = prevTerm;
  }

  #maybeTornCrash(node: SimNode, ready: Ready): boolean {
    const rate = this.faultsActive ? this.serverFaults.tornRate * 0.002 : 0;
    if (ready.entriesToPersist.length === 0) return false;
    if (!node.tearNextWrite && randomUnit(this.#random) >= rate) return false;
    node.tearNextWrite = false;
    this.#tear(node, ready);
    this.crash(node.id);
    return true;
  }

  /**
   * The machine dies mid-write: a prefix of the batch reached the disk, the hard state did not,
   * and only what `sendBeforePersist` let leave was sent.
   */
  #tear(node: SimNode, ready: Ready): void {
    if (ready.snapshotToApply !== undefined) {
      node.disk.snapshot = ready.snapshotToApply;
      node.disk.entries = [];
    }
    const kept = randomBelow(this.#random, ready.entriesToPersist.length + 1);
    this.#writeEntries(node, ready.entriesToPersist.slice(0, kept));
    this.faultLog.push(
      `t=${this.nowMs} torn ${node.id} kept ${kept}/${ready.entriesToPersist.length}`,
    );
  }

  #maybeSnapshot(node: SimNode): void {
    const raft = node.raft!;
    // As the real shell: a snapshot at once after a restore, keeping no trailing entries, and
    // none while a restore is staged (the staging is not in snapshots).
    const afterRestore = node.restoredAt > raft.snapshotIndex;
    if (!raft.snapshotDue() && !afterRestore) return;
    if (node.staging !== undefined) return;
    const { meta, firstIndexKept } = raft.createSnapshot(
      raft.appliedIndex,
      node.kv.snapshot(),
      afterRestore ? { trailingEntries: 0 } : {},
    );
    node.restoredAt = 0;
    node.disk.snapshot = { meta, data: node.kv.snapshot() };
    node.disk.entries = node.disk.entries.filter((entry) => entry.index >= firstIndexKept);
  }

  // -------------------------------------------------------------------------------------------
  // Applying.

  #apply(node: SimNode, ready: Ready): void {
    if (ready.snapshotToApply !== undefined) {
      node.kv.restore(ready.snapshotToApply.data);
      node.staging = undefined;
      // Writes waiting at indexes the snapshot covers can no longer be matched to their entry.
      for (const [index, pending] of node.pendingWrites) {
        if (index <= ready.snapshotToApply.meta.index) {
          this.#finish(pending.op, "unknown");
          node.pendingWrites.delete(index);
        }
      }
    }
    for (const entry of ready.committedEntries) this.#applyEntry(node, entry);
    for (const state of ready.readStates) {
      const op = node.pendingReads.get(state.requestId);
      if (op === undefined) continue;
      node.pendingReads.delete(state.requestId);
      node.waitingReads.push({ op, index: state.index });
    }
  }

  #applyEntry(node: SimNode, entry: Entry): void {
    this.#checkStateMachineSafety(node, entry);
    let swapped = true;
    let command: KvCommand | undefined;
    if (entry.type === "normal") {
      command = decodeCommand(entry.data);
      if (
        node.staging !== undefined &&
        entry.index - node.staging.lastIndex > STAGING_IDLE_ENTRIES_MAX
      ) {
        node.staging = undefined;
      }
      const kind: string = command.kind;
      if (kind === "restoreChunk" || kind === "restore") {
        this.#applyRestore(node, entry.index, command as unknown as RestoreCommand);
        return;
      }
      swapped = node.kv.apply(command);
    }
    const pending = node.pendingWrites.get(entry.index);
    if (pending === undefined) return;
    node.pendingWrites.delete(entry.index);
    if (pending.term !== entry.term) {
      // Another entry won this index: the proposal was never committed (Raft §5.3).
      this.#finish(pending.op, "failed");
      return;
    }
    if (command === undefined || command.op !== pending.op.id) {
      this.#fail(
        `Proposal ${pending.op.id} at ${entry.index}:${entry.term} came back as another entry`,
      );
    }
    pending.op.output = { swapped };
    pending.op.index = entry.index;
    this.#finish(pending.op, "ok");
  }

  /** Stages a chunk, or swaps the staged state in when every chunk of that restore is there. */
  #applyRestore(node: SimNode, index: number, command: RestoreCommand): void {
    if (command.kind === "restoreChunk") {
      if (node.staging?.id !== command.id) {
        node.staging = { id: command.id, chunks: new Map(), lastIndex: index };
      }
      node.staging.chunks.set(command.seq, command.data);
      node.staging.lastIndex = index;
      return;
    }
    const staging = node.staging;
    const chunks = Array.from({ length: command.chunkCount }, (_, seq) => staging?.chunks.get(seq));
    // Another restore's staging stays; a restore with a chunk missing fails, and the state stays.
    if (staging?.id === command.id) node.staging = undefined;
    if (staging?.id === command.id && chunks.every((chunk) => chunk !== undefined)) {
      node.kv.restore(new TextEncoder().encode(chunks.join("")));
      node.restoredAt = index;
      this.takenRestores.add(index);
    }
    // State-machine safety on the state itself: every server ends this entry identically,
    // whether the restore took or failed.
    const state = node.kv.describe();
    const known = this.restoredStates.get(index);
    if (known === undefined) this.restoredStates.set(index, state);
    else if (known !== state) {
      this.#fail(`Restore at ${index}: ${node.id} holds ${state}, another server ${known}`);
    }
  }

  /**
   * Proposes a restore of `values` at `nodeId`: the state's JSON in `chunkCount` chunks, then
   * the `restore` entry, all at once. Untracked by the history (the linearizability checker
   * does not model a restore); stops at the first refused proposal, abandoning the staging.
   *
   * @returns the index of the `restore` entry, or `undefined` when a proposal was refused
   */
  submitRestore(
    nodeId: string,
    values: Record<string, string>,
    chunkCount = 3,
  ): number | undefined {
    const raft = this.nodes.get(nodeId)!.raft;
    if (raft === undefined) return undefined;
    const json = JSON.stringify(Object.entries(values).sort());
    const id = `r${this.#nextRestoreId++}`;
    const size = Math.ceil(json.length / chunkCount);
    const commands: RestoreCommand[] = Array.from({ length: chunkCount }, (_, seq) => ({
      kind: "restoreChunk",
      op: 0,
      id,
      seq,
      data: json.slice(seq * size, (seq + 1) * size),
    }));
    commands.push({ kind: "restore", op: 0, id, chunkCount });
    let index: number | undefined;
    for (const command of commands) {
      const outcome = raft.propose(new TextEncoder().encode(JSON.stringify(command)));
      if (outcome.type === "rejected") return undefined;
      index = outcome.index;
    }
    this.#processReady(this.nodes.get(nodeId)!);
    return index;
  }

  #checkStateMachineSafety(node: SimNode, entry: Entry): void {
    const digest = entryDigest(entry);
    const known = this.#committed.get(entry.index);
    const commitTerm = node.raft!.term;
    if (known === undefined || commitTerm < known.commitTerm) {
      if (known === undefined) {
        this.#committed.set(entry.index, { term: entry.term, digest, commitTerm });
      } else known.commitTerm = commitTerm;
      this.#checkLeadersHold(entry, commitTerm);
    }
    if (known === undefined) return;
    if (known.term !== entry.term || known.digest !== digest) {
      this.#fail(
        `State machine safety: ${node.id} applied ${entry.index}:${entry.term} ${digest}, ` +
          `another server applied ${entry.index}:${known.term} ${known.digest}`,
      );
    }
  }

  /**
   * Leader completeness (Raft §5.4): an entry committed in term T is in the log of every leader
   * of a term after T.
   */
  #checkLeadersHold(entry: Entry, commitTerm: number): void {
    for (const node of this.nodes.values()) {
      const raft = node.raft;
      if (raft === undefined || raft.role !== "leader" || raft.term <= commitTerm) continue;
      this.#checkLeaderHolds(node.id, raft, entry.index, entry.term);
    }
  }

  #checkLeaderHolds(id: string, raft: Raft, index: number, term: number): void {
    if (index < raft.firstIndex) return; // Covered by its snapshot.
    if (raft.termAt(index) !== term) {
      this.#fail(
        `Leader completeness: leader ${id} of term ${raft.term} lacks committed ${index}:${term}`,
      );
    }
  }

  #checkInvariants(): void {
    for (const node of this.nodes.values()) {
      const raft = node.raft;
      if (raft === undefined || raft.role !== "leader") continue;
      const known = this.#leaderOfTerm.get(raft.term);
      if (known === undefined) this.#leaderOfTerm.set(raft.term, node.id);
      else if (known !== node.id) {
        this.#fail(`Election safety: ${known} and ${node.id} both lead term ${raft.term}`);
      }
      if (this.#checkedLeader.get(node.id) === raft.term) continue;
      this.#checkedLeader.set(node.id, raft.term);
      for (const [index, { term, commitTerm }] of this.#committed) {
        if (commitTerm < raft.term) this.#checkLeaderHolds(node.id, raft, index, term);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Clients.

  #finish(op: OpRecord, status: "ok" | "unknown" | "failed"): void {
    if (op.status !== "pending") return;
    op.status = status;
    op.ret = status === "ok" ? this.#sequence++ : Infinity;
  }

  #currentOp = new Map<number, OpRecord>();

  #clientAction(client: number): void {
    const current = this.#currentOp.get(client);
    if (current !== undefined && current.status === "pending") {
      if (this.nowMs < current.deadlineMs) {
        this.#queue.push(this.nowMs + 5, { type: "client", client });
        return;
      }
      this.#abandon(current);
    }
    if (!this.clientsActive) return;
    const op = this.#startOp(client);
    if (op !== undefined) this.#currentOp.set(client, op);
    // Like real clients, keep using a server until it refuses, then ask for the leader again.
    else this.#preferred.delete(client);
    this.#queue.push(this.nowMs + 1 + randomBelow(this.#random, 20), { type: "client", client });
  }

  /** A client gives up: a write's fate is unknown; an unanswered read never happened. */
  #abandon(op: OpRecord): void {
    const node = this.nodes.get(op.node)!;
    for (const [index, pending] of node.pendingWrites) {
      if (pending.op === op) node.pendingWrites.delete(index);
    }
    for (const [id, pending] of node.pendingReads) if (pending === op) node.pendingReads.delete(id);
    node.waitingReads = node.waitingReads.filter((waiting) => waiting.op !== op);
    this.#finish(op, op.mode === "write" ? "unknown" : "failed");
  }

  /** Returns a server that claims to lead, if any is up (clients find leaders by redirect). */
  leaderNode(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.nodes.values()) {
      const raft = node.raft;
      if (raft?.role !== "leader") continue;
      if (best === undefined || raft.term > best.raft!.term) best = node;
    }
    return best;
  }

  #preferred = new Map<number, string>();

  #startOp(client: number): OpRecord | undefined {
    const up = [...this.nodes.values()].filter((node) => node.raft !== undefined);
    if (up.length === 0) return undefined;
    let preferred = this.#preferred.get(client);
    if (preferred === undefined || this.nodes.get(preferred)!.raft === undefined) {
      preferred = (this.leaderNode() ?? this.#pick(up)).id;
      this.#preferred.set(client, preferred);
    }
    const node = randomUnit(this.#random) < 0.9 ? this.nodes.get(preferred)! : this.#pick(up);
    const key = this.#pick(KEYS);
    const roll = randomUnit(this.#random);
    if (roll < 0.35) {
      return this.submitWrite(node.id, { kind: "put", key, value: `v${this.#nextOpId}` });
    }
    if (roll < 0.45) return this.submitWrite(node.id, { kind: "delete", key });
    if (roll < 0.6) {
      const expected = randomUnit(this.#random) < 0.3 ? undefined : node.kv.get(key);
      return this.submitWrite(node.id, { kind: "cas", key, expected, value: `v${this.#nextOpId}` });
    }
    if (roll < 0.8) return this.submitRead(node.id, key, "consistent");
    if (roll < 0.92) return this.submitRead(node.id, key, "default");
    return this.submitRead(node.id, key, "stale");
  }

  #newOp(fields: Omit<OpRecord, "id" | "call" | "ret" | "status" | "deadlineMs">): OpRecord {
    const op: OpRecord = {
      ...fields,
      id: this.#nextOpId++,
      call: this.#sequence++,
      ret: Infinity,
      status: "pending",
      deadlineMs: this.nowMs + CLIENT_TIMEOUT_MS,
    };
    return op;
  }

  /**
   * Proposes a write at `nodeId`; returns the operation (its `status` changes as it completes)
   * or `undefined` when the server refused it (not leader, busy: the write never happened).
   */
  submitWrite(
    nodeId: string,
    write:
      | { kind: "put"; key: string; value: string }
      | { kind: "delete"; key: string }
      | { kind: "cas"; key: string; expected: string | undefined; value: string },
  ): OpRecord | undefined {
    const node = this.nodes.get(nodeId)!;
    const raft = node.raft;
    if (raft === undefined) return undefined;
    const op = this.#newOp({ ...write, mode: "write", node: nodeId });
    const outcome = raft.propose(encodeCommand({ ...write, op: op.id } as KvCommand));
    if (outcome.type === "rejected") return undefined;
    this.history.push(op);
    node.pendingWrites.set(outcome.index, { op, term: outcome.term });
    this.#processReady(node);
    return op;
  }

  /** Starts a read at `nodeId` in `mode`; `undefined` when the server refused it. */
  submitRead(
    nodeId: string,
    key: string,
    mode: "consistent" | "default" | "stale",
  ): OpRecord | undefined {
    const node = this.nodes.get(nodeId)!;
    const raft = node.raft;
    if (raft === undefined) return undefined;
    const op = this.#newOp({ key, kind: "read", mode, node: nodeId });
    if (mode === "stale") {
      op.output = { value: node.kv.get(key) };
      this.#finish(op, "ok");
      this.history.push(op);
      return op;
    }
    if (mode === "default") {
      if (!raft.leaseValid()) return undefined;
      node.waitingReads.push({ op, index: raft.commitIndex });
    } else {
      const requestId = this.#nextReadId++;
      if (raft.readIndex(requestId).type === "rejected") return undefined;
      node.pendingReads.set(requestId, op);
    }
    this.history.push(op);
    this.#processReady(node);
    this.#serveWaitingReads(node);
    return op;
  }

  #serveWaitingReads(node: SimNode): void {
    const raft = node.raft;
    if (raft === undefined || node.waitingReads.length === 0) return;
    const still: { op: OpRecord; index: number }[] = [];
    for (const waiting of node.waitingReads) {
      if (raft.appliedIndex < waiting.index) {
        still.push(waiting);
        continue;
      }
      waiting.op.output = { value: node.kv.get(waiting.op.key) };
      this.#finish(waiting.op, "ok");
    }
    node.waitingReads = still;
  }

  // -------------------------------------------------------------------------------------------
  // Faults.

  #faultAction(): void {
    if (!this.faultsActive) return;
    const f = this.serverFaults;
    this.#queue.push(
      this.nowMs + f.faultIntervalMs / 2 + randomBelow(this.#random, f.faultIntervalMs),
      {
        type: "fault",
      },
    );
    const down = [...this.nodes.values()].filter((node) => node.raft === undefined);
    const up = [...this.nodes.values()].filter((node) => node.raft !== undefined);
    const tolerated = Math.floor((this.nodes.size - 1) / 2);
    const roll = randomUnit(this.#random) * (f.crashWeight + f.partitionWeight + 2);
    if (roll < f.crashWeight) {
      if (down.length < tolerated) this.crash(this.#pick(up).id);
      return;
    }
    if (roll < f.crashWeight + f.partitionWeight) {
      const leader = this.leaderNode();
      if (leader !== undefined && randomUnit(this.#random) < 0.5) {
        this.network.isolate(leader.id);
        this.faultLog.push(`t=${this.nowMs} isolate ${leader.id}`);
        return;
      }
      const ids = [...this.nodes.keys()];
      const side = ids.filter(() => randomUnit(this.#random) < 0.5);
      this.network.partition([side]);
      this.faultLog.push(`t=${this.nowMs} partition [${side}]`);
      return;
    }
    if (roll < f.crashWeight + f.partitionWeight + 1 && down.length > 0) {
      this.restart(this.#pick(down).id);
      return;
    }
    this.network.heal();
    this.faultLog.push(`t=${this.nowMs} heal`);
  }

  /** Crashes `id`: everything but its disk is lost; its clients' operations are abandoned. */
  crash(id: string): void {
    const node = this.nodes.get(id)!;
    if (node.raft === undefined) return;
    node.raft = undefined;
    node.incarnation += 1;
    this.faultLog.push(`t=${this.nowMs} crash ${id}`);
    // A write under way dies with the machine: some of it may have reached the disk.
    const writing = node.writing;
    node.writing = undefined;
    if (writing !== undefined && writing.ready.entriesToPersist.length > 0) {
      this.#tear(node, writing.ready);
    }
    for (const { op } of node.pendingWrites.values()) this.#finish(op, "unknown");
    for (const op of node.pendingReads.values()) this.#finish(op, "failed");
    for (const { op } of node.waitingReads) this.#finish(op, "failed");
    node.pendingWrites.clear();
    node.pendingReads.clear();
    node.waitingReads = [];
  }

  /** Makes `id` crash in the middle of its next write of entries (a torn tail). */
  tearNextWrite(id: string): void {
    this.nodes.get(id)!.tearNextWrite = true;
  }

  /** Restarts `id` from its disk. */
  restart(id: string): void {
    const node = this.nodes.get(id)!;
    if (node.raft !== undefined) return;
    this.faultLog.push(`t=${this.nowMs} restart ${id}`);
    const disk = node.disk;
    node.kv = new SimKv();
    node.staging = undefined; // Rebuilt as the log replays (no snapshot is taken mid-staging).
    node.restoredAt = 0;
    if (disk.snapshot !== undefined) node.kv.restore(disk.snapshot.data);
    node.raft = new Raft({
      id,
      random: this.#random.fork(),
      config: this.config,
      storage: { hardState: disk.hardState, snapshot: disk.snapshot, entries: [...disk.entries] },
    });
    this.#scheduleTick(node, this.nowMs + TICK_MS);
    this.#processReady(node);
  }

  // -------------------------------------------------------------------------------------------
  // Liveness and results.

  /**
   * Heals the network, restarts every server, stops faults and clients, then runs until every
   * server applied the same log as a leader that committed its whole log; false if it did not
   * happen within `budgetMs` of virtual time.
   */
  healAndConverge(budgetMs: number): boolean {
    this.faultsActive = false;
    this.clientsActive = false;
    this.network.heal();
    this.network.faults = { ...this.network.faults, lossRate: 0, duplicateRate: 0 };
    for (const node of this.nodes.values()) this.restart(node.id);
    this.faultLog.push(`t=${this.nowMs} heal all`);
    return this.runUntil(this.nowMs + budgetMs, () => this.converged());
  }

  /** True when one leader committed its whole log and every server applied all of it. */
  converged(): boolean {
    const leader = this.leaderNode();
    if (leader === undefined) return false;
    const raft = leader.raft!;
    if (raft.commitIndex !== raft.lastIndex || raft.termAt(raft.lastIndex) !== raft.term) {
      return false;
    }
    const state = leader.kv.describe();
    for (const node of this.nodes.values()) {
      if (node.raft === undefined || node.raft.appliedIndex !== raft.lastIndex) return false;
      if (node.kv.describe() !== state) return false;
    }
    return true;
  }

  /** The history as checker operations: writes and reads in `modes`, answered ones only. */
  operations(modes: readonly OpRecord["mode"][]): KvOperation[] {
    const out: KvOperation[] = [];
    for (const op of this.history) {
      if (!modes.includes(op.mode)) continue;
      if (op.status === "failed" || op.status === "pending" && op.mode !== "write") continue;
      if (op.mode !== "write" && op.status !== "ok") continue;
      out.push({
        key: op.key,
        kind: op.kind,
        value: op.value,
        expected: op.expected,
        call: op.call,
        ret: op.status === "ok" ? op.ret : Infinity,
        output: op.status === "ok" ? op.output : undefined,
        label: `#${op.id} ${op.mode} ${op.kind}(${op.expected ?? ""}${op.value ?? ""}) ` +
          `-> ${JSON.stringify(op.output ?? "?")} [${op.call}, ${
            op.status === "ok" ? op.ret : "inf"
          }] @${op.node}`,
      });
    }
    return out;
  }
}
