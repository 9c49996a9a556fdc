/**
 * One {@link CairnClient} over any `fetch` function that speaks Consul's HTTP API: the embedded
 * agent's in-process `fetch` (no socket) or the runtime's `fetch` to a remote agent.
 *
 * @module
 */

import { decodeBase64 } from "../core/base64.ts";
import { parseGoDurationMs } from "../core/go_duration.ts";
import { quoteLargeIntegers } from "../http/json_output.ts";
import {
  type CairnClient,
  type CheckDefinition,
  type CheckRegistration,
  type CheckStatus,
  ClientError,
  type HealthServiceOptions,
  type KvDeleteOptions,
  type KvEntry,
  type KvPutOptions,
  type ServiceHealth,
  type ServiceRegistration,
  type ServiceWatchOptions,
  type Watch,
  type WatchOptions,
} from "./cairn_client.ts";
import { startWatch } from "./watch.ts";

/** What the client needs from its surroundings. */
export interface ClientTransport {
  /** The agent's base URL without a final slash, e.g. "http://127.0.0.1:8500". */
  baseUrl: string;
  /** Sends one request; the embedded agent answers without a socket. */
  fetch(request: Request): Promise<Response>;
  /** Resolves after `delayMs`, or at once when `signal` aborts; must not keep a program alive. */
  sleep(delayMs: number, signal: AbortSignal): Promise<void>;
  /** Aborted when the agent stops or the client is closed: watches then end. */
  lifetime: AbortSignal;
  /** Sent as `X-Consul-Token` when set. */
  token?: string;
  /** Sent as `?dc=` when set. */
  datacenter?: string;
}

/** An answer to a query: its value and the `X-Consul-Index` it was read at. */
interface Indexed<T> {
  index: number;
  value: T;
}

type Query = Array<[string, string]>;

/**
 * Creates the typed client over `transport`.
 *
 * @param transport how requests are sent and how long the client lives
 * @returns the client
 * @example
 * ```ts ignore
 * const client = createFetchClient({
 *   baseUrl: "http://127.0.0.1:8500",
 *   fetch: (request) => fetch(request),
 *   sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
 *   lifetime: new AbortController().signal,
 * });
 * await client.kv.put("a", "1");
 * ```
 */
export function createFetchClient(transport: ClientTransport): CairnClient {
  const api = new ApiCaller(transport);
  return {
    services: {
      register: (service) => api.registerService(service),
      deregister: (id) =>
        api.write(`deregister service "${id}"`, `/v1/agent/service/deregister/${segment(id)}`),
    },
    checks: {
      register: (check) => api.registerCheck(check),
      deregister: (id) =>
        api.write(`deregister check "${id}"`, `/v1/agent/check/deregister/${segment(id)}`),
      pass: (id, note) => api.updateTtl(id, "passing", note),
      warn: (id, note) => api.updateTtl(id, "warning", note),
      fail: (id, note) => api.updateTtl(id, "critical", note),
    },
    kv: {
      get: (key) => api.kvGet(key),
      put: (key, value, options) => api.kvPut(key, value, options),
      delete: (key, options) => api.kvDelete(key, options),
      list: async (prefix) => (await api.kvList(prefix, 0, "", undefined)).value,
    },
    health: {
      service: async (name, options) =>
        (await api.healthService(name, options ?? {}, 0, "", undefined)).value,
    },
    watch: {
      service: (name, callback, options) => api.watchService(name, callback, options ?? {}),
      kvPrefix: (prefix, callback, options) => api.watchKvPrefix(prefix, callback, options ?? {}),
    },
  };
}

class ApiCaller {
  readonly #transport: ClientTransport;

  constructor(transport: ClientTransport) {
    this.#transport = transport;
  }

  async send(
    method: string,
    path: string,
    options: { query?: Query; body?: string | Uint8Array; signal?: AbortSignal },
  ): Promise<Response> {
    const transport = this.#transport;
    const query: Query = [...(options.query ?? [])];
    if (transport.datacenter !== undefined) query.push(["dc", transport.datacenter]);
    const search = query.length === 0
      ? ""
      : "?" + query.map(([key, value]) =>
        value === "" ? encodeURIComponent(key) : `${key}=${encodeURIComponent(value)}`
      ).join("&");
    const headers = new Headers();
    if (transport.token !== undefined) headers.set("X-Consul-Token", transport.token);
    if (typeof options.body === "string") headers.set("Content-Type", "application/json");
    // A copy, because fetch's types take only bytes backed by a plain ArrayBuffer.
    const body = options.body instanceof Uint8Array ? new Uint8Array(options.body) : options.body;
    const request = new Request(transport.baseUrl + path + search, {
      method,
      headers,
      body,
      signal: options.signal,
    });
    return await transport.fetch(request);
  }

  async write(action: string, path: string, body?: string, query?: Query): Promise<void> {
    const response = await this.send("PUT", path, { body, query });
    const text = await response.text();
    if (!response.ok) throw new ClientError(action, response.status, text);
  }

  registerService(service: ServiceRegistration): Promise<void> {
    const definition: Record<string, unknown> = {
      Name: service.name,
      ID: service.id,
      Tags: service.tags,
      Address: service.address,
      Port: service.port,
      Meta: service.meta,
      EnableTagOverride: service.enableTagOverride,
      Check: service.check === undefined ? undefined : checkJson(service.check, "CheckID"),
      Checks: service.checks?.map((check) => checkJson(check, "CheckID")),
    };
    return this.write(
      `register service "${service.name}"`,
      "/v1/agent/service/register",
      JSON.stringify(definition),
    );
  }

  registerCheck(check: CheckRegistration): Promise<void> {
    const definition = { ...checkJson(check, "ID"), ServiceID: check.serviceId };
    return this.write(
      `register check "${check.name}"`,
      "/v1/agent/check/register",
      JSON.stringify(definition),
    );
  }

  updateTtl(id: string, status: CheckStatus, note: string | undefined): Promise<void> {
    const verb = status === "passing" ? "pass" : status === "warning" ? "warn" : "fail";
    return this.write(
      `${verb} check "${id}"`,
      `/v1/agent/check/${verb}/${segment(id)}`,
      undefined,
      note === undefined ? [] : [["note", note]],
    );
  }

  async kvGet(key: string): Promise<KvEntry | undefined> {
    const response = await this.send("GET", `/v1/kv/${keyPath(key)}`, {});
    const text = await response.text();
    if (response.status === 404) return undefined;
    if (!response.ok) throw new ClientError(`get key "${key}"`, response.status, text);
    return parseKvEntries(text)[0];
  }

  async kvPut(
    key: string,
    value: string | Uint8Array,
    options: KvPutOptions = {},
  ): Promise<boolean> {
    const query: Query = [];
    if (options.flags !== undefined) query.push(["flags", String(options.flags)]);
    if (options.cas !== undefined) query.push(["cas", String(options.cas)]);
    if (options.acquire !== undefined) query.push(["acquire", options.acquire]);
    if (options.release !== undefined) query.push(["release", options.release]);
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
    const response = await this.send("PUT", `/v1/kv/${keyPath(key)}`, { query, body: bytes });
    const text = await response.text();
    if (!response.ok) throw new ClientError(`put key "${key}"`, response.status, text);
    return text.trim() === "true";
  }

  async kvDelete(key: string, options: KvDeleteOptions = {}): Promise<boolean> {
    const query: Query = [];
    if (options.recurse === true) query.push(["recurse", ""]);
    if (options.cas !== undefined) query.push(["cas", String(options.cas)]);
    const response = await this.send("DELETE", `/v1/kv/${keyPath(key)}`, { query });
    const text = await response.text();
    if (!response.ok) throw new ClientError(`delete key "${key}"`, response.status, text);
    return text.trim() !== "false";
  }

  async kvList(
    prefix: string,
    index: number,
    wait: string,
    signal: AbortSignal | undefined,
  ): Promise<Indexed<KvEntry[]>> {
    const query: Query = [["recurse", ""], ...blocking(index, wait)];
    const response = await this.send("GET", `/v1/kv/${keyPath(prefix)}`, { query, signal });
    const text = await response.text();
    const answeredIndex = readIndex(response);
    if (response.status === 404) return { index: answeredIndex, value: [] };
    if (!response.ok) throw new ClientError(`list prefix "${prefix}"`, response.status, text);
    return { index: answeredIndex, value: parseKvEntries(text) };
  }

  async healthService(
    name: string,
    options: HealthServiceOptions,
    index: number,
    wait: string,
    signal: AbortSignal | undefined,
  ): Promise<Indexed<ServiceHealth[]>> {
    const query: Query = [...blocking(index, wait)];
    if (options.passing === true) query.push(["passing", ""]);
    if (options.tag !== undefined) query.push(["tag", options.tag]);
    const response = await this.send("GET", `/v1/health/service/${segment(name)}`, {
      query,
      signal,
    });
    const text = await response.text();
    if (!response.ok) {
      throw new ClientError(`read health of service "${name}"`, response.status, text);
    }
    const entries = JSON.parse(text) as RawServiceHealth[] | null;
    return { index: readIndex(response), value: (entries ?? []).map(toServiceHealth) };
  }

  watchService(
    name: string,
    callback: (instances: ServiceHealth[]) => void | Promise<void>,
    options: ServiceWatchOptions,
  ): Watch {
    const healthOptions = { passing: options.passing ?? true, tag: options.tag };
    const wait = waitOf(options);
    return startWatch({
      query: (index, signal) => this.healthService(name, healthOptions, index, wait, signal),
      callback,
      onError: options.onError,
      sleep: (ms, signal) => this.#transport.sleep(ms, signal),
      lifetime: this.#transport.lifetime,
    });
  }

  watchKvPrefix(
    prefix: string,
    callback: (entries: KvEntry[]) => void | Promise<void>,
    options: WatchOptions,
  ): Watch {
    const wait = waitOf(options);
    return startWatch({
      query: (index, signal) => this.kvList(prefix, index, wait, signal),
      callback,
      onError: options.onError,
      sleep: (ms, signal) => this.#transport.sleep(ms, signal),
      lifetime: this.#transport.lifetime,
    });
  }
}

function waitOf(options: WatchOptions): string {
  const wait = options.wait ?? "5m";
  // Parsed here so a typo fails at the call, not as a 400 inside the loop.
  parseGoDurationMs(wait);
  return wait;
}

function blocking(index: number, wait: string): Query {
  return index > 0 ? [["index", String(index)], ["wait", wait]] : [];
}

function readIndex(response: Response): number {
  const index = Number(response.headers.get("X-Consul-Index") ?? "0");
  return Number.isSafeInteger(index) && index >= 0 ? index : 0;
}

/** Escapes one path segment (an ID or a name). */
function segment(text: string): string {
  return encodeURIComponent(text);
}

/** Escapes a KV key, keeping its slashes. */
function keyPath(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

function checkJson(check: CheckDefinition, idField: "ID" | "CheckID"): Record<string, unknown> {
  return {
    [idField]: check.id,
    Name: check.name,
    TTL: check.ttl,
    HTTP: check.http,
    Method: check.method,
    Header: check.header,
    TCP: check.tcp,
    Args: check.args,
    Interval: check.interval,
    Timeout: check.timeout,
    Notes: check.notes,
    Status: check.status,
    DeregisterCriticalServiceAfter: check.deregisterCriticalServiceAfter,
  };
}

interface RawKvEntry {
  Key: string;
  Value: string | null;
  Flags: number | string;
  Session?: string;
  LockIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
}

function parseKvEntries(text: string): KvEntry[] {
  // Flags are uint64: large ones are quoted first so their digits survive JSON.parse.
  const raw = JSON.parse(quoteLargeIntegers(text, ["Flags"])) as RawKvEntry[] | null;
  const decoder = new TextDecoder();
  return (raw ?? []).map((entry) => {
    const bytes = entry.Value === null ? new Uint8Array(0) : decodeBase64(entry.Value);
    return {
      key: entry.Key,
      value: decoder.decode(bytes),
      bytes,
      flags: BigInt(entry.Flags),
      session: entry.Session ?? "",
      lockIndex: entry.LockIndex,
      createIndex: entry.CreateIndex,
      modifyIndex: entry.ModifyIndex,
    };
  });
}

interface RawServiceHealth {
  Node: {
    ID: string;
    Node: string;
    Address: string;
    Datacenter: string;
    Meta: Record<string, string> | null;
  };
  Service: {
    ID: string;
    Service: string;
    Tags: string[] | null;
    Address: string;
    Port: number;
    Meta: Record<string, string> | null;
  };
  Checks:
    | Array<{
      CheckID: string;
      Name: string;
      Status: CheckStatus;
      Output: string;
      Notes: string;
      ServiceID: string;
      Type: string;
    }>
    | null;
}

function toServiceHealth(entry: RawServiceHealth): ServiceHealth {
  return {
    node: {
      id: entry.Node.ID,
      name: entry.Node.Node,
      address: entry.Node.Address,
      datacenter: entry.Node.Datacenter,
      meta: entry.Node.Meta ?? {},
    },
    service: {
      id: entry.Service.ID,
      name: entry.Service.Service,
      tags: entry.Service.Tags ?? [],
      address: entry.Service.Address,
      port: entry.Service.Port,
      meta: entry.Service.Meta ?? {},
    },
    checks: (entry.Checks ?? []).map((check) => ({
      id: check.CheckID,
      name: check.Name,
      status: check.Status,
      output: check.Output,
      notes: check.Notes,
      serviceId: check.ServiceID,
      type: check.Type,
    })),
    address: entry.Service.Address !== "" ? entry.Service.Address : entry.Node.Address,
  };
}
