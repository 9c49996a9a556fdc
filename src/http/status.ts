/**
 * `/v1/status/*`: the Raft leader and peers, as "ip:port" strings.
 *
 * @module
 */

import type { RequestContext, Routes } from "./routes.ts";

/** Registers the status endpoints. */
export function registerStatusRoutes(routes: Routes): void {
  routes.add("/v1/status/leader", {
    GET: (request: RequestContext) => request.json(request.backend.server.leaderAddress()),
  });
  routes.add("/v1/status/peers", {
    GET: (request: RequestContext) => request.json(request.backend.server.peers()),
  });
}
