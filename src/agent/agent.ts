/**
 * The agent: starts the server (a local command log in dev mode), keeps its own services and
 * checks and syncs them into the catalog, and serves the HTTP API and DNS. `startAgent` is what
 * `cairn agent` and `createAgent()` call.
 *
 * @module
 */

import type { CheckInput, NodeInput } from "../core/state/commands.ts";
import type { HealthStatus } from "../core/state/types.ts";
import { DnsServer } from "../dns/dns_server.ts";
import type {
  AgentApi,
  ApiBackend,
  MemberView,
  ServerApi,
  UserEvent,
} from "../http/api_backend.ts";
import { defaultBlockingConfig } from "../http/blocking_query.ts";
import { createHttpApi } from "../http/http_api.ts";
import { randomUuid } from "../http/session.ts";
import type { Address, HttpServer, Runtime } from "../runtime.ts";
import { LocalServer } from "../server/local_server.ts";
import { AntiEntropy } from "./anti_entropy.ts";
import type { AgentConfig } from "./config.ts";
import { DnsCatalog } from "./dns_catalog.ts";
import { EventLog } from "./event_log.ts";
import { LocalState } from "./local_state.ts";
import { Logger } from "./logger.ts";
import { Registrations } from "./registrations.ts";

/** cairn's version, reported by `/v1/agent/self` and `cairn version`. */
export const cairnVersion = "0.1.0";

/** A started agent. */
export interface RunningAgent {
  readonly config: AgentConfig;
  /** Where the HTTP API listens, when it does. */
  readonly httpAddress: Address | undefined;
  /** Where DNS listens, when it does. */
  readonly dnsAddress: Address | undefined;
  /** The HTTP API's fetch handler, usable without a socket. */
  readonly fetch: (request: Request) => Response | Promise<Response>;
  /** Stops everything; resolves when sockets are closed. Idempotent. */
  stop(): Promise<void>;
  /** Resolves when the agent has stopped (after `stop()` or `PUT /v1/agent/leave`). */
  readonly stopped: Promise<void>;
}

/** Options that are not configuration: where logs go. */
export interface StartOptions {
  logger?: Logger;
}

/**
 * Starts an agent. Today only a dev agent (`-dev`): an in-memory server that is its own leader.
 * Durable servers arrive with Raft and the WAL, clients with gossip.
 *
 * @throws RangeError naming the fix when the configuration cannot run yet
 */
export async function startAgent(
  runtime: Runtime,
  config: AgentConfig,
  options: StartOptions = {},
): Promise<RunningAgent> {
  const logger = options.logger ?? new Logger(runtime, config.logLevel, config.logJson);
  if (!config.dev) {
    // A server without durable, replicated state would lose acknowledged writes on restart, and
    // a client has no servers to join without gossip: refuse rather than pretend.
    throw new RangeError(
      "Cannot start a non-dev agent yet: durable servers (Raft, WAL) and clients (gossip) are " +
        "not built; use -dev for a single in-memory agent",
    );
  }
  if (config.retryJoin.length > 0) {
    logger.warn(
      "-retry-join has no effect yet: gossip membership is not built, so nothing is joined",
    );
  }
  if (config.encrypt !== undefined) {
    logger.warn(
      "-encrypt has no effect yet: gossip membership is not built, so nothing is encrypted",
    );
  }
  const agent = new Agent(runtime, config, logger);
  await agent.start();
  return agent;
}

class Agent implements RunningAgent, AgentApi {
  readonly config: AgentConfig;
  readonly #runtime: Runtime;
  readonly #logger: Logger;
  readonly #server: LocalServer;
  readonly #serverApi: ServerApi;
  readonly #local: LocalState;
  readonly #antiEntropy: AntiEntropy;
  readonly #registrations: Registrations;
  readonly #events = new EventLog();
  readonly #stopController = new AbortController();
  readonly #nodeId: string;
  readonly #advertise: string;
  readonly eventTopic = "agent:events";
  #http: HttpServer | undefined;
  #dns: DnsServer | undefined;
  #stopping: Promise<void> | undefined;
  #resolveStopped!: () => void;
  readonly stopped: Promise<void>;
  readonly fetch: (request: Request) => Response | Promise<Response>;

  constructor(runtime: Runtime, config: AgentConfig, logger: Logger) {
    this.config = config;
    this.#runtime = runtime;
    this.#logger = logger;
    this.#nodeId = config.nodeId ?? randomUuid((bytes) => runtime.randomBytes(bytes));
    this.#advertise = config.advertiseAddr ??
      (config.bindAddr === "0.0.0.0" ? "127.0.0.1" : config.bindAddr);
    this.#server = new LocalServer(runtime);
    const server = this.#server;
    const serverAddress = `${this.#advertise}:${config.ports.server}`;
    this.#serverApi = {
      store: server.store,
      propose: (proposal) => server.propose(proposal),
      renewSession: (id) => server.renewSession(id),
      leaderAddress: () => serverAddress,
      peers: () => [serverAddress],
    };
    this.#local = new LocalState(runtime, {
      nodeName: config.nodeName,
      changed: () => queueMicrotask(() => void this.#antiEntropy.syncChanges()),
    });
    this.#antiEntropy = new AntiEntropy(runtime, {
      server: this.#serverApi,
      local: this.#local,
      node: () => this.#nodeInput(),
    }, { fullSyncIntervalMs: 60_000, retryMs: 15_000 });
    this.#registrations = new Registrations(this.#local, {
      nodeName: config.nodeName,
      enableScriptChecks: config.enableScriptChecks,
      enableLocalScriptChecks: config.enableLocalScriptChecks,
      warn: (message) => this.#logger.warn(message),
    });
    this.stopped = new Promise((resolve) => this.#resolveStopped = resolve);
    const backend: ApiBackend = {
      runtime,
      server: this.#serverApi,
      agent: this,
      blocking: defaultBlockingConfig(),
      ui: config.ui,
      kvValueBytesMax: 512 * 1024,
      txnOpsMax: 128,
      stopSignal: this.#stopController.signal,
    };
    this.fetch = createHttpApi(backend).fetch;
  }

  get nodeName(): string {
    return this.config.nodeName;
  }

  get datacenter(): string {
    return this.config.datacenter;
  }

  #nodeInput(): NodeInput {
    return {
      id: this.#nodeId,
      node: this.config.nodeName,
      address: this.#advertise,
      datacenter: this.config.datacenter,
      taggedAddresses: { lan: this.#advertise, lan_ipv4: this.#advertise, wan: this.#advertise },
      meta: { "consul-network-segment": "", ...this.config.nodeMeta },
    };
  }

  async start(): Promise<void> {
    await this.#reconcileSelf();
    for (const definition of this.config.services) {
      await this.#registrations.registerService(definition, {
        replaceExistingChecks: false,
        fromConfig: true,
      });
    }
    for (const definition of this.config.checks) {
      await this.#registrations.registerCheck(definition, { fromConfig: true });
    }
    this.#local.startReaper(30_000);
    this.#antiEntropy.start();
    await this.#antiEntropy.fullSync();
    await this.#listen();
    this.#logger.info(
      `cairn agent running: node "${this.nodeName}", datacenter "${this.datacenter}", ` +
        `HTTP ${formatAddress(this.#http?.address)}, DNS ${formatAddress(this.#dns?.address)}`,
    );
  }

  /** The leader's reconciliation of its own membership: the node with a passing serfHealth. */
  async #reconcileSelf(): Promise<void> {
    const serfHealth: CheckInput = {
      checkId: "serfHealth",
      name: "Serf Health Status",
      status: "passing",
      notes: "",
      output: "Agent alive and reachable",
      serviceId: "",
      type: "",
      intervalMs: 0,
      timeoutMs: 0,
      definition: {},
    };
    // Servers appear in the catalog as the "consul" service, as Consul's leader registers them.
    const consulService = this.config.server
      ? {
        id: "consul",
        service: "consul",
        tags: [],
        address: "",
        taggedAddresses: {},
        meta: { version: cairnVersion, raft_version: "3" },
        port: this.config.ports.server,
        weights: { passing: 1, warning: 1 },
        enableTagOverride: false,
        kind: "",
      }
      : undefined;
    const result = await this.#server.propose({
      type: "register",
      node: this.#nodeInput(),
      skipNodeUpdate: false,
      service: consulService,
      checks: [serfHealth],
    });
    if (!result.ok) throw new Error(`Cannot register node "${this.nodeName}": ${result.error}`);
  }

  async #listen(): Promise<void> {
    const host = this.config.clientAddr;
    try {
      if (this.config.ports.http >= 0) {
        this.#http = await this.#runtime.serveHttp(this.fetch, {
          host,
          port: this.config.ports.http,
        });
      }
      if (this.config.ports.dns >= 0) {
        const lookup = new DnsCatalog(this.#server.store, {
          datacenter: this.config.datacenter,
          domain: this.config.domain,
        });
        this.#dns = await DnsServer.start(this.#runtime, lookup, {
          host,
          port: this.config.ports.dns,
        });
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  get httpAddress(): Address | undefined {
    return this.#http?.address;
  }

  get dnsAddress(): Address | undefined {
    return this.#dns?.address;
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopController.abort();
      this.#antiEntropy.stop();
      this.#local.stop();
      this.#server.stop();
      await Promise.allSettled([this.#http?.close(), this.#dns?.close()]);
      this.#logger.info("cairn agent stopped");
      this.#resolveStopped();
    })();
    return this.#stopping;
  }

  // ---- AgentApi ---------------------------------------------------------------------------

  services() {
    return this.#local.serviceRecords();
  }

  checks() {
    return this.#local.checkRecords();
  }

  async registerService(definition: unknown, options: { replaceExistingChecks: boolean }) {
    await this.#registrations.registerService(definition, { ...options, fromConfig: false });
    await this.#antiEntropy.syncChanges();
  }

  async deregisterService(id: string) {
    this.#registrations.deregisterService(id);
    await this.#antiEntropy.syncChanges();
  }

  async setServiceMaintenance(id: string, enable: boolean, reason: string) {
    this.#registrations.setServiceMaintenance(id, enable, reason);
    await this.#antiEntropy.syncChanges();
  }

  async setNodeMaintenance(enable: boolean, reason: string) {
    this.#registrations.setNodeMaintenance(enable, reason);
    await this.#antiEntropy.syncChanges();
  }

  async registerCheck(definition: unknown) {
    await this.#registrations.registerCheck(definition, { fromConfig: false });
    await this.#antiEntropy.syncChanges();
  }

  async deregisterCheck(id: string) {
    this.#registrations.deregisterCheck(id);
    await this.#antiEntropy.syncChanges();
  }

  async updateTtlCheck(id: string, status: HealthStatus, output: string) {
    this.#registrations.updateTtl(id, status, output);
    await this.#antiEntropy.syncChanges();
  }

  members(wan: boolean): MemberView[] {
    const tags: Record<string, string> = {
      role: "consul",
      dc: this.datacenter,
      port: String(this.config.ports.server),
      id: this.#nodeId,
      vsn: "2",
      vsn_min: "2",
      vsn_max: "3",
      build: `${cairnVersion}:cairn`,
      bootstrap: "1",
    };
    const name = wan ? `${this.nodeName}.${this.datacenter}` : this.nodeName;
    const port = wan ? this.config.ports.serfWan : this.config.ports.serfLan;
    if (wan && !this.config.server) return [];
    return [{ name, addr: this.#advertise, port, tags, status: 1 }];
  }

  self(): Record<string, unknown> {
    const member = this.members(false)[0];
    return {
      Config: {
        Datacenter: this.datacenter,
        PrimaryDatacenter: this.datacenter,
        NodeName: this.nodeName,
        NodeID: this.#nodeId,
        Server: this.config.server,
        Revision: "cairn",
        Version: cairnVersion,
      },
      DebugConfig: {
        Datacenter: this.datacenter,
        NodeName: this.nodeName,
        ServerMode: this.config.server,
        DevMode: this.config.dev,
        ClientAddrs: [this.config.clientAddr],
        DNSPort: this.config.ports.dns,
        HTTPPort: this.config.ports.http,
      },
      Coord: null,
      Member: {
        Name: member.name,
        Addr: member.addr,
        Port: member.port,
        Tags: member.tags,
        Status: member.status,
      },
      Stats: {
        agent: {
          check_monitors: String(this.#local.checks.size),
          services: String(this.#local.services.size),
        },
        consul: {
          server: String(this.config.server),
          leader: String(this.#server.isLeader),
          known_datacenters: "1",
        },
        raft: { applied_index: String(this.#server.store.lastIndex), state: "Leader" },
        runtime: { name: this.#runtime.name },
      },
      Meta: this.config.nodeMeta,
    };
  }

  async leave(): Promise<void> {
    // Without gossip there is no pool to leave: deregister nothing, shut down after answering.
    this.#runtime.timers.after(10, () => void this.stop(), { keepAlive: true });
    await Promise.resolve();
  }

  fireEvent(event: Omit<UserEvent, "id" | "lTime" | "version">): Promise<UserEvent> {
    const id = randomUuid((bytes) => this.#runtime.randomBytes(bytes));
    const stored = this.#events.add({ ...event, id });
    this.#server.store.watches.fire([this.eventTopic], []);
    return Promise.resolve(stored);
  }

  events(): { index: number; events: UserEvent[] } {
    return { index: this.#events.index, events: this.#events.list() };
  }
}

function formatAddress(address: Address | undefined): string {
  return address === undefined ? "off" : `${address.host}:${address.port}`;
}
