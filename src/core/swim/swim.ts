/**
 * The SWIM + Lifeguard membership core, with memberlist's semantics (v0.2.2 `state.go`,
 * `net.go`, `memberlist.go`; gossip-wire.md §6): probes over a shuffled member list, indirect
 * probes with nacks, TCP fallback pings, suspicion with confirmations, refutation, local
 * health awareness, piggybacked and periodic gossip, push/pull anti-entropy, join and leave.
 *
 * It never reads a clock or a socket: time arrives as `nowMs`, decoded messages through
 * `handle()`, and everything to do comes out of `poll()` (see `messages.ts` for the contract).
 *
 * @module
 */

import { assert } from "../assert.ts";
import { type Random, randomBelow } from "../random.ts";
import {
  type Accusation,
  type Alive,
  type IndirectPing,
  type MemberlistMessage,
  NodeState,
  type Ping,
  type PushNodeState,
  type StreamMessage,
  uint32Max,
} from "../wire/mod.ts";
import { Awareness } from "./awareness.ts";
import {
  BroadcastQueue,
  compoundHeaderOverheadBytes,
  compoundPartOverheadBytes,
  retransmitLimit,
} from "./broadcast_queue.ts";
import { defaultLanConfig, metaBytesMax, type SwimConfig, validateSwimConfig } from "./config.ts";
import type {
  MemberSnapshot,
  MemberState,
  PushPullMessage,
  SwimAddress,
  SwimInput,
  SwimOutput,
} from "./messages.ts";
import { messageBytes } from "./message_bytes.ts";
import { Suspicion, suspicionTimeoutMs } from "./suspicion.ts";

/** `Vsn` we advertise: memberlist 1..5 speaking 2, delegate (Serf) 2..5 speaking 5, as serf. */
export const defaultProtocolVersions: Uint8Array = Uint8Array.of(1, 5, 2, 2, 5, 5);

/** Members above which periodic push/pull slows down (memberlist `pushPullScaleThreshold`). */
export const pushPullScaleThreshold = 32;

/** How a `Swim` is set up. */
export interface SwimOptions {
  /** This member's unique name. */
  name: string;
  /** The address and port other members reach us at (advertised). */
  address: SwimAddress;
  /** The seeded random source (shuffles, helpers, gossip targets, staggers). */
  random: Random;
  /** Tuning; {@link defaultLanConfig} when absent. */
  config?: SwimConfig;
  /** Our metadata (Serf tags), at most 512 bytes. */
  meta?: Uint8Array;
  /** Our 6-byte `Vsn`; {@link defaultProtocolVersions} when absent. */
  versions?: Uint8Array;
  /** The delegate's state for push/pull (Serf's `0x02` message); empty when absent. */
  userState?: (join: boolean) => Uint8Array;
  /** The payload of acks to direct UDP pings (Serf's coordinate); nil when absent. */
  ackPayload?: () => Uint8Array | undefined;
}

/** Counters of what the core dropped or did, for metrics and tests. */
export interface SwimStats {
  /** Broadcasts waiting to be piggybacked. */
  broadcastsQueued: number;
  /** Broadcasts dropped because the queue was full. */
  broadcastsDropped: number;
  /** Outputs dropped because `poll()` was not called often enough. */
  outputsDropped: number;
  /** Alive messages about new members dropped past `membersMax`. */
  membersDropped: number;
  /** Indirect probe requests dropped past `relaysMax`. */
  relaysDropped: number;
  /** Pings addressed to another member's name. */
  misaddressedPings: number;
  /** Probes started. */
  probes: number;
  /** Probes that ended in suspicion. */
  failedProbes: number;
  /** Refutations of suspicions or deaths about ourselves. */
  refutations: number;
}

/** A member as the core keeps it: the same fields it reports. */
type Member = MemberSnapshot;

interface ActiveProbe {
  target: string;
  startedAtMs: number;
  to: SwimAddress;
  incarnation: number;
  ping: Ping;
  timeoutAtMs: number;
  deadlineAtMs: number;
  indirect: boolean;
  expectedNacks: number;
  nacks: number;
}

interface Relay {
  sequence: number;
  replyTo: SwimAddress;
  nack: boolean;
  expiresAtMs: number;
}

type PendingStream =
  | { kind: "pushPull"; join: boolean; to: SwimAddress }
  | { kind: "ping"; sequence: number };

const leaveToken = 1;
const emptyBytes = new Uint8Array(0);

/**
 * A SWIM + Lifeguard member, memberlist-compatible. Synchronous and deterministic.
 *
 * @example
 * ```ts
 * const swim = new Swim({ name: "a", address, random: new SeededRandom(1) }, 0);
 * swim.join([seedAddress], 0);
 * for (let output = swim.poll(); output !== undefined; output = swim.poll()) carryOut(output);
 * // later: swim.handle(input, nowMs) on each packet, swim.tick(nowMs) at swim.nextDeadlineMs()
 * ```
 */
export class Swim {
  readonly #config: SwimConfig;
  readonly #random: Random;
  readonly #options: SwimOptions;
  readonly #self: Member;
  readonly #members = new Map<string, Member>();
  /** memberlist's `nodes` slice: the probe order, reshuffled after each round. */
  #probeOrder: Member[] = [];
  #probeIndex = 0;
  readonly #suspicions = new Map<string, Suspicion>();
  readonly #queue: BroadcastQueue;
  /** Delegate (Serf) broadcasts: packets take them only after memberlist's own, as memberlist. */
  readonly #userQueue: BroadcastQueue;
  readonly #awareness: Awareness;
  readonly #relays = new Map<number, Relay>();
  readonly #streams = new Map<number, PendingStream>();
  #outputs: SwimOutput[] = [];
  #outputHead = 0;
  #probe: ActiveProbe | undefined;
  #sequence = 0;
  #nextRequestId = 1;
  #nextProbeAtMs: number;
  #nextGossipAtMs: number;
  #nextPushPullAtMs: number;
  /** Whether the start-up stagger of periodic push/pull is over (memberlist `pushPullTrigger`). */
  #pushPullStaggered = false;
  #left = false;
  #lastNowMs: number;
  readonly #stats: SwimStats = {
    broadcastsQueued: 0,
    broadcastsDropped: 0,
    outputsDropped: 0,
    membersDropped: 0,
    relaysDropped: 0,
    misaddressedPings: 0,
    probes: 0,
    failedProbes: 0,
    refutations: 0,
  };

  /**
   * Creates the member alive at incarnation 1 and queues its alive broadcast (memberlist
   * `setAlive`).
   *
   * @param options name, address, random source, config and delegate hooks
   * @param nowMs the current time
   */
  constructor(options: SwimOptions, nowMs: number) {
    const config = options.config ?? defaultLanConfig();
    validateSwimConfig(config);
    const meta = options.meta ?? emptyBytes;
    assert(meta.length <= metaBytesMax, `Cannot create member: meta of ${meta.length} bytes > 512`);
    this.#config = config;
    this.#options = options;
    this.#random = options.random;
    this.#lastNowMs = nowMs;
    this.#queue = new BroadcastQueue(config.broadcastQueueMax);
    this.#userQueue = new BroadcastQueue(config.broadcastQueueMax);
    this.#awareness = new Awareness(config.awarenessMaxMultiplier);
    // Staggered starts keep members from probing and gossiping in lockstep (`triggerFunc`).
    this.#nextProbeAtMs = nowMs + randomBelow(this.#random, config.probeIntervalMs);
    this.#nextGossipAtMs = nowMs + randomBelow(this.#random, config.gossipIntervalMs);
    this.#nextPushPullAtMs = nowMs + randomBelow(this.#random, config.pushPullIntervalMs || 1);
    this.#aliveNode(
      {
        incarnation: 1,
        node: options.name,
        address: options.address.address,
        port: options.address.port,
        meta,
        versions: options.versions ?? defaultProtocolVersions,
      },
      nowMs,
      true,
    );
    const self = this.#members.get(options.name);
    assert(self !== undefined, `Cannot create member "${options.name}": not added`);
    this.#self = self;
  }

  /** This member's name. */
  get name(): string {
    return this.#self.name;
  }

  /** This member's incarnation. */
  get incarnation(): number {
    return this.#self.incarnation;
  }

  /** Lifeguard's local health score: 0 is healthy. */
  get healthScore(): number {
    return this.#awareness.score;
  }

  /** Members known, self and not yet forgotten dead ones included. */
  get memberCount(): number {
    return this.#members.size;
  }

  /** Returns counters of drops and activity. */
  stats(): SwimStats {
    return {
      ...this.#stats,
      broadcastsQueued: this.#queue.length + this.#userQueue.length,
      broadcastsDropped: this.#queue.droppedCount + this.#userQueue.droppedCount,
    };
  }

  /** Returns every known member, self included. */
  members(): MemberSnapshot[] {
    return [...this.#members.values()].map(snapshot);
  }

  /** Returns one member, or `undefined` if unknown (or dead long enough to be forgotten). */
  member(name: string): MemberSnapshot | undefined {
    const member = this.#members.get(name);
    return member === undefined ? undefined : snapshot(member);
  }

  /**
   * Joins a cluster: a push/pull with `join` set to each address (memberlist `Join`). Each
   * ends with a `joinFinished` output carrying the returned request id.
   */
  join(addresses: readonly SwimAddress[], nowMs: number): number[] {
    this.#advance(nowMs);
    return addresses.map((to) => this.#sendPushPull(to, undefined, true, nowMs));
  }

  /**
   * Leaves gracefully: broadcasts a dead message about ourselves with From = our name, which
   * others record as `left` (memberlist `Leave`). `leaveBroadcastDone` follows once it has
   * been sent enough times; the shell then stops (or gives up after a timeout).
   */
  leave(nowMs: number): void {
    this.#advance(nowMs);
    if (this.#left) return;
    this.#left = true;
    const self = this.#self;
    this.#deadNode({ incarnation: self.incarnation, node: self.name, from: self.name }, nowMs);
    const anyAlive = this.#probeOrder.some((m) => m !== self && m.state === "alive");
    if (!anyAlive) this.#emit({ type: "leaveBroadcastDone" });
  }

  /** Publishes new metadata (Serf tags) with a higher incarnation (memberlist `UpdateNode`). */
  setMeta(meta: Uint8Array, nowMs: number): void {
    this.#advance(nowMs);
    assert(meta.length <= metaBytesMax, `Cannot set meta: ${meta.length} bytes > 512`);
    const self = this.#self;
    self.incarnation = nextIncarnation(self.incarnation, 0);
    self.meta = meta;
    this.#broadcastAlive(self);
    this.#emitChanged(self, self.state);
  }

  /**
   * Queues a delegate (Serf) message to piggyback on packets, in the room memberlist's own
   * broadcasts leave (memberlist asks its delegate's `GetBroadcasts` last). It is never
   * replaced by another; receivers get it as a `userMessage` output.
   */
  broadcastUser(payload: Uint8Array): void {
    this.#userQueue.push({ type: "user", payload }, payload.length + 1);
  }

  /** Feeds one input (a packet, a stream request or a stream result) at `nowMs`. */
  handle(input: SwimInput, nowMs: number): void {
    this.#advance(nowMs);
    switch (input.type) {
      case "packet":
        for (const message of input.messages) this.#handleMessage(input.from, message, nowMs);
        return;
      case "stream":
        return this.#handleStream(input.streamId, input.message, nowMs);
      case "streamReply":
        return this.#handleStreamReply(input.requestId, input.message, nowMs);
      case "streamFailed":
        return this.#handleStreamFailed(input.requestId, input.reason);
    }
  }

  /** Runs every timer due at `nowMs`; call it at `nextDeadlineMs()` or later. */
  tick(nowMs: number): void {
    this.#advance(nowMs);
    this.#expireRelays(nowMs);
    this.#expireSuspicions(nowMs);
    const probe = this.#probe;
    if (probe !== undefined && !probe.indirect && nowMs >= probe.timeoutAtMs) {
      this.#probeIndirectly(probe, nowMs);
    }
    if (probe !== undefined && nowMs >= probe.deadlineAtMs) this.#failProbe(probe, nowMs);
    if (this.#probe === undefined && nowMs >= this.#nextProbeAtMs) {
      this.#nextProbeAtMs = nowMs + this.#config.probeIntervalMs;
      this.#startProbe(nowMs);
    }
    if (nowMs >= this.#nextGossipAtMs) {
      this.#nextGossipAtMs = nextPeriod(this.#nextGossipAtMs, this.#config.gossipIntervalMs, nowMs);
      this.#gossip(nowMs);
    }
    if (this.#config.pushPullIntervalMs > 0 && nowMs >= this.#nextPushPullAtMs) {
      this.#nextPushPullAtMs = nowMs + this.#pushPullIntervalMs();
      // memberlist waits the stagger, then a whole (scaled) interval before its first periodic
      // push/pull: a join has just exchanged state, and a fresh member adds no load at once.
      if (this.#pushPullStaggered) this.#pushPullPeriodic(nowMs);
      this.#pushPullStaggered = true;
    }
  }

  /** Returns when `tick` next has work to do. */
  nextDeadlineMs(): number {
    let deadline = Math.min(this.#nextGossipAtMs, this.#probeDeadlineMs());
    if (this.#config.pushPullIntervalMs > 0) deadline = Math.min(deadline, this.#nextPushPullAtMs);
    for (const relay of this.#relays.values()) deadline = Math.min(deadline, relay.expiresAtMs);
    for (const suspicion of this.#suspicions.values()) {
      deadline = Math.min(deadline, suspicion.deadlineAtMs);
    }
    return deadline;
  }

  /** Returns the next output, or `undefined` when there is nothing left to do. */
  poll(): SwimOutput | undefined {
    if (this.#outputHead >= this.#outputs.length) {
      if (this.#outputs.length > 0) this.#outputs = [];
      this.#outputHead = 0;
      return undefined;
    }
    const output = this.#outputs[this.#outputHead];
    this.#outputHead += 1;
    return output;
  }

  #advance(nowMs: number): void {
    assert(
      nowMs >= this.#lastNowMs,
      `Cannot move time backwards: ${nowMs} < ${this.#lastNowMs}`,
    );
    this.#lastNowMs = nowMs;
  }

  #emit(output: SwimOutput): void {
    if (this.#outputs.length - this.#outputHead >= this.#config.outputsMax) {
      this.#stats.outputsDropped += 1;
      return;
    }
    this.#outputs.push(output);
  }

  #emitChanged(member: Member, previous: MemberState | undefined): void {
    this.#emit({ type: "memberChanged", previous, ...snapshot(member) });
  }

  #probeDeadlineMs(): number {
    const probe = this.#probe;
    if (probe === undefined) return this.#nextProbeAtMs;
    return probe.indirect ? probe.deadlineAtMs : probe.timeoutAtMs;
  }

  #pushPullIntervalMs(): number {
    // memberlist `pushPullScale`: above 32 members, stretch by ceil(log2(n) - log2(32)) + 1.
    const interval = this.#config.pushPullIntervalMs;
    const n = this.#members.size;
    if (n <= pushPullScaleThreshold) return interval;
    return interval * (Math.ceil(Math.log2(n) - Math.log2(pushPullScaleThreshold)) + 1);
  }

  // ---- Messages ----

  #handleMessage(from: SwimAddress, message: MemberlistMessage, nowMs: number): void {
    switch (message.type) {
      case "ping":
        return this.#handlePing(from, message);
      case "indirectPing":
        return this.#handleIndirectPing(from, message, nowMs);
      case "ack":
        return this.#handleAck(message.sequence, nowMs, message.payload);
      case "nack":
        if (this.#probe?.ping.sequence === message.sequence) this.#probe.nacks += 1;
        return;
      case "alive":
        return this.#aliveNode(message, nowMs, false);
      case "suspect":
        return this.#suspectNode(message, nowMs);
      case "dead":
        return this.#deadNode(message, nowMs);
      case "user":
        return this.#emit({ type: "userMessage", payload: message.payload });
      case "err":
        return;
    }
  }

  #handlePing(from: SwimAddress, ping: Ping): void {
    if (ping.node !== "" && ping.node !== this.#self.name) {
      this.#stats.misaddressedPings += 1;
      return;
    }
    const to = replyAddress(ping, from);
    const payload = this.#options.ackPayload?.();
    this.#sendPacket(to, ping.sourceNode || undefined, {
      type: "ack",
      sequence: ping.sequence,
      payload,
    });
  }

  #handleIndirectPing(from: SwimAddress, request: IndirectPing, nowMs: number): void {
    if (this.#relays.size >= this.#config.relaysMax) {
      this.#stats.relaysDropped += 1;
      return;
    }
    // Probe with a sequence of our own; the requester gets an ack or a nack under its own
    // sequence (memberlist `handleIndirectPing`).
    const ping = this.#newPing(request.node);
    this.#relays.set(ping.sequence, {
      sequence: request.sequence,
      replyTo: replyAddress(request, from),
      nack: request.nack,
      expiresAtMs: nowMs + this.#config.probeTimeoutMs,
    });
    const to = { address: request.target, port: request.port };
    this.#sendPacket(to, request.node, { type: "ping", ...ping });
  }

  #handleAck(sequence: number, nowMs: number, payload?: Uint8Array): void {
    const probe = this.#probe;
    if (probe !== undefined && probe.ping.sequence === sequence && nowMs <= probe.deadlineAtMs) {
      this.#probe = undefined;
      // Only a direct ack within the probe timeout is a sign of our own health, and only it
      // measures a round trip (memberlist's ping delegate, which feeds Vivaldi).
      if (probe.indirect) return;
      this.#awareness.applyDelta(-1);
      const rttMs = nowMs - probe.startedAtMs;
      this.#emit({ type: "pingComplete", name: probe.target, rttMs, payload });
      return;
    }
    const relay = this.#relays.get(sequence);
    if (relay === undefined) return;
    this.#relays.delete(sequence);
    this.#sendPacket(relay.replyTo, undefined, {
      type: "ack",
      sequence: relay.sequence,
      payload: undefined,
    });
  }

  #handleStream(streamId: number, message: StreamMessage, nowMs: number): void {
    switch (message.type) {
      case "pushPull": {
        // Reply with our state first, then merge theirs (memberlist `handleConn`).
        const reply = this.#localState(message.join);
        this.#emit({ type: "replyStream", streamId, message: reply });
        this.#mergeRemote(message, nowMs);
        return;
      }
      case "ping":
        if (message.node !== "" && message.node !== this.#self.name) return;
        this.#emit({
          type: "replyStream",
          streamId,
          message: { type: "ack", sequence: message.sequence, payload: undefined },
        });
        return;
      case "user":
        return this.#emit({ type: "userMessage", payload: message.payload });
      case "ack":
      case "err":
        return;
    }
  }

  #handleStreamReply(requestId: number, message: StreamMessage, nowMs: number): void {
    const pending = this.#streams.get(requestId);
    if (pending === undefined) return;
    this.#streams.delete(requestId);
    if (pending.kind === "ping") {
      if (message.type === "ack" && message.sequence === pending.sequence) {
        this.#handleAck(message.sequence, nowMs);
      }
      return;
    }
    const ok = message.type === "pushPull";
    if (ok) this.#mergeRemote(message, nowMs);
    if (pending.join) {
      const reason = ok ? undefined : `unexpected "${message.type}" reply`;
      this.#emit({ type: "joinFinished", requestId, to: pending.to, ok, reason });
    }
  }

  #handleStreamFailed(requestId: number, reason: string): void {
    const pending = this.#streams.get(requestId);
    if (pending === undefined) return;
    this.#streams.delete(requestId);
    if (pending.kind === "pushPull" && pending.join) {
      this.#emit({ type: "joinFinished", requestId, to: pending.to, ok: false, reason });
    }
  }

  // ---- State transitions (memberlist state.go) ----

  #aliveNode(alive: Alive, nowMs: number, bootstrap: boolean): void {
    const isSelf = alive.node === this.#options.name;
    if (this.#left && isSelf) return;
    // memberlist's sanity check of `Vsn`: protocol min and max must make sense.
    const protocolMin = alive.versions[0];
    const protocolMax = alive.versions[1];
    if (
      alive.versions.length >= 3 &&
      (protocolMin === 0 || protocolMax === 0 || protocolMin > protocolMax)
    ) return;
    const admitted = this.#admitAlive(alive, nowMs);
    if (admitted === undefined) return;
    const { member, isNew, addressChanged } = admitted;
    if (alive.incarnation <= member.incarnation && !isSelf && !isNew && !addressChanged) return;
    if (alive.incarnation < member.incarnation && isSelf) return;
    this.#suspicions.delete(alive.node);
    if (!bootstrap && isSelf) {
      // Someone gossips about us: ignore an exact echo, refute anything else (a restart
      // with other meta at the same incarnation, or a newer incarnation we never sent).
      const echo = alive.incarnation === member.incarnation &&
        bytesEqual(alive.meta, member.meta) && bytesEqual(alive.versions, member.versions);
      if (!echo) this.#refute(alive.incarnation);
      return;
    }
    this.#queueBroadcast(alive.node, { type: "alive", ...alive });
    const previous = isNew ? undefined : member.state;
    const metaChanged = !bytesEqual(member.meta, alive.meta);
    member.incarnation = alive.incarnation;
    member.meta = alive.meta;
    member.versions = alive.versions.length > 0 ? alive.versions : member.versions;
    member.address = alive.address;
    member.port = alive.port;
    if (member.state !== "alive") {
      member.state = "alive";
      member.stateChangedAtMs = nowMs;
    }
    if (previous !== "alive" || metaChanged || addressChanged) this.#emitChanged(member, previous);
  }

  /** Finds or adds the member an alive message is about; `undefined` if it must be ignored. */
  #admitAlive(
    alive: Alive,
    nowMs: number,
  ): { member: Member; isNew: boolean; addressChanged: boolean } | undefined {
    const known = this.#members.get(alive.node);
    if (known === undefined) {
      if (this.#members.size >= this.#config.membersMax) {
        this.#stats.membersDropped += 1;
        return undefined;
      }
      const member: Member = {
        name: alive.node,
        address: alive.address,
        port: alive.port,
        meta: alive.meta,
        versions: alive.versions,
        incarnation: 0,
        state: "dead",
        stateChangedAtMs: nowMs,
      };
      this.#members.set(member.name, member);
      // Insert at a random position so that a new member is probed soon on average.
      const order = this.#probeOrder;
      const offset = randomBelow(this.#random, order.length + 1);
      order.push(member);
      const displaced = order[offset];
      order[offset] = member;
      order[order.length - 1] = displaced;
      return { member, isNew: true, addressChanged: false };
    }
    if (bytesEqual(known.address, alive.address) && known.port === alive.port) {
      return { member: known, isNew: false, addressChanged: false };
    }
    // A left member may come back elsewhere; anyone else claiming the name is a conflict
    // (DeadNodeReclaimTime is 0: dead members keep their address).
    if (known.state === "left") return { member: known, isNew: false, addressChanged: true };
    this.#emit({
      type: "conflict",
      name: alive.node,
      known: { address: known.address, port: known.port },
      claimed: { address: alive.address, port: alive.port },
    });
    return undefined;
  }

  #suspectNode(accusation: Accusation, nowMs: number): void {
    const member = this.#members.get(accusation.node);
    if (member === undefined || accusation.incarnation < member.incarnation) return;
    const suspicion = this.#suspicions.get(accusation.node);
    if (suspicion !== undefined) {
      // An independent accuser shortens the timeout (Lifeguard); pass the news on.
      if (suspicion.confirm(accusation.from, nowMs)) {
        this.#queueBroadcast(accusation.node, { type: "suspect", ...accusation });
      }
      return;
    }
    if (member.state !== "alive") return;
    if (member === this.#self) {
      this.#refute(accusation.incarnation);
      return;
    }
    this.#queueBroadcast(accusation.node, { type: "suspect", ...accusation });
    member.incarnation = accusation.incarnation;
    member.state = "suspect";
    member.stateChangedAtMs = nowMs;
    const n = this.#members.size;
    const expected = this.#config.suspicionMult - 2;
    const minMs = suspicionTimeoutMs(this.#config.suspicionMult, n, this.#config.probeIntervalMs);
    this.#suspicions.set(
      accusation.node,
      new Suspicion({
        from: accusation.from,
        expected: n - 2 < expected || expected < 0 ? 0 : expected,
        minMs,
        maxMs: minMs * this.#config.suspicionMaxTimeoutMult,
      }, nowMs),
    );
    this.#emitChanged(member, "alive");
  }

  #deadNode(accusation: Accusation, nowMs: number): void {
    const member = this.#members.get(accusation.node);
    if (member === undefined || accusation.incarnation < member.incarnation) return;
    this.#suspicions.delete(accusation.node);
    if (member.state === "dead" || member.state === "left") return;
    const message: MemberlistMessage = { type: "dead", ...accusation };
    if (member === this.#self) {
      if (!this.#left) {
        this.#refute(accusation.incarnation);
        return;
      }
      this.#queueBroadcast(accusation.node, message, leaveToken);
    } else {
      this.#queueBroadcast(accusation.node, message);
    }
    const previous = member.state;
    member.incarnation = accusation.incarnation;
    // A dead message sent by the member itself is a graceful leave.
    member.state = accusation.node === accusation.from ? "left" : "dead";
    member.stateChangedAtMs = nowMs;
    this.#emitChanged(member, previous);
  }

  /** Beats an accusation with a higher incarnation (memberlist `refute`); Lifeguard: +1. */
  #refute(accusedIncarnation: number): void {
    const self = this.#self;
    self.incarnation = nextIncarnation(self.incarnation, accusedIncarnation);
    this.#awareness.applyDelta(1);
    this.#stats.refutations += 1;
    this.#broadcastAlive(self);
  }

  #broadcastAlive(member: Member): void {
    this.#queueBroadcast(member.name, {
      type: "alive",
      incarnation: member.incarnation,
      node: member.name,
      address: member.address,
      port: member.port,
      meta: member.meta,
      versions: member.versions,
    });
  }

  #queueBroadcast(key: string, message: MemberlistMessage, token?: number): void {
    this.#queue.push(message, messageBytes(message), { key, token });
    this.#checkFinished();
  }

  #checkFinished(): void {
    for (const token of this.#queue.takeFinished()) {
      if (token === leaveToken) this.#emit({ type: "leaveBroadcastDone" });
    }
  }

  // ---- Probing (memberlist probe, probeNode) ----

  #startProbe(nowMs: number): void {
    const target = this.#nextProbeTarget(nowMs);
    if (target === undefined) return;
    this.#stats.probes += 1;
    const ping = this.#newPing(target.name);
    const to = { address: target.address, port: target.port };
    this.#probe = {
      target: target.name,
      startedAtMs: nowMs,
      to,
      incarnation: target.incarnation,
      ping,
      timeoutAtMs: nowMs + this.#config.probeTimeoutMs,
      // Lifeguard: an unhealthy member waits longer before it accuses anyone.
      deadlineAtMs: nowMs + this.#awareness.scaleTimeout(this.#config.probeIntervalMs),
      indirect: false,
      expectedNacks: 0,
      nacks: 0,
    };
    if (target.state === "alive") {
      this.#sendPacket(to, target.name, { type: "ping", ...ping });
      return;
    }
    // Lifeguard's buddy system: tell a suspect it is suspected so it can refute at once.
    const suspect: MemberlistMessage = {
      type: "suspect",
      incarnation: target.incarnation,
      node: target.name,
      from: this.#self.name,
    };
    this.#sendPacket(to, target.name, { type: "ping", ...ping }, suspect);
  }

  /** Round-robin over the shuffled order, skipping self, dead and left members. */
  #nextProbeTarget(nowMs: number): Member | undefined {
    let checked = 0;
    for (;;) {
      if (checked >= this.#probeOrder.length) return undefined;
      if (this.#probeIndex >= this.#probeOrder.length) {
        this.#resetProbeOrder(nowMs);
        this.#probeIndex = 0;
        checked += 1;
        continue;
      }
      const member = this.#probeOrder[this.#probeIndex];
      this.#probeIndex += 1;
      if (member === this.#self || member.state === "dead" || member.state === "left") {
        checked += 1;
        continue;
      }
      return member;
    }
  }

  /** Forgets members dead for longer than `gossipToTheDeadTimeMs`, then reshuffles. */
  #resetProbeOrder(nowMs: number): void {
    const kept: Member[] = [];
    for (const member of this.#probeOrder) {
      const gone = (member.state === "dead" || member.state === "left") &&
        member !== this.#self &&
        nowMs - member.stateChangedAtMs > this.#config.gossipToTheDeadTimeMs;
      if (!gone) {
        kept.push(member);
        continue;
      }
      this.#members.delete(member.name);
      this.#suspicions.delete(member.name);
      this.#emit({ type: "memberRemoved", name: member.name });
    }
    shuffle(this.#random, kept);
    this.#probeOrder = kept;
  }

  #probeIndirectly(probe: ActiveProbe, nowMs: number): void {
    probe.indirect = true;
    const target = this.#members.get(probe.target);
    const helpers = this.#randomMembers(
      this.#config.indirectChecks,
      (m) => m === this.#self || m.name === probe.target || m.state !== "alive",
    );
    for (const helper of helpers) {
      // Only members speaking protocol 4 or later send nacks.
      const nack = (helper.versions[1] ?? 0) >= 4;
      if (nack) probe.expectedNacks += 1;
      const request: MemberlistMessage = {
        type: "indirectPing",
        sequence: probe.ping.sequence,
        target: probe.to.address,
        port: probe.to.port,
        node: probe.target,
        nack,
        sourceAddress: this.#self.address,
        sourcePort: this.#self.port,
        sourceNode: this.#self.name,
      };
      this.#sendPacket({ address: helper.address, port: helper.port }, helper.name, request);
    }
    // Also try TCP, for networks that drop UDP (protocol 3 and later).
    const tcp = this.#config.tcpPings && target !== undefined && (target.versions[1] ?? 0) >= 3;
    if (tcp && this.#streams.size < this.#config.streamsMax) {
      const requestId = this.#nextRequestId++;
      this.#streams.set(requestId, { kind: "ping", sequence: probe.ping.sequence });
      this.#emit({
        type: "sendStream",
        requestId,
        to: probe.to,
        node: probe.target,
        message: { type: "ping", ...probe.ping },
        deadlineAtMs: Math.max(probe.deadlineAtMs, nowMs),
      });
    }
  }

  #failProbe(probe: ActiveProbe, nowMs: number): void {
    this.#probe = undefined;
    this.#stats.failedProbes += 1;
    // Lifeguard: missing nacks mean our own network or CPU is the likely culprit.
    const delta = probe.expectedNacks > 0 ? Math.max(probe.expectedNacks - probe.nacks, 0) : 1;
    this.#awareness.applyDelta(delta);
    this.#suspectNode({
      incarnation: probe.incarnation,
      node: probe.target,
      from: this.#self.name,
    }, nowMs);
  }

  #newPing(node: string): Ping {
    this.#sequence = this.#sequence >= uint32Max ? 1 : this.#sequence + 1;
    return {
      sequence: this.#sequence,
      node,
      sourceAddress: this.#self.address,
      sourcePort: this.#self.port,
      sourceNode: this.#self.name,
    };
  }

  #expireRelays(nowMs: number): void {
    for (const [sequence, relay] of this.#relays) {
      if (nowMs < relay.expiresAtMs) continue;
      this.#relays.delete(sequence);
      if (relay.nack) {
        this.#sendPacket(relay.replyTo, undefined, { type: "nack", sequence: relay.sequence });
      }
    }
  }

  #expireSuspicions(nowMs: number): void {
    for (const [name, suspicion] of this.#suspicions) {
      if (nowMs < suspicion.deadlineAtMs) continue;
      this.#suspicions.delete(name);
      const member = this.#members.get(name);
      if (member === undefined || member.state !== "suspect") continue;
      this.#deadNode({ incarnation: member.incarnation, node: name, from: this.#self.name }, nowMs);
    }
  }

  // ---- Gossip and push/pull ----

  /** Sends queued broadcasts to `gossipNodes` random members (memberlist `gossip`). */
  #gossip(nowMs: number): void {
    const deadWindowMs = this.#config.gossipToTheDeadTimeMs;
    const targets = this.#randomMembers(this.#config.gossipNodes, (m) => {
      if (m === this.#self) return true;
      if (m.state === "alive" || m.state === "suspect") return false;
      // Keep telling the recently dead, so a wrongly declared member hears it and refutes.
      return m.state === "left" || nowMs - m.stateChangedAtMs > deadWindowMs;
    });
    const limit = this.#config.packetBytesMax - this.#config.packetOverheadBytes -
      compoundHeaderOverheadBytes;
    for (const target of targets) {
      const messages = this.#takeBroadcasts(limit);
      if (messages.length === 0) return;
      this.#emit({
        type: "sendPacket",
        to: { address: target.address, port: target.port },
        node: target.name,
        messages,
      });
    }
  }

  /** Memberlist's own broadcasts first, then the delegate's in what room is left (`getBroadcasts`). */
  #takeBroadcasts(limitBytes: number): MemberlistMessage[] {
    const transmitLimit = retransmitLimit(this.#config.retransmitMult, this.#members.size);
    const overhead = compoundPartOverheadBytes;
    const messages = this.#queue.take(overhead, limitBytes, transmitLimit);
    this.#checkFinished();
    // Size what was taken only when user broadcasts wait for the room left (every packet passes).
    if (this.#userQueue.length === 0) return messages;
    let usedBytes = 0;
    for (const message of messages) usedBytes += messageBytes(message) + overhead;
    if (limitBytes - usedBytes <= overhead) return messages;
    messages.push(...this.#userQueue.take(overhead, limitBytes - usedBytes, transmitLimit));
    return messages;
  }

  /** Sends `main` (and `extra`) with as many queued broadcasts as fit (memberlist `sendMsg`). */
  #sendPacket(
    to: SwimAddress,
    node: string | undefined,
    main: MemberlistMessage,
    extra?: MemberlistMessage,
  ): void {
    let usedBytes = messageBytes(main);
    if (extra !== undefined) usedBytes += messageBytes(extra) + compoundPartOverheadBytes;
    const limit = this.#config.packetBytesMax - this.#config.packetOverheadBytes - usedBytes -
      compoundHeaderOverheadBytes;
    const messages = extra === undefined ? [main] : [main, extra];
    messages.push(...this.#takeBroadcasts(limit));
    this.#emit({ type: "sendPacket", to, node, messages });
  }

  #pushPullPeriodic(nowMs: number): void {
    const [peer] = this.#randomMembers(1, (m) => m === this.#self || m.state !== "alive");
    if (peer === undefined) return;
    this.#sendPushPull({ address: peer.address, port: peer.port }, peer.name, false, nowMs);
  }

  #sendPushPull(to: SwimAddress, node: string | undefined, join: boolean, nowMs: number): number {
    const requestId = this.#nextRequestId++;
    if (this.#streams.size >= this.#config.streamsMax) {
      if (join) this.#emit({ type: "joinFinished", requestId, to, ok: false, reason: "busy" });
      return requestId;
    }
    this.#streams.set(requestId, { kind: "pushPull", join, to });
    this.#emit({
      type: "sendStream",
      requestId,
      to,
      node,
      message: this.#localState(join),
      deadlineAtMs: nowMs + this.#config.tcpTimeoutMs,
    });
    return requestId;
  }

  #localState(join: boolean): PushPullMessage {
    const nodes: PushNodeState[] = this.#probeOrder.map((m) => ({
      name: m.name,
      address: m.address,
      port: m.port,
      meta: m.meta,
      incarnation: m.incarnation,
      state: NodeState[m.state],
      versions: m.versions,
    }));
    const userState = this.#options.userState?.(join) ?? emptyBytes;
    return { type: "pushPull", join, nodes, userState };
  }

  /** Merges a remote member list (memberlist `mergeState`), then hands on the user state. */
  #mergeRemote(remote: PushPullMessage, nowMs: number): void {
    for (const node of remote.nodes) {
      if (node.state === NodeState.alive) {
        const { name, address, port, meta, incarnation, versions } = node;
        this.#aliveNode({ node: name, address, port, meta, incarnation, versions }, nowMs, false);
      } else if (node.state === NodeState.left) {
        const leave = { incarnation: node.incarnation, node: node.name, from: node.name };
        this.#deadNode(leave, nowMs);
      } else {
        // A remote's dead or suspect is only a suspicion here: we check for ourselves.
        const from = this.#self.name;
        this.#suspectNode({ incarnation: node.incarnation, node: node.name, from }, nowMs);
      }
    }
    if (remote.userState.length > 0) {
      this.#emit({ type: "remoteState", userState: remote.userState, join: remote.join });
    }
  }

  /** Up to `k` distinct random members not excluded (memberlist `kRandomNodes`). */
  #randomMembers(k: number, exclude: (member: Member) => boolean): Member[] {
    const order = this.#probeOrder;
    const n = order.length;
    const chosen: Member[] = [];
    for (let i = 0; i < 3 * n && chosen.length < k; i += 1) {
      const member = order[randomBelow(this.#random, n)];
      if (exclude(member) || chosen.includes(member)) continue;
      chosen.push(member);
    }
    return chosen;
  }
}

function snapshot(member: Member): MemberSnapshot {
  return {
    name: member.name,
    address: member.address,
    port: member.port,
    meta: member.meta,
    versions: member.versions,
    incarnation: member.incarnation,
    state: member.state,
    stateChangedAtMs: member.stateChangedAtMs,
  };
}

function replyAddress(
  source: { sourceAddress: Uint8Array; sourcePort: number },
  from: SwimAddress,
): SwimAddress {
  if (source.sourceAddress.length > 0 && source.sourcePort > 0) {
    return { address: source.sourceAddress, port: source.sourcePort };
  }
  return from;
}

function nextIncarnation(current: number, accused: number): number {
  const next = Math.max(current + 1, accused + 1);
  assert(next <= uint32Max, `Cannot raise incarnation: ${next} overflows uint32`);
  return next;
}

function nextPeriod(previousAtMs: number, intervalMs: number, nowMs: number): number {
  const next = previousAtMs + intervalMs;
  return next > nowMs ? next : nowMs + intervalMs;
}

function shuffle<T>(random: Random, items: T[]): void {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = randomBelow(random, i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}
