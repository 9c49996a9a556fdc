/**
 * The agent: joins the LAN gossip pool, then either runs a server (a one-server Raft cluster in
 * memory for `-dev`, a durable one under `<data-dir>/raft` formed with the servers gossip finds
 * for `-server`) or, as a client, reaches the servers gossip finds over the server RPC
 * (`catalog_side.ts`); keeps its own services and checks and syncs them into the catalog, and
 * serves the HTTP API and DNS. `startAgent` is what `cairn agent` and `createAgent()` call.
 *
 * @module
 */

import type { ApplyResult, NodeInput } from "../core/state/commands.ts";
import type { HealthStatus } from "../core/state/types.ts";
import { DnsServer } from "../dns/dns_server.ts";
import type {
  AgentApi,
  KeyringAction,
  KeyringOptions,
  KeyringPoolResponse,
  MemberView,
  UserEvent,
} from "../http/api_backend.ts";
import { defaultBlockingConfig } from "../http/blocking_query.ts";
import { createHttpApi } from "../http/http_api.ts";
import { randomUuid } from "../core/uuid.ts";
import type { Address, HttpServer, Runtime } from "../runtime.ts";
import { loadNodeId } from "../server/node_id.ts";
import { openClusterServer } from "../server/cluster_server.ts";
import { RaftServer, raftServerConfigFor } from "../server/raft_server.ts";
import { formatHostPort, type RpcHandler } from "../server/rpc.ts";
import { MemoryFileStore } from "../storage/memory_files.ts";
import { AntiEntropy } from "./anti_entropy.ts";
import { type CatalogSide, clientSide, serverSide } from "./catalog_side.ts";
import { clientRpcHandlers } from "./server_endpoints.ts";
import { bootstrapConflict, consulServers } from "./server_finder.ts";
import { MemberReconciler, serfHealthCheck, serfHealthCheckId } from "./member_reconciler.ts";
import type { AgentConfig } from "./config.ts";
import { DnsCatalog } from "./dns_catalog.ts";
import { EventLog, userEventMatches } from "./event_log.ts";
import {
  consulTags,
  CoordinateSender,
  LanPool,
  type PoolUserEvent,
  WanFlooder,
} from "./gossip/mod.ts";
import { startWanPool, wanCoordinates, wanDatacenters } from "./gossip/wan_pool.ts";
import { DatacenterForwarder, keyringLanHandler } from "./datacenter_forwarder.ts";
import { withOtherDatacenters } from "./forwarded_dns.ts";
import {
  consulEventNamespace,
  consulUserEventPrefix,
  consulUserEventVersion,
  decodeConsulUserEvent,
  encodeConsulUserEvent,
} from "../core/wire/mod.ts";
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
  /** Why the agent stopped by itself on an error (e.g. `retry_max` joins failed), if it did. */
  readonly failure?: string;
}

/** Options that are not configuration: where logs go. */
export interface StartOptions {
  logger?: Logger;
}

/**
 * Starts an agent: `-dev` (a one-server Raft cluster in memory); a durable server
 * (`-server -bootstrap-expect=N -data-dir=D`, Raft state under `D/raft`, node ID in
 * `D/node-id`) that learns the other servers from LAN gossip (members tagged `role=consul`;
 * `-retry-join` names the gossip address of any agent, as in Consul) and bootstraps with them
 * (`src/server/cluster_formation.ts`); or a client (no `-server`) that joins the LAN pool,
 * learns the servers the same way and reaches the catalog through them (`catalog_side.ts`).
 * With the LAN pool off (`-serf-lan-port=-1`) a server's `-retry-join` names other servers,
 * dialled on the server RPC port.
 *
 * @throws RangeError naming the fix when the configuration cannot run yet
 * @throws Error "Cannot open the write-ahead log: ..." when the data dir is damaged
 */
export async function startAgent(
  runtime: Runtime,
  config: AgentConfig,
  options: StartOptions = {},
): Promise<RunningAgent> {
  const logger = options.logger ?? new Logger(runtime, config.logLevel, config.logJson);
  refuseUnbuiltShapes(config);
  const nodeId = await resolveNodeId(runtime, config);
  const agent = new Agent(runtime, config, logger, nodeId);
  try {
    await agent.start();
  } catch (error) {
    await agent.stop();
    throw error;
  }
  return agent;
}

function refuseUnbuiltShapes(config: AgentConfig): void {
  if (config.dev) return;
  // A client finds its servers through the LAN pool only: without it there is no way to them.
  if (!config.server) {
    if (config.ports.serfLan < 0) {
      throw new RangeError(
        "Cannot start a client agent with -serf-lan-port=-1: clients find servers through LAN " +
          "gossip; give -serf-lan-port=<port> (8301 by default)",
      );
    }
    return;
  }
  // A server that expects no one must know whom to join.
  if (config.bootstrapExpect === 0 && config.retryJoin.length === 0) {
    throw new RangeError(
      "Cannot start a server with -bootstrap-expect=0 and no -retry-join: it could neither " +
        "bootstrap nor join; give -bootstrap-expect=<servers> or -retry-join=<server address>",
    );
  }
  if (config.ports.server < 0) {
    throw new RangeError(
      "Cannot start a server with -server-port=-1: servers replicate over the server RPC; " +
        "give -server-port=<port>",
    );
  }
}

/** The RPC addresses of `-retry-join` hosts: their host, this agent's server port (Consul's). */
function serverJoinAddresses(config: AgentConfig): string[] {
  return config.retryJoin.map((entry) => {
    const host = /^\[(.+)\](?::\d+)?$/.exec(entry)?.[1] ??
      (entry.split(":").length === 2 ? entry.split(":")[0] : entry);
    return formatHostPort({ host, port: config.ports.server });
  });
}

/** The node ID: configured, else kept in `<data-dir>/node-id`, else (dev) a fresh one. */
async function resolveNodeId(runtime: Runtime, config: AgentConfig): Promise<string> {
  const generate = () => randomUuid((bytes) => runtime.randomBytes(bytes));
  if (config.dev || config.dataDir === undefined) return config.nodeId ?? generate();
  return await loadNodeId(await runtime.files(config.dataDir), {
    configured: config.nodeId,
    generate,
  });
}

/** What opening the server takes beyond the configuration. */
interface ServerParts {
  nodeId: string;
  /** RPC addresses of the servers LAN gossip knows; `undefined` when the LAN pool is off. */
  discovered: (() => readonly string[]) | undefined;
  /** Why bootstrapping must wait (a server expecting another count); `undefined` without gossip. */
  bootstrapBlocked: (() => string | undefined) | undefined;
  /** The server's endpoints for client agents. */
  extraRpc: (server: RaftServer) => Record<string, RpcHandler>;
}

async function openServer(
  runtime: Runtime,
  config: AgentConfig,
  logger: Logger,
  parts: ServerParts,
): Promise<RaftServer> {
  const nodeId = parts.nodeId;
  const advertise = config.advertiseAddr ??
    (config.bindAddr === "0.0.0.0" ? "127.0.0.1" : config.bindAddr);
  const address = `${advertise}:${config.ports.server}`;
  const log = {
    info: (message: string) => logger.info(`raft: ${message}`),
    warn: (message: string) => logger.warn(`raft: ${message}`),
    error: (message: string) => logger.error(`raft: ${message}`),
  };
  if (config.dev || config.dataDir === undefined) {
    const files = new MemoryFileStore("memory:raft");
    // A dev agent with gossip serves client agents as Consul's does: the server RPC listens.
    const served = await openDevServer(runtime, config, { files, nodeId, advertise, log, parts });
    if (served !== undefined) return served;
    const server = await RaftServer.open(runtime, {
      id: nodeId,
      address,
      files,
      bootstrap: true,
      config: raftServerConfigFor(config),
      log,
    });
    return server;
  }
  const files = await runtime.files(`${config.dataDir}/raft`);
  const server = await openClusterServer(runtime, {
    id: nodeId,
    name: config.nodeName,
    bind: { host: config.bindAddr, port: config.ports.server },
    advertiseHost: advertise,
    files,
    bootstrapExpect: config.bootstrapExpect,
    // With the LAN pool on, -retry-join names gossip addresses (Consul's meaning) and servers
    // come from gossip; with it off, -retry-join names servers, dialled on the RPC port.
    joinAddresses: parts.discovered === undefined ? serverJoinAddresses(config) : [],
    discoveredAddresses: parts.discovered,
    bootstrapBlocked: parts.bootstrapBlocked,
    extraRpc: parts.extraRpc,
    config: raftServerConfigFor(config),
    log,
  });
  // A forming cluster elects its leader after the servers found each other; registering this
  // node needs one, so wait a bounded time (the registration retries past it).
  if (!await server.waitForLeader(15_000)) log.warn("No cluster leader yet: continuing");
  return server;
}

/**
 * A `-dev` server that also listens for the server RPC, so client agents can use it as they use
 * Consul's dev agent, when the LAN pool is on and the server port is not -1; `undefined`
 * otherwise (an embedded dev agent opens no socket unless asked).
 *
 * @throws Error "Cannot listen on ..." when the port is taken, as Consul's dev agent fails
 */
async function openDevServer(
  runtime: Runtime,
  config: AgentConfig,
  dev: {
    files: MemoryFileStore;
    nodeId: string;
    advertise: string;
    log: { info(m: string): void; warn(m: string): void; error(m: string): void };
    parts: ServerParts;
  },
): Promise<RaftServer | undefined> {
  if (config.ports.serfLan < 0 || config.ports.server < 0) return undefined;
  return await openClusterServer(runtime, {
    id: dev.nodeId,
    name: config.nodeName,
    bind: { host: config.bindAddr, port: config.ports.server },
    advertiseHost: dev.advertise,
    files: dev.files,
    bootstrapExpect: 1,
    joinAddresses: [],
    extraRpc: dev.parts.extraRpc,
    config: raftServerConfigFor(config),
    log: dev.log,
  });
}

class Agent implements RunningAgent, AgentApi {
  readonly config: AgentConfig;
  readonly #runtime: Runtime;
  readonly #logger: Logger;
  /** The catalog: this server's own, or (on a client) the servers'; set by `start()`. */
  #side: CatalogSide | undefined;
  /** The HTTP API, built once the catalog side exists. */
  #app: ((request: Request) => Response | Promise<Response>) | undefined;
  /** On a server with gossip: marks failed members critical, deregisters those that left. */
  #reconciler: MemberReconciler | undefined;
  readonly #local: LocalState;
  readonly #antiEntropy: AntiEntropy;
  readonly #registrations: Registrations;
  readonly #events = new EventLog();
  readonly #stopController = new AbortController();
  readonly #nodeId: string;
  readonly #advertise: string;
  readonly eventTopic = "agent:events";
  /** The LAN gossip pool; `undefined` when `ports.serfLan` is -1 (see "Gossip" below). */
  #gossip: LanPool | undefined;
  /** The servers' WAN gossip pool (src/agent/gossip/wan_pool.ts); `undefined` when off. */
  #wan: LanPool | undefined;
  /** Sends `?dc=<other>` data requests to that datacenter's servers (with the WAN pool only). */
  #datacenterForwarder: DatacenterForwarder | undefined;
  /** Joins this datacenter's servers seen on the LAN into the WAN pool (Consul's flood join). */
  #wanFlooder: WanFlooder | undefined;
  /** Sends our coordinate to the servers every 15 s when it changed (with gossip only). */
  #coordinateSender: CoordinateSender | undefined;
  #http: HttpServer | undefined;
  #dns: DnsServer | undefined;
  #stopping: Promise<void> | undefined;
  #resolveStopped!: () => void;
  readonly stopped: Promise<void>;
  failure: string | undefined;
  readonly fetch: (request: Request) => Response | Promise<Response>;

  constructor(runtime: Runtime, config: AgentConfig, logger: Logger, nodeId: string) {
    this.config = config;
    this.#runtime = runtime;
    this.#logger = logger;
    this.#nodeId = nodeId;
    this.#advertise = config.advertiseAddr ??
      (config.bindAddr === "0.0.0.0" ? "127.0.0.1" : config.bindAddr);
    this.#local = new LocalState(runtime, {
      nodeName: config.nodeName,
      changed: () => queueMicrotask(() => void this.#antiEntropy.syncChanges()),
    });
    const catalog = () => this.#requireSide().catalog;
    this.#antiEntropy = new AntiEntropy(runtime, {
      catalog: {
        propose: (proposal) => catalog().propose(proposal),
        readNode: (node) => catalog().readNode(node),
      },
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
    this.fetch = (request) =>
      this.#app?.(request) ??
        new Response("Cannot answer: the agent is starting", { status: 503 });
  }

  #startReconciler(server: RaftServer, gossip: LanPool): void {
    const store = server.store;
    this.#reconciler = new MemberReconciler(this.#runtime, {
      members: () => gossip.members(),
      catalog: {
        serfHealth: (node) => {
          if (store.node(node) === undefined) return undefined;
          const checks = store.nodeChecks(node).value;
          return { status: checks.find((check) => check.checkId === serfHealthCheckId)?.status };
        },
      },
      isLeader: () => server.isLeader,
      propose: (proposal) => server.propose(proposal),
      warn: (message) => this.#logger.warn(message),
      datacenter: this.datacenter,
      selfName: this.nodeName,
    });
    this.#reconciler.start();
  }

  #requireSide(): CatalogSide {
    const side = this.#side;
    if (side === undefined) throw new Error("Cannot reach the catalog: the agent is starting");
    return side;
  }

  /**
   * Opens the catalog side: a server's Raft server (finding the other servers through the LAN
   * pool started before), or a client's router to the servers; then builds the HTTP API on it.
   */
  async #openCatalogSide(): Promise<void> {
    const gossip = this.#gossip;
    const zone = { datacenter: this.datacenter, domain: this.config.domain };
    if (!this.config.server) {
      if (gossip === undefined) throw new Error("Cannot start a client without the LAN pool");
      this.#side = clientSide(this.#runtime, { ...zone, members: () => gossip.members() });
    } else {
      const server = await openServer(this.#runtime, this.config, this.#logger, {
        nodeId: this.#nodeId,
        discovered: gossip === undefined
          ? undefined
          : () => consulServers(gossip.members(), this.datacenter).map((s) => s.rpcAddress),
        bootstrapBlocked: gossip === undefined ? undefined : () =>
          bootstrapConflict(
            consulServers(gossip.members(), this.datacenter),
            this.config.bootstrapExpect,
          ),
        extraRpc: (raft) => {
          const dns = new DnsCatalog(raft.store, zone);
          return {
            ...clientRpcHandlers(raft, {
              fetch: () => this.#app,
              dns: () => dns,
              datacenters: () => this.#datacenterForwarder,
            }),
            keyringLan: keyringLanHandler(() => this.#gossip, this.datacenter),
          };
        },
      });
      this.#side = serverSide(server, zone);
      if (gossip !== undefined) this.#startReconciler(server, gossip);
    }
    const side = this.#side;
    this.#app = createHttpApi({
      runtime: this.#runtime,
      server: side.api,
      agent: this,
      watches: side.watches,
      forward: side.forward,
      forwardDatacenter: this.#datacenterForwarder === undefined
        ? undefined
        : (datacenter, request) => this.#datacenterForwarder!.forward(datacenter, request),
      blocking: defaultBlockingConfig(),
      ui: this.config.ui,
      kvValueBytesMax: 512 * 1024,
      txnOpsMax: 128,
      stopSignal: this.#stopController.signal,
    }).fetch;
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
      taggedAddresses: {
        lan: this.#advertise,
        lan_ipv4: this.#advertise,
        wan: this.config.advertiseAddrWan ?? this.#advertise,
      },
      meta: { "consul-network-segment": "", ...this.config.nodeMeta },
    };
  }

  async start(): Promise<void> {
    // Gossip first: a server learns the other servers from it, a client its servers.
    await this.#startGossip();
    await this.#openCatalogSide();
    if (this.config.server) await this.#reconcileSelf();
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
    // A client serves at once, servers or not; it registers its node once one answers.
    if (this.config.server) await this.#antiEntropy.fullSync();
    else this.#registerClientNode(0);
    await this.#listen();
    this.#logger.info(
      `cairn agent running: node "${this.nodeName}", datacenter "${this.datacenter}", ` +
        `HTTP ${formatAddress(this.#http?.address)}, DNS ${formatAddress(this.#dns?.address)}`,
    );
  }

  /** The leader's reconciliation of its own membership: the node with a passing serfHealth. */
  async #reconcileSelf(): Promise<ApplyResult> {
    const serfHealth = serfHealthCheck("passing");
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
    const registration = {
      type: "register" as const,
      node: this.#nodeInput(),
      skipNodeUpdate: false,
      service: consulService,
      checks: [serfHealth],
    };
    const api = this.#requireSide().api;
    let result = await api.propose(registration);
    if (!this.config.server) return result;
    // A server of a forming cluster may start before a leader is elected: retry for a while.
    for (let attempt = 0; !result.ok && !this.config.dev && attempt < 100; attempt++) {
      await new Promise<void>((resolve) => {
        this.#runtime.timers.after(200, resolve, { keepAlive: true });
      });
      result = await api.propose(registration);
    }
    if (!result.ok) throw new Error(`Cannot register node "${this.nodeName}": ${result.error}`);
    return result;
  }

  /**
   * A client registers its node (address and a passing serfHealth, as Consul's leader does for
   * a member that joins) through a server, retrying every 2 s until one answers; then a full
   * anti-entropy sync pushes its services and checks.
   */
  #registerClientNode(attempt: number): void {
    if (this.#stopping !== undefined) return;
    void this.#reconcileSelf().then((result) => {
      if (result.ok) {
        this.#logger.info(`Registered node "${this.nodeName}" through a server`);
        return this.#antiEntropy.fullSync();
      }
      // Every 30th failure is logged: a client without servers keeps trying quietly.
      if (attempt % 30 === 0) this.#logger.warn(`Cannot register the node yet: ${result.error}`);
      this.#runtime.timers.after(2_000, () => this.#registerClientNode(attempt + 1));
    }).catch((error: Error) => this.#logger.warn(`Cannot sync with the catalog: ${error.message}`));
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
        const lookup = withOtherDatacenters(
          this.#requireSide().dns,
          this.#datacenterForwarder,
          () => this.#runtime.clock.monotonicMs(),
        );
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
      // A leader that stops hands off first, so the others need not wait out an election
      // timeout; it stays in the configuration (Consul's servers do not leave on terminate).
      this.#reconciler?.stop();
      await this.#side?.raft?.transferLeadership();
      this.#stopController.abort();
      await this.#stopGossip();
      this.#antiEntropy.stop();
      this.#local.stop();
      await Promise.allSettled([
        this.#http?.close(),
        this.#dns?.close(),
        this.#side?.raft?.stop(),
        this.#side?.close(),
      ]);
      this.#logger.info("cairn agent stopped");
      this.#resolveStopped();
    })();
    return this.#stopping;
  }

  // ---- Gossip (LAN pool) ----------------------------------------------------------------
  // Started first (servers find each other, and clients find servers, through it), stopped
  // (with a bounded graceful leave) before the listeners; members() reads it.

  async #startGossip(): Promise<void> {
    const port = this.config.ports.serfLan;
    if (port < 0) return;
    const log = {
      debug: (message: string) => this.#logger.debug(message),
      info: (message: string) => this.#logger.info(message),
      warn: (message: string) => this.#logger.warn(message),
    };
    try {
      this.#gossip = await LanPool.start(this.#runtime, {
        nodeName: this.nodeName,
        bind: { host: this.config.bindAddr, port },
        advertiseHost: this.#advertise,
        tags: this.#consulTags("lan"),
        encrypt: this.config.encrypt,
        retryJoin: this.config.retryJoin,
        retryIntervalMs: this.config.retryIntervalMs,
        retryMax: this.config.retryMax,
        onRetryJoinGiveUp: (reason) => this.#fail(`LAN ${reason}`),
        reconnectTimeoutMs: this.config.reconnectTimeoutMs,
        dataDir: this.config.dev ? undefined : this.config.dataDir,
        log,
        userEvent: (event) => this.#ingestGossipEvent(event),
      });
      this.#startCoordinateSender(this.#gossip);
      await this.#startWan(log);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Stops the agent on an error it cannot run past, as Consul exits; `failure` says why. */
  #fail(reason: string): void {
    this.#logger.error(`agent: ${reason}: exiting`);
    this.failure ??= reason;
    void this.stop();
  }

  /** Consul's member tags; on the LAN a server also names its WAN port for flood joins. */
  #consulTags(pool: "lan" | "wan"): Record<string, string> {
    const wanPort = this.config.ports.serfWan;
    return consulTags({
      server: this.config.server,
      datacenter: this.datacenter,
      nodeId: this.#nodeId,
      serverPort: this.config.ports.server,
      bootstrapExpect: this.config.bootstrapExpect,
      dev: this.config.dev,
      version: cairnVersion,
      wanJoinPort: pool === "lan" && wanPort > 0 ? wanPort : undefined,
    });
  }

  /** Servers (and -dev) also join the WAN pool, as Consul's; not when the LAN pool is off. */
  async #startWan(log: Parameters<typeof LanPool.start>[1]["log"]): Promise<void> {
    const port = this.config.ports.serfWan;
    if (!this.config.server || port < 0) return;
    this.#wan = await startWanPool(this.#runtime, {
      nodeName: this.nodeName,
      datacenter: this.datacenter,
      bind: { host: this.config.bindAddr, port },
      advertiseHost: this.config.advertiseAddrWan ?? this.#advertise,
      tags: this.#consulTags("wan"),
      encrypt: this.config.encrypt,
      retryJoin: this.config.retryJoinWan,
      retryIntervalMs: this.config.retryIntervalWanMs,
      retryMax: this.config.retryMaxWan,
      onRetryJoinGiveUp: (reason) => this.#fail(`WAN ${reason}`),
      reconnectTimeoutMs: this.config.reconnectTimeoutWanMs,
      dataDir: this.config.dev ? undefined : this.config.dataDir,
      log,
    });
    const wan = this.#wan;
    this.#datacenterForwarder = new DatacenterForwarder(this.#runtime, () => wan.members());
    this.#wanFlooder = new WanFlooder(this.#runtime, {
      lanMembers: () => this.#gossip?.members() ?? [],
      wan,
      datacenter: this.datacenter,
      log,
    });
    this.#wanFlooder.start();
  }

  async #stopGossip(): Promise<void> {
    this.#coordinateSender?.stop();
    this.#wanFlooder?.stop();
    await this.#datacenterForwarder?.close();
    // The WAN pool leaves alongside the LAN pool, so the two bounded leaves do not add up.
    const wanStopped = this.#wan?.stop().catch((error: Error) => {
      this.#logger.warn(`Cannot leave the WAN pool cleanly: ${error.message}`);
    });
    await this.#stopLan();
    await wanStopped;
  }

  async #stopLan(): Promise<void> {
    const gossip = this.#gossip;
    if (gossip === undefined) return;
    try {
      await gossip.stop();
    } catch (error) {
      this.#logger.warn(`Cannot leave gossip cleanly: ${(error as Error).message}`);
    }
  }

  async join(address: string, wan: boolean): Promise<void> {
    if (wan && this.#wan === undefined) {
      throw new Error(
        "Cannot join the WAN pool: this agent runs none (only servers do; -serf-wan-port=-1 " +
          "turns it off)",
      );
    }
    const gossip = wan ? this.#wan : this.#gossip;
    if (gossip === undefined) {
      throw new Error("Cannot join: the LAN gossip pool is off (-serf-lan-port=-1)");
    }
    const { joined, errors } = await gossip.join([address]);
    if (joined === 0) throw new Error(`Cannot join "${address}": ${errors.join("; ")}`);
  }

  // deno-lint-ignore require-await
  async forceLeave(node: string, prune: boolean, wan: boolean): Promise<void> {
    if (wan && this.#wan === undefined) {
      throw new Error("Cannot force-leave on the WAN pool: this agent runs none");
    }
    const gossip = wan ? this.#wan : this.#gossip;
    if (gossip === undefined) {
      throw new Error("Cannot force-leave: the LAN gossip pool is off (-serf-lan-port=-1)");
    }
    gossip.forceLeave(node, prune);
  }

  async keyring(
    action: KeyringAction,
    key: string,
    options: KeyringOptions = {},
  ): Promise<KeyringPoolResponse[]> {
    const gossip = this.#gossip;
    if (gossip === undefined) {
      throw new Error("Cannot use the keyring: the LAN gossip pool is off (-serf-lan-port=-1)");
    }
    // Consul's order: the WAN pool (servers) first, then the LAN pool; a server also runs it on
    // the LAN pool of every other datacenter the WAN pool knows, through one of its servers.
    const pools = this.#wan === undefined ? [gossip] : [this.#wan, gossip];
    const responses: KeyringPoolResponse[] = [];
    for (const pool of pools) {
      const tally = options.localOnly === true
        ? pool.localKeyring()
        : await pool.keyringOperation(action, key, { relayFactor: options.relayFactor });
      responses.push({ wan: pool.kind === "wan", datacenter: this.datacenter, ...tally });
    }
    if (options.localOnly === true) return responses;
    const forwarder = this.#datacenterForwarder;
    const others = forwarder?.otherDatacenters(this.datacenter) ?? [];
    const remote = await Promise.all(
      others.map((datacenter) =>
        forwarder!.keyringLan(datacenter, action, key, options.relayFactor)
      ),
    );
    return [...responses, ...remote];
  }

  datacenters(): string[] | undefined {
    return this.#wan === undefined ? undefined : wanDatacenters(this.#wan, this.datacenter);
  }

  wanCoordinates() {
    return this.#wan === undefined ? undefined : wanCoordinates(this.#wan);
  }

  #startCoordinateSender(gossip: LanPool): void {
    const node = this.nodeName;
    this.#coordinateSender = new CoordinateSender(this.#runtime, {
      coordinate: () => gossip.coordinate(),
      send: async (coord) => {
        const update = { node, segment: "", coord };
        const side = this.#side;
        if (side === undefined) return false;
        const result = await side.api.propose({
          type: "coordinateBatchUpdate",
          updates: [update],
        });
        return result.ok;
      },
      log: { debug: (message) => this.#logger.debug(message) },
    });
    this.#coordinateSender.start();
  }

  /**
   * A Serf user event arrived (ours included). Consul's (`consul:event:<name>`) carry Consul's
   * `UserEvent` in their payload and pass through its filters; other `consul:` events are
   * Consul's internals and ignored, as Consul does. Events of plain Serf agents (`serf event`)
   * are listed as they are, with a fresh ID: Consul would drop them, but a cairn agent in a
   * serf cluster can then show them on `/v1/event/list` (a superset of Consul's behaviour).
   */
  #ingestGossipEvent(event: PoolUserEvent): void {
    let stored: UserEvent;
    if (event.name.startsWith(consulUserEventPrefix)) {
      let decoded;
      try {
        decoded = decodeConsulUserEvent(event.payload ?? new Uint8Array(0));
      } catch (error) {
        this.#logger.warn(`Cannot decode user event "${event.name}": ${(error as Error).message}`);
        return;
      }
      const { payload, ...rest } = decoded;
      stored = { ...rest, payload: payload.length === 0 ? undefined : payload, lTime: 0 };
    } else if (event.name.startsWith(consulEventNamespace)) {
      return;
    } else {
      const id = randomUuid((bytes) => this.#runtime.randomBytes(bytes));
      stored = {
        id,
        name: event.name,
        payload: event.payload,
        nodeFilter: "",
        serviceFilter: "",
        tagFilter: "",
        version: consulUserEventVersion,
        lTime: 0,
      };
    }
    stored.lTime = event.lamportTime;
    if (!userEventMatches(stored, this.nodeName, this.#local.serviceRecords())) return;
    this.#events.ingest(stored);
    this.#side?.watches.fire([this.eventTopic], []);
  }

  #gossipMembers(gossip: LanPool): MemberView[] {
    return gossip.members().map(({ name, addr, port, tags, status, versions }) => ({
      name,
      addr,
      port,
      tags,
      status,
      versions,
    }));
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
    if (!wan && this.#gossip !== undefined) return this.#gossipMembers(this.#gossip);
    if (wan && this.#wan !== undefined) return this.#gossipMembers(this.#wan);
    // No WAN pool (clients, -serf-wan-port=-1, no gossip): Consul lists no WAN members.
    if (wan) return [];
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
    const port = this.config.ports.serfLan;
    return [{ name: this.nodeName, addr: this.#advertise, port, tags, status: 1 }];
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
        ...this.#serverStats(),
        runtime: { name: this.#runtime.name },
      },
      Meta: this.config.nodeMeta,
    };
  }

  /** `/v1/agent/self` Stats: a server's Raft state, or a client's known servers (Consul's). */
  #serverStats(): Record<string, Record<string, string>> {
    const raft = this.#side?.raft;
    if (raft === undefined) {
      const known = this.#side?.router?.knownServers ?? 0;
      return { consul: { server: "false", known_servers: String(known), known_datacenters: "1" } };
    }
    return {
      consul: {
        server: "true",
        leader: String(raft.isLeader),
        known_datacenters: String(this.datacenters()?.length ?? 1),
      },
      raft: {
        applied_index: String(raft.appliedIndex),
        term: String(raft.term),
        state: raftStateName(raft.role),
      },
    };
  }

  async leave(): Promise<void> {
    // A server leaves the Raft configuration first (handing off leadership if it leads), as
    // Consul's Server.Leave(); the gossip pool is left in stop(), which follows the answer.
    await this.#side?.raft?.leave();
    this.#runtime.timers.after(10, () => void this.stop(), { keepAlive: true });
  }

  fireEvent(event: Omit<UserEvent, "id" | "lTime" | "version">): Promise<UserEvent> {
    const id = randomUuid((bytes) => this.#runtime.randomBytes(bytes));
    const gossip = this.#gossip;
    if (gossip !== undefined) {
      // Consul's convention: a Serf event "consul:event:<name>", never coalesced, carrying the
      // msgpack of Consul's UserEvent; every agent (this one too) lists it on arrival.
      const fired: UserEvent = { ...event, id, version: consulUserEventVersion, lTime: 0 };
      const payload = encodeConsulUserEvent({
        ...fired,
        payload: event.payload ?? new Uint8Array(0),
      });
      try {
        gossip.userEvent(consulUserEventPrefix + event.name, payload, false);
      } catch (error) {
        return Promise.reject(error);
      }
      return Promise.resolve(fired);
    }
    const stored = this.#events.add({ ...event, id });
    this.#side?.watches.fire([this.eventTopic], []);
    return Promise.resolve(stored);
  }

  events(): { index: number; events: UserEvent[] } {
    return { index: this.#events.index, events: this.#events.list() };
  }
}

function raftStateName(role: string): string {
  // Consul's names for hashicorp/raft's states.
  if (role === "leader") return "Leader";
  if (role === "follower") return "Follower";
  return "Candidate";
}

function formatAddress(address: Address | undefined): string {
  return address === undefined ? "off" : `${address.host}:${address.port}`;
}
