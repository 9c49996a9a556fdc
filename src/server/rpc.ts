/**
 * The server RPC on port 8300: TCP, length-prefixed msgpack frames (see `_rpc_frame.ts`), many
 * calls multiplexed on one connection by request id. {@link RpcTransport} listens, answers
 * requests with the handlers registered by method, and keeps one bounded pool of connections
 * per peer: dialled on demand with a timeout, redialled after a failure with exponential
 * back-off, each with a bounded write queue. Back-pressure never grows memory: a one-way
 * message (a Raft message) is dropped and counted when the queue is full, since Raft retries;
 * a call fails with an error the caller can answer.
 *
 * Methods (what `RaftServer` and cluster formation register): `raft` (one-way, a Raft
 * message; an InstallSnapshot travels chunked), `forwardPropose`, `forwardRead`,
 * `forwardMembership`, `status`, `hello`, `join`.
 *
 * @example
 * ```ts ignore
 * const rpc = await RpcTransport.listen(runtime, { host: "127.0.0.51", port: 8300 });
 * rpc.handle("status", () => ({ leader: "127.0.0.51:8300" }));
 * const status = await rpc.call("127.0.0.52:8300", "status", null);
 * await rpc.close();
 * ```
 *
 * @module
 */

import type { Address, Runtime, StreamListener } from "../runtime.ts";
import {
  RpcConnection,
  type RpcConnectionHandlers,
  type RpcConnectionLimits,
} from "./rpc_connection.ts";

/** Tuning for the server RPC; every bound is a `...Max`. */
export interface RpcConfig extends RpcConnectionLimits {
  /** Connections kept to one peer; calls go to the least loaded. @default {2} */
  connectionsPerPeerMax: number;
  /** Peers with a pool at once; past it the least recently used pool is closed. @default {64} */
  peersMax: number;
  /** Accepted connections at once; past it new ones are closed. @default {512} */
  connectionsInMax: number;
  /** Give up a dial after this long. @default {1_000} */
  dialTimeoutMs: number;
  /** First wait before redialling a peer that failed. @default {50} */
  reconnectBackoffMinMs: number;
  /** Longest wait before redialling (the back-off doubles up to it). @default {2_000} */
  reconnectBackoffMaxMs: number;
  /** A call's default deadline. @default {5_000} */
  callTimeoutMs: number;
}

/** Defaults sized for a LAN and Raft's 1 MiB AppendEntries batches. */
export function defaultRpcConfig(): RpcConfig {
  return {
    // An AppendEntries carries up to 1 MiB of entries plus one entry that may pass it alone.
    rpcFrameBytesMax: 4_194_304,
    writeQueueBytesMax: 16_777_216, // Sixteen full batches queued per connection.
    writeQueueFramesMax: 8_192, // Heartbeats are small: bound their count too.
    pendingCallsMax: 4_096, // As the server's pending reads.
    chunkBytesMax: 786_432, // 768 KiB: a snapshot chunk's frame stays under 1 MiB.
    chunkedSendsMax: 2, // One snapshot in flight per connection, one waiting.
    chunkedPayloadBytesMax: 536_870_912, // 512 MiB snapshots.
    connectionsPerPeerMax: 2, // A second connection keeps calls moving behind a big batch.
    peersMax: 64, // Servers of one datacenter, with room.
    connectionsInMax: 512,
    dialTimeoutMs: 1_000,
    reconnectBackoffMinMs: 50,
    reconnectBackoffMaxMs: 2_000,
    callTimeoutMs: 5_000,
  };
}

/** Who sent a request or message, as the handler sees it. */
export interface RpcContext {
  /** The remote end of the connection (an ephemeral port for dialled connections). */
  readonly remote: Address;
}

/** Answers one request method; a thrown `Error`'s message goes back to the caller. */
export type RpcHandler = (payload: unknown, context: RpcContext) => unknown | Promise<unknown>;

/** Takes one one-way method; `bytes` is set for a chunked payload. */
export type RpcMessageHandler = (
  payload: unknown,
  bytes: Uint8Array | undefined,
  context: RpcContext,
) => void;

/** Counters of the transport. */
export interface RpcStats {
  /** One-way messages dropped: full queue, unreachable peer, or a send over the bound. */
  droppedMessages: number;
  /** Frames that could not be read; each closed its connection. */
  protocolErrors: number;
  /** Dials that failed. */
  dialFailures: number;
  /** Accepted connections closed at once because `connectionsInMax` was reached. */
  refusedConnections: number;
}

/** Parses "ip:port" (IPv6 in brackets); throws `TypeError` naming the input. */
export function parseHostPort(text: string): Address {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port > 65_535) {
    throw new TypeError(`Cannot parse the address "${text}": expected "ip:port"`);
  }
  return { host: match[1], port };
}

/** Formats an address as "ip:port" (IPv6 in brackets). */
export function formatHostPort(address: Address): string {
  return address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/** The server RPC endpoint: a listener, handlers, and a connection pool per peer. */
export class RpcTransport {
  readonly #runtime: Runtime;
  readonly #config: RpcConfig;
  readonly #handlers = new Map<string, RpcHandler>();
  readonly #messageHandlers = new Map<string, RpcMessageHandler>();
  readonly #pools = new Map<string, PeerPool>();
  readonly #accepted = new Set<RpcConnection>();
  readonly #stats: RpcStats = {
    droppedMessages: 0,
    protocolErrors: 0,
    dialFailures: 0,
    refusedConnections: 0,
  };
  #listener: StreamListener | undefined;
  #closed = false;

  private constructor(runtime: Runtime, config: RpcConfig) {
    this.#runtime = runtime;
    this.#config = config;
  }

  /**
   * Listens on `at` and returns the transport.
   *
   * @param runtime sockets and timers
   * @param at the address to listen on (port 0 picks one)
   * @param config @default {defaultRpcConfig()}
   */
  static async listen(
    runtime: Runtime,
    at: Address,
    config: RpcConfig = defaultRpcConfig(),
  ): Promise<RpcTransport> {
    const transport = new RpcTransport(runtime, config);
    transport.#listener = await runtime.listenStreams(at, (stream) => {
      if (transport.#closed || transport.#accepted.size >= config.connectionsInMax) {
        transport.#stats.refusedConnections += 1;
        stream.destroy();
        return;
      }
      const context = { remote: stream.remote };
      const connection: RpcConnection = new RpcConnection(stream, {
        timers: runtime.timers,
        limits: config,
        handlers: transport.#connectionHandlers(context, () => {
          transport.#accepted.delete(connection);
        }),
      });
      transport.#accepted.add(connection);
    });
    return transport;
  }

  /**
   * A transport that only dials, for a client agent calling servers: it listens nowhere, so it
   * answers nothing but the replies to its own calls.
   *
   * @param runtime sockets and timers
   * @param config @default {defaultRpcConfig()}
   */
  static dialer(runtime: Runtime, config: RpcConfig = defaultRpcConfig()): RpcTransport {
    return new RpcTransport(runtime, config);
  }

  /** Where the transport listens. */
  get address(): Address {
    if (this.#listener === undefined) throw new Error("Cannot tell the address: not listening");
    return this.#listener.address;
  }

  /** Counters so far (a copy, with every pool's drops added in). */
  get stats(): RpcStats {
    let dropped = this.#stats.droppedMessages;
    for (const pool of this.#pools.values()) dropped += pool.droppedMessages;
    return { ...this.#stats, droppedMessages: dropped };
  }

  /** Answers requests for `method` with `handler` (replacing any before). */
  handle(method: string, handler: RpcHandler): void {
    this.#handlers.set(method, handler);
  }

  /** Takes one-way messages for `method` with `handler` (replacing any before). */
  onMessage(method: string, handler: RpcMessageHandler): void {
    this.#messageHandlers.set(method, handler);
  }

  /**
   * Sends a one-way message to `to` ("ip:port"). Best effort: false when it was dropped (full
   * queue, peer in back-off, transport closed); the caller's protocol retries.
   */
  send(to: string, method: string, payload: unknown): boolean {
    const pool = this.#pool(to);
    if (pool === undefined) {
      this.#stats.droppedMessages += 1;
      return false;
    }
    return pool.send(method, payload);
  }

  /** Sends a one-way message whose `bytes` may pass a frame; they travel in chunks. */
  sendChunked(to: string, method: string, header: unknown, bytes: Uint8Array): boolean {
    const pool = this.#pool(to);
    if (pool === undefined) {
      this.#stats.droppedMessages += 1;
      return false;
    }
    return pool.sendChunked(method, header, bytes);
  }

  /**
   * Calls `method` at `to` ("ip:port"), dialling if needed.
   *
   * @throws Error "Cannot call ...: ..." when the peer cannot be reached, the queue is full,
   *   the peer fails the call, or the deadline passes
   */
  call(
    to: string,
    method: string,
    payload: unknown,
    options: { timeoutMs?: number } = {},
  ): Promise<unknown> {
    const pool = this.#pool(to);
    if (pool === undefined) {
      return Promise.reject(new Error(`Cannot call "${method}" at ${to}: the RPC is closed`));
    }
    return pool.call(method, payload, options.timeoutMs ?? this.#config.callTimeoutMs);
  }

  /** Stops listening and closes every connection; calls in flight fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const pool of this.#pools.values()) pool.close();
    this.#pools.clear();
    for (const connection of this.#accepted) connection.close();
    this.#accepted.clear();
    await this.#listener?.close();
  }

  #pool(to: string): PeerPool | undefined {
    if (this.#closed) return undefined;
    let pool = this.#pools.get(to);
    if (pool !== undefined) {
      // Keep the map in use order: the first entry is the least recently used.
      this.#pools.delete(to);
      this.#pools.set(to, pool);
      return pool;
    }
    if (this.#pools.size >= this.#config.peersMax) {
      const [oldest, evicted] = this.#pools.entries().next().value!;
      this.#pools.delete(oldest);
      evicted.close();
    }
    let address: Address;
    try {
      address = parseHostPort(to);
    } catch {
      return undefined;
    }
    pool = new PeerPool(this.#runtime, this.#config, address, {
      dialFailed: () => this.#stats.dialFailures += 1,
      handlers: (context, closed) => this.#connectionHandlers(context, closed),
    });
    this.#pools.set(to, pool);
    return pool;
  }

  #connectionHandlers(context: RpcContext, closed: () => void): RpcConnectionHandlers {
    return {
      request: async (method: string, payload: unknown): Promise<unknown> => {
        const handler = this.#handlers.get(method);
        if (handler === undefined) throw new Error(`Cannot answer "${method}": no such method`);
        return await handler(payload, context);
      },
      message: (method: string, payload: unknown, bytes: Uint8Array | undefined) => {
        this.#messageHandlers.get(method)?.(payload, bytes, context);
      },
      protocolError: () => {
        this.#stats.protocolErrors += 1;
      },
      closed,
    };
  }
}

interface PoolParts {
  dialFailed(): void;
  handlers(context: RpcContext, closed: () => void): RpcConnectionHandlers;
}

/** The connections to one peer, with redial back-off. */
class PeerPool {
  readonly #runtime: Runtime;
  readonly #config: RpcConfig;
  readonly #address: Address;
  readonly #parts: PoolParts;
  readonly #connections: RpcConnection[] = [];
  #dialing: Promise<RpcConnection | undefined> | undefined;
  #backoffMs = 0;
  #retryAtMs = 0;
  #closed = false;
  droppedMessages = 0;

  constructor(
    runtime: Runtime,
    config: RpcConfig,
    address: Address,
    parts: PoolParts,
  ) {
    this.#runtime = runtime;
    this.#config = config;
    this.#address = address;
    this.#parts = parts;
  }

  send(method: string, payload: unknown): boolean {
    const connection = this.#pick();
    if (connection === undefined) {
      this.droppedMessages += 1;
      return false;
    }
    if (!connection.send(method, payload)) {
      this.droppedMessages += 1;
      return false;
    }
    return true;
  }

  sendChunked(method: string, header: unknown, bytes: Uint8Array): boolean {
    const connection = this.#pick();
    if (connection === undefined || !connection.sendChunked(method, header, bytes)) {
      this.droppedMessages += 1;
      return false;
    }
    return true;
  }

  async call(method: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    const target = formatHostPort(this.#address);
    const connection = this.#pick() ?? await this.#dial();
    if (connection === undefined) {
      throw new Error(
        `Cannot call "${method}" at ${target}: the peer is unreachable; retrying in ` +
          `${Math.max(0, Math.ceil(this.#retryAtMs - this.#runtime.clock.monotonicMs()))} ms`,
      );
    }
    return await connection.call(method, payload, timeoutMs);
  }

  close(): void {
    this.#closed = true;
    for (const connection of this.#connections.splice(0)) connection.close();
  }

  /**
   * The least loaded open connection; dials another (in the background) while none is idle
   * and the pool has room. `undefined` when none is open yet: the dial is under way.
   */
  #pick(): RpcConnection | undefined {
    let best: RpcConnection | undefined;
    for (const connection of this.#connections) {
      if (best === undefined || connection.queuedBytes < best.queuedBytes) best = connection;
    }
    const busy = best === undefined || best.queuedBytes > 0 || best.pendingCalls > 0;
    if (busy && this.#connections.length < this.#config.connectionsPerPeerMax) void this.#dial();
    return best;
  }

  #dial(): Promise<RpcConnection | undefined> {
    if (this.#dialing !== undefined) return this.#dialing;
    if (this.#closed || this.#runtime.clock.monotonicMs() < this.#retryAtMs) {
      return Promise.resolve(undefined);
    }
    this.#dialing = this.#runtime.dial(this.#address, { timeoutMs: this.#config.dialTimeoutMs })
      .then((stream) => {
        if (this.#closed) {
          stream.destroy();
          return undefined;
        }
        this.#backoffMs = 0;
        const connection: RpcConnection = new RpcConnection(stream, {
          timers: this.#runtime.timers,
          limits: this.#config,
          handlers: this.#parts.handlers({ remote: stream.remote }, () => {
            const at = this.#connections.indexOf(connection);
            if (at >= 0) this.#connections.splice(at, 1);
          }),
        });
        this.#connections.push(connection);
        return connection;
      }, () => {
        this.#parts.dialFailed();
        // Exponential back-off: a dead peer costs one dial per back-off period, not per send.
        this.#backoffMs = Math.min(
          this.#config.reconnectBackoffMaxMs,
          Math.max(this.#config.reconnectBackoffMinMs, this.#backoffMs * 2),
        );
        this.#retryAtMs = this.#runtime.clock.monotonicMs() + this.#backoffMs;
        return undefined;
      })
      .finally(() => this.#dialing = undefined);
    return this.#dialing;
  }
}
