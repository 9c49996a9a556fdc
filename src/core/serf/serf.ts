/**
 * The Serf core (HashiCorp Serf 0.9.4 semantics, gossip-wire.md §11): Lamport-ordered join and
 * leave intents over memberlist's membership, user events, queries with filters, acks,
 * responses and relays, and Serf's internal queries. Sans-I/O: memberlist news and the time go
 * in through `handle()` and `tick()`; messages, member events and requests come out of `poll()`.
 *
 * @module
 */

import { assert } from "../assert.ts";
import { type Random, randomBelow } from "../random.ts";
import {
  decodeSerfMessage,
  encodeSerfMessage,
  encodeTags,
  MemberStatus,
  QueryFlag,
  type SerfJoin,
  type SerfLeave,
  type SerfMember,
  type SerfMessage,
  type SerfPushPull,
  type SerfQuery,
  type SerfQueryResponse,
  type SerfUserEvent,
} from "../wire/mod.ts";
import { UserEventCoalescer } from "./coalesce.ts";
import {
  defaultSerfConfig,
  incomingQueriesMax,
  keyringRequestsMax,
  outputsMax,
  pendingQueriesMax,
  type SerfConfig,
  userEventBytesMax,
  validateSerfConfig,
} from "./config.ts";
import { EventBuffer } from "./events.ts";
import {
  decodeKeyRequestPayload,
  encodeKeyResponsePayload,
  InternalQueryName,
  internalQueryPrefix,
  keyringOperationOf,
  tallyConflictVote,
} from "./internal_query.ts";
import { LamportClock } from "./lamport_clock.ts";
import { defaultVersions, MemberTable } from "./member_table.ts";
import type {
  KeyringResult,
  MemberEventKind,
  MemberInfo,
  MemberlistNode,
  SerfAddress,
  SerfInput,
  SerfOutput,
  SerfStats,
} from "./messages.ts";
import {
  defaultQueryTimeoutMs,
  encodeQueryFilters,
  type PendingQuery,
  QueryBuffer,
  queryFiltersMatch,
  type QueryOptions,
  recordAnswer,
} from "./query.ts";

/** memberlist's `MetaMaxSize`: encoded tags must fit. */
export const metaBytesMax = 512;

/** How a `Serf` is set up. */
export interface SerfOptions {
  /** Our unique member name. */
  name: string;
  /** The address and port we advertise (where query acks and responses come back). */
  address: SerfAddress;
  /** Seeded random source: query ids, relay members, reconnect draws. */
  random: Random;
  /** Tuning; {@link defaultSerfConfig} when absent. */
  config?: SerfConfig;
  /** Our tags, carried in memberlist meta. */
  tags?: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** Our `Vsn` bytes; Serf 0.9.4's when absent. */
  versions?: Uint8Array;
  /** Clocks from a snapshot (`decodeSnapshot`): witnessed, and older events refused. */
  restore?: { clock: number; eventClock: number; queryClock: number };
}

/** The Serf node's own lifecycle (Serf's `SerfState`). */
export type SerfState = "alive" | "leaving" | "left" | "shutdown";

interface IncomingRecord {
  query: SerfQuery;
  deadlineAtMs: number;
}

type LeavePhase = { phase: "intent" | "memberlist" | "propagate"; untilMs: number };

/**
 * A Serf node. Synchronous and deterministic: it never reads a clock or a socket.
 *
 * @example
 * ```ts
 * const serf = new Serf({ name: "a", address, random: new SeededRandom(1) }, 0);
 * serf.handle({ type: "memberJoined", node: { name: "b", address: b, port: 7946, meta } }, 5);
 * serf.userEvent("deploy", payload, true, 10);
 * for (let out = serf.poll(); out !== undefined; out = serf.poll()) carryOut(out);
 * // then: serf.tick(nowMs) at serf.nextDeadlineMs()
 * ```
 */
export class Serf {
  readonly #config: SerfConfig;
  readonly #random: Random;
  readonly #name: string;
  readonly #address: SerfAddress;
  readonly #versions: Uint8Array;
  readonly #clock = new LamportClock();
  readonly #eventClock = new LamportClock();
  readonly #queryClock = new LamportClock();
  readonly #members: MemberTable;
  readonly #events: EventBuffer;
  readonly #queries: QueryBuffer;
  readonly #coalescer: UserEventCoalescer;
  readonly #pending = new Map<number, PendingQuery & { conflict: boolean }>();
  readonly #incoming = new Map<number, IncomingRecord>();
  readonly #keyringRequests = new Map<number, number>();
  readonly #prunes = new Map<string, number>();
  readonly #outputs: SerfOutput[] = [];
  readonly #stats: SerfStats = {
    malformedMessages: 0,
    eventsTooOld: 0,
    eventsDuplicate: 0,
    queriesTooOld: 0,
    queriesDuplicate: 0,
    outputsDropped: 0,
    boundsDropped: 0,
    responsesTooLarge: 0,
  };
  #tags: Map<string, string>;
  #state: SerfState = "alive";
  #leave: LeavePhase | undefined;
  #eventMinTime = 0;
  #queryMinTime = 0;
  #ignoreOldEvents = false;
  #conflictRunning = false;
  #nextHandle = 1;
  #nextRequestId = 1;
  #nextReapAtMs: number;
  #nextReconnectAtMs: number;
  #lastNowMs: number;

  /**
   * @param options name, address, random source, tags, config, restored clocks
   * @param nowMs the time now; we join our own member table as alive
   */
  constructor(options: SerfOptions, nowMs: number) {
    const config = options.config ?? defaultSerfConfig();
    validateSerfConfig(config);
    this.#config = config;
    this.#random = options.random;
    this.#name = options.name;
    this.#address = options.address;
    this.#versions = options.versions ?? defaultVersions;
    this.#tags = tagMap(options.tags);
    assert(
      encodeTags(this.#tags).length <= metaBytesMax,
      `Cannot create Serf: tags encode to more than ${metaBytesMax} bytes`,
    );
    this.#members = new MemberTable((event, member) => this.#memberEvent(event, member));
    this.#events = new EventBuffer(config.eventBufferSize);
    this.#queries = new QueryBuffer(config.queryBufferSize);
    this.#coalescer = new UserEventCoalescer(
      config.userCoalescePeriodMs,
      config.userQuiescentPeriodMs,
    );
    this.#lastNowMs = nowMs;
    this.#nextReapAtMs = nowMs + config.reapIntervalMs;
    this.#nextReconnectAtMs = nowMs + config.reconnectIntervalMs;
    this.#startClocks(options.restore);
    this.#members.nodeJoined(this.#selfNode(), nowMs);
  }

  #startClocks(restore: SerfOptions["restore"]): void {
    // Serf starts every clock at 1, then witnesses what its snapshot saved.
    this.#clock.increment();
    this.#eventClock.increment();
    this.#queryClock.increment();
    if (restore === undefined) return;
    this.#clock.witness(restore.clock);
    this.#eventClock.witness(restore.eventClock);
    this.#queryClock.witness(restore.queryClock);
    this.#eventMinTime = restore.eventClock + 1;
    this.#queryMinTime = restore.queryClock + 1;
  }

  #selfNode(): MemberlistNode {
    const { address, port } = this.#address;
    return { name: this.#name, address, port, meta: this.localMeta(), versions: this.#versions };
  }

  /** Our name. */
  get name(): string {
    return this.#name;
  }

  /** Our lifecycle state. */
  get state(): SerfState {
    return this.#state;
  }

  /** Returns the three Lamport clocks' values. */
  clocks(): { member: number; event: number; query: number } {
    return {
      member: this.#clock.time(),
      event: this.#eventClock.time(),
      query: this.#queryClock.time(),
    };
  }

  /** Returns copies of all members, tombstones included. */
  members(): MemberInfo[] {
    return this.#members.all().map(copyMember);
  }

  /** Returns a copy of the member named `name`, or `undefined`. */
  member(name: string): MemberInfo | undefined {
    const member = this.#members.get(name);
    return member === undefined ? undefined : copyMember(member);
  }

  /** Returns our tags. */
  tags(): Map<string, string> {
    return new Map(this.#tags);
  }

  /** Returns counters of refused and dropped things. */
  stats(): SerfStats {
    return { ...this.#stats, boundsDropped: this.#stats.boundsDropped + this.#members.dropped };
  }

  /** Returns the node meta to advertise through memberlist: our encoded tags. */
  localMeta(): Uint8Array {
    return encodeTags(this.#tags);
  }

  /** Returns the next output, or `undefined` when there is nothing left to do. */
  poll(): SerfOutput | undefined {
    return this.#outputs.shift();
  }

  /** Returns when `tick` next has work to do. */
  nextDeadlineMs(): number | undefined {
    if (this.#state === "shutdown") return undefined;
    let deadline = this.#nextReapAtMs;
    if (this.#config.reconnectIntervalMs > 0) {
      deadline = Math.min(deadline, this.#nextReconnectAtMs);
    }
    for (const query of this.#pending.values()) deadline = Math.min(deadline, query.deadlineAtMs);
    for (const atMs of this.#prunes.values()) deadline = Math.min(deadline, atMs);
    if (this.#leave !== undefined) deadline = Math.min(deadline, this.#leave.untilMs);
    const coalesce = this.#coalescer.deadlineMs();
    if (coalesce !== undefined) deadline = Math.min(deadline, coalesce);
    return deadline;
  }

  /** Runs what is due at `nowMs`: query timeouts, reaping, reconnects, leave steps, flushes. */
  tick(nowMs: number): void {
    this.#advance(nowMs);
    if (this.#state === "shutdown") return;
    this.#closeDueQueries(nowMs);
    this.#expireIncoming(nowMs);
    this.#runDuePrunes(nowMs);
    for (const event of this.#coalescer.flushDue(nowMs)) {
      this.#emit({ type: "userEvent", ...event });
    }
    if (nowMs >= this.#nextReapAtMs) {
      this.#nextReapAtMs = nowMs + this.#config.reapIntervalMs;
      this.#members.reap(nowMs, {
        reconnectTimeoutMs: this.#config.reconnectTimeoutMs,
        tombstoneTimeoutMs: this.#config.tombstoneTimeoutMs,
        intentTimeoutMs: this.#config.recentIntentTimeoutMs,
      });
    }
    if (this.#config.reconnectIntervalMs > 0 && nowMs >= this.#nextReconnectAtMs) {
      this.#nextReconnectAtMs = nowMs + this.#config.reconnectIntervalMs;
      this.#reconnect();
    }
    this.#stepLeave(nowMs, false);
  }

  /** Feeds one input from memberlist or the shell at `nowMs`. */
  handle(input: SerfInput, nowMs: number): void {
    this.#advance(nowMs);
    if (this.#state === "shutdown") return;
    switch (input.type) {
      case "memberJoined":
        return this.#members.nodeJoined(input.node, nowMs);
      case "memberUpdated":
        return this.#members.nodeUpdated(input.node);
      case "memberLeft":
        return this.#members.nodeLeft(input.name, nowMs);
      case "userMessage":
        return this.#handleUserMessage(input.payload, nowMs);
      case "remoteState":
        return this.#mergeRemoteState(input.state, input.join, nowMs);
      case "conflict":
        return this.#handleConflict(input.name, nowMs);
      case "joinStarted":
        this.#ignoreOldEvents = input.ignoreOldEvents;
        return;
      case "joinFinished":
        if (input.contacted > 0) this.#broadcastJoin(this.#clock.time(), nowMs);
        return;
      case "leaveIntentSent":
        return this.#stepLeave(nowMs, this.#leave?.phase === "intent");
      case "memberlistLeft":
        return this.#stepLeave(nowMs, this.#leave?.phase === "memberlist");
      case "keyringResult":
        return this.#handleKeyringResult(input.requestId, input.result);
    }
  }

  #advance(nowMs: number): void {
    assert(nowMs >= this.#lastNowMs, "Cannot move Serf backwards: time must be monotonic");
    this.#lastNowMs = nowMs;
  }

  #emit(output: SerfOutput): void {
    if (this.#outputs.length >= outputsMax) {
      this.#outputs.shift();
      this.#stats.outputsDropped += 1;
    }
    this.#outputs.push(output);
  }

  #memberEvent(event: MemberEventKind, member: MemberInfo): void {
    this.#emit({ type: "memberEvent", event, member: copyMember(member) });
  }

  #broadcast(kind: "intent" | "event" | "query", payload: Uint8Array): void {
    this.#emit({ type: "broadcast", kind, payload });
  }

  #hasAliveMembers(): boolean {
    return this.#members.all().some((m) => m.name !== this.#name && m.status === "alive");
  }

  // ---- Messages from memberlist (Serf's `delegate.NotifyMsg`).

  #handleUserMessage(payload: Uint8Array, nowMs: number): void {
    let message: SerfMessage;
    try {
      message = decodeSerfMessage(payload);
    } catch {
      this.#stats.malformedMessages += 1;
      return;
    }
    // Re-gossip forwards the original bytes unchanged, as Serf does (gossip-wire.md §11.1).
    switch (message.type) {
      case "leave":
        if (this.#handleLeaveIntent(message, nowMs)) this.#broadcast("intent", payload);
        return;
      case "join":
        if (this.#handleJoinIntent(message, nowMs)) this.#broadcast("intent", payload);
        return;
      case "userEvent":
        if (this.#handleUserEvent(message, nowMs)) this.#broadcast("event", payload);
        return;
      case "query":
        if (this.#handleQuery(message, nowMs)) this.#broadcast("query", payload);
        return;
      case "queryResponse":
        return this.#handleQueryResponse(message);
      case "relay": {
        const { ip, port } = message.header.destAddress;
        const to = { address: ip, port };
        const node = message.header.destName === "" ? undefined : message.header.destName;
        return this.#emit({ type: "sendUserMessage", to, node, payload: message.message });
      }
      default:
        // Push/pull state and nested payloads do not travel alone; Serf ignores them too.
        this.#stats.malformedMessages += 1;
    }
  }

  #handleJoinIntent(join: SerfJoin, nowMs: number): boolean {
    this.#clock.witness(join.lamportTime);
    return this.#members.joinIntent(join.node, join.lamportTime, nowMs);
  }

  #handleLeaveIntent(leave: SerfLeave, nowMs: number): boolean {
    this.#clock.witness(leave.lamportTime);
    const running = this.#state === "alive";
    const self = { name: this.#name, running };
    const verdict = this.#members.leaveIntent(leave.node, leave.lamportTime, nowMs, self);
    if (verdict === "refute") {
      // Someone says we are leaving; we are not. A newer join intent overrides it.
      this.#broadcastJoin(this.#clock.time(), nowMs);
      return false;
    }
    if (verdict === "rebroadcast" && leave.prune) this.#schedulePrune(leave.node, nowMs);
    return verdict === "rebroadcast";
  }

  #broadcastJoin(lamportTime: number, nowMs: number): void {
    const join: SerfJoin = { lamportTime, node: this.#name };
    this.#clock.witness(lamportTime);
    this.#handleJoinIntent(join, nowMs);
    this.#broadcast("intent", encodeSerfMessage({ type: "join", ...join }));
  }

  #schedulePrune(name: string, nowMs: number): void {
    const member = this.#members.get(name);
    if (member === undefined) return;
    // Serf lets a leaving member finish its leave before erasing it (`handlePrune`).
    const waitMs = member.status === "leaving"
      ? this.#config.broadcastTimeoutMs + this.#config.leavePropagateDelayMs
      : 0;
    this.#prunes.set(name, nowMs + waitMs);
    if (waitMs === 0) this.#runDuePrunes(nowMs);
  }

  #runDuePrunes(nowMs: number): void {
    for (const [name, atMs] of [...this.#prunes]) {
      if (nowMs < atMs) continue;
      this.#prunes.delete(name);
      this.#members.erase(name);
    }
  }

  // ---- User events.

  /**
   * Fires a user event to the whole cluster (Serf's `UserEvent`). It is delivered here too.
   *
   * @param name event name
   * @param payload event payload; name plus payload must fit `userEventSizeLimit`
   * @param coalesce whether receivers may coalesce it with newer events of the same name
   * @returns the event's clock
   * @throws RangeError when the event is too large, or we are not running
   */
  userEvent(name: string, payload: Uint8Array, coalesce: boolean, nowMs: number): number {
    this.#advance(nowMs);
    this.#assertRunning("fire user event");
    const limit = Math.min(this.#config.userEventSizeLimit, userEventBytesMax);
    const size = utf8Length(name) + payload.length;
    if (size > limit) {
      throw new RangeError(
        `Cannot fire user event: name and payload are ${size} bytes, over the limit of ${limit}`,
      );
    }
    const event: SerfUserEvent = { lamportTime: this.#eventClock.time(), name, payload, coalesce };
    const bytes = encodeSerfMessage({ type: "userEvent", ...event });
    if (bytes.length > limit) {
      throw new RangeError(
        `Cannot fire user event: it encodes to ${bytes.length} bytes, over the limit of ${limit}`,
      );
    }
    this.#eventClock.increment();
    this.#handleUserEvent(event, nowMs);
    this.#broadcast("event", bytes);
    return event.lamportTime;
  }

  #handleUserEvent(event: SerfUserEvent, nowMs: number): boolean {
    this.#eventClock.witness(event.lamportTime);
    const verdict = this.#events.accept(event, this.#eventClock.time(), this.#eventMinTime);
    if (verdict === "tooOld" || verdict === "belowMinimum") this.#stats.eventsTooOld += 1;
    if (verdict === "duplicate") this.#stats.eventsDuplicate += 1;
    if (verdict === "slotFull") this.#stats.boundsDropped += 1;
    if (verdict !== "accepted") return false;
    const { lamportTime, name, payload, coalesce } = event;
    for (const due of this.#coalescer.push({ lamportTime, name, payload, coalesce }, nowMs)) {
      this.#emit({ type: "userEvent", ...due });
    }
    return true;
  }

  // ---- Queries (Serf's `Query`, `handleQuery`, `handleQueryResponse`, `Respond`).

  /**
   * Sends a query to the cluster (Serf's `Query`); acks and responses come out of `poll()`
   * as `queryAck` and `queryResponse` until `queryClosed`.
   *
   * @returns the query's clock, id and deadline
   * @throws RangeError when it does not fit `querySizeLimit`, too many are pending, options
   *   are out of range, or we are not running
   */
  query(
    name: string,
    payload: Uint8Array,
    options: QueryOptions,
    nowMs: number,
  ): { lamportTime: number; id: number; deadlineAtMs: number } {
    this.#advance(nowMs);
    this.#assertRunning("send query");
    return this.#startQuery(name, payload, options, nowMs, false);
  }

  #startQuery(
    name: string,
    payload: Uint8Array,
    options: QueryOptions,
    nowMs: number,
    conflict: boolean,
  ): { lamportTime: number; id: number; deadlineAtMs: number } {
    const query = this.#buildQuery(name, payload, options);
    const bytes = encodeSerfMessage({ type: "query", ...query });
    if (bytes.length > this.#config.querySizeLimit) {
      throw new RangeError(
        `Cannot send query: it encodes to ${bytes.length} bytes, over the limit of ` +
          `${this.#config.querySizeLimit}`,
      );
    }
    if (this.#pending.size >= pendingQueriesMax) {
      throw new RangeError(`Cannot send query: ${this.#pending.size} queries are pending`);
    }
    const deadlineAtMs = nowMs + query.timeoutNs / 1_000_000;
    this.#pending.set(query.lamportTime, {
      lamportTime: query.lamportTime,
      id: query.id,
      name,
      deadlineAtMs,
      acks: new Set(),
      responses: new Map(),
      conflict,
    });
    this.#handleQuery(query, nowMs);
    this.#broadcast("query", bytes);
    return { lamportTime: query.lamportTime, id: query.id, deadlineAtMs };
  }

  #buildQuery(name: string, payload: Uint8Array, options: QueryOptions): SerfQuery {
    const relayFactor = options.relayFactor ?? 0;
    if (!Number.isInteger(relayFactor) || relayFactor < 0 || relayFactor > 255) {
      throw new RangeError(`Cannot send query: relayFactor "${relayFactor}" is not in [0, 255]`);
    }
    const alive = this.#members.all().filter((m) => m.status === "alive").length;
    const timeoutMs = options.timeoutMs ?? defaultQueryTimeoutMs(this.#config, alive);
    const timeoutNs = Math.round(timeoutMs * 1_000_000);
    if (!Number.isSafeInteger(timeoutNs) || timeoutNs <= 0) {
      throw new RangeError(`Cannot send query: timeoutMs "${timeoutMs}" is not positive`);
    }
    return {
      lamportTime: this.#queryClock.time(),
      id: randomBelow(this.#random, 0x8000_0000), // Go's rand.Int31: below 2^31.
      address: this.#address.address,
      port: this.#address.port,
      sourceNode: this.#name,
      filters: encodeQueryFilters(options),
      flags: options.requestAck === true ? QueryFlag.ack : 0,
      relayFactor,
      timeoutNs,
      name,
      payload,
    };
  }

  #handleQuery(query: SerfQuery, nowMs: number): boolean {
    this.#queryClock.witness(query.lamportTime);
    const clockTime = this.#queryClock.time();
    const verdict = this.#queries.accept(
      query.lamportTime,
      query.id,
      clockTime,
      this.#queryMinTime,
    );
    if (verdict === "tooOld" || verdict === "belowMinimum") this.#stats.queriesTooOld += 1;
    if (verdict === "duplicate") this.#stats.queriesDuplicate += 1;
    if (verdict === "slotFull") this.#stats.boundsDropped += 1;
    if (verdict !== "accepted") return false;
    const rebroadcast = (query.flags & QueryFlag.noBroadcast) === 0;
    // A query we do not match is still re-gossiped: others may match it.
    if (!queryFiltersMatch(query.filters, this.#name, this.#tags)) return rebroadcast;
    if ((query.flags & QueryFlag.ack) !== 0) {
      const ack = { lamportTime: query.lamportTime, id: query.id, from: this.#name };
      this.#sendAnswer(query, { ...ack, flags: QueryFlag.ack, payload: undefined });
    }
    this.#deliverQuery(query, nowMs);
    return rebroadcast;
  }

  #deliverQuery(query: SerfQuery, nowMs: number): void {
    if (this.#incoming.size >= incomingQueriesMax) {
      this.#stats.boundsDropped += 1;
      return;
    }
    const handle = this.#nextHandle++;
    const deadlineAtMs = nowMs + query.timeoutNs / 1_000_000;
    this.#incoming.set(handle, { query, deadlineAtMs });
    if (query.name.startsWith(internalQueryPrefix)) {
      return this.#handleInternalQuery(handle, query);
    }
    const { lamportTime, id, name, payload, sourceNode } = query;
    this.#emit({
      type: "queryReceived",
      query: { handle, lamportTime, id, name, payload, sourceNode, deadlineAtMs },
    });
  }

  /**
   * Answers a received query once (Serf's `Query.Respond`), to its origin and through
   * `relayFactor` random members.
   *
   * @param handle from the `queryReceived` output
   * @throws RangeError when the handle is unknown (answered or expired), the deadline passed,
   *   or the response does not fit `queryResponseSizeLimit`
   */
  respond(handle: number, payload: Uint8Array, nowMs: number): void {
    this.#advance(nowMs);
    const record = this.#incoming.get(handle);
    if (record === undefined) {
      throw new RangeError(`Cannot respond to query: handle "${handle}" is answered or unknown`);
    }
    if (nowMs > record.deadlineAtMs) {
      this.#incoming.delete(handle);
      throw new RangeError(
        `Cannot respond to query: its deadline passed at ${record.deadlineAtMs}`,
      );
    }
    const size = this.#respond(handle, payload);
    if (size !== undefined) {
      throw new RangeError(
        `Cannot respond to query: the response encodes to ${size} bytes, over the limit of ` +
          `${this.#config.queryResponseSizeLimit}`,
      );
    }
  }

  /** Sends the response; returns its size when it is too large (and sends nothing). */
  #respond(handle: number, payload: Uint8Array): number | undefined {
    const record = this.#incoming.get(handle);
    if (record === undefined) return undefined;
    const { query } = record;
    const response: SerfQueryResponse = {
      lamportTime: query.lamportTime,
      id: query.id,
      from: this.#name,
      flags: 0,
      payload,
    };
    const size = encodeSerfMessage({ type: "queryResponse", ...response }).length;
    if (size > this.#config.queryResponseSizeLimit) {
      this.#stats.responsesTooLarge += 1;
      return size;
    }
    this.#incoming.delete(handle);
    this.#sendAnswer(query, response);
    return undefined;
  }

  #sendAnswer(query: SerfQuery, response: SerfQueryResponse): void {
    const payload = encodeSerfMessage({ type: "queryResponse", ...response });
    const to = { address: query.address, port: query.port };
    this.#emit({ type: "sendUserMessage", to, node: query.sourceNode, payload });
    this.#relay(query, payload);
  }

  /** Sends `[relay header][response]` to `relayFactor` random alive members (`relayResponse`). */
  #relay(query: SerfQuery, response: Uint8Array): void {
    if (query.relayFactor === 0) return;
    const members = this.#members.all();
    // Not worth it in a cluster smaller than relayFactor + 1 (Serf counts tombstones too).
    if (members.length < query.relayFactor + 1) return;
    const destAddress = { ip: query.address, port: query.port, zone: "" };
    const header = { destAddress, destName: query.sourceNode };
    const payload = encodeSerfMessage({ type: "relay", header, message: response });
    if (payload.length > this.#config.queryResponseSizeLimit) {
      this.#stats.responsesTooLarge += 1;
      return;
    }
    const candidates = members.filter((m) =>
      m.status === "alive" && m.versions[1] >= 5 && m.name !== this.#name
    );
    for (const member of pickRandom(this.#random, candidates, query.relayFactor)) {
      const to = { address: member.address, port: member.port };
      this.#emit({ type: "sendUserMessage", to, node: member.name, payload });
    }
  }

  #handleQueryResponse(response: SerfQueryResponse): void {
    const query = this.#pending.get(response.lamportTime);
    if (query === undefined || query.id !== response.id) return;
    const ack = (response.flags & QueryFlag.ack) !== 0;
    const verdict = recordAnswer(query, { from: response.from, ack, payload: response.payload });
    if (verdict === "ignored" || query.conflict) return;
    const { lamportTime, id, from } = response;
    if (verdict === "ack") return this.#emit({ type: "queryAck", lamportTime, id, from });
    const { name } = query;
    this.#emit({ type: "queryResponse", lamportTime, id, name, from, payload: response.payload });
  }

  #closeDueQueries(nowMs: number): void {
    for (const query of [...this.#pending.values()]) {
      if (nowMs < query.deadlineAtMs) continue;
      this.#pending.delete(query.lamportTime);
      if (query.conflict) {
        this.#finishConflictVote(query);
        continue;
      }
      const { lamportTime, id, name } = query;
      const counts = { acks: query.acks.size, responses: query.responses.size };
      this.#emit({ type: "queryClosed", lamportTime, id, name, ...counts });
    }
  }

  #expireIncoming(nowMs: number): void {
    for (const [handle, record] of this.#incoming) {
      if (nowMs > record.deadlineAtMs) this.#incoming.delete(handle);
    }
    for (const [requestId, handle] of this.#keyringRequests) {
      if (!this.#incoming.has(handle)) this.#keyringRequests.delete(requestId);
    }
  }

  // ---- Internal queries (`serf/internal_query.go`).

  #handleInternalQuery(handle: number, query: SerfQuery): void {
    if (query.name === InternalQueryName.ping) {
      this.#incoming.delete(handle); // Acks are the whole answer.
      return;
    }
    if (query.name === InternalQueryName.conflict) return this.#answerConflict(handle, query);
    const operation = keyringOperationOf(query.name);
    if (operation === undefined) {
      this.#incoming.delete(handle); // Serf logs an unknown internal query and drops it.
      return;
    }
    const key = operation === "list" ? new Uint8Array(0) : decodeKeyRequestPayload(query.payload);
    if (key === undefined) {
      const message = "Failed to decode key request";
      return this.#answerKeyring(handle, { ok: false, message, keys: [], primaryKey: undefined });
    }
    if (this.#keyringRequests.size >= keyringRequestsMax) {
      this.#stats.boundsDropped += 1;
      const message = "Too many keyring operations in progress";
      return this.#answerKeyring(handle, { ok: false, message, keys: [], primaryKey: undefined });
    }
    const requestId = this.#nextRequestId++;
    this.#keyringRequests.set(requestId, handle);
    this.#emit({ type: "keyringRequest", requestId, operation, key });
  }

  #handleKeyringResult(requestId: number, result: KeyringResult): void {
    const handle = this.#keyringRequests.get(requestId);
    if (handle === undefined) return; // Late (past the query's deadline) or unknown.
    this.#keyringRequests.delete(requestId);
    this.#answerKeyring(handle, result);
  }

  #answerKeyring(handle: number, result: KeyringResult): void {
    const record = this.#incoming.get(handle);
    if (record === undefined) return;
    const limit = this.#config.queryResponseSizeLimit;
    const fits = (payload: Uint8Array) => this.#responseSize(record.query, payload) <= limit;
    const payload = encodeKeyResponsePayload(result, fits);
    if (payload === undefined) {
      this.#stats.responsesTooLarge += 1;
      this.#incoming.delete(handle);
      return;
    }
    this.#respond(handle, payload);
  }

  #responseSize(query: SerfQuery, payload: Uint8Array): number {
    const { lamportTime, id } = query;
    const response = { lamportTime, id, from: this.#name, flags: 0, payload };
    return encodeSerfMessage({ type: "queryResponse", ...response }).length;
  }

  #answerConflict(handle: number, query: SerfQuery): void {
    const node = new TextDecoder().decode(query.payload ?? new Uint8Array(0));
    // Nodes do not vote about their own name.
    if (node === this.#name) {
      this.#incoming.delete(handle);
      return;
    }
    const known = this.#members.get(node);
    const member = known === undefined ? undefined : wireMember(known);
    this.#respond(handle, encodeSerfMessage({ type: "conflictResponse", member }));
  }

  #handleConflict(name: string, nowMs: number): void {
    // Another member's name conflict is theirs to resolve; Serf only logs it.
    if (name !== this.#name || !this.#config.enableNameConflictResolution) return;
    if (this.#conflictRunning || this.#state !== "alive") return;
    if (this.#pending.size >= pendingQueriesMax) return;
    this.#conflictRunning = true;
    const payload = new TextEncoder().encode(this.#name);
    this.#startQuery(InternalQueryName.conflict, payload, {}, nowMs, true);
  }

  #finishConflictVote(query: PendingQuery): void {
    this.#conflictRunning = false;
    const vote = tallyConflictVote(query.responses.values(), this.#address);
    if (vote.won) return;
    this.#state = "shutdown";
    this.#emit({
      type: "shutdown",
      reason: `minority in name conflict resolution [${vote.matching} / ${vote.responses}]`,
    });
  }

  /**
   * Starts a cluster-wide keyring operation (`_serf_install-key` and the others); every
   * member's `nodeKeyResponse` comes back as a `queryResponse` (decode it with
   * `decodeKeyResponsePayload`).
   *
   * @throws RangeError as `query()` does
   */
  keyringQuery(
    operation: "install" | "use" | "remove" | "list",
    key: Uint8Array,
    options: QueryOptions,
    nowMs: number,
  ): { lamportTime: number; id: number; deadlineAtMs: number } {
    const payload = encodeSerfMessage({ type: "keyRequest", key });
    return this.query(InternalQueryName[operation], payload, options, nowMs);
  }

  // ---- Membership commands.

  /**
   * Publishes new tags (Serf's `SetTags`): a `setMeta` output for memberlist, and an
   * `update` event here.
   *
   * @throws RangeError when the tags encode to more than 512 bytes
   */
  setTags(
    tags: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
    nowMs: number,
  ): void {
    this.#advance(nowMs);
    const next = tagMap(tags);
    const meta = encodeTags(next);
    if (meta.length > metaBytesMax) {
      throw new RangeError(
        `Cannot set tags: they encode to ${meta.length} bytes, over the limit of ${metaBytesMax}`,
      );
    }
    this.#tags = next;
    this.#emit({ type: "setMeta", meta });
    this.#members.nodeUpdated(this.#selfNode());
  }

  /**
   * Removes a failed member (Serf's `RemoveFailedNode`, `force-leave`): a leave intent on
   * its behalf, which moves it to `left`; `prune` erases it at once.
   */
  forceLeave(name: string, nowMs: number, options: { prune?: boolean } = {}): void {
    this.#advance(nowMs);
    const leave: SerfLeave = {
      lamportTime: this.#clock.time(),
      node: name,
      prune: !!options.prune,
    };
    this.#clock.increment();
    this.#handleLeaveIntent(leave, nowMs);
    if (!this.#hasAliveMembers()) return;
    this.#broadcast("intent", encodeSerfMessage({ type: "leave", ...leave }));
  }

  /**
   * Starts a graceful leave (Serf's `Leave`): our leave intent goes out, then `leaveMemberlist`,
   * then after `leavePropagateDelayMs` the `left` output.
   *
   * @throws RangeError when not running
   */
  leave(nowMs: number): void {
    this.#advance(nowMs);
    this.#assertRunning("leave");
    this.#state = "leaving";
    const leave: SerfLeave = { lamportTime: this.#clock.time(), node: this.#name, prune: false };
    this.#clock.increment();
    this.#handleLeaveIntent(leave, nowMs);
    if (this.#hasAliveMembers()) {
      this.#broadcast("intent", encodeSerfMessage({ type: "leave", ...leave }));
      this.#leave = { phase: "intent", untilMs: nowMs + this.#config.broadcastTimeoutMs };
      return;
    }
    this.#leave = { phase: "intent", untilMs: nowMs };
    this.#stepLeave(nowMs, true);
  }

  #stepLeave(nowMs: number, reported: boolean): void {
    const leave = this.#leave;
    if (leave === undefined || (!reported && nowMs < leave.untilMs)) return;
    if (leave.phase === "intent") {
      this.#leave = { phase: "memberlist", untilMs: nowMs + this.#config.broadcastTimeoutMs };
      this.#emit({ type: "leaveMemberlist" });
    } else if (leave.phase === "memberlist") {
      this.#leave = { phase: "propagate", untilMs: nowMs + this.#config.leavePropagateDelayMs };
    } else {
      this.#leave = undefined;
      this.#state = "left";
      this.#emit({ type: "left" });
    }
  }

  #assertRunning(action: string): void {
    if (this.#state !== "alive") {
      throw new RangeError(`Cannot ${action}: Serf is "${this.#state}"`);
    }
  }

  #reconnect(): void {
    const all = this.#members.all();
    const failed = all.filter((m) => m.status === "failed");
    if (failed.length === 0) return;
    const left = all.filter((m) => m.status === "left").length;
    // Expect each failed member to be tried about once per interval cluster-wide (`reconnect`).
    const alive = Math.max(1, all.length - failed.length - left);
    const draw = this.#random.nextUint32() / 0x1_0000_0000;
    if (draw > failed.length / alive) return;
    const member = failed[randomBelow(this.#random, failed.length)];
    const to = { address: member.address, port: member.port };
    this.#emit({ type: "reconnect", name: member.name, to });
  }

  // ---- Push/pull (Serf's `delegate.LocalState` and `MergeRemoteState`).

  /** Returns our push/pull user state: `[0x02]` + `messagePushPull`. */
  localState(_join: boolean): Uint8Array {
    const members = this.#members.all();
    const state: SerfPushPull = {
      lamportTime: this.#clock.time(),
      statusLamportTimes: new Map(members.map((m) => [m.name, m.statusLamportTime])),
      leftMembers: members.filter((m) => m.status === "left").map((m) => m.name),
      eventLamportTime: this.#eventClock.time(),
      events: this.#events.slots(),
      queryLamportTime: this.#queryClock.time(),
    };
    return encodeSerfMessage({ type: "pushPull", ...state });
  }

  #mergeRemoteState(bytes: Uint8Array, join: boolean, nowMs: number): void {
    let message: SerfMessage;
    try {
      message = decodeSerfMessage(bytes);
    } catch {
      this.#stats.malformedMessages += 1;
      return;
    }
    if (message.type !== "pushPull") return;
    // Witness value - 1: nothing stamped with the sender's current value has been sent yet.
    if (message.lamportTime > 0) this.#clock.witness(message.lamportTime - 1);
    if (message.eventLamportTime > 0) this.#eventClock.witness(message.eventLamportTime - 1);
    if (message.queryLamportTime > 0) this.#queryClock.witness(message.queryLamportTime - 1);
    this.#mergeIntents(message, nowMs);
    if (join && this.#ignoreOldEvents && message.eventLamportTime > this.#eventMinTime) {
      this.#eventMinTime = message.eventLamportTime;
    }
    for (const slot of message.events) {
      if (slot === undefined) continue;
      for (const event of slot.events) {
        const { lamportTime } = slot;
        this.#handleUserEvent({ lamportTime, ...event, coalesce: false }, nowMs);
      }
    }
  }

  #mergeIntents(message: SerfPushPull, nowMs: number): void {
    // Left members first, one past their status clock: the leave came after that join.
    const left = new Set(message.leftMembers);
    for (const node of left) {
      const lamportTime = (message.statusLamportTimes.get(node) ?? 0) + 1;
      this.#handleLeaveIntent({ lamportTime, node, prune: false }, nowMs);
    }
    for (const [node, lamportTime] of message.statusLamportTimes) {
      if (!left.has(node)) this.#handleJoinIntent({ lamportTime, node }, nowMs);
    }
  }
}

function tagMap(
  tags: ReadonlyMap<string, string> | Readonly<Record<string, string>> | undefined,
): Map<string, string> {
  if (tags === undefined) return new Map();
  return tags instanceof Map ? new Map(tags) : new Map(Object.entries(tags));
}

function copyMember(member: MemberInfo): MemberInfo {
  return { ...member, tags: new Map(member.tags) };
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

const statusCodes = {
  alive: MemberStatus.alive,
  leaving: MemberStatus.leaving,
  left: MemberStatus.left,
  failed: MemberStatus.failed,
} as const;

/** Returns the wire/HTTP status code of a member status (1 alive ... 4 failed). */
export function memberStatusCode(status: MemberInfo["status"]): number {
  return statusCodes[status];
}

function wireMember(member: MemberInfo): SerfMember {
  const v = member.versions;
  return {
    name: member.name,
    address: member.address,
    port: member.port,
    tags: new Map(member.tags),
    status: memberStatusCode(member.status),
    protocolMin: v[0],
    protocolMax: v[1],
    protocolCur: v[2],
    delegateMin: v[3],
    delegateMax: v[4],
    delegateCur: v[5],
  };
}

/** Picks up to `count` distinct items uniformly (a partial Fisher-Yates shuffle). */
function pickRandom<T>(random: Random, items: readonly T[], count: number): T[] {
  const pool = items.slice();
  const picked: T[] = [];
  while (picked.length < count && pool.length > 0) {
    const index = randomBelow(random, pool.length);
    picked.push(pool[index]);
    pool[index] = pool[pool.length - 1];
    pool.pop();
  }
  return picked;
}
