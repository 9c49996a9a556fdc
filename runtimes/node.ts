/**
 * The {@link Runtime} for Node: HTTP on `@hono/node-server`, everything else on `node:` modules.
 * `@hono/node-server` is imported only when serving, so Deno and Bun never load it.
 *
 * @module
 */

import type { Address, FetchHandler, HttpServer, Runtime } from "../src/runtime.ts";
import { formatAddress, operationError } from "./_errors.ts";
import { createNodeApiRuntime } from "./_node_apis.ts";
import { bindNodePackets, dialNode, listenNodeStreams } from "./_node_net.ts";

/**
 * Creates the Runtime for Node (20 or later).
 *
 * @returns the runtime
 */
export function createNodeRuntime(): Runtime {
  return createNodeApiRuntime({
    name: "node",
    serveHttp: serveNodeHttp,
    bindPackets: bindNodePackets,
    listenStreams: listenNodeStreams,
    dial: dialNode,
  });
}

/** The slice of `node:http`'s `Server` used here, beyond what every server type has. */
interface ClosableServer {
  closeAllConnections?(): void;
}

/** Serves HTTP with `@hono/node-server`, unref'd; `close()` drops requests still running. */
async function serveNodeHttp(fetch: FetchHandler, at: Address): Promise<HttpServer> {
  const { serve } = await import("@hono/node-server");
  return await new Promise<HttpServer>((resolve, reject) => {
    const server = serve(
      { fetch: (request) => fetch(request), hostname: at.host, port: at.port },
      (info) => {
        server.off("error", fail);
        // Errors after listening (e.g. EMFILE on accept) must not crash the host program.
        server.on("error", () => {});
        let closed: Promise<void> | undefined;
        resolve({
          address: { host: info.address, port: info.port },
          kind: "@hono/node-server",
          close(): Promise<void> {
            closed ??= new Promise((resolveClose) => {
              server.close(() => resolveClose());
              // Without this, close() waits for every keep-alive and long-polling connection.
              (server as ClosableServer).closeAllConnections?.();
            });
            return closed;
          },
        });
      },
    );
    server.unref();
    const fail = (error: Error) => {
      server.close();
      reject(operationError(`serve HTTP on ${formatAddress(at)}`, error));
    };
    server.once("error", fail);
  });
}
