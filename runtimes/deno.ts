/**
 * The {@link Runtime} for Deno: HTTP on `Deno.serve`, everything else on the `node:` modules Deno
 * provides (reference/runtimes.md §11). Deno's own UDP and TCP were measured no faster here.
 *
 * @module
 */

import type { Address, FetchHandler, HttpServer, Runtime } from "../src/runtime.ts";
import { formatAddress, operationError } from "./_errors.ts";
import { createNodeApiRuntime } from "./_node_apis.ts";
import { bindNodePackets, dialNode, listenNodeStreams } from "./_node_net.ts";

/** The slice of the `Deno` namespace used here, typed structurally so tsc needs no Deno types. */
interface DenoNamespace {
  readonly args: readonly string[];
  serve(
    options: {
      hostname: string;
      port: number;
      signal: AbortSignal;
      onListen(address: unknown): void;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): DenoHttpServer;
}

/** The slice of `Deno.HttpServer` used here. */
interface DenoHttpServer {
  readonly addr: { hostname: string; port: number };
  readonly finished: Promise<void>;
  ref(): void;
  unref(): void;
}

/**
 * Creates the Runtime for Deno. Needs `-A` (or net, read, write, env, run and sys permissions).
 *
 * @returns the runtime
 */
export function createDenoRuntime(): Runtime {
  return createNodeApiRuntime({
    name: "deno",
    serveHttp: serveDenoHttp,
    bindPackets: bindNodePackets,
    listenStreams: listenNodeStreams,
    dial: dialNode,
    args: () => [...denoNamespace().args],
  });
}

function denoNamespace(): DenoNamespace {
  return (globalThis as unknown as { Deno: DenoNamespace }).Deno;
}

/**
 * Serves HTTP with `Deno.serve`, unref'd. `close()` aborts requests still running (a blocking
 * query can wait for minutes), as `Bun.serve`'s `stop(true)` does; `shutdown()` would wait.
 */
function serveDenoHttp(fetch: FetchHandler, at: Address): Promise<HttpServer> {
  const controller = new AbortController();
  let server: DenoHttpServer;
  try {
    server = denoNamespace().serve(
      { hostname: at.host, port: at.port, signal: controller.signal, onListen() {} },
      (request) => fetch(request),
    );
  } catch (error) {
    return Promise.reject(operationError(`serve HTTP on ${formatAddress(at)}`, error));
  }
  server.unref();
  let closed: Promise<void> | undefined;
  return Promise.resolve({
    address: { host: server.addr.hostname, port: server.addr.port },
    kind: "Deno.serve",
    close(): Promise<void> {
      if (closed === undefined) {
        // Unref'd, `finished` can fail to keep the event loop alive (seen under `deno test`).
        server.ref();
        controller.abort();
        closed = server.finished;
      }
      return closed;
    },
  });
}
