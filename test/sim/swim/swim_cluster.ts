// Goal: run N SWIM cores in one process on a virtual clock and a seeded virtual network, so
// that convergence, failure detection, Lifeguard and dissemination can be measured exactly and
// replayed from a seed. Method: one event heap orders packet deliveries, stream exchanges and
// each member's next deadline (quinn `Pair.step`: time jumps to the earliest event); the
// network draws loss and latency per packet from the seed; faults are SIGKILL (a member stops
// and its port refuses connections), isolation (all its packets vanish, TCP times out) and
// slowness (every input it receives is processed `slowDelayMs` late). Optionally every packet
// goes through the wire codecs (encodeMessage, encodeCompound, unwrapPacket, decodeMessage).
// A tiny Serf stand-in re-broadcasts each user event once on first receipt, recording the
// time and hop count, to measure dissemination.

import { randomBelow, SeededRandom } from "../../../src/core/random.ts";
import {
  addressKey,
  type MemberState,
  Swim,
  type SwimAddress,
  type SwimConfig,
  type SwimInput,
  type SwimOutput,
} from "../../../src/core/swim/mod.ts";
import {
  decodeMessage,
  encodeCompound,
  encodeMessage,
  type MemberlistMessage,
  type StreamMessage,
  unwrapPacket,
} from "../../../src/core/wire/mod.ts";
import { EventQueue } from "../event_queue.ts";

/** How to build a simulated cluster. */
export interface SwimClusterOptions {
  seed: number;
  memberCount: number;
  config: SwimConfig;
  /** One-way packet latency, uniform in [min, max]. */
  latencyMinMs?: number;
  latencyMaxMs?: number;
  /** Probability a UDP packet is lost. */
  lossRate?: number;
  /** Encode and decode every packet with the wire codecs. */
  wire?: boolean;
  /** Members join member-0 at random times in [0, joinSpreadMs). */
  joinSpreadMs?: number;
}

/** One simulated member and what it has seen. */
export interface SimMember {
  index: number;
  name: string;
  address: SwimAddress;
  swim: Swim;
  killed: boolean;
  isolated: boolean;
  slowDelayMs: number;
  /** Its view: member name to state, from its `memberChanged` / `memberRemoved` outputs. */
  view: Map<string, MemberState>;
  aliveCount: number;
  /** User events seen: id to { atMs, hops }. */
  events: Map<number, { atMs: number; hops: number }>;
  joined: boolean;
}

/** A member declared dead by an observer. */
export interface DeathRecord {
  observer: string;
  subject: string;
  atMs: number;
}

type SimEvent =
  | { kind: "timer"; atMs: number; member: number }
  | { kind: "input"; atMs: number; member: number; input: SwimInput; slowed: boolean }
  | { kind: "join"; atMs: number; member: number };

interface OpenStream {
  requester: number;
  requestId: number;
  deadlineAtMs: number;
}

/** Event type codes inside user payloads: [code, id (4 bytes), hops]. */
const eventCode = 0xe1;

/** A seeded cluster of SWIM cores on a virtual network. */
export class SwimCluster {
  readonly seed: number;
  readonly members: SimMember[] = [];
  readonly deaths: DeathRecord[] = [];
  nowMs = 0;
  packetsSent = 0;
  packetsLost = 0;
  readonly #random: SeededRandom;
  readonly #queue = new EventQueue<SimEvent>();
  readonly #byAddress = new Map<string, number>();
  readonly #scheduledAtMs: number[] = [];
  readonly #streams = new Map<number, OpenStream>();
  readonly #options: Required<SwimClusterOptions>;
  #nextStreamId = 1;

  private constructor(options: Required<SwimClusterOptions>) {
    this.seed = options.seed;
    this.#options = options;
    this.#random = new SeededRandom(options.seed);
  }

  /** Creates the members at time 0 and schedules each one's join to member-0. */
  static create(options: SwimClusterOptions): SwimCluster {
    const cluster = new SwimCluster({
      latencyMinMs: 1,
      latencyMaxMs: 10,
      lossRate: 0,
      wire: false,
      joinSpreadMs: 1_000,
      ...options,
    });
    for (let i = 0; i < options.memberCount; i += 1) cluster.addMember(options.config);
    return cluster;
  }

  /** Adds a member now and schedules its join to member-0 (unless it is member-0). */
  addMember(config: SwimConfig): SimMember {
    const index = this.members.length;
    const address = {
      address: Uint8Array.of(10, (index >> 16) & 255, (index >> 8) & 255, index & 255),
      port: 7946,
    };
    const name = `member-${index}`;
    const swim = new Swim({ name, address, random: this.#random.fork(), config }, this.nowMs);
    const member: SimMember = {
      index,
      name,
      address,
      swim,
      killed: false,
      isolated: false,
      slowDelayMs: 0,
      view: new Map(),
      aliveCount: 0,
      events: new Map(),
      joined: index === 0,
    };
    this.members.push(member);
    this.#byAddress.set(addressKey(address), index);
    this.#scheduledAtMs.push(Number.NaN);
    this.#drain(member);
    if (index > 0) {
      const atMs = this.nowMs + randomBelow(this.#random, Math.max(1, this.#options.joinSpreadMs));
      this.#push({ kind: "join", atMs, member: index });
    }
    return member;
  }

  /** Names of members that are not killed. */
  liveMembers(): SimMember[] {
    return this.members.filter((m) => !m.killed);
  }

  member(name: string): SimMember {
    const member = this.members.find((m) => m.name === name);
    if (member === undefined) throw new RangeError(`Cannot find member "${name}"`);
    return member;
  }

  /** Whether every live member sees every live member (itself included) alive. */
  converged(): boolean {
    const live = this.liveMembers();
    return live.every((m) =>
      m.aliveCount === live.length && live.every((o) => m.view.get(o.name) === "alive")
    );
  }

  /** SIGKILL: the member stops; packets to it vanish and connections to it are refused. */
  kill(name: string): void {
    this.member(name).killed = true;
  }

  /** Cuts a member off: its packets in and out vanish, its TCP exchanges time out. */
  isolate(name: string): void {
    this.member(name).isolated = true;
  }

  /** Makes a member process each input `delayMs` late (0 ends it). */
  setSlow(name: string, delayMs: number): void {
    this.member(name).slowDelayMs = delayMs;
  }

  /** Starts a user event at `name`, as Serf would, with id `id`. */
  fireEvent(name: string, id: number): void {
    const member = this.member(name);
    member.events.set(id, { atMs: this.nowMs, hops: 0 });
    member.swim.broadcastUser(eventPayload(id, 0));
    this.#drain(member);
  }

  /** Runs until `predicate` holds (checked every `checkEveryMs`) or `untilMs`; returns the time or undefined. */
  runUntil(untilMs: number, predicate: () => boolean, checkEveryMs = 50): number | undefined {
    let nextCheckMs = this.nowMs;
    for (;;) {
      if (this.nowMs >= nextCheckMs) {
        if (predicate()) return this.nowMs;
        nextCheckMs = this.nowMs + checkEveryMs;
      }
      const next = this.#queue.peek();
      const stepTo = Math.min(next?.atMs ?? Infinity, nextCheckMs, untilMs);
      if (stepTo >= untilMs && (next === undefined || next.atMs >= untilMs)) {
        this.nowMs = Math.max(this.nowMs, untilMs);
        return predicate() ? this.nowMs : undefined;
      }
      if (next !== undefined && next.atMs <= stepTo) this.#step(this.#pop());
      else this.nowMs = Math.max(this.nowMs, stepTo);
    }
  }

  /** Runs for `durationMs` of virtual time. */
  runForMs(durationMs: number): void {
    this.runUntil(this.nowMs + durationMs, () => false, durationMs + 1);
  }

  #step(event: SimEvent): void {
    this.nowMs = Math.max(this.nowMs, event.atMs);
    const member = this.members[event.member];
    if (member.killed) return;
    if (event.kind === "timer") {
      if (event.atMs !== this.#scheduledAtMs[event.member]) return; // Superseded.
      this.#scheduledAtMs[event.member] = Number.NaN;
      member.swim.tick(this.nowMs);
    } else if (event.kind === "join") {
      member.swim.join([this.members[0].address], this.nowMs);
    } else {
      if (member.slowDelayMs > 0 && !event.slowed) {
        this.#push({ ...event, atMs: this.nowMs + member.slowDelayMs, slowed: true });
        return;
      }
      member.swim.handle(event.input, this.nowMs);
    }
    this.#drain(member);
  }

  /** Carries out a member's outputs, then reschedules its timer. */
  #drain(member: SimMember): void {
    for (let output = member.swim.poll(); output !== undefined; output = member.swim.poll()) {
      this.#carryOut(member, output);
    }
    const deadline = Math.max(member.swim.nextDeadlineMs(), this.nowMs);
    if (deadline !== this.#scheduledAtMs[member.index]) {
      this.#scheduledAtMs[member.index] = deadline;
      this.#push({ kind: "timer", atMs: deadline, member: member.index });
    }
  }

  #carryOut(member: SimMember, output: SwimOutput): void {
    switch (output.type) {
      case "sendPacket":
        return this.#sendPacket(member, output.to, output.messages);
      case "sendStream":
        return this.#openStream(member, output);
      case "replyStream":
        return this.#replyStream(member, output.streamId, output.message);
      case "memberChanged":
        return this.#observe(member, output.name, output.state);
      case "memberRemoved":
        if (member.view.get(output.name) === "alive") member.aliveCount -= 1;
        member.view.delete(output.name);
        return;
      case "userMessage":
        return this.#serfEvent(member, output.payload);
      case "joinFinished":
        if (output.ok) member.joined = true;
        return;
      default:
        return;
    }
  }

  #observe(member: SimMember, name: string, state: MemberState): void {
    const previous = member.view.get(name);
    if (previous === "alive") member.aliveCount -= 1;
    if (state === "alive") member.aliveCount += 1;
    member.view.set(name, state);
    if (state === "dead") {
      this.deaths.push({ observer: member.name, subject: name, atMs: this.nowMs });
    }
  }

  #serfEvent(member: SimMember, payload: Uint8Array): void {
    if (payload.length !== 6 || payload[0] !== eventCode) return;
    const id = new DataView(payload.buffer, payload.byteOffset).getUint32(1);
    if (member.events.has(id)) return;
    const hops = payload[5] + 1;
    member.events.set(id, { atMs: this.nowMs, hops });
    member.swim.broadcastUser(eventPayload(id, Math.min(hops, 255)));
  }

  #reachable(from: SimMember, to: number | undefined): to is number {
    if (to === undefined || from.isolated) return false;
    const target = this.members[to];
    return !target.isolated && !target.killed;
  }

  #latencyMs(): number {
    const { latencyMinMs, latencyMaxMs } = this.#options;
    return latencyMinMs + randomBelow(this.#random, latencyMaxMs - latencyMinMs + 1);
  }

  #sendPacket(from: SimMember, to: SwimAddress, messages: readonly MemberlistMessage[]): void {
    this.packetsSent += 1;
    const target = this.#byAddress.get(addressKey(to));
    const lost = this.#options.lossRate > 0 &&
      this.#random.nextUint32() / 0x1_0000_0000 < this.#options.lossRate;
    if (!this.#reachable(from, target) || lost) {
      this.packetsLost += 1;
      return;
    }
    const delivered = this.#options.wire ? throughWire(messages) : messages;
    this.#push({
      kind: "input",
      atMs: this.nowMs + this.#latencyMs(),
      member: target,
      input: { type: "packet", from: from.address, messages: delivered },
      slowed: false,
    });
  }

  #openStream(from: SimMember, output: Extract<SwimOutput, { type: "sendStream" }>): void {
    const target = this.#byAddress.get(addressKey(output.to));
    const fail = (atMs: number, reason: string) =>
      this.#push({
        kind: "input",
        atMs,
        member: from.index,
        input: { type: "streamFailed", requestId: output.requestId, reason },
        slowed: false,
      });
    if (target === undefined || this.members[target].killed) {
      // A killed process's port refuses the connection at once (one round trip).
      return fail(this.nowMs + 2 * this.#latencyMs(), "connection refused");
    }
    if (!this.#reachable(from, target)) return fail(output.deadlineAtMs, "i/o timeout");
    const streamId = this.#nextStreamId++;
    this.#streams.set(streamId, {
      requester: from.index,
      requestId: output.requestId,
      deadlineAtMs: output.deadlineAtMs,
    });
    this.#push({
      kind: "input",
      atMs: this.nowMs + 2 * this.#latencyMs(), // Connect, then the request.
      member: target,
      input: { type: "stream", streamId, from: from.address, message: output.message },
      slowed: false,
    });
  }

  #replyStream(member: SimMember, streamId: number, message: StreamMessage): void {
    const stream = this.#streams.get(streamId);
    if (stream === undefined) return;
    this.#streams.delete(streamId);
    const requester = this.members[stream.requester];
    const atMs = this.nowMs + this.#latencyMs();
    const input: SwimInput = atMs > stream.deadlineAtMs || !this.#reachable(member, requester.index)
      ? { type: "streamFailed", requestId: stream.requestId, reason: "i/o timeout" }
      : { type: "streamReply", requestId: stream.requestId, message };
    const deliverAtMs = input.type === "streamFailed"
      ? Math.max(stream.deadlineAtMs, this.nowMs)
      : atMs;
    this.#push({
      kind: "input",
      atMs: deliverAtMs,
      member: stream.requester,
      input,
      slowed: false,
    });
  }

  #push(event: SimEvent): void {
    this.#queue.push(event.atMs, event);
  }

  #pop(): SimEvent {
    return this.#queue.pop()!.event;
  }
}

function eventPayload(id: number, hops: number): Uint8Array {
  const payload = new Uint8Array(6);
  payload[0] = eventCode;
  new DataView(payload.buffer).setUint32(1, id);
  payload[5] = hops;
  return payload;
}

/** Encodes a packet as the shell would and decodes it as the receiving shell would. */
function throughWire(messages: readonly MemberlistMessage[]): MemberlistMessage[] {
  const parts = messages.map(encodeMessage);
  const packet = parts.length === 1 ? parts[0] : encodeCompound(parts);
  return unwrapPacket(packet).parts.map(decodeMessage);
}
