/**
 * HTTP requests a client agent forwards to a server (Consul's client agents turn these into
 * RPCs to a server; cairn ships the request itself): which paths go to a server, the wire shape
 * of a forwarded request and its answer over the server RPC (msgpack maps, bounded), and the
 * two conversions from and to fetch's `Request` and `Response`.
 *
 * Data endpoints (KV, transactions, catalog, health, sessions, status, coordinates, Raft
 * operator, snapshots) are forwarded; the agent's own endpoints (`/v1/agent/*`, events, the
 * keyring, the UI) are served by the client itself, as in Consul.
 *
 * @module
 */

import { parseGoDurationMs } from "../core/go_duration.ts";
import { readBody, readStreamBounded } from "./json_input.ts";

/** Path prefixes whose data lives on the servers. */
export const forwardedPathPrefixes: readonly string[] = [
  "/v1/kv",
  "/v1/txn",
  "/v1/catalog",
  "/v1/health",
  "/v1/session",
  "/v1/status",
  "/v1/coordinate",
  "/v1/operator/raft",
  "/v1/snapshot",
];

/** Largest forwarded request body: a 512 KiB KV value or a 1 MiB snapshot, with room. */
export const forwardedRequestBytesMax = 2 * 1_048_576;
/** Largest forwarded answer body; the server RPC's frames hold 4 MiB. */
export const forwardedResponseBytesMax = 3 * 1_048_576;
/** Largest header list, either way. */
export const forwardedHeadersMax = 64;
/** Largest header name plus value, either way. */
const headerBytesMax = 8_192;

/** Headers that describe one hop, never forwarded (RFC 9110 §7.6.1, and the recomputed length). */
const hopHeaders = new Set([
  "connection",
  "content-length",
  "host",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);

/** Whether a request for `pathname` is forwarded to a server. */
export function isForwardedPath(pathname: string): boolean {
  return forwardedPathPrefixes.some((prefix) =>
    pathname === prefix || pathname.startsWith(`${prefix}/`)
  );
}

/**
 * Whether a request for `url` is answered by a server of `datacenter`'s: a data endpoint, or a
 * user event for another datacenter, which Consul fires through that datacenter's servers
 * (`Internal.EventFire` forwarded across the WAN); a local event is gossiped by the agent itself.
 *
 * @param datacenter the answering agent's datacenter
 */
export function isForwardedRequest(url: URL, datacenter: string): boolean {
  if (isForwardedPath(url.pathname)) return true;
  const target = url.searchParams.get("dc");
  return url.pathname.startsWith("/v1/event/fire/") && target !== null && target !== "" &&
    target !== datacenter;
}

/** A request as it crosses the server RPC. */
export interface ForwardedRequest {
  method: string;
  /** Path and query, e.g. "/v1/kv/a?index=7". */
  path: string;
  headers: [string, string][];
  body: Uint8Array;
}

/** An answer as it crosses the server RPC. */
export interface ForwardedResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
  /** The server's view of the leader ("ip:port", "" when none), for the client's own headers. */
  leader: string;
}

/**
 * Reads `request` into its forwarded form.
 *
 * @throws HttpError 413 when the body passes {@link forwardedRequestBytesMax}
 */
export async function toForwardedRequest(request: Request): Promise<ForwardedRequest> {
  const url = new URL(request.url);
  const body = request.method === "GET" || request.method === "HEAD"
    ? new Uint8Array(0)
    : await readBody(request, forwardedRequestBytesMax);
  return {
    method: request.method,
    path: url.pathname + url.search,
    headers: keptHeaders(request.headers),
    body,
  };
}

/**
 * How long a client waits for the answer to `forwarded`: a blocking query's wait (5 min by
 * default, 10 min at most, plus Consul's wait/16 of jitter) and 15 s on top; 30 s otherwise.
 */
export function forwardedTimeoutMs(forwarded: ForwardedRequest): number {
  const query = new URL(forwarded.path, "http://forwarded.invalid").searchParams;
  const index = query.get("index");
  if (index === null || index === "" || index === "0") return 30_000;
  let waitMs = 300_000;
  try {
    const wait = query.get("wait");
    if (wait !== null && wait !== "") waitMs = parseGoDurationMs(wait);
  } catch {
    return 30_000; // The server answers the bad wait with a 400 at once.
  }
  if (waitMs <= 0) waitMs = 300_000;
  return Math.min(waitMs, 600_000) * 17 / 16 + 15_000;
}

/** Checks a forwarded request field by field; `undefined` when it is malformed. */
export function decodeForwardedRequest(value: unknown): ForwardedRequest | undefined {
  const fields = value as Partial<Record<keyof ForwardedRequest, unknown>> | null;
  if (typeof fields?.method !== "string" || !/^[A-Z]{1,16}$/.test(fields.method)) return undefined;
  if (typeof fields.path !== "string" || !fields.path.startsWith("/v1/")) return undefined;
  const body = fields.body ?? new Uint8Array(0);
  if (!(body instanceof Uint8Array) || body.length > forwardedRequestBytesMax) return undefined;
  const headers = decodeHeaders(fields.headers);
  if (headers === undefined) return undefined;
  return { method: fields.method, path: fields.path, headers, body };
}

/** Checks a forwarded answer field by field; `undefined` when it is malformed. */
export function decodeForwardedResponse(value: unknown): ForwardedResponse | undefined {
  const fields = value as Partial<Record<keyof ForwardedResponse, unknown>> | null;
  const status = fields?.status;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) {
    return undefined;
  }
  const body = fields?.body;
  if (!(body instanceof Uint8Array) || body.length > forwardedResponseBytesMax) return undefined;
  const headers = decodeHeaders(fields?.headers);
  if (headers === undefined || typeof fields?.leader !== "string") return undefined;
  return { status, headers, body, leader: fields.leader };
}

/**
 * Runs `forwarded` against a server's own HTTP API and captures the answer. Only forwarded
 * paths are served (a client's agent endpoints must never answer with the server's agent);
 * an answer larger than {@link forwardedResponseBytesMax} becomes a 500 that says so.
 *
 * @param fetch the server agent's HTTP handler
 * @param forwarded the request
 * @param leader the server's view of the leader
 */
export async function executeForwarded(
  fetch: (request: Request) => Response | Promise<Response>,
  forwarded: ForwardedRequest,
  leader: string,
): Promise<ForwardedResponse> {
  const url = new URL(forwarded.path, "http://forwarded.invalid");
  const pathname = url.pathname;
  // An event forwarded here names this server's datacenter or another one ("" matches neither);
  // either way this server fires it, on its LAN pool or through the other datacenter's servers.
  if (!isForwardedRequest(url, "")) {
    return textAnswer(400, `Cannot forward "${pathname}": it is served by each agent`, leader);
  }
  const hasBody = forwarded.method !== "GET" && forwarded.method !== "HEAD";
  const request = new Request(`http://forwarded.invalid${forwarded.path}`, {
    method: forwarded.method,
    headers: forwarded.headers,
    body: hasBody ? forwarded.body as Uint8Array<ArrayBuffer> : undefined,
  });
  const response = await fetch(request);
  const body = await readBounded(response.body, forwardedResponseBytesMax);
  if (body === undefined) {
    return textAnswer(
      500,
      `Cannot forward the answer: it passes ${forwardedResponseBytesMax} bytes; narrow the query`,
      leader,
    );
  }
  return { status: response.status, headers: keptHeaders(response.headers), body, leader };
}

/** The fetch `Response` of a forwarded answer. */
export function fromForwardedResponse(forwarded: ForwardedResponse): Response {
  const empty = forwarded.status === 204 || forwarded.status === 304;
  // Header names in Go's canonical form, as Consul writes them (fetch lower-cases them).
  const headers = forwarded.headers.map(([name, value]): [string, string] => [
    name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase()),
    value,
  ]);
  return new Response(empty ? null : forwarded.body as Uint8Array<ArrayBuffer>, {
    status: forwarded.status,
    headers,
  });
}

/** Reads a stream whole; `undefined` (and the stream cancelled) past `bytesMax`. */
async function readBounded(
  stream: ReadableStream<Uint8Array> | null,
  bytesMax: number,
): Promise<Uint8Array | undefined> {
  const body = await readStreamBounded(stream, bytesMax);
  return typeof body === "number" ? undefined : body;
}

function textAnswer(status: number, text: string, leader: string): ForwardedResponse {
  return {
    status,
    headers: [["content-type", "text/plain; charset=utf-8"]],
    body: new TextEncoder().encode(text),
    leader,
  };
}

function keptHeaders(headers: Headers): [string, string][] {
  const kept: [string, string][] = [];
  headers.forEach((value, name) => {
    if (kept.length >= forwardedHeadersMax || hopHeaders.has(name.toLowerCase())) return;
    if (name.length + value.length > headerBytesMax) return;
    kept.push([name, value]);
  });
  return kept;
}

function decodeHeaders(value: unknown): [string, string][] | undefined {
  if (!Array.isArray(value) || value.length > forwardedHeadersMax) return undefined;
  const headers: [string, string][] = [];
  for (const pair of value) {
    if (!Array.isArray(pair) || pair.length !== 2) return undefined;
    const [name, text] = pair;
    if (typeof name !== "string" || typeof text !== "string") return undefined;
    if (name.length + text.length > headerBytesMax || hopHeaders.has(name.toLowerCase())) {
      return undefined;
    }
    headers.push([name, text]);
  }
  return headers;
}
