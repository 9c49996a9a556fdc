/**
 * The typed client of a cairn (or Consul) agent: services, checks, KV, health and watches. The
 * same {@link CairnClient} interface is served in-process by `createAgent()` and over HTTP by
 * `connect()`; both speak Consul's HTTP API, so one implementation over a `fetch` function
 * (`fetch_client.ts`) serves both.
 *
 * Field names are Consul's in camelCase (`Name` → `name`, `ServiceID` → `serviceId`); durations
 * are Go duration strings as Consul takes them (`"10s"`, `"1m30s"`).
 *
 * @module
 */

/** Health of a check, as Consul reports it. */
export type CheckStatus = "passing" | "warning" | "critical" | "maintenance";

/**
 * A check defined with a service or on its own. Give one of `ttl`, `http`, `tcp` or `args`
 * (script checks need `-enable-script-checks` on the agent).
 */
export interface CheckDefinition {
  /** The check's ID; defaults to the name (`service:<id>` inside a service). */
  id?: string;
  /** A human name; defaults inside a service to "Service '<name>' check". */
  name?: string;
  /** A TTL check: the application reports within this Go duration, e.g. "15s". */
  ttl?: string;
  /** An HTTP check: GET this URL every `interval`; 2xx passes, 429 warns. */
  http?: string;
  /** The HTTP check's method. @default {"GET"} */
  method?: string;
  /** The HTTP check's request headers. */
  header?: Record<string, string[]>;
  /** A TCP check: connect to this "host:port" every `interval`. */
  tcp?: string;
  /** A script check: run this program and arguments every `interval`. */
  args?: string[];
  /** How often HTTP, TCP and script checks run, e.g. "10s". */
  interval?: string;
  /** How long one HTTP, TCP or script check may take, e.g. "2s". */
  timeout?: string;
  /** Free text shown with the check. */
  notes?: string;
  /** The status before the first result. @default {"critical"} */
  status?: CheckStatus;
  /** Deregister the service after the check has been critical this long, e.g. "1m". */
  deregisterCriticalServiceAfter?: string;
}

/** A check registered on its own, optionally bound to a local service. */
export interface CheckRegistration extends CheckDefinition {
  /** A human name; also the ID when `id` is not given. */
  name: string;
  /** The local service the check belongs to. */
  serviceId?: string;
}

/** A service registered with the agent (`PUT /v1/agent/service/register`). */
export interface ServiceRegistration {
  /** The service's name, as DNS and the health endpoint know it. */
  name: string;
  /** Unique on this agent. @default {the name} */
  id?: string;
  /** Tags, for filtering and `_tag._name.service.consul` DNS queries. */
  tags?: string[];
  /** The instance's address. @default {the node's address} */
  address?: string;
  /** The instance's port. */
  port?: number;
  /** Metadata, string to string. */
  meta?: Record<string, string>;
  /** Let the catalog's tags override the agent's. @default {false} */
  enableTagOverride?: boolean;
  /** One check for the service. */
  check?: CheckDefinition;
  /** Several checks for the service. */
  checks?: CheckDefinition[];
}

/** A key-value entry as the KV store holds it. */
export interface KvEntry {
  key: string;
  /** The value as UTF-8 text ("" when empty). */
  value: string;
  /** The value's bytes. */
  bytes: Uint8Array;
  /** Opaque flags set by the writer (uint64, hence a bigint). */
  flags: bigint;
  /** The session holding the key's lock, "" when unlocked. */
  session: string;
  /** How many times the lock was acquired. */
  lockIndex: number;
  /** The index that created the key. */
  createIndex: number;
  /** The index of the last change; use it as `cas` for a compare-and-set. */
  modifyIndex: number;
}

/** Options of {@link KvApi.put}. */
export interface KvPutOptions {
  /** Opaque flags stored with the value (uint64). */
  flags?: number | bigint;
  /** Compare-and-set: write only when the key's `modifyIndex` is this (0: only when absent). */
  cas?: number;
  /** Acquire the key's lock for this session ID. */
  acquire?: string;
  /** Release the key's lock held by this session ID. */
  release?: string;
}

/** Options of {@link KvApi.delete}. */
export interface KvDeleteOptions {
  /** Delete every key under this prefix. @default {false} */
  recurse?: boolean;
  /** Compare-and-delete: only when the key's `modifyIndex` is this. */
  cas?: number;
}

/** The KV store. */
export interface KvApi {
  /**
   * Reads one key.
   *
   * @param key the key, e.g. "app/config"
   * @returns the entry, or `undefined` when the key does not exist
   */
  get(key: string): Promise<KvEntry | undefined>;
  /**
   * Writes one key.
   *
   * @param key the key
   * @param value text (stored as UTF-8) or bytes
   * @param options flags, compare-and-set, lock acquire or release
   * @returns false when a `cas`, `acquire` or `release` condition failed
   */
  put(key: string, value: string | Uint8Array, options?: KvPutOptions): Promise<boolean>;
  /**
   * Deletes a key, or a prefix with `recurse`. A missing key is not an error.
   *
   * @param key the key or prefix
   * @param options recurse, compare-and-delete
   * @returns false when a `cas` condition failed
   */
  delete(key: string, options?: KvDeleteOptions): Promise<boolean>;
  /**
   * Lists every entry under a prefix, sorted by key.
   *
   * @param prefix e.g. "app/" ("" for all)
   * @returns the entries, `[]` when none
   */
  list(prefix: string): Promise<KvEntry[]>;
}

/** The local services of the agent. */
export interface ServicesApi {
  /**
   * Registers (or replaces) a service on the agent, with its checks.
   *
   * @param service the definition
   * @throws {ClientError} 400 when the agent refuses the definition
   */
  register(service: ServiceRegistration): Promise<void>;
  /**
   * Deregisters a local service and its checks.
   *
   * @param id the service's ID
   * @throws {ClientError} 404 when the agent has no such service
   */
  deregister(id: string): Promise<void>;
}

/** The local checks of the agent. */
export interface ChecksApi {
  /**
   * Registers (or replaces) a check on the agent.
   *
   * @param check the definition
   * @throws {ClientError} 400 when the agent refuses the definition
   */
  register(check: CheckRegistration): Promise<void>;
  /**
   * Deregisters a local check.
   *
   * @param id the check's ID
   */
  deregister(id: string): Promise<void>;
  /**
   * Marks a TTL check passing and restarts its TTL.
   *
   * @param id the check's ID, e.g. "service:web"
   * @param note becomes the check's output
   */
  pass(id: string, note?: string): Promise<void>;
  /**
   * Marks a TTL check warning and restarts its TTL.
   *
   * @param id the check's ID
   * @param note becomes the check's output
   */
  warn(id: string, note?: string): Promise<void>;
  /**
   * Marks a TTL check critical and restarts its TTL.
   *
   * @param id the check's ID
   * @param note becomes the check's output
   */
  fail(id: string, note?: string): Promise<void>;
}

/** A node in the catalog. */
export interface NodeInfo {
  id: string;
  /** The node's name. */
  name: string;
  address: string;
  datacenter: string;
  meta: Record<string, string>;
}

/** A service instance in the catalog. */
export interface ServiceInstance {
  id: string;
  /** The service's name. */
  name: string;
  tags: string[];
  /** The instance's own address; "" means the node's address. */
  address: string;
  port: number;
  meta: Record<string, string>;
}

/** A check's latest result. */
export interface HealthCheck {
  id: string;
  name: string;
  status: CheckStatus;
  output: string;
  notes: string;
  /** The service the check belongs to, "" for a node check. */
  serviceId: string;
  /** "ttl", "http", "tcp", "script", or "" for the agent's own. */
  type: string;
}

/** One instance of a service with its node and checks (`/v1/health/service/:name`). */
export interface ServiceHealth {
  node: NodeInfo;
  service: ServiceInstance;
  checks: HealthCheck[];
  /** The address to connect to: the service's, else the node's. */
  address: string;
}

/** Options of {@link HealthApi.service}. */
export interface HealthServiceOptions {
  /** Only instances whose every check passes. @default {false} */
  passing?: boolean;
  /** Only instances with this tag. */
  tag?: string;
}

/** Health queries. */
export interface HealthApi {
  /**
   * Lists the instances of a service with their health.
   *
   * @param name the service's name
   * @param options only passing instances, only a tag
   * @returns the instances, `[]` when none
   */
  service(name: string, options?: HealthServiceOptions): Promise<ServiceHealth[]>;
}

/** A running watch. */
export interface Watch {
  /** Stops the watch; an outstanding blocking query is abandoned. Idempotent. */
  cancel(): void;
  /** Resolves when the watch has ended: cancelled, or its agent stopped or closed. */
  readonly done: Promise<void>;
}

/** Options of the watches. */
export interface WatchOptions {
  /** How long one blocking query waits, as a Go duration. @default {"5m"} */
  wait?: string;
  /** Called when a query fails (the watch retries with back-off) or the callback throws. */
  onError?: (error: unknown) => void;
}

/** Options of {@link WatchApi.service}. */
export interface ServiceWatchOptions extends WatchOptions {
  /** Watch only instances whose every check passes. @default {true} */
  passing?: boolean;
  /** Watch only instances with this tag. */
  tag?: string;
}

/** Blocking-query watches: the callback runs once with the current state, then on every change. */
export interface WatchApi {
  /**
   * Watches the instances of a service (by default only healthy ones).
   *
   * @param name the service's name
   * @param callback receives the full list each time it changes; awaited before the next query
   * @param options passing only (default), tag, wait, error handler
   * @returns the watch, to cancel it
   */
  service(
    name: string,
    callback: (instances: ServiceHealth[]) => void | Promise<void>,
    options?: ServiceWatchOptions,
  ): Watch;
  /**
   * Watches every key under a prefix.
   *
   * @param prefix e.g. "app/"
   * @param callback receives all entries under the prefix each time one changes
   * @param options wait, error handler
   * @returns the watch, to cancel it
   */
  kvPrefix(
    prefix: string,
    callback: (entries: KvEntry[]) => void | Promise<void>,
    options?: WatchOptions,
  ): Watch;
}

/** The typed interface of an agent, in-process or remote. */
export interface CairnClient {
  readonly services: ServicesApi;
  readonly checks: ChecksApi;
  readonly kv: KvApi;
  readonly health: HealthApi;
  readonly watch: WatchApi;
}

/** The agent answered with a status the call does not expect. */
export class ClientError extends Error {
  override name = "ClientError";
  /** The HTTP status code. */
  readonly status: number;
  /** The agent's error text. */
  readonly body: string;

  /**
   * @param action what was attempted, e.g. `register service "web"`
   * @param status the HTTP status
   * @param body the agent's answer
   */
  constructor(action: string, status: number, body: string) {
    super(`Cannot ${action}: the agent answered ${status} (${body.trim()})`);
    this.status = status;
    this.body = body.trim();
  }
}
