/**
 * The {@link Runtime} for Bun: HTTP on `Bun.serve`, UDP on `Bun.udpSocket` (measured 14 % more
 * round trips per second here than `node:dgram` on Bun), everything else on the `node:` modules
 * Bun provides (reference/runtimes.md §11).
 *
 * @module
 */

import type { Address, FetchHandler, HttpServer, PacketSocket, Runtime } from "../src/runtime.ts";
import { formatAddress, operationError } from "./_errors.ts";
import { createNodeApiRuntime } from "./_node_apis.ts";
import { ipVersionOf } from "./_node_net.ts";

/** The slice of the `Bun` namespace used here, typed structurally so tsc needs no Bun types. */
interface BunNamespace {
  serve(options: {
    hostname: string;
    port: number;
    development: boolean;
    reusePort: boolean;
    fetch(request: Request, server: BunServer): Response | Promise<Response>;
  }): BunServer;
  udpSocket(options: {
    hostname: string;
    port: number;
    binaryType: "uint8array";
    socket: {
      data(socket: BunUdpSocket, data: Uint8Array, port: number, address: string): void;
      error(socket: BunUdpSocket, error: Error): void;
    };
  }): Promise<BunUdpSocket>;
}

/** The slice of Bun's `udp.Socket` used here. */
interface BunUdpSocket {
  readonly address: { address: string; port: number };
  send(data: Uint8Array, port: number, address: string): boolean;
  unref(): void;
  close(): void;
}

/** The slice of Bun's `Server` used here. */
interface BunServer {
  readonly hostname: string;
  readonly port: number;
  timeout(request: Request, seconds: number): void;
  unref(): void;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/**
 * Creates the Runtime for Bun.
 *
 * @returns the runtime
 */
export function createBunRuntime(): Runtime {
  return createNodeApiRuntime({
    name: "bun",
    serveHttp: serveBunHttp,
    bindPackets: bindBunPackets,
  });
}

function bunNamespace(): BunNamespace {
  return (globalThis as unknown as { Bun: BunNamespace }).Bun;
}

/**
 * Serves HTTP with `Bun.serve`, unref'd; `close()` drops requests still running.
 *
 * Bun closes a connection whose request has sent nothing for 10 s (`idleTimeout`), which would cut
 * Consul's blocking queries (up to 10 min) short. Turning the timeout off for each request, not
 * for the server, keeps it for idle keep-alive connections.
 */
function serveBunHttp(fetch: FetchHandler, at: Address): Promise<HttpServer> {
  let server: BunServer;
  try {
    server = bunNamespace().serve({
      hostname: at.host,
      port: at.port,
      // Off: development mode answers a thrown error with a page showing the stack.
      development: false,
      // Explicit: with development off, Bun sets SO_REUSEPORT, so a second server on a taken
      // port "succeeds" and the two share its traffic instead of failing with EADDRINUSE.
      reusePort: false,
      fetch(request, server) {
        server.timeout(request, 0);
        return fetch(request);
      },
    });
  } catch (error) {
    return Promise.reject(operationError(`serve HTTP on ${formatAddress(at)}`, error));
  }
  server.unref();
  let closed: Promise<void> | undefined;
  return Promise.resolve({
    address: { host: at.host, port: server.port },
    kind: "Bun.serve",
    close(): Promise<void> {
      closed ??= server.stop(true);
      return closed;
    },
  });
}

/** Binds a UDP socket with `Bun.udpSocket`, unref'd. Each datagram arrives in its own buffer. */
async function bindBunPackets(at: Address): Promise<PacketSocket> {
  ipVersionOf(at, "bind packets on");
  let handle: ((bytes: Uint8Array, from: Address) => void) | undefined;
  let socket: BunUdpSocket;
  try {
    socket = await bunNamespace().udpSocket({
      hostname: at.host,
      port: at.port,
      binaryType: "uint8array",
      socket: {
        data(_socket, data, port, host) {
          handle?.(data, { host, port });
        },
        // Best effort: an ICMP error loses a datagram, nothing more.
        error() {},
      },
    });
  } catch (error) {
    throw operationError(`bind packets on ${formatAddress(at)}`, error);
  }
  socket.unref();
  let closed = false;
  return {
    address: { host: socket.address.address, port: socket.address.port },
    send(bytes: Uint8Array, to: Address): void {
      if (closed) return;
      try {
        // Bun throws at once where node:dgram reports to a callback (EAFNOSUPPORT, bad port).
        socket.send(bytes, to.port, to.host);
      } catch {
        // Best effort: the datagram is lost.
      }
    },
    onPacket(next: (bytes: Uint8Array, from: Address) => void): void {
      handle = next;
    },
    close(): Promise<void> {
      if (!closed) {
        closed = true;
        socket.close();
      }
      return Promise.resolve();
    },
  };
}
