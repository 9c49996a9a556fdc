/**
 * UDP and TCP on `node:dgram` and `node:net`, which behave the same on Deno, Bun and Node
 * (reference/runtimes.md §1, §2). Every socket is unref'd: an embedded agent never keeps its host
 * program alive; the CLI's main keeps the process alive itself.
 *
 * @module
 */

import type { Socket as DatagramSocket } from "node:dgram";
import type { Server, Socket } from "node:net";
import type { Address, PacketSocket, Stream, StreamListener } from "../src/runtime.ts";
import { formatAddress, operationError } from "./_errors.ts";
import { ipVersionOf } from "./_ip_version.ts";

let modules: Promise<[typeof import("node:dgram"), typeof import("node:net")]> | undefined;

/**
 * `node:dgram` and `node:net`, imported on first use. A static import would be hoisted to the top
 * of the single-file `bun build --compile` executable, which carries this adapter too, and load
 * both on Bun, whose adapter never uses them (~9 MiB of its idle memory).
 */
function nodeModules(): Promise<[typeof import("node:dgram"), typeof import("node:net")]> {
  modules ??= Promise.all([import("node:dgram"), import("node:net")]);
  return modules;
}

/**
 * Binds a UDP socket with `node:dgram`: udp6 for an IPv6 literal, udp4 otherwise.
 *
 * @param at where to bind; port 0 picks a free port
 * @returns the bound socket, already unref'd
 */
export async function bindNodePackets(at: Address): Promise<PacketSocket> {
  const version = ipVersionOf(at, "bind packets on");
  const [{ createSocket }] = await nodeModules();
  const socket = createSocket({ type: version === 6 ? "udp6" : "udp4" });
  // Before bind(): on Deno, unref() after bind does nothing (reference/runtimes.md P1).
  socket.unref();
  return await new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      socket.close();
      reject(operationError(`bind packets on ${formatAddress(at)}`, error));
    };
    socket.once("error", fail);
    socket.bind({ address: at.host, port: at.port }, () => {
      socket.off("error", fail);
      resolve(new NodePacketSocket(socket));
    });
  });
}

/** A bound `node:dgram` socket as a {@link PacketSocket}. */
class NodePacketSocket implements PacketSocket {
  readonly address: Address;
  readonly #socket: DatagramSocket;
  #handle: ((bytes: Uint8Array, from: Address) => void) | undefined;
  #closed: Promise<void> | undefined;

  constructor(socket: DatagramSocket) {
    this.#socket = socket;
    const bound = socket.address();
    this.address = { host: bound.address, port: bound.port };
    socket.on("message", (message, remote) => {
      // A plain Uint8Array view (no copy), so callers never meet Buffer's differing slice().
      const bytes = new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
      this.#handle?.(bytes, { host: remote.address, port: remote.port });
    });
    // Best effort: an ICMP error or a failed send loses a datagram, nothing more.
    socket.on("error", ignore);
  }

  send(bytes: Uint8Array, to: Address): void {
    if (this.#closed !== undefined) return;
    try {
      this.#socket.send(bytes, to.port, to.host, ignore);
    } catch {
      // Best effort, and the same on every runtime: an address a peer advertised that this
      // socket cannot reach (a bad port) loses the datagram instead of throwing.
    }
  }

  onPacket(handle: (bytes: Uint8Array, from: Address) => void): void {
    this.#handle = handle;
  }

  close(): Promise<void> {
    this.#closed ??= new Promise((resolve) => this.#socket.close(() => resolve()));
    return this.#closed;
  }
}

/**
 * Listens for TCP connections with `node:net`. Closing the listener stops accepting; streams it
 * accepted stay open until their owner ends them (as Go's `net.Listener.Close`).
 *
 * @param at where to listen; port 0 picks a free port
 * @param accept called with each accepted stream, already unref'd and with Nagle off
 * @returns the listener, already unref'd
 */
export async function listenNodeStreams(
  at: Address,
  accept: (stream: Stream) => void,
): Promise<StreamListener> {
  ipVersionOf(at, "listen on");
  const [, { createServer }] = await nodeModules();
  const server = createServer((socket) => {
    // A connection reset before this callback ran has no remote address left to report.
    if (socket.remoteAddress === undefined || socket.destroyed) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.unref();
    accept(new NodeStream(socket));
  });
  server.unref();
  return await new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      server.close();
      reject(operationError(`listen on ${formatAddress(at)}`, error));
    };
    server.once("error", fail);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off("error", fail);
      // Errors after listening (e.g. EMFILE on accept) must not crash the host program.
      server.on("error", ignore);
      resolve(new NodeStreamListener(server));
    });
  });
}

/** A listening `node:net` server as a {@link StreamListener}. */
class NodeStreamListener implements StreamListener {
  readonly address: Address;
  readonly #server: Server;
  #closed: Promise<void> | undefined;

  constructor(server: Server) {
    this.#server = server;
    const bound = server.address();
    if (bound === null || typeof bound === "string") {
      throw new TypeError("Cannot listen: the server reported no IP address");
    }
    this.address = { host: bound.address, port: bound.port };
  }

  close(): Promise<void> {
    // server.close() frees the port at once, but its callback waits for every accepted stream
    // to end; those belong to their owners, so this resolves without waiting for them.
    this.#closed ??= new Promise((resolve) => {
      this.#server.close();
      setTimeout(resolve, 0);
    });
    return this.#closed;
  }
}

/**
 * Connects over TCP with `node:net`. The socket keeps the process alive only while connecting,
 * so an awaited dial is never cut short by the program exiting; once connected it is unref'd.
 *
 * @param to the address to connect to
 * @param options `timeoutMs`: reject after this long
 * @returns the connected stream, with Nagle off
 */
export async function dialNode(to: Address, options: { timeoutMs: number }): Promise<Stream> {
  ipVersionOf(to, "connect to");
  const [, { connect }] = await nodeModules();
  return await new Promise((resolve, reject) => {
    const socket = connect({ host: to.host, port: to.port });
    const fail = (error: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      reject(operationError(`connect to ${formatAddress(to)}`, error));
    };
    const timer = setTimeout(
      () => fail(new Error(`timed out after ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    socket.once("error", fail);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("error", fail);
      socket.setNoDelay(true);
      socket.unref();
      resolve(new NodeStream(socket));
    });
  });
}

/**
 * A connected `node:net` socket as a {@link Stream}. Data is not read until `onData` is set, so
 * bytes that arrive first wait in the kernel rather than being lost.
 */
class NodeStream implements Stream {
  readonly remote: Address;
  readonly local: Address;
  readonly #socket: Socket;
  #dataHandle: ((bytes: Uint8Array) => void) | undefined;
  #drainHandle: (() => void) | undefined;
  #closeHandle: ((error?: Error) => void) | undefined;
  #error: Error | undefined;
  #closed = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    this.remote = { host: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    this.local = { host: socket.localAddress ?? "", port: socket.localPort ?? 0 };
    socket.on("error", (error) => {
      this.#error ??= error;
    });
    socket.on("drain", () => this.#drainHandle?.());
    socket.once("close", () => {
      this.#closed = true;
      const handle = this.#closeHandle;
      this.#closeHandle = undefined;
      handle?.(this.#error);
    });
  }

  write(bytes: Uint8Array): boolean {
    if (this.#socket.destroyed || this.#socket.writableEnded) return false;
    return this.#socket.write(bytes);
  }

  onData(handle: (bytes: Uint8Array) => void): void {
    const first = this.#dataHandle === undefined;
    this.#dataHandle = handle;
    if (!first) return;
    this.#socket.on("data", (chunk: Uint8Array) => {
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.#dataHandle?.(bytes);
    });
  }

  onDrain(handle: () => void): void {
    this.#drainHandle = handle;
  }

  onClose(handle: (error?: Error) => void): void {
    if (this.#closed) {
      // Already closed: report it anyway, but never synchronously inside the caller.
      const error = this.#error;
      queueMicrotask(() => handle(error));
      return;
    }
    this.#closeHandle = handle;
  }

  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

function ignore(): void {}
