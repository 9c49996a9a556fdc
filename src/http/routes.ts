/**
 * The route table: each path lists its methods, so any other method gets Consul's 405 with an
 * `Allow` header, and every handler gets the parsed query, the backend, and response helpers
 * that honour `?pretty` and set Consul's index and leader headers.
 *
 * @module
 */

import type { Context, Hono } from "hono";
import type { QueryResult } from "../core/state/state_store.ts";
import type { ApiBackend } from "./api_backend.ts";
import { type BlockingContext, blockingParams, blockingQuery } from "./blocking_query.ts";
import { HttpError } from "./http_error.ts";
import { stringifyJson } from "./json_output.ts";
import { QueryOptions } from "./query_options.ts";

/** HTTP methods the API uses. */
export type Method = "GET" | "PUT" | "POST" | "DELETE";

/** One request as handlers see it. */
export class RequestContext {
  readonly hono: Context;
  readonly backend: ApiBackend;
  readonly query: QueryOptions;
  readonly url: URL;
  readonly #blocking: BlockingContext;

  constructor(hono: Context, backend: ApiBackend, blocking: BlockingContext) {
    this.hono = hono;
    this.backend = backend;
    this.url = new URL(hono.req.url);
    this.query = new QueryOptions(this.url);
    this.#blocking = blocking;
  }

  /** A path parameter, URL-decoded. */
  param(name: string): string {
    return this.hono.req.param(name) ?? "";
  }

  /** The request path after `prefix`, URL-decoded (KV keys, node names with slashes). */
  rest(prefix: string): string {
    const raw = this.url.pathname.slice(prefix.length);
    try {
      return decodeURIComponent(raw);
    } catch {
      throw new HttpError(400, `Invalid URL path encoding: "${raw}"`);
    }
  }

  /** Runs a read as a blocking query, honouring `?index` and `?wait`. */
  async block<T>(run: () => QueryResult<T>): Promise<QueryResult<T>> {
    await this.#ensureConsistency(this.query.consistency());
    const params = blockingParams(this.query, this.#blocking.config);
    if (params.minIndex === undefined || params.minIndex === 0) return run();
    // Only a query that may wait listens for the client going away.
    const signal = AbortSignal.any([this.hono.req.raw.signal, this.backend.stopSignal]);
    const context = { ...this.#blocking, signal };
    return await blockingQuery(context, params, run);
  }

  /**
   * `?stale` reads the local store as it is; the default mode reads at once on a leader whose
   * lease holds; otherwise (and always for `?consistent`) the server's read barrier runs: a
   * read-index round on the leader, or on a follower the leader's read index fetched over the
   * server RPC and then waited for locally (DESIGN.md, data flow).
   */
  async #ensureConsistency(mode: "default" | "stale" | "consistent"): Promise<void> {
    if (mode === "stale") return;
    if (mode === "default" && this.backend.server.leaseValid()) return;
    const refused = await this.backend.server.readBarrier(mode);
    if (refused !== undefined && !refused.ok) throw new HttpError(refused.status, refused.error);
  }

  /** A JSON answer; `index` adds `X-Consul-Index` and the leader headers. */
  json(value: unknown, options: { index?: number; status?: number } = {}): Response {
    const body = stringifyJson(value, this.url.searchParams.has("pretty"));
    const headers = this.#headers(options.index);
    headers["Content-Type"] = "application/json";
    return new Response(body, { status: options.status ?? 200, headers });
  }

  /** A plain-text or empty answer (404 on KV, 200 on writes). */
  text(body: string, options: { index?: number; status?: number } = {}): Response {
    const headers = this.#headers(options.index);
    headers["Content-Type"] = "text/plain; charset=utf-8";
    return new Response(body, { status: options.status ?? 200, headers });
  }

  /** A binary answer (`application/octet-stream`); `index` adds the index and leader headers. */
  bytes(body: Uint8Array, options: { index?: number; status?: number } = {}): Response {
    const headers = this.#headers(options.index);
    headers["Content-Type"] = "application/octet-stream";
    return new Response(body as Uint8Array<ArrayBuffer>, {
      status: options.status ?? 200,
      headers,
    });
  }

  /** The headers every read answer carries. */
  #headers(index: number | undefined): Record<string, string> {
    const headers: Record<string, string> = {};
    if (index !== undefined) {
      headers["X-Consul-Index"] = String(Math.max(1, index));
      headers["X-Consul-KnownLeader"] = String(this.backend.server.leaderAddress() !== "");
      const lastContactMs = this.backend.server.lastContactMs?.();
      headers["X-Consul-LastContact"] = String(lastContactMs ?? 0);
    }
    return headers;
  }
}

/** A request handler. */
export type Handler = (request: RequestContext) => Response | Promise<Response>;

/** Registers paths with their methods on a hono app. */
export class Routes {
  readonly #app: Hono;
  readonly #backend: ApiBackend;
  readonly #blocking: BlockingContext;
  readonly #fallbacks: [string, Method[]][] = [];
  /** Methods of each path without parameters, which win over a parametric match. */
  readonly #staticPaths = new Map<string, Method[]>();

  constructor(app: Hono, backend: ApiBackend, blocking: BlockingContext) {
    this.#app = app;
    this.#backend = backend;
    this.#blocking = blocking;
  }

  /** Serves `path` with one handler per method; other methods get a 405. */
  add(path: string, handlers: Partial<Record<Method, Handler>>): void {
    const allowed = Object.keys(handlers) as Method[];
    if (!path.includes(":") && !path.includes("*")) this.#staticPaths.set(path, allowed);
    for (const method of allowed) {
      const handler = handlers[method] as Handler;
      this.#app.on(method, path, (hono) => this.#run(hono, method, handler));
    }
    this.#fallbacks.push([path, allowed]);
  }

  /** Adds the 405 answers; call once, after every `add`, so no fallback shadows a route. */
  finish(): void {
    for (const [path, allowed] of this.#fallbacks) {
      this.#app.all(path, (hono) => {
        const methods = this.#staticPaths.get(hono.req.path) ?? allowed;
        // Consul answers OPTIONS itself, with the methods the path takes (agent/http.go wrap).
        if (hono.req.method === "OPTIONS") {
          return new Response(null, { status: 200, headers: { Allow: allowHeader(methods) } });
        }
        throw methodNotAllowed(hono.req.method, methods);
      });
    }
  }

  async #run(hono: Context, method: Method, handler: Handler): Promise<Response> {
    // An exact path wins over a parametric one, as in Go's mux: GET on
    // /v1/agent/service/register is a 405, not the service "register".
    const exact = this.#staticPaths.get(hono.req.path);
    if (exact !== undefined && !exact.includes(method)) {
      throw methodNotAllowed(hono.req.method, exact);
    }
    const request = new RequestContext(hono, this.#backend, this.#blocking);
    request.query.checkDatacenter(this.#backend.agent.datacenter);
    return await handler(request);
  }
}

/** Consul's `Allow`: OPTIONS first, then the path's methods. */
function allowHeader(allowed: Method[]): string {
  return ["OPTIONS", ...allowed].join(",");
}

/** Consul's 405 (MethodNotAllowedError): its text and an `Allow` header. */
function methodNotAllowed(method: string, allowed: Method[]): HttpError {
  return new HttpError(405, `method ${method} not allowed`, { Allow: allowHeader(allowed) });
}
