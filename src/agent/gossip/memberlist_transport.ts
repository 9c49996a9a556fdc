/**
 * The memberlist transport shell: carries the SWIM core's outputs (`src/core/swim`) to the
 * Runtime's UDP and TCP sockets and feeds what arrives back in, byte-compatible with HashiCorp
 * memberlist 0.2.2 (gossip-wire.md §1, §5, §7, §8). It owns no protocol rule: framing, codecs
 * and the encryption envelope are `src/core/wire`'s, membership is `Swim`'s; here live sockets,
 * timers, WebCrypto, bounds and counters.
 *
 * Receive path (UDP): size check → label check → decrypt (keyring) → CRC → decompress →
 * compound → `decodeMessage` → `Swim.handle`. Send path: `encodeMessage` → compound →
 * compress when smaller → CRC for members speaking protocol 5 → encrypt → one datagram.
 * TCP: one exchange per connection (push/pull, ping, user message), compressed and encrypted as
 * memberlist does, read with a bounded buffer and a deadline.
 *
 * @module
 */

import type { Address, PacketSocket, Runtime, Stream, StreamListener } from "../../runtime.ts";
import { SeededRandom } from "../../core/random.ts";
import {
  addCrc,
  compressMessage,
  concatBytes,
  decodeMessage,
  encodeCompounds,
  encodeMessage,
  encodePushPull,
  encodeStreamEncryptionHeader,
  encodeUserStream,
  encryptedLength,
  encryptionOverheadBytes,
  encryptionVersionMax,
  Keyring,
  type MemberlistMessage,
  MessageType,
  removeCrc,
  removeLabel,
  type StreamMessage,
  unwrapPacket,
} from "../../core/wire/mod.ts";
import {
  defaultLanConfig,
  type MemberSnapshot,
  type MemberState,
  Swim,
  type SwimAddress,
  type SwimConfig,
  type SwimInput,
  type SwimOutput,
  type SwimStats,
} from "../../core/swim/mod.ts";
import { AesGcm } from "./_aes_gcm.ts";
import { bytesToIp, ipToBytes } from "./_ip.ts";
import { RateLimitedLog } from "./_rate_limited_log.ts";
import { readOpenedStream, type StreamFrame, StreamReader } from "./_stream_reader.ts";

/** Bytes of one received datagram accepted (memberlist's 65536-byte read buffer). */
export const packetReceiveBytesMax = 65_536;
/** Bytes a compressed packet may inflate to. */
export const packetDecompressedBytesMax = 1024 * 1024;
/** Bytes of one TCP exchange kept while reading (a push/pull of ~40,000 members). */
export const streamBytesMax = 4 * 1024 * 1024;
/**
 * Incoming TCP exchanges served at once (memberlist's `maxPushPullRequests`): room for 127
 * members joining through this one at the same moment. Past it a connection is answered with
 * an error, as memberlist does, closed and counted.
 */
export const incomingStreamsMax = 128;
/** Bytes all incoming exchanges hold together while being read; the one crossing it fails. */
export const incomingStreamBytesMax = 64 * 1024 * 1024;
/** Packets being encrypted or decrypted at once; more are dropped and counted. */
export const cryptoInFlightMax = 256;
/** Joins waiting for their push/pull at once. */
export const pendingJoinsMax = 256;
/** Tries to find a port free for both UDP and TCP when binding port 0. */
export const bindAttemptsMax = 10;
/** The least time between two log lines about one kind of bad input. */
export const badInputLogIntervalMs = 10_000;

/** Where the transport logs. */
export interface GossipLog {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

/** Hooks for the layer above memberlist (Serf); every one is optional. */
export interface MemberlistDelegate {
  /** A user message (`0x08` + Serf message) arrived by UDP or TCP. */
  userMessage?(payload: Uint8Array): void;
  /** A push/pull brought the remote's user state (Serf's `0x02` message). */
  remoteState?(userState: Uint8Array, join: boolean): void;
  /** Our user state for an outgoing or answered push/pull. */
  userState?(join: boolean): Uint8Array;
  /** The payload of our acks to direct pings (Serf's coordinate). */
  ackPayload?(): Uint8Array | undefined;
  /** A direct probe was acked: the round trip and the ack's payload. */
  pingComplete?(name: string, rttMs: number, payload: Uint8Array | undefined): void;
  /** A member appeared or changed state, address or meta. */
  memberChanged?(member: MemberSnapshot, previous: MemberState | undefined): void;
  /** The core forgot a member (dead or left for longer than gossipToTheDeadTimeMs). */
  memberRemoved?(name: string): void;
  /** Two addresses claim `name` (memberlist `NotifyConflict`); logged either way. */
  conflict?(name: string, known: SwimAddress, claimed: SwimAddress): void;
}

/** How to start a {@link MemberlistTransport}. */
export interface MemberlistTransportOptions {
  /** This member's unique name. */
  name: string;
  /** Where to bind UDP and TCP; port 0 picks one port free for both. */
  bind: Address;
  /** The IP literal others reach us at. @default {bind.host} */
  advertiseHost?: string;
  /** Our metadata (Serf tags, `encodeTags`), at most 512 bytes. */
  meta?: Uint8Array;
  /** Our 6-byte `Vsn`. @default {the core's: 1..5 speaking 2, delegate 2..5 speaking 5} */
  versions?: Uint8Array;
  /** SWIM timings and bounds. @default {defaultLanConfig()} */
  config?: SwimConfig;
  /** Encryption keys, primary first (16, 24 or 32 bytes each); none means plaintext. */
  keys?: readonly Uint8Array[];
  /** Compress packets (when smaller) and streams, as memberlist's `EnableCompression`. @default {true} */
  compression?: boolean;
  /** Where to log. */
  log: GossipLog;
  /** The layer above. */
  delegate?: MemberlistDelegate;
}

/** Why a received packet or stream was dropped. */
export type DropReason =
  | "size"
  | "label"
  | "decrypt"
  | "crc"
  | "decode"
  | "truncated"
  | "busy"
  | "stream"
  | "core";

/** Counters of the transport's traffic and of what it dropped. */
export interface TransportStats {
  /** Datagrams received. */
  packetsReceived: number;
  /** Datagrams sent. */
  packetsSent: number;
  /** Datagrams not sent: too many waiting for encryption, or a failed seal. */
  packetsNotSent: number;
  /** Incoming TCP connections served. */
  streamsAccepted: number;
  /** Incoming TCP connections closed at once: too many open. */
  streamsRefused: number;
  /** Outgoing TCP exchanges started. */
  streamsDialed: number;
  /** Outgoing TCP exchanges that failed (dial, deadline, error reply, bad bytes). */
  streamsFailed: number;
  /** User messages dropped because no delegate takes them. */
  userMessagesIgnored: number;
  /** Bad input dropped, by reason. */
  dropped: Record<DropReason, number>;
}

interface IncomingStream {
  stream: Stream;
  replied: boolean;
}

/**
 * One memberlist pool on one UDP+TCP port: the SWIM core, its sockets and its timer.
 *
 * @example
 * ```ts
 * const transport = await MemberlistTransport.start(runtime, {
 *   name: "node-1",
 *   bind: { host: "127.0.0.2", port: 8301 },
 *   log: console,
 * });
 * await transport.join([{ host: "127.0.0.3", port: 8301 }]);
 * transport.members(); // snapshots from the core
 * await transport.leave(3_000);
 * await transport.close();
 * ```
 */
export class MemberlistTransport {
  readonly #runtime: Runtime;
  readonly #log: GossipLog;
  readonly #badInput: RateLimitedLog;
  readonly #delegate: MemberlistDelegate;
  readonly #compression: boolean;
  readonly #aes: AesGcm | undefined;
  readonly #packets: PacketSocket;
  readonly #listener: StreamListener;
  readonly #swim: Swim;
  readonly #address: Address;
  readonly #tcpTimeoutMs: number;
  readonly #incoming = new Map<number, IncomingStream>();
  readonly #outgoing = new Set<Stream>();
  readonly #joins = new Map<number, (ok: boolean, reason: string | undefined) => void>();
  readonly #leaveWaiters: Array<() => void> = [];
  readonly #sealing = new Set<Promise<void>>();
  readonly #stats: TransportStats = {
    packetsReceived: 0,
    packetsSent: 0,
    packetsNotSent: 0,
    streamsAccepted: 0,
    streamsRefused: 0,
    streamsDialed: 0,
    streamsFailed: 0,
    userMessagesIgnored: 0,
    dropped: {
      size: 0,
      label: 0,
      decrypt: 0,
      crc: 0,
      decode: 0,
      truncated: 0,
      busy: 0,
      stream: 0,
      core: 0,
    },
  };
  #cryptoInFlight = 0;
  #refusing = 0;
  #incomingBytes = 0;
  #nextStreamId = 1;
  #timer: { cancel(): void } | undefined;
  #timerAtMs = Infinity;
  #lastNowMs = 0;
  #closed = false;

  private constructor(
    runtime: Runtime,
    options: MemberlistTransportOptions,
    sockets: { packets: PacketSocket; listener: StreamListener; accept: (s: Stream) => void },
  ) {
    this.#runtime = runtime;
    this.#log = options.log;
    this.#delegate = options.delegate ?? {};
    this.#compression = options.compression ?? true;
    this.#packets = sockets.packets;
    this.#listener = sockets.listener;
    this.#address = sockets.packets.address;
    this.#badInput = new RateLimitedLog(
      (line) => this.#log.warn(line),
      () => runtime.clock.monotonicMs(),
      badInputLogIntervalMs,
    );
    const keys = options.keys ?? [];
    this.#aes = keys.length === 0
      ? undefined
      : new AesGcm(new Keyring(keys), (bytes) => runtime.randomBytes(bytes));
    const config = { ...(options.config ?? defaultLanConfig()) };
    // The core fills packets to packetBytesMax minus what encryption will add (memberlist's
    // UDPBufferSize minus encryptOverhead).
    if (this.#aes !== undefined) {
      config.packetOverheadBytes = encryptionOverheadBytes(encryptionVersionMax);
    }
    this.#tcpTimeoutMs = config.tcpTimeoutMs;
    const seed = new Uint32Array(runtime.randomBytes(new Uint8Array(4)).buffer)[0];
    const delegate = this.#delegate;
    this.#swim = new Swim({
      name: options.name,
      address: {
        address: ipToBytes(options.advertiseHost ?? sockets.packets.address.host),
        port: sockets.packets.address.port,
      },
      random: new SeededRandom(seed),
      config,
      meta: options.meta,
      versions: options.versions,
      userState: delegate.userState === undefined ? undefined : (join) => delegate.userState!(join),
      ackPayload: delegate.ackPayload === undefined ? undefined : () => delegate.ackPayload!(),
    }, this.#now());
    sockets.packets.onPacket((bytes, from) => this.#guard(() => this.#onPacket(bytes, from)));
    sockets.accept = (stream) => this.#guard(() => this.#accept(stream));
  }

  /**
   * Binds UDP and TCP on one port and starts the SWIM core and its timer.
   *
   * @param runtime the runtime's sockets, timers, clock and random bytes
   * @param options name, bind address, advertise address, meta, keys, config, delegate
   * @returns the running transport
   * @throws Error "Cannot bind gossip ..." when the port is taken
   */
  static async start(
    runtime: Runtime,
    options: MemberlistTransportOptions,
  ): Promise<MemberlistTransport> {
    // Streams accepted before the constructor wires the real handler are refused.
    const sockets = {
      accept: (stream: Stream) => stream.destroy(),
    } as { packets: PacketSocket; listener: StreamListener; accept: (s: Stream) => void };
    const bound = await bindBoth(runtime, options.bind, (stream) => sockets.accept(stream));
    sockets.packets = bound.packets;
    sockets.listener = bound.listener;
    const transport = new MemberlistTransport(runtime, options, sockets);
    transport.#pump();
    return transport;
  }

  /** The bound UDP and TCP address (port 0 resolved). */
  get address(): Address {
    return this.#address;
  }

  /**
   * The encryption keyring, `undefined` when gossip is plaintext. Changes to it (Serf's
   * keyring queries) apply to the next packet sealed or opened.
   */
  get keyring(): Keyring | undefined {
    return this.#aes?.keyring;
  }

  /** This member's name. */
  get name(): string {
    return this.#swim.name;
  }

  /** Every member the core knows, self included. */
  members(): MemberSnapshot[] {
    return this.#swim.members();
  }

  /** Lifeguard's local health score (0 is healthy). */
  get healthScore(): number {
    return this.#swim.healthScore;
  }

  /** Counters of this transport and of its core. */
  stats(): TransportStats & { swim: SwimStats } {
    return { ...this.#stats, dropped: { ...this.#stats.dropped }, swim: this.#swim.stats() };
  }

  /**
   * Joins through each address with a push/pull (memberlist `Join`).
   *
   * @param addresses gossip addresses (IP literal and port) of members to contact
   * @returns how many answered, and why the others did not
   */
  join(addresses: readonly Address[]): Promise<{ joined: number; errors: string[] }> {
    if (this.#closed) return Promise.resolve({ joined: 0, errors: ["the transport is closed"] });
    const errors: string[] = [];
    const targets: SwimAddress[] = [];
    for (const address of addresses.slice(0, pendingJoinsMax)) {
      try {
        targets.push({ address: ipToBytes(address.host), port: address.port });
      } catch (error) {
        errors.push(errorText(error));
      }
    }
    if (targets.length === 0 || this.#joins.size + targets.length > pendingJoinsMax) {
      if (targets.length > 0) errors.push("too many joins pending");
      return Promise.resolve({ joined: 0, errors });
    }
    let joined = 0;
    let waiting = targets.length;
    return new Promise((resolve) => {
      const requestIds = this.#swim.join(targets, this.#now());
      for (const [i, requestId] of requestIds.entries()) {
        this.#joins.set(requestId, (ok, reason) => {
          if (ok) joined += 1;
          else errors.push(`${formatSwimAddress(targets[i])}: ${reason ?? "failed"}`);
          waiting -= 1;
          if (waiting === 0) resolve({ joined, errors });
        });
      }
      this.#pump();
    });
  }

  /** Publishes new metadata (tags) with a higher incarnation. */
  setMeta(meta: Uint8Array): void {
    if (this.#closed) return;
    this.#swim.setMeta(meta, this.#now());
    this.#pump();
  }

  /** Queues a user message (a Serf message) to piggyback on gossip. */
  broadcastUser(payload: Uint8Array): void {
    if (this.#closed) return;
    this.#swim.broadcastUser(payload);
  }

  /**
   * Sends one user message (`[0x08]` + a Serf message) in a datagram of its own, as
   * memberlist's `SendToAddress` (Serf's query acks, responses and relays).
   *
   * @param to the destination's raw address and port
   * @param node the destination's name when known (for the CRC decision)
   * @param payload the Serf message, without the `0x08` byte
   */
  sendUser(to: SwimAddress, node: string | undefined, payload: Uint8Array): void {
    if (this.#closed) return;
    this.#sendPacket(to, node, [{ type: "user", payload }]);
  }

  /**
   * Leaves gracefully: broadcasts our own death with From = us, and waits until it has been
   * sent enough times, or `timeoutMs`, whichever comes first.
   *
   * @returns true when the broadcast went out in time
   */
  async leave(timeoutMs: number): Promise<boolean> {
    if (this.#closed) return false;
    let timer: { cancel(): void } | undefined;
    const done = new Promise<boolean>((resolve) => {
      this.#leaveWaiters.push(() => resolve(true));
      timer = this.#runtime.timers.after(timeoutMs, () => resolve(false), { keepAlive: true });
    });
    this.#swim.leave(this.#now());
    this.#pump();
    const sent = await done;
    timer?.cancel();
    // Packets still being encrypted leave before the sockets close.
    await Promise.allSettled([...this.#sealing]);
    return sent;
  }

  /** Closes the sockets and every open stream, and stops the timer. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    for (const { stream } of this.#incoming.values()) stream.destroy();
    for (const stream of this.#outgoing) stream.destroy();
    this.#incoming.clear();
    this.#outgoing.clear();
    for (const finish of this.#joins.values()) finish(false, "the transport closed");
    this.#joins.clear();
    await Promise.allSettled([this.#packets.close(), this.#listener.close()]);
  }

  // ---- Core driving ----

  #now(): number {
    this.#lastNowMs = Math.max(this.#lastNowMs, this.#runtime.clock.monotonicMs());
    return this.#lastNowMs;
  }

  /** Runs `work`; nothing a peer sends may throw out of a socket callback. */
  #guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.#drop("core", `Cannot handle gossip input: ${errorText(error)}`);
    }
  }

  #handle(input: SwimInput): void {
    if (this.#closed) return;
    this.#guard(() => {
      this.#swim.handle(input, this.#now());
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#closed) return;
    for (let output = this.#swim.poll(); output !== undefined; output = this.#swim.poll()) {
      this.#carryOut(output);
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    const deadlineMs = this.#swim.nextDeadlineMs();
    if (this.#timer !== undefined && this.#timerAtMs <= deadlineMs) return;
    this.#timer?.cancel();
    this.#timerAtMs = deadlineMs;
    // At least 1 ms, rounded up, so a timer firing a hair early does not spin.
    const delayMs = Math.max(1, Math.ceil(deadlineMs - this.#now()));
    this.#timer = this.#runtime.timers.after(delayMs, () => {
      this.#timer = undefined;
      this.#timerAtMs = Infinity;
      if (this.#closed) return;
      this.#guard(() => {
        this.#swim.tick(this.#now());
        this.#pump();
      });
    });
  }

  #carryOut(output: SwimOutput): void {
    switch (output.type) {
      case "sendPacket":
        return this.#sendPacket(output.to, output.node, output.messages);
      case "sendStream":
        return void this.#exchange(
          output.requestId,
          output.to,
          output.message,
          output.deadlineAtMs,
        );
      case "replyStream":
        return this.#reply(output.streamId, output.message);
      case "memberChanged":
        return this.#memberChanged(output);
      case "memberRemoved":
        return this.#delegate.memberRemoved?.(output.name);
      case "userMessage":
        if (this.#delegate.userMessage === undefined) this.#stats.userMessagesIgnored += 1;
        else this.#delegate.userMessage(output.payload);
        return;
      case "pingComplete":
        return this.#delegate.pingComplete?.(output.name, output.rttMs, output.payload);
      case "remoteState":
        return this.#delegate.remoteState?.(output.userState, output.join);
      case "conflict":
        this.#badInput.log(
          `conflict:${output.name}`,
          `gossip: member "${output.name}" at ${formatSwimAddress(output.claimed)} conflicts ` +
            `with the known one at ${formatSwimAddress(output.known)}`,
        );
        return this.#delegate.conflict?.(output.name, output.known, output.claimed);
      case "joinFinished": {
        const finish = this.#joins.get(output.requestId);
        this.#joins.delete(output.requestId);
        return finish?.(output.ok, output.reason);
      }
      case "leaveBroadcastDone":
        for (const wake of this.#leaveWaiters.splice(0)) wake();
        return;
    }
  }

  #memberChanged(output: SwimOutput & { type: "memberChanged" }): void {
    const { type: _type, previous, ...member } = output;
    if (member.name !== this.#swim.name && member.state !== previous) {
      const where = `${bytesToIp(member.address)}:${member.port}`;
      const line = `gossip: member "${member.name}" (${where}) is ${member.state}`;
      // As memberlist: a member coming alive is routine (Serf logs the join above us); a
      // suspicion, a death or a leave is news.
      if (member.state === "alive") this.#log.debug(line);
      else this.#log.info(line);
    }
    this.#delegate.memberChanged?.(member, previous);
  }

  #drop(reason: DropReason, message: string): void {
    this.#stats.dropped[reason] += 1;
    this.#badInput.log(reason, `gossip: ${message}`);
  }

  // ---- UDP ----

  #onPacket(bytes: Uint8Array, from: Address): void {
    if (this.#closed) return;
    this.#stats.packetsReceived += 1;
    const where = formatAddress(from);
    if (bytes.length === 0 || bytes.length > packetReceiveBytesMax) {
      return this.#drop("size", `Cannot read packet from ${where}: ${bytes.length} bytes`);
    }
    let source: SwimAddress;
    let body: Uint8Array;
    try {
      source = { address: ipToBytes(from.host), port: from.port };
      const labelled = removeLabel(bytes);
      // memberlist 0.2.2 (the serf agent) sends no label, and we set none: drop labelled ones.
      if (labelled.label.length > 0) {
        return this.#drop("label", `Cannot read packet from ${where}: it carries a label`);
      }
      body = labelled.rest;
    } catch (error) {
      return this.#drop("label", `Cannot read packet from ${where}: ${errorText(error)}`);
    }
    const aes = this.#aes;
    if (aes === undefined) return this.#ingest(body, source, where);
    if (this.#cryptoInFlight >= cryptoInFlightMax) {
      return this.#drop("busy", `Cannot decrypt packet from ${where}: too many in flight`);
    }
    this.#cryptoInFlight += 1;
    aes.open(body.slice(), new Uint8Array(0)).then(
      (plaintext) => this.#guard(() => this.#ingest(plaintext, source, where)),
      (error) => this.#drop("decrypt", `Cannot decrypt packet from ${where}: ${errorText(error)}`),
    ).finally(() => this.#cryptoInFlight -= 1);
  }

  #ingest(packet: Uint8Array, from: SwimAddress, where: string): void {
    if (this.#closed || packet.length === 0) return;
    let inner = packet;
    if (packet[0] === MessageType.hasCrc) {
      try {
        inner = removeCrc(packet);
      } catch (error) {
        return this.#drop("crc", `Cannot read packet from ${where}: ${errorText(error)}`);
      }
    }
    let parts: Uint8Array[];
    try {
      const unwrapped = unwrapPacket(inner, { decompressedBytesMax: packetDecompressedBytesMax });
      parts = unwrapped.parts;
      if (unwrapped.truncatedPartCount > 0) {
        this.#drop("truncated", `Cannot read all of a compound from ${where}: truncated`);
      }
    } catch (error) {
      return this.#drop("decode", `Cannot read packet from ${where}: ${errorText(error)}`);
    }
    const messages: MemberlistMessage[] = [];
    for (const part of parts) {
      try {
        messages.push(decodeMessage(part));
      } catch (error) {
        this.#drop("decode", `Cannot decode message from ${where}: ${errorText(error)}`);
      }
    }
    if (messages.length > 0) this.#handle({ type: "packet", from, messages });
  }

  #sendPacket(to: SwimAddress, node: string | undefined, messages: MemberlistMessage[]): void {
    let packets: Uint8Array[];
    try {
      const parts = messages.map(encodeMessage);
      packets = parts.length === 1 ? parts : encodeCompounds(parts);
    } catch (error) {
      this.#stats.packetsNotSent += 1;
      this.#log.warn(`gossip: Cannot encode packet: ${errorText(error)}`);
      return;
    }
    // memberlist adds the CRC only when it knows the member and it speaks protocol 5.
    const versions = node === undefined ? undefined : this.#swim.member(node)?.versions;
    const crc = versions !== undefined && (versions[1] ?? 0) >= 5;
    const address = { host: bytesToIp(to.address), port: to.port };
    for (let packet of packets) {
      if (this.#compression) {
        const compressed = compressMessage(packet);
        if (compressed.length < packet.length) packet = compressed;
      }
      if (crc) packet = addCrc(packet);
      this.#transmit(packet, address);
    }
  }

  #transmit(packet: Uint8Array, to: Address): void {
    const aes = this.#aes;
    if (aes === undefined) {
      this.#packets.send(packet, to);
      this.#stats.packetsSent += 1;
      return;
    }
    if (this.#cryptoInFlight >= cryptoInFlightMax) {
      this.#stats.packetsNotSent += 1;
      return;
    }
    this.#cryptoInFlight += 1;
    const sealing: Promise<void> = aes.seal(packet, new Uint8Array(0)).then(
      (sealed) => {
        if (this.#closed) return;
        this.#packets.send(sealed, to);
        this.#stats.packetsSent += 1;
      },
      () => void (this.#stats.packetsNotSent += 1),
    ).finally(() => {
      this.#cryptoInFlight -= 1;
      this.#sealing.delete(sealing);
    });
    this.#sealing.add(sealing);
  }

  // ---- TCP ----

  #accept(stream: Stream): void {
    if (this.#closed) return stream.destroy();
    if (this.#incoming.size >= incomingStreamsMax) {
      return this.#refuse(stream, `${incomingStreamsMax} exchanges open; retry later`);
    }
    this.#serve(stream);
  }

  /**
   * Answers a connection we cannot serve with an error, as memberlist's `handleConn` does past
   * `maxPushPullRequests`, so the peer learns why (a reset would read as a network fault).
   * Its request is read and discarded; at most `incomingStreamsMax` refusals linger at once.
   */
  #refuse(stream: Stream, reason: string): void {
    this.#stats.streamsRefused += 1;
    this.#badInput.log(
      "refused",
      `gossip: Cannot serve stream from ${formatAddress(stream.remote)}: ${reason}`,
    );
    if (this.#refusing >= incomingStreamsMax) return stream.destroy();
    this.#refusing += 1;
    stream.onClose(() => this.#refusing -= 1);
    stream.onData(() => {});
    this.#encodeStream({ type: "err", error: `Cannot serve stream: ${reason}` }).then(
      (bytes) => {
        stream.write(bytes);
        this.#closeSoon(stream);
      },
      () => stream.destroy(),
    );
  }

  #serve(stream: Stream): void {
    this.#stats.streamsAccepted += 1;
    const streamId = this.#nextStreamId++;
    const entry: IncomingStream = { stream, replied: false };
    this.#incoming.set(streamId, entry);
    const where = formatAddress(stream.remote);
    const reader = new StreamReader({
      bytesMax: streamBytesMax,
      encrypted: this.#aes !== undefined,
    });
    const timeoutMs = this.#tcpTimeoutMs;
    const timer = this.#runtime.timers.after(timeoutMs, () => {
      this.#drop("stream", `Cannot read stream from ${where}: no whole message in ${timeoutMs} ms`);
      finish();
    });
    const finish = () => {
      timer.cancel();
      stopReading();
      this.#incoming.delete(streamId);
      stream.destroy();
    };
    stream.onClose(() => {
      timer.cancel();
      stopReading();
      this.#incoming.delete(streamId);
    });
    const fail = (error: unknown) => {
      this.#drop("stream", `Cannot read stream from ${where}: ${errorText(error)}`);
      // Tell the peer why, as memberlist's handleConn answers with an errResp.
      entry.replied = true;
      void this.#writeReply(streamId, { type: "err", error: errorText(error) }).finally(() => {
        timer.cancel();
        this.#incoming.delete(streamId);
        this.#closeSoon(stream);
      });
    };
    const deliver = (message: StreamMessage) => {
      timer.cancel();
      this.#handle({
        type: "stream",
        streamId,
        from: { address: ipToBytes(stream.remote.host), port: stream.remote.port },
        message,
      });
      // No reply for a user message or a stray ack: the exchange is over.
      if (!entry.replied) finish();
    };
    const stopReading = this.#readFrame(stream, reader, (frame) => {
      if (frame.kind === "message") return deliver(frame.message);
      this.#aes!.open(frame.blob, frame.header).then(
        (plaintext) => deliver(readOpenedStream(plaintext)),
      ).catch(fail);
    }, fail);
  }

  /**
   * Feeds `stream`'s bytes to `reader` until it holds a whole frame, counting them against
   * `incomingStreamBytesMax` (shared by every incoming stream) until then.
   *
   * @returns a function that stops reading and gives the bytes held back; idempotent
   */
  #readFrame(
    stream: Stream,
    reader: StreamReader,
    onFrame: (frame: Exclude<StreamFrame, { kind: "more" }>) => void,
    onError: (error: unknown) => void,
  ): () => void {
    let reading = true;
    let heldBytes = 0;
    const stop = () => {
      reading = false;
      this.#incomingBytes -= heldBytes;
      heldBytes = 0;
    };
    stream.onData((chunk) => {
      if (!reading) return;
      try {
        if (this.#incomingBytes + chunk.length > incomingStreamBytesMax) {
          throw new RangeError(
            `incoming streams hold ${incomingStreamBytesMax} bytes; retry later`,
          );
        }
        heldBytes += chunk.length;
        this.#incomingBytes += chunk.length;
        const frame = reader.push(chunk);
        if (frame.kind === "more") return;
        stop();
        onFrame(frame);
      } catch (error) {
        stop();
        onError(error);
      }
    });
    return stop;
  }

  #reply(streamId: number, message: StreamMessage): void {
    const entry = this.#incoming.get(streamId);
    if (entry === undefined) return;
    entry.replied = true;
    void this.#writeReply(streamId, message).finally(() => {
      this.#incoming.delete(streamId);
      this.#closeSoon(entry.stream);
    });
  }

  /** Half-closes after the reply is flushed; a peer that never reads is cut off later. */
  #closeSoon(stream: Stream): void {
    stream.end();
    this.#runtime.timers.after(this.#tcpTimeoutMs, () => stream.destroy());
  }

  async #writeReply(streamId: number, message: StreamMessage): Promise<void> {
    const entry = this.#incoming.get(streamId);
    if (entry === undefined) return;
    try {
      entry.stream.write(await this.#encodeStream(message));
    } catch (error) {
      this.#log.warn(`gossip: Cannot answer stream: ${errorText(error)}`);
    }
  }

  /** Stream send path: encode → compress (always, when on) → encrypt with the 5-byte AAD. */
  async #encodeStream(message: StreamMessage): Promise<Uint8Array> {
    let bytes: Uint8Array;
    switch (message.type) {
      case "pushPull":
        bytes = encodePushPull(message);
        break;
      case "user":
        bytes = encodeUserStream(message.payload);
        break;
      default:
        bytes = encodeMessage(message);
    }
    if (this.#compression) bytes = compressMessage(bytes);
    const aes = this.#aes;
    if (aes === undefined) return bytes;
    const header = encodeStreamEncryptionHeader(
      encryptedLength(encryptionVersionMax, bytes.length),
    );
    return concatBytes([header, await aes.seal(bytes, header)]);
  }

  /** Runs one outgoing exchange and reports it to the core exactly once. */
  async #exchange(
    requestId: number,
    to: SwimAddress,
    message: StreamMessage,
    deadlineAtMs: number,
  ): Promise<void> {
    this.#stats.streamsDialed += 1;
    const address = { host: bytesToIp(to.address), port: to.port };
    try {
      const reply = await this.#dialAndRead(address, message, deadlineAtMs);
      if (reply.type === "err") throw new Error(`the remote answered "${reply.error}"`);
      this.#handle({ type: "streamReply", requestId, message: reply });
    } catch (error) {
      this.#stats.streamsFailed += 1;
      const reason = errorText(error);
      this.#log.debug(`gossip: stream to ${formatAddress(address)} failed: ${reason}`);
      this.#handle({ type: "streamFailed", requestId, reason });
    }
  }

  async #dialAndRead(
    to: Address,
    message: StreamMessage,
    deadlineAtMs: number,
  ): Promise<StreamMessage> {
    if (this.#closed) throw new Error("the transport is closed");
    const bytes = await this.#encodeStream(message);
    const remainingMs = () => Math.max(1, Math.ceil(deadlineAtMs - this.#now()));
    const stream = await this.#runtime.dial(to, { timeoutMs: remainingMs() });
    if (this.#closed) {
      stream.destroy();
      throw new Error("the transport is closed");
    }
    this.#outgoing.add(stream);
    const reader = new StreamReader({
      bytesMax: streamBytesMax,
      encrypted: this.#aes !== undefined,
    });
    try {
      const frame = await new Promise<
        { kind: "message"; message: StreamMessage } | {
          kind: "sealed";
          header: Uint8Array;
          blob: Uint8Array;
        }
      >((resolve, reject) => {
        const timer = this.#runtime.timers.after(remainingMs(), () => {
          reject(new Error("no reply before the deadline"));
        });
        stream.onClose((error) => {
          timer.cancel();
          reject(new Error(`closed before a reply${error ? `: ${error.message}` : ""}`));
        });
        stream.onData((chunk) => {
          try {
            const frame = reader.push(chunk);
            if (frame.kind === "more") return;
            timer.cancel();
            resolve(frame);
          } catch (error) {
            timer.cancel();
            reject(error);
          }
        });
        stream.write(bytes);
      });
      if (frame.kind === "message") return frame.message;
      return readOpenedStream(await this.#aes!.open(frame.blob, frame.header));
    } finally {
      this.#outgoing.delete(stream);
      stream.destroy();
    }
  }
}

/** Binds UDP, then TCP on the same port; with port 0, retries until one port suits both. */
async function bindBoth(
  runtime: Runtime,
  at: Address,
  accept: (stream: Stream) => void,
): Promise<{ packets: PacketSocket; listener: StreamListener }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < (at.port === 0 ? bindAttemptsMax : 1); attempt += 1) {
    let packets: PacketSocket;
    try {
      packets = await runtime.bindPackets(at);
    } catch (error) {
      throw new Error(`Cannot bind gossip UDP on ${formatAddress(at)}: ${errorText(error)}`);
    }
    try {
      const listener = await runtime.listenStreams(
        { host: at.host, port: packets.address.port },
        accept,
      );
      return { packets, listener };
    } catch (error) {
      lastError = error;
      await packets.close();
    }
  }
  throw new Error(`Cannot bind gossip TCP on ${formatAddress(at)}: ${errorText(lastError)}`);
}

function formatAddress(address: Address): string {
  return address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

function formatSwimAddress(address: SwimAddress): string {
  try {
    return formatAddress({ host: bytesToIp(address.address), port: address.port });
  } catch {
    return `(bad address):${address.port}`;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
