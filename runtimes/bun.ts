/**
 * The {@link Runtime} for Bun: HTTP on `Bun.serve`, UDP on `Bun.udpSocket`, TCP on `Bun.listen`
 * and `Bun.connect`, standard output and error on `writeSync`, everything else (files, processes)
 * on the `node:` modules Bun provides (reference/runtimes.md §11). Nothing here loads `node:net`
 * or `node:dgram` or touches `process.stdout`: on Bun they cost ~6, ~3 and ~6 MiB of an idle
 * agent's memory (docs/benchmarks.md, edge footprint), and test/runtime/bun_adapter_test.ts
 * checks that they stay out.
 *
 * @module
 */

import type { Address, FetchHandler, HttpServer, Runtime } from "../src/runtime.ts";
import { dialBun, listenBunStreams } from "./_bun_tcp.ts";
import { writeBunStderr, writeBunStdout } from "./_bun_stdio.ts";
import { bindBunPackets } from "./_bun_udp.ts";
import { formatAddress, operationError } from "./_errors.ts";
import { createNodeApiRuntime } from "./_node_apis.ts";

/** The slice of the `Bun` namespace used here, typed structurally so tsc needs no Bun types. */
interface BunNamespace {
  serve(options: {
    hostname: string;
    port: number;
    development: boolean;
    reusePort: boolean;
    fetch(request: Request, server: BunServer): Response | Promise<Response>;
  }): BunServer;
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
    listenStreams: listenBunStreams,
    dial: dialBun,
    writeStdout: writeBunStdout,
    writeStderr: writeBunStderr,
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
