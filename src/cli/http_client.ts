/**
 * The HTTP client that `cairn` client commands use to talk to an agent, with Consul's common CLI
 * flags and environment (`-http-addr`/`CONSUL_HTTP_ADDR`, `-token`/`CONSUL_HTTP_TOKEN`,
 * `-datacenter`, `-stale`), sending requests as Consul's Go `api` package does.
 *
 * @module
 */

import { readFileAtPath } from "../agent/config_file.ts";
import type { Runtime } from "../runtime.ts";
import { quoteLargeIntegers } from "../http/json_output.ts";
import type { Flags, FlagSpecs } from "./flags.ts";

/** The flags every client command accepts (Consul's "HTTP API Options"). */
export const HTTP_FLAGS: FlagSpecs = {
  "http-addr": {
    type: "string",
    placeholder: "<address>",
    description: "The address and port of the agent's HTTP API, as host:port or an http:// or " +
      "https:// URL. Defaults to $CAIRN_HTTP_ADDR, then $CONSUL_HTTP_ADDR, then " +
      "http://127.0.0.1:8500.",
  },
  token: {
    type: "string",
    placeholder: "<value>",
    description: "ACL token sent as X-Consul-Token. Defaults to $CAIRN_HTTP_TOKEN, then " +
      "$CONSUL_HTTP_TOKEN.",
  },
  "token-file": {
    type: "string",
    placeholder: "<path>",
    description: "A file holding the ACL token; -token wins over it.",
  },
  datacenter: {
    type: "string",
    placeholder: "<name>",
    description: "The datacenter to query. Defaults to the agent's own datacenter.",
  },
  stale: {
    type: "boolean",
    description: "Let any server answer reads, not only the leader: faster, possibly out of " +
      "date. The default is false.",
  },
};

/** The address used when neither a flag nor the environment names one (Consul's default). */
export const DEFAULT_HTTP_ADDRESS = "http://127.0.0.1:8500";

/** A response from the agent with a status other than 2xx. */
export class HttpError extends Error {
  override name = "HttpError";
  /** The HTTP status code. */
  readonly status: number;
  /** The response body, trimmed (Consul's error bodies are plain text). */
  readonly body: string;

  /**
   * @param status the HTTP status code
   * @param body the response body
   */
  constructor(status: number, body: string) {
    // Consul's api package says "Unexpected response code: 500 (body)"; the CLI prefixes it with
    // what it was doing, so the message is only the status and body.
    super(`${status} (${body.trim()})`);
    this.status = status;
    this.body = body.trim();
  }
}

/** Where and how to reach the agent. */
export interface HttpClientOptions {
  /** The agent's base URL without a final slash, e.g. "http://127.0.0.1:8500". */
  baseUrl: string;
  /** Sent as `X-Consul-Token` when set. */
  token?: string;
  /** Sent as `?dc=` on every request when set. */
  datacenter?: string;
  /** Sends `?stale` on reads. */
  stale?: boolean;
}

/** Options of one request. */
export interface HttpRequestOptions {
  /** Query parameters in order; a key may repeat. */
  query?: Array<[string, string]>;
  /** The request body: text (sent as JSON) or bytes (sent as octet-stream). */
  body?: string | Uint8Array;
  /** Statuses returned rather than thrown as {@link HttpError}, e.g. 404 for a missing key. */
  allowStatuses?: number[];
  /** Fields of the JSON answer that are uint64 (e.g. KV `Flags`): large ones are kept as text. */
  uint64Fields?: string[];
}

/** A client of one agent's HTTP API. */
export class HttpClient {
  readonly #runtime: Runtime;
  readonly #options: HttpClientOptions;

  /**
   * @param runtime whose `fetch` sends the requests
   * @param options the agent's address and the request defaults
   */
  constructor(runtime: Runtime, options: HttpClientOptions) {
    this.#runtime = runtime;
    this.#options = options;
  }

  /** The agent's base URL, e.g. "http://127.0.0.1:8500". */
  get baseUrl(): string {
    return this.#options.baseUrl;
  }

  /**
   * Sends one request to `path` (which starts with `/v1/`).
   *
   * @param method "GET", "PUT" or "DELETE"
   * @param path the escaped path
   * @param options query, body and the statuses that are not errors
   * @returns the response, 2xx or one of `allowStatuses`
   * @throws {HttpError} for any other status; `TypeError` when the agent cannot be reached
   */
  async send(method: string, path: string, options: HttpRequestOptions = {}): Promise<Response> {
    const query: Array<[string, string]> = [...(options.query ?? [])];
    if (this.#options.datacenter !== undefined) query.push(["dc", this.#options.datacenter]);
    if (this.#options.stale === true && method === "GET") query.push(["stale", ""]);
    const url = this.#options.baseUrl + path + encodeQuery(query);
    const headers = new Headers();
    if (this.#options.token !== undefined) headers.set("X-Consul-Token", this.#options.token);
    if (typeof options.body === "string") headers.set("Content-Type", "application/json");
    if (options.body instanceof Uint8Array) {
      headers.set("Content-Type", "application/octet-stream");
    }
    // A copy, because fetch's types take only bytes backed by a plain ArrayBuffer.
    const body = options.body instanceof Uint8Array ? new Uint8Array(options.body) : options.body;
    let response: Response;
    try {
      response = await this.#runtime.fetch(url, { method, headers, body });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error
        ? `: ${error.cause.message}`
        : "";
      const reason = error instanceof Error ? error.message : String(error);
      throw new TypeError(`Cannot reach the agent at ${this.baseUrl}: ${reason}${cause}`);
    }
    if (response.ok || (options.allowStatuses ?? []).includes(response.status)) return response;
    throw new HttpError(response.status, await response.text());
  }

  /**
   * Sends a request and decodes its JSON body; an allowed non-2xx status gives `undefined`.
   *
   * @param method the HTTP method
   * @param path the escaped path
   * @param options as for {@link HttpClient.send}
   * @returns the decoded body, or `undefined` for an allowed non-2xx status
   */
  async json(method: string, path: string, options: HttpRequestOptions = {}): Promise<unknown> {
    const response = await this.send(method, path, options);
    const text = await response.text();
    if (!response.ok) return undefined;
    try {
      const exact = options.uint64Fields === undefined
        ? text
        : quoteLargeIntegers(text, options.uint64Fields);
      return JSON.parse(exact);
    } catch {
      throw new SyntaxError(`Cannot decode the agent's answer to ${path}: it is not JSON`);
    }
  }
}

/**
 * Builds a client from the common flags and the environment: flag, then `CAIRN_*`, then
 * `CONSUL_*` variables, then the default.
 *
 * @param runtime for the environment, files and `fetch`
 * @param flags parsed with {@link HTTP_FLAGS}
 * @returns the client
 */
export async function createHttpClient(runtime: Runtime, flags: Flags): Promise<HttpClient> {
  const address = flags.string("http-addr") ?? runtime.env("CAIRN_HTTP_ADDR") ??
    runtime.env("CONSUL_HTTP_ADDR") ?? DEFAULT_HTTP_ADDRESS;
  const tls = /^(1|t|true)$/i.test(runtime.env("CONSUL_HTTP_SSL") ?? "");
  let token = flags.string("token");
  const tokenFile = flags.string("token-file");
  if (token === undefined && tokenFile !== undefined) {
    const bytes = await readFileAtPath(runtime, tokenFile);
    if (bytes === undefined) {
      throw new TypeError(`Cannot read token file "${tokenFile}": no such file`);
    }
    token = new TextDecoder().decode(bytes).trim();
  }
  token ??= runtime.env("CAIRN_HTTP_TOKEN") ?? runtime.env("CONSUL_HTTP_TOKEN");
  return new HttpClient(runtime, {
    baseUrl: resolveHttpAddress(address, tls),
    token: token === "" ? undefined : token,
    datacenter: flags.string("datacenter"),
    stale: flags.boolean("stale"),
  });
}

/**
 * Turns an `-http-addr` value into a base URL. Like Consul, `host:port` without a scheme means
 * http (https when `tls`).
 *
 * @param text e.g. "127.0.0.1:8500", "http://[::1]:8500", "https://agent:8501"
 * @param tls use https when `text` has no scheme
 * @returns the URL without a final slash
 * @throws {TypeError} for a unix socket, another scheme, or text that is not an address
 */
export function resolveHttpAddress(text: string, tls = false): string {
  const withScheme = text.includes("://") ? text : `${tls ? "https" : "http"}://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new TypeError(`Cannot use HTTP address "${text}": it is not host:port or a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(
      `Cannot use HTTP address "${text}": only http:// and https:// are supported`,
    );
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
}

/**
 * Escapes a KV key or other name for a URL path as Go's `url.URL` does: `/`, `:`, `@`, `$`, `&`,
 * `+`, `,`, `;` and `=` stay as they are.
 *
 * @param path the unescaped path
 * @returns the escaped path
 */
export function escapePath(path: string): string {
  return encodeURIComponent(path)
    .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(
      /%(2F|3A|40|24|26|2B|2C|3B|3D)/g,
      (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)),
    );
}

// Go's url.Values.Encode: keys sorted, values in order, QueryEscape (space as "+").
function encodeQuery(query: Array<[string, string]>): string {
  if (query.length === 0) return "";
  const escape = (text: string) =>
    encodeURIComponent(text)
      .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
      .replace(/%20/g, "+");
  const sorted = [...query].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return "?" + sorted.map(([key, value]) => `${escape(key)}=${escape(value)}`).join("&");
}
