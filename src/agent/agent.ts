/**
 * The agent: starts the server (a one-server Raft cluster, in memory for `-dev`, on disk under
 * `<data-dir>/raft` for `-server -bootstrap-expect=1`), keeps its own services and
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
  KeyringView,
  MemberView,
  ServerApi,
  UserEvent,
} from "../http/api_backend.ts";
import { defaultBlockingConfig } from "../http/blocking_query.ts";
import { createHttpApi } from "../http/http_api.ts";
import { randomUuid } from "../core/uuid.ts";
import type { Address, HttpServer, Runtime } from "../runtime.ts";
import { loadNodeId } from "../server/node_id.ts";
import { openClusterServer } from "../server/cluster_server.ts";
import { RaftServer } from "../server/raft_server.ts";
import { formatHostPort } from "../server/rpc.ts";
import { MemoryFileStore } from "../storage/memory_files.ts";
import { AntiEntropy } from "./anti_entropy.ts";
import type { AgentConfig } from "./config.ts";
import { DnsCatalog } from "./dns_catalog.ts";
import { EventLog, userEventMatches } from "./event_log.ts";
import { consulTags, CoordinateSender, LanPool, type PoolUserEvent } from "./gossip/mod.ts";
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
}

/** Options that are not configuration: where logs go. */
export interface StartOptions {
  logger?: Logger;
}

/**
 * Starts an agent: `-dev` (a one-server Raft cluster in memory), or a durable server
 * (`-server -bootstrap-expect=N -data-dir=D`, Raft state under `D/raft`, node ID in
 * `D/node-id`) that finds the other servers through `-retry-join` on the server RPC port and
 * bootstraps with them (`src/server/cluster_formation.ts`). Clients arrive with gossip.
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
  const server = await openServer(runtime, config, logger);
  const agent = new Agent(runtime, config, logger, server);
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
  // A client has no servers to join without gossip: refuse rather than pretend.
  if (!config.server) {
    throw new RangeError(
      "Cannot start a client agent yet: clients join servers through gossip, which is not " +
        "built; use -server -bootstrap-expect=1 -data-dir=<path>, or -dev",
    );
  }
  // Servers find each other through -retry-join on the server RPC port until gossip-based
  // discovery exists; a server that expects no one must know whom to join.
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

async function openServer(
  runtime: Runtime,
  config: AgentConfig,
  logger: Logger,
): Promise<{ server: RaftServer; nodeId: string }> {
  const generate = () => randomUuid((bytes) => runtime.randomBytes(bytes));
  const advertise = config.advertiseAddr ??
    (config.bindAddr === "0.0.0.0" ? "127.0.0.1" : config.bindAddr);
  const address = `${advertise}:${config.ports.server}`;
  const log = {
    info: (message: string) => logger.info(`raft: ${message}`),
    warn: (message: string) => logger.warn(`raft: ${message}`),
    error: (message: string) => logger.error(`raft: ${message}`),
  };
  if (config.dev || config.dataDir === undefined) {
    const nodeId = config.nodeId ?? generate();
    const files = new MemoryFileStore("memory:raft");
    const server = await RaftServer.open(runtime, {
      id: nodeId,
      address,
      files,
      bootstrap: true,
      log,
    });
    return { server, nodeId };
  }
  const nodeId = await loadNodeId(await runtime.files(config.dataDir), {
    configured: config.nodeId,
    generate,
  });
  const files = await runtime.files(`${config.dataDir}/raft`);
  const server = await openClusterServer(runtime, {
    id: nodeId,
    name: config.nodeName,
    bind: { host: config.bindAddr, port: config.ports.server },
    advertiseHost: advertise,
    files,
    bootstrapExpect: config.bootstrapExpect,
    joinAddresses: serverJoinAddresses(config),
    log,
  });
  // A forming cluster elects its leader after the servers found each other; registering this
  // node needs one, so wait a bounded time (the registration retries past it).
  if (!await server.waitForLeader(15_000)) log.warn("No cluster leader yet: continuing");
  return { server, nodeId };
}

class Agent implements RunningAgent, AgentApi {
  readonly config: AgentConfig;
  readonly #runtime: Runtime;
  readonly #logger: Logger;
  readonly #server: RaftServer;
  readonly #serverApi: ServerApi;
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
  /** Sends our coordinate to the servers every 15 s when it changed (with gossip only). */
  #coordinateSender: CoordinateSender | undefined;
  #http: HttpServer | undefined;
  #dns: DnsServer | undefined;
  #stopping: Promise<void> | undefined;
  #resolveStopped!: () => void;
  readonly stopped: Promise<void>;
  readonly fetch: (request: Request) => Response | Promise<Response>;

  constructor(
    runtime: Runtime,
    config: AgentConfig,
    logger: Logger,
    opened: { server: RaftServer; nodeId: string },
  ) {
    this.config = config;
    this.#runtime = runtime;
    this.#logger = logger;
    this.#nodeId = opened.nodeId;
    this.#advertise = config.advertiseAddr ??
      (config.bindAddr === "0.0.0.0" ? "127.0.0.1" : config.bindAddr);
    this.#server = opened.server;
    const server = this.#server;
    this.#serverApi = {
      store: server.store,
      propose: (proposal) => server.propose(proposal),
      renewSession: (id) => server.renewSession(id),
      readBarrier: (mode) => server.readBarrier(mode),
      leaseValid: () => server.leaseValid(),
      leaderAddress: () => server.leaderAddress(),
      peers: () => server.peers(),
      lastContactMs: () => server.lastContactMs(),
      raftConfiguration: () => server.configuration(),
      removeRaftPeer: (selector) => server.removePeer(selector),
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
    await this.#startGossip();
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
    const registration = {
      type: "register" as const,
      node: this.#nodeInput(),
      skipNodeUpdate: false,
      service: consulService,
      checks: [serfHealth],
    };
    let result = await this.#server.propose(registration);
    // A server of a forming cluster may start before a leader is elected: retry for a while.
    for (let attempt = 0; !result.ok && !this.config.dev && attempt < 100; attempt++) {
      await new Promise<void>((resolve) => {
        this.#runtime.timers.after(200, resolve, { keepAlive: true });
      });
      result = await this.#server.propose(registration);
    }
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
      await this.#stopGossip();
      this.#antiEntropy.stop();
      this.#local.stop();
      await Promise.allSettled([this.#http?.close(), this.#dns?.close(), this.#server.stop()]);
      this.#logger.info("cairn agent stopped");
      this.#resolveStopped();
    })();
    return this.#stopping;
  }

  // ---- Gossip (LAN pool) ----------------------------------------------------------------
  // Kept apart from the server wiring: started after the listeners, stopped (with a bounded
  // graceful leave) before them; members() reads it.

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
        tags: consulTags({
          server: this.config.server,
          datacenter: this.datacenter,
          nodeId: this.#nodeId,
          serverPort: this.config.ports.server,
          bootstrapExpect: this.config.bootstrapExpect,
          dev: this.config.dev,
          version: cairnVersion,
        }),
        encrypt: this.config.encrypt,
        retryJoin: this.config.retryJoin,
        dataDir: this.config.dev ? undefined : this.config.dataDir,
        log,
        userEvent: (event) => this.#ingestGossipEvent(event),
      });
      this.#startCoordinateSender(this.#gossip);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async #stopGossip(): Promise<void> {
    this.#coordinateSender?.stop();
    const gossip = this.#gossip;
    if (gossip === undefined) return;
    try {
      await gossip.stop();
    } catch (error) {
      this.#logger.warn(`Cannot leave gossip cleanly: ${(error as Error).message}`);
    }
  }

  async join(address: string, wan: boolean): Promise<void> {
    if (wan) throw new Error("Cannot join the WAN pool: WAN gossip is not built yet");
    const gossip = this.#gossip;
    if (gossip === undefined) {
      throw new Error("Cannot join: the LAN gossip pool is off (-serf-lan-port=-1)");
    }
    const { joined, errors } = await gossip.join([address]);
    if (joined === 0) throw new Error(`Cannot join "${address}": ${errors.join("; ")}`);
  }

  // deno-lint-ignore require-await
  async forceLeave(node: string, prune: boolean, wan: boolean): Promise<void> {
    if (wan) throw new Error("Cannot force-leave on the WAN pool: WAN gossip is not built yet");
    const gossip = this.#gossip;
    if (gossip === undefined) {
      throw new Error("Cannot force-leave: the LAN gossip pool is off (-serf-lan-port=-1)");
    }
    gossip.forceLeave(node, prune);
  }

  keyring(): KeyringView {
    const gossip = this.#gossip;
    if (gossip === undefined) {
      throw new Error("Cannot list the keyring: the LAN gossip pool is off (-serf-lan-port=-1)");
    }
    const keys = [...gossip.keys()];
    if (keys.length === 0) {
      throw new Error("Cannot list the keyring: gossip encryption is off (no -encrypt)");
    }
    // Members that gossip with us alive decrypt what we send, so they hold our primary key.
    const numNodes = gossip.members().filter((member) => member.status === 1).length;
    return { keys, primary: keys[0], numNodes };
  }

  #startCoordinateSender(gossip: LanPool): void {
    const node = this.nodeName;
    this.#coordinateSender = new CoordinateSender(this.#runtime, {
      coordinate: () => gossip.coordinate(),
      send: async (coord) => {
        const update = { node, segment: "", coord };
        const result = await this.#serverApi.propose({
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
    this.#server.store.watches.fire([this.eventTopic], []);
  }

  #gossipMembers(gossip: LanPool): MemberView[] {
    return gossip.members().map(({ name, addr, port, tags, status }) => ({
      name,
      addr,
      port,
      tags,
      status,
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
        raft: {
          applied_index: String(this.#server.appliedIndex),
          term: String(this.#server.term),
          state: raftStateName(this.#server.role),
        },
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
    this.#server.store.watches.fire([this.eventTopic], []);
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
