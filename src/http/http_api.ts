/**
 * The HTTP API as one hono app: every endpoint family, Consul's plain-text errors, 404 for
 * unknown endpoints and 405 with `Allow` for wrong methods.
 *
 * @module
 */

import { Hono } from "hono";
import { registerAgentRoutes } from "./agent.ts";
import type { ApiBackend } from "./api_backend.ts";
import { registerCatalogRoutes } from "./catalog.ts";
import { registerCoordinateRoutes } from "./coordinate.ts";
import { registerEventRoutes } from "./event.ts";
import { isForwardedRequest } from "./forwarding.ts";
import { registerHealthRoutes } from "./health.ts";
import { HttpError } from "./http_error.ts";
import { registerKvRoutes } from "./kv.ts";
import { Routes } from "./routes.ts";
import { registerSessionRoutes } from "./session.ts";
import { registerOperatorRoutes } from "./operator.ts";
import { registerSnapshotRoutes } from "./snapshot.ts";
import { registerStatusRoutes } from "./status.ts";
import { registerTxnRoutes } from "./txn.ts";
import { registerUiRoutes } from "./ui.ts";

/** Builds the app; serve it with `runtime.serveHttp(app.fetch, address)`. */
export function createHttpApi(backend: ApiBackend): Hono {
  const app = new Hono();
  const random = () => {
    const bytes = backend.runtime.randomBytes(new Uint8Array(4));
    return new DataView(bytes.buffer).getUint32(0) / 2 ** 32;
  };
  const forward = backend.forward;
  if (forward !== undefined) {
    // A client agent: data endpoints are answered by a server, before any local route.
    app.use("/v1/*", async (context, next) => {
      const url = new URL(context.req.url);
      if (!isForwardedRequest(url, backend.agent.datacenter)) return await next();
      return await forward(context.req.raw);
    });
  }
  const forwardDatacenter = backend.forwardDatacenter;
  if (forwardDatacenter !== undefined) {
    // A server: data requests for another datacenter go to one of its servers, over the WAN.
    app.use("/v1/*", async (context, next) => {
      const url = new URL(context.req.url);
      const datacenter = url.searchParams.get("dc");
      if (
        datacenter === null || datacenter === "" || datacenter === backend.agent.datacenter ||
        !isForwardedRequest(url, backend.agent.datacenter)
      ) return await next();
      return await forwardDatacenter(datacenter, context.req.raw);
    });
  }
  const routes = new Routes(app, backend, {
    watches: backend.watches,
    timers: backend.runtime.timers,
    clock: backend.runtime.clock,
    gauge: { blocked: 0 },
    random,
    config: backend.blocking,
  });
  registerKvRoutes(routes);
  registerTxnRoutes(routes);
  registerCatalogRoutes(routes);
  registerHealthRoutes(routes);
  registerAgentRoutes(routes);
  registerSessionRoutes(routes);
  registerStatusRoutes(routes);
  registerOperatorRoutes(routes);
  registerSnapshotRoutes(routes);
  registerEventRoutes(routes);
  registerCoordinateRoutes(routes);
  if (backend.ui) registerUiRoutes(routes);
  routes.finish();
  app.get("/", (context) => context.redirect(backend.ui ? "/ui/" : "/v1/agent/self"));
  // Consul's text for paths no endpoint serves (agent/http.go Index).
  app.notFound((context) =>
    plainText(
      404,
      new URL(context.req.url).pathname.includes("/v1/")
        ? "Invalid URL path: not a recognized HTTP API endpoint"
        : "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'",
    )
  );
  app.onError((error) => {
    if (error instanceof HttpError) return plainText(error.status, error.message, error.headers);
    return plainText(500, error.message.split("\n")[0]);
  });
  return app;
}

function plainText(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", ...headers },
  });
}
