/**
 * The DNS server shell: UDP and TCP listeners on one port (Consul's 8600) that decode queries
 * with dns-packet, answer them with the pure {@link answerDnsQuery}, and send the reply encoded
 * by {@link encodeDnsResponse} (compressed, as Consul sends).
 * A malformed packet is dropped and counted; nothing a client sends can crash the server.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { decode, type Packet } from "dns-packet";
import type {
  Address,
  PacketSocket,
  Runtime,
  Stream,
  StreamListener,
  TimerHandle,
} from "../runtime.ts";
import { answerDnsQuery, type DnsRandom, DnsRcode, udpAnswerLimitDefault } from "./dns_answer.ts";
import type { DnsLookup } from "./dns_lookup.ts";
import { encodeDnsResponse } from "./dns_encode.ts";

/** The parts of a {@link Runtime} the DNS server uses. */
export type DnsRuntime = Pick<
  Runtime,
  "clock" | "timers" | "randomBytes" | "bindPackets" | "listenStreams"
>;

/** Where and how the DNS server listens. */
export interface DnsServerOptions {
  /** The IP literal to listen on, UDP and TCP (Consul's `client_addr`). */
  host: string;
  /** The port for both UDP and TCP; 0 picks one free for both. Consul's default is 8600. */
  port: number;
  /** Answers in a 512-byte UDP reply, capped at 8 (Consul `udp_answer_limit`). @default {3} */
  udpAnswerLimit?: number;
  /** Open TCP connections at most; more are closed at once and counted. @default {256} */
  tcpConnectionsMax?: number;
  /** A TCP connection with no query for this long is closed (miekg/dns idles at 8 s). @default {8000} */
  tcpIdleTimeoutMs?: number;
  /**
   * Bytes held per TCP connection: unread input while its replies wait for the client to read.
   * Past this the connection is closed and counted. At least two whole messages. @default {131074}
   */
  tcpBufferedBytesMax?: number;
}

/** What the DNS server has seen since it started. */
export interface DnsServerCounters {
  /** Datagrams received over UDP. */
  udpQueries: number;
  /** Length-prefixed messages received over TCP. */
  tcpQueries: number;
  /** Replies sent, over both transports. */
  responses: number;
  /** Packets dropped because they did not decode as DNS. */
  malformed: number;
  /** Packets dropped because they were responses, not queries. */
  ignored: number;
  /** Queries whose answer or encoding threw; each got SERVFAIL. */
  answerErrors: number;
  /** TCP connections accepted. */
  tcpConnections: number;
  /** TCP connections closed at once because `tcpConnectionsMax` were open. */
  tcpRejected: number;
  /** TCP connections closed for idling past `tcpIdleTimeoutMs`. */
  tcpIdleClosed: number;
  /** TCP connections closed for holding more than `tcpBufferedBytesMax`. */
  tcpOverflowClosed: number;
}

/** The default of {@link DnsServerOptions.tcpConnectionsMax}. */
export const tcpConnectionsMaxDefault = 256;
/** The default of {@link DnsServerOptions.tcpIdleTimeoutMs}. */
export const tcpIdleTimeoutMsDefault = 8_000;
/** The largest framed TCP message: a 2-byte length and up to 65,535 bytes (RFC 1035 §4.2.2). */
const tcpFrameBytesMax = 2 + 65_535;
/** Queries waiting at once for a fetching lookup; past it they are answered from what is held. */
export const dnsRefillsMax = 1_024;
/** The default of {@link DnsServerOptions.tcpBufferedBytesMax}: two whole messages. */
export const tcpBufferedBytesMaxDefault = 2 * tcpFrameBytesMax;
/** Attempts to find a port free for both UDP and TCP when asked for port 0. */
const portAttemptsMax = 8;

/**
 * A running DNS server answering from a {@link DnsLookup}, on UDP and TCP at one address.
 *
 * @example
 * ```ts
 * const server = await DnsServer.start(runtime, lookup, { host: "127.0.0.1", port: 8600 });
 * // dig @127.0.0.1 -p 8600 web.service.consul SRV
 * await server.close();
 * ```
 */
export class DnsServer {
  readonly #runtime: DnsRuntime;
  readonly #lookup: DnsLookup;
  readonly #socket: PacketSocket;
  readonly #listener: StreamListener;
  readonly #random: DnsRandom;
  readonly #udpAnswerLimit: number;
  readonly #tcpConnectionsMax: number;
  readonly #tcpIdleTimeoutMs: number;
  readonly #tcpBufferedBytesMax: number;
  readonly #sessions = new Set<TcpSession>();
  readonly #counters: DnsServerCounters = {
    udpQueries: 0,
    tcpQueries: 0,
    responses: 0,
    malformed: 0,
    ignored: 0,
    answerErrors: 0,
    tcpConnections: 0,
    tcpRejected: 0,
    tcpIdleClosed: 0,
    tcpOverflowClosed: 0,
  };
  #closed: Promise<void> | undefined;
  /** Queries waiting for their lookup to fetch (at most {@link dnsRefillsMax}). */
  #refills = 0;

  private constructor(
    runtime: DnsRuntime,
    lookup: DnsLookup,
    sockets: { socket: PacketSocket; listener: StreamListener; accepted: Stream[] },
    options: DnsServerOptions,
  ) {
    this.#runtime = runtime;
    this.#lookup = lookup;
    this.#socket = sockets.socket;
    this.#listener = sockets.listener;
    this.#random = new XorShiftRandom(runtime.randomBytes(new Uint8Array(16)));
    this.#udpAnswerLimit = options.udpAnswerLimit ?? udpAnswerLimitDefault;
    this.#tcpConnectionsMax = options.tcpConnectionsMax ?? tcpConnectionsMaxDefault;
    this.#tcpIdleTimeoutMs = options.tcpIdleTimeoutMs ?? tcpIdleTimeoutMsDefault;
    this.#tcpBufferedBytesMax = options.tcpBufferedBytesMax ?? tcpBufferedBytesMaxDefault;
    this.#socket.onPacket((bytes, from) => this.#receivePacket(bytes, from));
    for (const stream of sockets.accepted) this.#accept(stream);
  }

  /**
   * Binds UDP and TCP on `options.host`:`options.port` and starts answering.
   *
   * @param runtime the sockets, clock, timers and random bytes to use
   * @param lookup the catalog view to answer from
   * @param options address, answer limit and TCP bounds
   * @returns the running server
   */
  static async start(
    runtime: DnsRuntime,
    lookup: DnsLookup,
    options: DnsServerOptions,
  ): Promise<DnsServer> {
    validateDnsServerOptions(options);
    // Connections may arrive before the constructor runs; they wait here, then are adopted.
    const started: { server?: DnsServer } = {};
    const accepted: Stream[] = [];
    const accept = (stream: Stream) => {
      if (started.server === undefined) accepted.push(stream);
      else started.server.#accept(stream);
    };
    const sockets = await bindBoth(runtime, options, accept);
    started.server = new DnsServer(runtime, lookup, { ...sockets, accepted }, options);
    return started.server;
  }

  /** The bound address; its port serves both UDP and TCP. */
  get address(): Address {
    return this.#socket.address;
  }

  /** A snapshot of the counters. */
  get counters(): DnsServerCounters {
    return { ...this.#counters };
  }

  /** Open TCP connections. */
  get tcpConnectionsOpen(): number {
    return this.#sessions.size;
  }

  /** Stops listening, closes every open TCP connection and the UDP socket. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const session of this.#sessions) session.destroy();
      this.#sessions.clear();
      await Promise.all([this.#listener.close(), this.#socket.close()]);
    })();
    return this.#closed;
  }

  #receivePacket(bytes: Uint8Array, from: Address): void {
    if (this.#closed !== undefined) return;
    this.#counters.udpQueries++;
    const reply = this.#respond(bytes, "udp");
    if (reply instanceof Promise) {
      void reply.then((later) => {
        if (later !== undefined && this.#closed === undefined) this.#socket.send(later, from);
      });
    } else if (reply !== undefined) {
      this.#socket.send(reply, from);
    }
  }

  #accept(stream: Stream): void {
    if (this.#closed !== undefined || this.#sessions.size >= this.#tcpConnectionsMax) {
      if (this.#closed === undefined) this.#counters.tcpRejected++;
      stream.destroy();
      return;
    }
    this.#counters.tcpConnections++;
    const session = new TcpSession(stream, {
      runtime: this.#runtime,
      idleTimeoutMs: this.#tcpIdleTimeoutMs,
      bufferedBytesMax: this.#tcpBufferedBytesMax,
      respond: (message) => {
        this.#counters.tcpQueries++;
        return this.#respond(message, "tcp");
      },
      closed: (reason) => {
        this.#sessions.delete(session);
        if (reason === "idle") this.#counters.tcpIdleClosed++;
        if (reason === "overflow") this.#counters.tcpOverflowClosed++;
      },
    });
    this.#sessions.add(session);
  }

  /**
   * Decodes, answers and encodes one query; for TCP the reply carries its 2-byte length.
   * Returns `undefined` when nothing is to be sent. When the lookup fetches its data (a client
   * agent's, see {@link DnsLookup.refill}) and the answer found some missing or stale, the reply
   * comes later: once the data is fetched the query is answered again, or SERVFAIL when the
   * fetch failed (as Consul answers when its RPC to a server fails).
   */
  #respond(
    bytes: Uint8Array,
    transport: "udp" | "tcp",
  ): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    let query: Packet;
    try {
      query = decode(asBuffer(bytes));
    } catch {
      this.#counters.malformed++;
      return undefined;
    }
    const reply = this.#reply(bytes, query, transport);
    // At the bound, what the lookup wants stays queued there for the next query's refill.
    const refill = this.#refills >= dnsRefillsMax ? undefined : this.#lookup.refill?.();
    if (refill === undefined) {
      if (reply !== undefined) this.#counters.responses++;
      return reply;
    }
    this.#refills++;
    return refill.then(
      () => {
        const again = this.#reply(bytes, query, transport);
        // What this second answer found missing is fetched for the queries to come.
        void this.#lookup.refill?.()?.catch(() => {});
        return again;
      },
      () => {
        this.#counters.answerErrors++;
        return serverFailure(bytes, transport === "tcp" ? 2 : 0);
      },
    ).then((later) => {
      this.#refills--;
      if (later !== undefined) this.#counters.responses++;
      return later;
    });
  }

  /** Answers and encodes a decoded query from the lookup as it is now. */
  #reply(bytes: Uint8Array, query: Packet, transport: "udp" | "tcp"): Uint8Array | undefined {
    const counters = this.#counters;
    let reply: Uint8Array | undefined;
    try {
      const packet = answerDnsQuery(query, this.#lookup, {
        transport,
        soaSerial: Math.floor(this.#runtime.clock.wallMs() / 1_000),
        random: this.#random,
        udpAnswerLimit: this.#udpAnswerLimit,
      });
      if (packet === undefined) {
        counters.ignored++;
        return undefined;
      }
      reply = encodeDnsResponse(packet, transport === "tcp" ? 2 : 0);
    } catch {
      // A bug or a lookup failure must not take the server down: SERVFAIL, as Consul on RPC errors.
      counters.answerErrors++;
      reply = serverFailure(bytes, transport === "tcp" ? 2 : 0);
    }
    return reply;
  }
}

/** Throws a `RangeError` naming the fix when `options` cannot work. */
function validateDnsServerOptions(options: DnsServerOptions): void {
  const { port, udpAnswerLimit, tcpConnectionsMax, tcpIdleTimeoutMs, tcpBufferedBytesMax } =
    options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`Cannot start DNS server: port must be 0..65535, got ${port}`);
  }
  if (udpAnswerLimit !== undefined && !(Number.isInteger(udpAnswerLimit) && udpAnswerLimit >= 1)) {
    throw new RangeError(
      `Cannot start DNS server: udpAnswerLimit must be an integer >= 1, got ${udpAnswerLimit}`,
    );
  }
  if (tcpConnectionsMax !== undefined && !(tcpConnectionsMax >= 1)) {
    throw new RangeError(
      `Cannot start DNS server: tcpConnectionsMax must be >= 1, got ${tcpConnectionsMax}`,
    );
  }
  if (tcpIdleTimeoutMs !== undefined && !(tcpIdleTimeoutMs > 0)) {
    throw new RangeError(
      `Cannot start DNS server: tcpIdleTimeoutMs must be > 0, got ${tcpIdleTimeoutMs}`,
    );
  }
  if (tcpBufferedBytesMax !== undefined && !(tcpBufferedBytesMax >= 2 * tcpFrameBytesMax)) {
    throw new RangeError(
      `Cannot start DNS server: tcpBufferedBytesMax must be >= ${2 * tcpFrameBytesMax} ` +
        `(two whole messages), got ${tcpBufferedBytesMax}`,
    );
  }
}

/**
 * Binds UDP, then TCP on the same port. With port 0 the UDP port is picked first; if TCP cannot
 * have it, both are retried on a fresh port.
 */
async function bindBoth(
  runtime: DnsRuntime,
  options: DnsServerOptions,
  accept: (stream: Stream) => void,
): Promise<{ socket: PacketSocket; listener: StreamListener }> {
  for (let attempt = 1;; attempt++) {
    const socket = await runtime.bindPackets({ host: options.host, port: options.port });
    try {
      const listener = await runtime.listenStreams(socket.address, accept);
      return { socket, listener };
    } catch (error) {
      await socket.close();
      if (options.port !== 0 || attempt >= portAttemptsMax) throw error;
    }
  }
}

/** A header-only SERVFAIL for a query whose header we have, echoing its id, opcode and RD. */
function serverFailure(query: Uint8Array, prefixBytes: number): Uint8Array {
  const reply = new Uint8Array(prefixBytes + 12);
  if (prefixBytes === 2) reply[1] = 12;
  reply[prefixBytes] = query[0];
  reply[prefixBytes + 1] = query[1];
  // QR, the query's opcode and RD; then RCODE.
  reply[prefixBytes + 2] = 0x80 | (query[2] & 0x79);
  reply[prefixBytes + 3] = DnsRcode.serverFailure;
  return reply;
}

/** A Buffer view of `bytes` without copying: dns-packet reads with Buffer methods. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Why a TCP session ended, when the server ended it. */
type TcpCloseReason = "idle" | "overflow" | "peer";

/** What a TCP session needs from its server. */
interface TcpSessionHooks {
  runtime: DnsRuntime;
  idleTimeoutMs: number;
  bufferedBytesMax: number;
  /**
   * Answers one message (without its length prefix); returns the framed reply or nothing, or a
   * promise of them when the lookup fetches first (such replies may leave out of order, which
   * RFC 7766 §6.2.1.1 allows).
   */
  respond(message: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Called once when the session has ended. */
  closed(reason: TcpCloseReason): void;
}

/**
 * One DNS-over-TCP connection: 2-byte length-prefixed messages (RFC 1035 §4.2.2, RFC 7766),
 * answered in order. When the client stops reading, answering pauses until the stream drains,
 * and input is held up to `bufferedBytesMax`; past that, or idle too long, the connection closes.
 */
class TcpSession {
  readonly #stream: Stream;
  readonly #hooks: TcpSessionHooks;
  #buffer = new Uint8Array(512);
  #start = 0;
  #end = 0;
  #paused = false;
  #ended = false;
  #reason: TcpCloseReason = "peer";
  #lastActivityMs: number;
  #idleTimer: TimerHandle;

  constructor(stream: Stream, hooks: TcpSessionHooks) {
    this.#stream = stream;
    this.#hooks = hooks;
    this.#lastActivityMs = hooks.runtime.clock.monotonicMs();
    this.#idleTimer = hooks.runtime.timers.after(hooks.idleTimeoutMs, () => this.#checkIdle());
    stream.onClose(() => this.#finish());
    stream.onDrain(() => {
      this.#paused = false;
      this.#answer();
    });
    stream.onData((bytes) => this.#receive(bytes));
  }

  /** Closes at once, dropping queued replies. */
  destroy(): void {
    this.#stream.destroy();
    this.#finish();
  }

  #receive(bytes: Uint8Array): void {
    if (this.#ended) return;
    this.#lastActivityMs = this.#hooks.runtime.clock.monotonicMs();
    const held = this.#end - this.#start;
    if (held + bytes.length > this.#hooks.bufferedBytesMax) {
      this.#reason = "overflow";
      this.destroy();
      return;
    }
    if (this.#end + bytes.length > this.#buffer.length) this.#makeRoom(held + bytes.length);
    this.#buffer.set(bytes, this.#end);
    this.#end += bytes.length;
    if (!this.#paused) this.#answer();
  }

  /** Moves held bytes to the front, growing the buffer (up to the bound) when they need it. */
  #makeRoom(needed: number): void {
    const held = this.#buffer.subarray(this.#start, this.#end);
    if (needed > this.#buffer.length) {
      const grown = new Uint8Array(
        Math.min(this.#hooks.bufferedBytesMax, Math.max(needed, this.#buffer.length * 2)),
      );
      grown.set(held);
      this.#buffer = grown;
    } else {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    }
    this.#end -= this.#start;
    this.#start = 0;
  }

  /** Answers every whole message held, until the stream asks to wait. */
  #answer(): void {
    while (!this.#ended && !this.#paused && this.#end - this.#start >= 2) {
      const length = (this.#buffer[this.#start] << 8) | this.#buffer[this.#start + 1];
      const messageEnd = this.#start + 2 + length;
      if (messageEnd > this.#end) break;
      const message = this.#buffer.subarray(this.#start + 2, messageEnd);
      this.#start = messageEnd;
      const reply = this.#hooks.respond(message);
      if (reply instanceof Promise) {
        void reply.then((later) => {
          if (later !== undefined && !this.#ended && !this.#stream.write(later)) {
            this.#paused = true;
          }
        });
      } else if (reply !== undefined && !this.#stream.write(reply)) {
        this.#paused = true;
      }
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  #checkIdle(): void {
    if (this.#ended) return;
    const idleMs = this.#hooks.runtime.clock.monotonicMs() - this.#lastActivityMs;
    if (idleMs >= this.#hooks.idleTimeoutMs) {
      this.#reason = "idle";
      this.destroy();
      return;
    }
    // Activity since the timer was set: one timer per connection, re-armed for the remainder.
    this.#idleTimer = this.#hooks.runtime.timers.after(
      this.#hooks.idleTimeoutMs - idleMs,
      () => this.#checkIdle(),
    );
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#idleTimer.cancel();
    this.#hooks.closed(this.#reason);
  }
}

/**
 * xorshift128 (Marsaglia 2003), seeded from the runtime's random bytes: fast and plenty for
 * shuffling answers, which need spread, not secrecy.
 */
class XorShiftRandom implements DnsRandom {
  #x: number;
  #y: number;
  #z: number;
  #w: number;

  constructor(seed: Uint8Array) {
    const view = new DataView(seed.buffer, seed.byteOffset, 16);
    this.#x = view.getUint32(0) | 1; // An all-zero state would stay zero.
    this.#y = view.getUint32(4);
    this.#z = view.getUint32(8);
    this.#w = view.getUint32(12);
  }

  nextUint32(): number {
    const t = this.#x ^ (this.#x << 11);
    this.#x = this.#y;
    this.#y = this.#z;
    this.#z = this.#w;
    this.#w = (this.#w ^ (this.#w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return this.#w;
  }
}
