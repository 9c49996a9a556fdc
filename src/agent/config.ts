/**
 * The agent's configuration: what `cairn agent` flags and config files resolve to. Field names
 * follow Consul's configuration keys in camelCase; durations are milliseconds.
 *
 * @module
 */

/** Ports the agent listens on. A port of -1 disables that listener. */
export interface AgentPorts {
  /** HTTP API and UI. @default {8500} */
  http: number;
  /** DNS over UDP and TCP. @default {8600} */
  dns: number;
  /** Server RPC and Raft. @default {8300} */
  server: number;
  /** LAN gossip. @default {8301} */
  serfLan: number;
  /**
   * WAN gossip, servers only (`-dev` too, as Consul's dev agent); the WAN pool also stays off
   * when the LAN pool is (`serfLan` -1: an agent without gossip). @default {8302}
   */
  serfWan: number;
}

/** Everything an agent needs to start. */
export interface AgentConfig {
  /** Node name. @default {the host name} */
  nodeName: string;
  /** A UUID for the node; generated and kept in the data dir when not given. */
  nodeId: string | undefined;
  /** @default {"dc1"} */
  datacenter: string;
  /** DNS domain, with the final dot. @default {"consul."} */
  domain: string;
  /** Run as a server (replicate the catalog). @default {false} */
  server: boolean;
  /** Development mode: in-memory server, self-bootstrapped, UI on. @default {false} */
  dev: boolean;
  /** Servers to wait for before bootstrapping; 0 means none. @default {0} */
  bootstrapExpect: number;
  /** Where state is kept; `undefined` only in dev mode (in-memory). */
  dataDir: string | undefined;
  /** Address for cluster traffic (gossip, RPC). @default {"0.0.0.0"}, `-dev`: "127.0.0.1" */
  bindAddr: string;
  /** Address advertised to other nodes. @default {bindAddr, or the first private IP} */
  advertiseAddr: string | undefined;
  /** Address for client interfaces (HTTP, DNS). @default {"127.0.0.1"} */
  clientAddr: string;
  ports: AgentPorts;
  /** Addresses to join, retried until one answers. @default {[]} */
  retryJoin: string[];
  /**
   * Servers: WAN pool addresses (other datacenters' servers) to join, retried until one
   * answers (`-retry-join-wan`, `-join-wan`). @default {[]}
   */
  retryJoinWan?: string[];
  /** Servers: the address advertised in the WAN pool (`-advertise-wan`). @default {advertiseAddr} */
  advertiseAddrWan?: string;
  /** Longest wait between `retryJoin` attempts, which back off from 1 s. @default {30_000} */
  retryIntervalMs?: number;
  /** `retryJoin` attempts before the agent gives up and exits; 0 retries forever. @default {0} */
  retryMax?: number;
  /** As `retryIntervalMs`, for `retryJoinWan`. @default {30_000} */
  retryIntervalWanMs?: number;
  /** As `retryMax`, for `retryJoinWan`. @default {0} */
  retryMaxWan?: number;
  /**
   * How long a failed LAN member is retried before it is reaped (Consul's `reconnect_timeout`,
   * at least 8 h). @default {72 h}
   */
  reconnectTimeoutMs?: number;
  /** As `reconnectTimeoutMs`, for the WAN pool (`reconnect_timeout_wan`). @default {72 h} */
  reconnectTimeoutWanMs?: number;
  /** Gossip encryption key, base64 of 16, 24 or 32 bytes. */
  encrypt: string | undefined;
  /** Serve the web UI at /ui. @default {false}, `-dev`: true */
  ui: boolean;
  /** "trace" | "debug" | "info" | "warn" | "error". @default {"info"} */
  logLevel: LogLevel;
  /** Log as JSON lines. @default {false} */
  logJson: boolean;
  /** Allow script checks registered over HTTP. @default {false} */
  enableScriptChecks: boolean;
  /** Allow script checks from config files only. @default {false} */
  enableLocalScriptChecks: boolean;
  /** Node metadata. @default {{}} */
  nodeMeta: Record<string, string>;
  /** Service definitions from config files, validated when the agent starts. @default {[]} */
  services: unknown[];
  /** Check definitions from config files, validated when the agent starts. @default {[]} */
  checks: unknown[];
  /**
   * Servers: applied Raft entries between two snapshots (Consul's `raft_snapshot_threshold`).
   * @default {16_384} (the Raft core's `snapshotThresholdEntries`)
   */
  raftSnapshotThreshold?: number;
  /**
   * Servers: entries kept in the log behind a snapshot, so a follower that is only slightly
   * behind gets entries rather than a whole snapshot (Consul's `raft_trailing_logs`).
   * @default {10_240} (the Raft core's `trailingEntries`)
   */
  raftTrailingLogs?: number;
}

/** Log levels, most verbose first. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

/** The defaults of a non-dev agent, as Consul's `agent/config/default.go`. */
export function defaultAgentConfig(nodeName: string): AgentConfig {
  return {
    nodeName,
    nodeId: undefined,
    datacenter: "dc1",
    domain: "consul.",
    server: false,
    dev: false,
    bootstrapExpect: 0,
    dataDir: undefined,
    bindAddr: "0.0.0.0",
    advertiseAddr: undefined,
    clientAddr: "127.0.0.1",
    ports: { http: 8500, dns: 8600, server: 8300, serfLan: 8301, serfWan: 8302 },
    retryJoin: [],
    retryJoinWan: [],
    encrypt: undefined,
    ui: false,
    logLevel: "info",
    logJson: false,
    enableScriptChecks: false,
    enableLocalScriptChecks: false,
    nodeMeta: {},
    services: [],
    checks: [],
  };
}

/** `-dev`: an in-memory server on loopback with the UI on, as `consul agent -dev`. */
export function devAgentConfig(nodeName: string): AgentConfig {
  return {
    ...defaultAgentConfig(nodeName),
    dev: true,
    server: true,
    bindAddr: "127.0.0.1",
    ui: true,
    logLevel: "debug",
  };
}
