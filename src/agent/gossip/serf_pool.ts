/**
 * The Serf shell: runs the Serf core (`src/core/serf`) on a {@link MemberlistTransport} (the
 * SWIM core on UDP and TCP), following the wiring contract of `src/core/serf/messages.ts`
 * (Serf 0.9.4's memberlist delegates), and Vivaldi (`src/core/vivaldi`) on direct probes, as
 * Serf's ping delegate does. It owns no protocol rule: it carries outputs between the cores and
 * the sockets, runs the Serf core's timer, appends the member snapshot, and bounds everything.
 *
 * - memberlist news → `memberJoined` / `memberUpdated` / `memberLeft`; suspicion is not reported
 *   (Serf's `NotifyJoin`, `NotifyUpdate`, `NotifyLeave`); user messages, push/pull user state and
 *   name conflicts go straight in.
 * - `broadcast` → the transport's broadcast queue; `sendUserMessage` → one datagram;
 *   `setMeta` → new meta; `reconnect` → a bounded memberlist join; `leaveMemberlist` → the
 *   transport's leave; `keyringRequest` → applied to the transport's keyring, persisted through
 *   `persistKeyring`, answered (Serf's `handleInstallKey` and the others).
 * - `keyringQuery()` sends a keyring query and adds up the answers (Serf's `KeyManager`).
 * - our acks carry our coordinate; each acked direct probe moves it (`VivaldiClient.update`).
 *
 * @module
 */

import type { Address, FileStore, Runtime } from "../../runtime.ts";
import { SeededRandom } from "../../core/random.ts";
import {
  decodeSnapshot,
  defaultSerfConfig,
  type KeyringOperation,
  type KeyringResult,
  KeyringTally,
  type KeyringTallyResult,
  type MemberInfo,
  type MemberlistEvent,
  noKeyringMessage,
  parseIpv4Address,
  Serf,
  type SerfConfig,
  type SerfOutput,
  type SerfStats,
  SnapshotRecorder,
} from "../../core/serf/mod.ts";
import { type Keyring, validateKey } from "../../core/wire/mod.ts";
import {
  type Coordinate,
  defaultVivaldiConfig,
  VivaldiClient,
  type VivaldiConfig,
} from "../../core/vivaldi/mod.ts";
import { decodePingPayload, encodePingPayload, encodeTags } from "../../core/wire/mod.ts";
import type { MemberSnapshot, SwimAddress, SwimConfig } from "../../core/swim/mod.ts";
import { bytesToIp, ipToBytes } from "./_ip.ts";
import { RateLimitedLog } from "./_rate_limited_log.ts";
import {
  badInputLogIntervalMs,
  type GossipLog,
  MemberlistTransport,
} from "./memberlist_transport.ts";

/** memberlist news kept while the Serf core is being built (the transport starts first). */
export const earlyEventsMax = 1_024;
/** Reconnect joins to failed members in flight at once; more are skipped. */
export const reconnectsInFlightMax = 4;
/** Peer coordinates kept (one per member); the oldest entry goes first past this. */
export const peerCoordinatesMax = 65_536;
/** The snapshot file is rewritten compacted once this much was appended (Serf's 128 KiB). */
export const snapshotBytesMax = 128 * 1_024;
/** Snapshot lines waiting to be written; past this they are dropped and counted. */
export const snapshotPendingLinesMax = 4_096;
/** How often a graceful leave checks whether our leave intent has gone out. */
export const leaveIntentPollMs = 50;
/** Keyring queries of ours waiting for answers at once; more are refused. */
export const keyringQueriesMax = 16;
/** The snapshot's file name inside its directory (`<data-dir>/serf`), as Consul's. */
export const snapshotFileName = "local.snapshot";

/** A user event delivered by the Serf core (ours included), in clock order per sender. */
export interface PoolUserEvent {
  /** The event clock (Serf's `LTime`). */
  lamportTime: number;
  /** The Serf event name (`consul:event:<name>` for Consul's). */
  name: string;
  /** The payload, if any. */
  payload: Uint8Array | undefined;
}

/** How to start a {@link SerfPool}. */
export interface SerfPoolOptions {
  /** Node name. */
  nodeName: string;
  /** Where to bind UDP and TCP (port 0 picks one). */
  bind: Address;
  /** The IP literal others reach us at. */
  advertiseHost: string;
  /** Our Serf tags (carried in memberlist meta). */
  tags: Record<string, string>;
  /** Encryption keys, primary first; none means plaintext. */
  keys?: readonly Uint8Array[];
  /** SWIM timings. */
  swimConfig?: SwimConfig;
  /** Serf tuning. @default {defaultSerfConfig()} */
  serfConfig?: SerfConfig;
  /** Vivaldi tuning. @default {defaultVivaldiConfig()} */
  vivaldiConfig?: VivaldiConfig;
  /** Where the member snapshot lives (`<data-dir>/serf`); none keeps no snapshot. */
  snapshotFiles?: FileStore;
  /** The snapshot's file name. @default {snapshotFileName} (the WAN pool's is `remote.snapshot`) */
  snapshotFileName?: string;
  /** Where to log. */
  log: GossipLog;
  /** Receives every user event the core delivers. */
  userEvent?(event: PoolUserEvent): void;
  /**
   * Answers an application query; `undefined` sends no response (acks still go out when asked
   * for, by the core).
   */
  query?(name: string, payload: Uint8Array | undefined): Uint8Array | undefined;
  /** Called when the core stops us (we lost a name conflict vote). */
  shutdown?(reason: string): void;
  /**
   * Saves the keyring (primary first) after a keyring query changed it, before we answer
   * success (Serf's `writeKeyringFile`); a rejection is answered as the member's failure.
   */
  persistKeyring?(keys: readonly Uint8Array[]): Promise<void>;
}

/** Counters of the pool, its transport and its cores. */
export interface SerfPoolStats {
  /** The transport's and SWIM core's counters. */
  transport: ReturnType<MemberlistTransport["stats"]>;
  /** The Serf core's counters. */
  serf: SerfStats;
  /** memberlist news dropped before the Serf core existed. */
  earlyEventsDropped: number;
  /** Reconnects skipped because enough were in flight. */
  reconnectsSkipped: number;
  /** Ack payloads that were not a coordinate we could use. */
  coordinatesRejected: number;
  /** Snapshot lines dropped (too many waiting, or a write failed). */
  snapshotLinesDropped: number;
}

interface PendingKeyringQuery {
  tally: KeyringTally;
  resolve(result: KeyringTallyResult): void;
}

interface Reported {
  meta: Uint8Array;
  address: Uint8Array;
  port: number;
}

/**
 * One Serf pool: memberlist transport + Serf core + Vivaldi client.
 *
 * @example
 * ```ts
 * const pool = await SerfPool.start(runtime, { nodeName: "a", bind, advertiseHost: "127.0.0.2",
 *   tags: { role: "node" }, log, userEvent: (event) => console.log(event.name) });
 * await pool.join([{ host: "127.0.0.3", port: 8301 }]);
 * pool.userEvent("deploy", new Uint8Array(0), false);
 * await pool.leave(6_000);
 * await pool.close();
 * ```
 */
export class SerfPool {
  readonly #runtime: Runtime;
  readonly #options: SerfPoolOptions;
  readonly #transport: MemberlistTransport;
  readonly #serf: Serf;
  readonly #vivaldi: VivaldiClient;
  readonly #badInput: RateLimitedLog;
  readonly #reported = new Map<string, Reported>();
  readonly #peerCoordinates = new Map<string, Coordinate>();
  readonly #reconnecting = new Set<string>();
  readonly #leftWaiters: Array<() => void> = [];
  readonly #keyringQueries = new Map<string, PendingKeyringQuery>();
  #keyringWrites: Promise<void> = Promise.resolve();
  readonly #recorder: SnapshotRecorder | undefined;
  readonly #snapshotLines: string[] = [];
  readonly #stats = {
    earlyEventsDropped: 0,
    reconnectsSkipped: 0,
    coordinatesRejected: 0,
    snapshotLinesDropped: 0,
  };
  #snapshotWriting = false;
  #snapshotBytes = 0;
  #timer: { cancel(): void } | undefined;
  #timerAtMs = Infinity;
  #lastNowMs = 0;
  #draining = false;
  #closed = false;

  private constructor(
    runtime: Runtime,
    options: SerfPoolOptions,
    transport: MemberlistTransport,
    restored: ReturnType<typeof decodeSnapshot> | undefined,
  ) {
    this.#runtime = runtime;
    this.#options = options;
    this.#transport = transport;
    this.#badInput = new RateLimitedLog(
      (line) => options.log.warn(line),
      () => runtime.clock.monotonicMs(),
      badInputLogIntervalMs,
    );
    const seed = new Uint32Array(runtime.randomBytes(new Uint8Array(8)).buffer);
    const serfConfig = options.serfConfig ?? defaultSerfConfig();
    this.#serf = new Serf({
      name: options.nodeName,
      address: { address: ipToBytes(options.advertiseHost), port: transport.address.port },
      random: new SeededRandom(seed[0]),
      config: serfConfig,
      tags: options.tags,
      restore: restored === undefined ? undefined : {
        clock: restored.clock,
        eventClock: restored.eventClock,
        queryClock: restored.queryClock,
      },
    }, this.#now());
    this.#vivaldi = new VivaldiClient(
      options.vivaldiConfig ?? defaultVivaldiConfig(),
      new SeededRandom(seed[1]),
    );
    if (options.snapshotFiles !== undefined) this.#recorder = new SnapshotRecorder(restored);
  }

  /**
   * Binds the transport, builds the Serf core, replays the snapshot's clocks, and rejoins the
   * members the snapshot last saw alive (in the background).
   *
   * @throws RangeError for bad tags; Error when the port is taken
   */
  static async start(runtime: Runtime, options: SerfPoolOptions): Promise<SerfPool> {
    const restored = await readSnapshot(
      options.snapshotFiles,
      options.snapshotFileName ?? snapshotFileName,
      options.log,
    );
    const built: { pool?: SerfPool } = {};
    const early: MemberlistEvent[] = [];
    let earlyDropped = 0;
    const feed = (event: MemberlistEvent) => {
      const pool = built.pool;
      if (pool !== undefined) return pool.#feed(event);
      if (early.length < earlyEventsMax) early.push(event);
      else earlyDropped += 1;
    };
    const reported = new Map<string, Reported>();
    const transport = await MemberlistTransport.start(runtime, {
      name: options.nodeName,
      bind: options.bind,
      advertiseHost: options.advertiseHost,
      // The same bytes as Serf's localMeta(): our encoded tags.
      meta: encodeTags(new Map(Object.entries(options.tags))),
      config: options.swimConfig,
      keys: options.keys,
      log: options.log,
      delegate: {
        memberChanged: (member) => {
          const event = memberlistEventOf(reported, member);
          if (event !== undefined) feed(event);
        },
        userMessage: (payload) => feed({ type: "userMessage", payload }),
        remoteState: (state, join) => feed({ type: "remoteState", state, join }),
        conflict: (name, existing, other) => feed({ type: "conflict", name, existing, other }),
        userState: (join) => built.pool?.localState(join) ?? new Uint8Array(0),
        ackPayload: () => {
          const pool = built.pool;
          return pool === undefined ? undefined : encodePingPayload(pool.coordinate());
        },
        pingComplete: (name, rttMs, payload) => {
          const pool = built.pool;
          if (pool !== undefined) pool.#pingComplete(name, rttMs, payload);
        },
      },
    });
    const pool = new SerfPool(runtime, options, transport, restored);
    built.pool = pool;
    for (const [name, entry] of reported) pool.#reported.set(name, entry);
    pool.#stats.earlyEventsDropped = earlyDropped;
    // Replay what memberlist said while the Serf core was being built.
    for (const event of early) pool.#feed(event);
    pool.#drain();
    if (restored !== undefined) pool.#rejoin(restored.aliveNodes);
    return pool;
  }

  /** The bound gossip address. */
  get address(): Address {
    return this.#transport.address;
  }

  /** Our member name. */
  get name(): string {
    return this.#serf.name;
  }

  /** The Serf core's lifecycle state (`alive`, `leaving`, `left`, `shutdown`). */
  get state(): Serf["state"] {
    return this.#serf.state;
  }

  /** Serf's members (alive, leaving, left, failed), tombstones included until reaped. */
  members(): MemberInfo[] {
    return this.#serf.members();
  }

  /** Serf's push/pull user state (its `LocalState`). */
  localState(join: boolean): Uint8Array {
    return this.#serf.localState(join);
  }

  /** Our network coordinate. */
  coordinate(): Coordinate {
    return this.#vivaldi.coordinate();
  }

  /** The last coordinate `name` sent us in an ack, if any. */
  peerCoordinate(name: string): Coordinate | undefined {
    return this.#peerCoordinates.get(name);
  }

  /** Counters of the pool, its transport and its cores. */
  stats(): SerfPoolStats {
    return {
      transport: this.#transport.stats(),
      serf: this.#serf.stats(),
      ...this.#stats,
    };
  }

  /**
   * Joins through `addresses` (Serf's `Join` with `ignoreOld`: events from before the join are
   * not replayed, as Consul joins).
   *
   * @returns how many answered, and why the others did not
   */
  async join(addresses: readonly Address[]): Promise<{ joined: number; errors: string[] }> {
    if (this.#closed) return { joined: 0, errors: ["the pool is closed"] };
    this.#serf.handle({ type: "joinStarted", ignoreOldEvents: true }, this.#now());
    const result = await this.#transport.join(addresses);
    if (!this.#closed) {
      this.#serf.handle({ type: "joinFinished", contacted: result.joined }, this.#now());
      this.#drain();
    }
    return result;
  }

  /**
   * Fires a user event cluster-wide (delivered here too, through the `userEvent` option).
   *
   * @returns the event's clock
   * @throws RangeError when it is too large or we are leaving
   */
  userEvent(name: string, payload: Uint8Array, coalesce: boolean): number {
    const lamportTime = this.#serf.userEvent(name, payload, coalesce, this.#now());
    this.#drain();
    return lamportTime;
  }

  /**
   * Removes a failed member (`force-leave`): a leave intent on its behalf.
   *
   * @param name the member
   * @param prune erase it at once rather than keep it as left
   */
  forceLeave(name: string, prune = false): void {
    this.#serf.forceLeave(name, this.#now(), { prune });
    this.#drain();
  }

  /** The installed gossip keys, primary first; `undefined` when gossip is plaintext. */
  keys(): Uint8Array[] | undefined {
    const keyring = this.#transport.keyring;
    return keyring === undefined ? undefined : [...keyring.keys];
  }

  /**
   * Sends a keyring query to every member, ourselves included, and adds up their answers as
   * Serf's `KeyManager` does: it resolves when every alive member answered, or when the query
   * times out (Serf's default query timeout for the cluster size), or when the pool closes.
   *
   * @param operation install, use, remove or list
   * @param key the key (16, 24 or 32 bytes); ignored for list
   * @param options `relayFactor`: members each answer is also relayed through (0..255)
   * @returns the totals, with Serf's verdict in `error` ("" when every member succeeded)
   * @throws RangeError for a bad key, too many keyring queries at once, or a closed pool
   */
  async keyringQuery(
    operation: KeyringOperation,
    key?: Uint8Array,
    options: { relayFactor?: number } = {},
  ): Promise<KeyringTallyResult> {
    if (this.#closed) throw new RangeError("Cannot query the keyring: the pool is closed");
    const bytes = operation === "list" ? new Uint8Array(0) : key ?? new Uint8Array(0);
    if (operation !== "list") validateKey(bytes);
    if (this.#keyringQueries.size >= keyringQueriesMax) {
      throw new RangeError(
        `Cannot query the keyring: ${keyringQueriesMax} keyring queries are in flight; retry`,
      );
    }
    const alive = this.#serf.members().filter((member) => member.status === "alive").length;
    const tally = new KeyringTally(alive);
    return await new Promise<KeyringTallyResult>((resolve) => {
      const query = { relayFactor: options.relayFactor };
      const sent = this.#serf.keyringQuery(operation, bytes, query, this.#now());
      this.#keyringQueries.set(`${sent.lamportTime}:${sent.id}`, { tally, resolve });
      this.#drain();
    });
  }

  /**
   * Leaves gracefully, as Serf's `Leave`: our leave intent goes out first (so others show us
   * as left, not failed), then memberlist's leave, then a short propagation delay. Alone in the
   * cluster, there is no one to tell: it returns at once.
   *
   * @param timeoutMs the longest wait
   * @returns true when the leave finished in time
   */
  async leave(timeoutMs: number): Promise<boolean> {
    if (this.#closed || this.#serf.state !== "alive") return false;
    const others = this.#serf.members().some((m) => m.name !== this.name && m.status === "alive");
    if (!others) return true;
    let timer: { cancel(): void } | undefined;
    const left = new Promise<boolean>((resolve) => {
      this.#leftWaiters.push(() => resolve(true));
      timer = this.#runtime.timers.after(timeoutMs, () => resolve(false), { keepAlive: true });
    });
    this.#serf.leave(this.#now());
    this.#drain();
    // The core waits `broadcastTimeoutMs` for the intent unless told it went out: it has once
    // the broadcast queue has sent everything its retransmit limit asks for.
    const poll: { cancel(): void } = this.#runtime.timers.every(leaveIntentPollMs, () => {
      if (this.#closed || this.#transport.stats().swim.broadcastsQueued > 0) return;
      poll.cancel();
      this.#serf.handle({ type: "leaveIntentSent" }, this.#now());
      this.#drain();
    });
    const done = await left;
    timer?.cancel();
    poll.cancel();
    return done;
  }

  /** Closes the sockets, stops the timer and flushes the snapshot. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    for (const wake of this.#leftWaiters.splice(0)) wake();
    for (const pending of this.#keyringQueries.values()) pending.resolve(pending.tally.result());
    this.#keyringQueries.clear();
    await this.#transport.close();
    await this.#flushSnapshot();
  }

  // ---- Driving the Serf core ----

  #now(): number {
    this.#lastNowMs = Math.max(this.#lastNowMs, this.#runtime.clock.monotonicMs());
    return this.#lastNowMs;
  }

  #feed(event: MemberlistEvent): void {
    if (this.#closed) return;
    this.#serf.handle(event, this.#now());
    this.#drain();
  }

  /** Carries out every pending output; re-entrant calls (a transport callback) fold in. */
  #drain(): void {
    if (this.#draining || this.#closed) return;
    this.#draining = true;
    try {
      for (let output = this.#serf.poll(); output !== undefined; output = this.#serf.poll()) {
        this.#record(output);
        this.#carryOut(output);
      }
    } finally {
      this.#draining = false;
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    const deadlineMs = this.#serf.nextDeadlineMs();
    if (deadlineMs === undefined) return;
    if (this.#timer !== undefined && this.#timerAtMs <= deadlineMs) return;
    this.#timer?.cancel();
    this.#timerAtMs = deadlineMs;
    const delayMs = Math.max(1, Math.ceil(deadlineMs - this.#now()));
    this.#timer = this.#runtime.timers.after(delayMs, () => {
      this.#timer = undefined;
      this.#timerAtMs = Infinity;
      if (this.#closed) return;
      this.#serf.tick(this.#now());
      this.#drain();
    });
  }

  #carryOut(output: SerfOutput): void {
    switch (output.type) {
      case "broadcast":
        return this.#transport.broadcastUser(output.payload);
      case "sendUserMessage":
        return this.#transport.sendUser(output.to, output.node, output.payload);
      case "setMeta":
        return this.#transport.setMeta(output.meta);
      case "memberEvent":
        return this.#memberEvent(output);
      case "userEvent": {
        const { lamportTime, name, payload } = output;
        return this.#options.userEvent?.({ lamportTime, name, payload });
      }
      case "queryReceived":
        return this.#answerQuery(output.query);
      case "reconnect":
        return this.#reconnect(output.name, output.to);
      case "keyringRequest":
        return this.#applyKeyring(output.requestId, output.operation, output.key);
      case "leaveMemberlist":
        return void this.#transport.leave(this.#serfConfig().broadcastTimeoutMs).then(() => {
          if (this.#closed) return;
          this.#serf.handle({ type: "memberlistLeft" }, this.#now());
          this.#drain();
        });
      case "left":
        for (const wake of this.#leftWaiters.splice(0)) wake();
        return;
      case "shutdown":
        this.#options.log.warn(`gossip: Cannot stay in the cluster: ${output.reason}`);
        return this.#options.shutdown?.(output.reason);
      case "queryResponse":
        return this.#keyringAnswer(output);
      case "queryClosed":
        return this.#keyringClosed(output);
      case "queryAck":
        // Keyring queries ask for no acks; nothing else of ours waits for them.
        return;
    }
  }

  // ---- Keyring queries (Serf's `serfQueries.handleModifyKeyring` and `KeyManager`) ----

  /** Applies a keyring query to our keyring, persists a change, then answers. */
  #applyKeyring(requestId: number, operation: KeyringOperation, key: Uint8Array): void {
    const keyring = this.#transport.keyring;
    const result = applyKeyringOperation(keyring, operation, key);
    const persist = this.#options.persistKeyring;
    if (!result.ok || operation === "list" || persist === undefined || keyring === undefined) {
      this.#serf.handle({ type: "keyringResult", requestId, result }, this.#now());
      return;
    }
    const keys = keyring.keys;
    // Writes go one at a time, in the order the changes were made.
    const written = this.#keyringWrites.then(() => persist(keys)).then(
      () => result,
      (error: Error): KeyringResult => ({
        ...result,
        ok: false,
        message: `Cannot write the keyring file: ${error.message}`,
      }),
    );
    this.#keyringWrites = written.then(() => undefined);
    void written.then((answer) => {
      if (this.#closed) return;
      this.#serf.handle({ type: "keyringResult", requestId, result: answer }, this.#now());
      this.#drain();
    });
  }

  #keyringAnswer(output: SerfOutput & { type: "queryResponse" }): void {
    const key = `${output.lamportTime}:${output.id}`;
    const pending = this.#keyringQueries.get(key);
    if (pending === undefined) return;
    pending.tally.add(output.from, output.payload);
    if (!pending.tally.complete) return;
    // Everyone answered: stop waiting, as Serf's streamKeyResp returns early.
    this.#keyringQueries.delete(key);
    pending.resolve(pending.tally.result());
  }

  #keyringClosed(output: SerfOutput & { type: "queryClosed" }): void {
    const key = `${output.lamportTime}:${output.id}`;
    const pending = this.#keyringQueries.get(key);
    if (pending === undefined) return;
    this.#keyringQueries.delete(key);
    pending.resolve(pending.tally.result());
  }

  #serfConfig(): SerfConfig {
    return this.#options.serfConfig ?? defaultSerfConfig();
  }

  #memberEvent(output: SerfOutput & { type: "memberEvent" }): void {
    const { event, member } = output;
    if (member.name === this.name) return;
    if (event === "reap") {
      this.#peerCoordinates.delete(member.name);
      this.#vivaldi.forgetNode(member.name);
    }
    const where = `${bytesToIp(member.address)}:${member.port}`;
    this.#options.log.info(`serf: member "${member.name}" (${where}): ${event}`);
  }

  #answerQuery(query: { handle: number; name: string; payload: Uint8Array | undefined }): void {
    const answer = this.#options.query?.(query.name, query.payload);
    if (answer === undefined) return;
    try {
      this.#serf.respond(query.handle, answer, this.#now());
    } catch (error) {
      this.#badInput.log("query", `serf: Cannot respond to query "${query.name}": ${error}`);
    }
  }

  #reconnect(name: string, to: SwimAddress): void {
    if (this.#reconnecting.has(name)) return;
    if (this.#reconnecting.size >= reconnectsInFlightMax) {
      this.#stats.reconnectsSkipped += 1;
      return;
    }
    this.#reconnecting.add(name);
    const address = { host: bytesToIp(to.address), port: to.port };
    this.#options.log.debug(`serf: reconnecting to "${name}" at ${address.host}:${address.port}`);
    void this.#transport.join([address]).finally(() => this.#reconnecting.delete(name));
  }

  #rejoin(aliveNodes: Map<string, string>): void {
    const addresses: Address[] = [];
    for (const [name, text] of aliveNodes) {
      if (name === this.name) continue;
      const parsed = parseIpv4Address(text);
      if (parsed !== undefined) {
        addresses.push({ host: bytesToIp(parsed.address), port: parsed.port });
      }
    }
    if (addresses.length === 0) return;
    this.#options.log.info(`serf: rejoining ${addresses.length} members from the snapshot`);
    void this.join(addresses).then(({ joined }) => {
      if (joined === 0) this.#options.log.warn("serf: Cannot rejoin from the snapshot: no answer");
    });
  }

  // ---- Vivaldi ----

  #pingComplete(name: string, rttMs: number, payload: Uint8Array | undefined): void {
    let other: Coordinate | undefined;
    try {
      other = decodePingPayload(payload);
    } catch (error) {
      this.#stats.coordinatesRejected += 1;
      this.#badInput.log("coordinate", `serf: Cannot read coordinate from "${name}": ${error}`);
      return;
    }
    // Serf ignores acks without a coordinate (memberlist peers that are not Serf).
    if (other === undefined) return;
    const result = this.#vivaldi.update(name, other, rttMs);
    if (result.type === "rejected") {
      this.#stats.coordinatesRejected += 1;
      this.#badInput.log(
        "coordinate",
        `serf: Cannot use coordinate of "${name}": ${result.reason}`,
      );
      return;
    }
    this.#peerCoordinates.delete(name);
    this.#peerCoordinates.set(name, other);
    if (this.#peerCoordinates.size > peerCoordinatesMax) {
      const oldest = this.#peerCoordinates.keys().next().value;
      if (oldest !== undefined) this.#peerCoordinates.delete(oldest);
    }
  }

  // ---- Snapshot (Serf's Snapshotter: append lines, compact past a size) ----

  #record(output: SerfOutput): void {
    const recorder = this.#recorder;
    if (recorder === undefined) return;
    const lines = recorder.observe(output, this.#serf.clocks().member);
    if (lines.length === 0) return;
    if (this.#snapshotLines.length + lines.length > snapshotPendingLinesMax) {
      this.#stats.snapshotLinesDropped += lines.length;
      return;
    }
    this.#snapshotLines.push(...lines);
    if (!this.#snapshotWriting) void this.#flushSnapshot();
  }

  #snapshotName(): string {
    return this.#options.snapshotFileName ?? snapshotFileName;
  }

  async #flushSnapshot(): Promise<void> {
    const files = this.#options.snapshotFiles;
    if (files === undefined || this.#snapshotWriting) return;
    this.#snapshotWriting = true;
    try {
      while (this.#snapshotLines.length > 0) {
        const text = this.#snapshotLines.splice(0).join("");
        const bytes = new TextEncoder().encode(text);
        if (this.#snapshotBytes + bytes.length > snapshotBytesMax) {
          const compacted = encodeSnapshotText(this.#recorder!, text);
          await files.replace(this.#snapshotName(), new TextEncoder().encode(compacted));
          this.#snapshotBytes = compacted.length;
        } else {
          await files.append(this.#snapshotName(), bytes, { sync: false });
          this.#snapshotBytes += bytes.length;
        }
      }
    } catch (error) {
      this.#stats.snapshotLinesDropped += 1;
      this.#badInput.log("snapshot", `serf: Cannot write the snapshot: ${error}`);
    } finally {
      this.#snapshotWriting = false;
    }
  }
}

/**
 * Applies one keyring operation as memberlist's keyring does (`AddKey`, `UseKey`, `RemoveKey`,
 * `GetKeys`): refusing to use a key not installed or to remove the primary key.
 *
 * @param keyring the pool's keyring; `undefined` (plaintext gossip) answers Serf's
 *   "No keyring to modify"
 */
export function applyKeyringOperation(
  keyring: Keyring | undefined,
  operation: KeyringOperation,
  key: Uint8Array,
): KeyringResult {
  const failed = (message: string) => ({ ok: false, message, keys: [], primaryKey: undefined });
  if (keyring === undefined) return failed(noKeyringMessage);
  try {
    if (operation === "install") keyring.install(key);
    else if (operation === "use") keyring.use(key);
    else if (operation === "remove") keyring.remove(key);
    else return { ok: true, message: "", keys: [...keyring.keys], primaryKey: keyring.primaryKey };
  } catch (error) {
    return failed((error as Error).message);
  }
  return { ok: true, message: "", keys: [], primaryKey: undefined };
}

/** The compacted state, keeping a trailing `leave` so a left agent does not rejoin. */
function encodeSnapshotText(recorder: SnapshotRecorder, appended: string): string {
  const state = recorder.snapshot();
  const lines = [...state.aliveNodes].map(([name, address]) => `alive: ${name} ${address}\n`);
  lines.push(`clock: ${state.clock}\n`, `event-clock: ${state.eventClock}\n`);
  lines.push(`query-clock: ${state.queryClock}\n`);
  if (appended.endsWith("leave\n")) lines.push("leave\n");
  return lines.join("");
}

async function readSnapshot(
  files: FileStore | undefined,
  name: string,
  log: GossipLog,
): Promise<ReturnType<typeof decodeSnapshot> | undefined> {
  if (files === undefined) return undefined;
  const bytes = await files.read(name);
  if (bytes === undefined) return undefined;
  const snapshot = decodeSnapshot(new TextDecoder().decode(bytes));
  if (snapshot.skippedLines > 0) {
    log.warn(`serf: Cannot read ${snapshot.skippedLines} lines of the snapshot: skipped`);
  }
  return snapshot;
}

/**
 * Turns memberlist's news about `member` into Serf's (memberlist `aliveNode` / `deadNode`):
 * the first alive (or suspect) sighting is a join, an alive with other meta or address an
 * update, dead or left a leave; suspicion alone is nothing.
 */
export function memberlistEventOf(
  reported: Map<string, Reported>,
  member: MemberSnapshot,
): MemberlistEvent | undefined {
  const known = reported.get(member.name);
  const node = {
    name: member.name,
    address: member.address,
    port: member.port,
    meta: member.meta,
    versions: member.versions,
  };
  if (member.state === "dead" || member.state === "left") {
    if (known === undefined) return undefined;
    reported.delete(member.name);
    return { type: "memberLeft", name: member.name };
  }
  const now = { meta: member.meta, address: member.address, port: member.port };
  reported.set(member.name, now);
  if (known === undefined) return { type: "memberJoined", node };
  const same = known.port === now.port && sameBytes(known.meta, now.meta) &&
    sameBytes(known.address, now.address);
  return same ? undefined : { type: "memberUpdated", node };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}
