/**
 * `cairn agent`'s flags and how they become an {@link AgentConfig}: in Consul's order, the
 * defaults (the dev preset with `-dev`), then config files and directories in the order given,
 * then the flags; then the checks Consul makes before it starts (`agent/config/builder.go`).
 *
 * @module
 */

import { type AgentConfig, defaultAgentConfig, devAgentConfig } from "../agent/config.ts";
import {
  type AgentConfigFragment,
  loadConfigDir,
  loadConfigFile,
  type LoadedConfigFile,
  mergeAgentConfig,
  parseLogLevel,
  readFileAtPath,
} from "../agent/config_file.ts";
import { decodeBase64 } from "../core/base64.ts";
import { parseGoDurationMs } from "../core/go_duration.ts";
import { retryJoinIntervalMaxMs } from "../agent/gossip/retry_join.ts";
import type { Runtime } from "../runtime.ts";
import { FlagError, type Flags, type FlagSpecs, parseFlags } from "./flags.ts";

const portRange = { min: -1, max: 65_535 };

/** The flags of `cairn agent`, spelled as Consul's. */
export const AGENT_FLAGS: FlagSpecs = {
  dev: {
    type: "boolean",
    description: "Development mode: an in-memory server on 127.0.0.1 with the UI on. Never " +
      "use it in production: nothing is written to disk.",
  },
  server: { type: "boolean", description: "Run as a server, which keeps the replicated state." },
  "bootstrap-expect": {
    type: "integer",
    placeholder: "<count>",
    min: 0,
    description: "How many servers to wait for before electing a leader (servers only).",
  },
  "data-dir": {
    type: "string",
    placeholder: "<path>",
    description: "Where the agent keeps its state. Required unless -dev.",
  },
  bind: {
    type: "string",
    placeholder: "<address>",
    description: "Address for cluster traffic (gossip and RPC). The default is 0.0.0.0.",
  },
  advertise: {
    type: "string",
    placeholder: "<address>",
    description: "Address advertised to other nodes. The default is the bind address.",
  },
  "advertise-wan": {
    type: "string",
    placeholder: "<address>",
    description: "Servers: address advertised in the WAN pool. The default is -advertise.",
  },
  client: {
    type: "string",
    placeholder: "<address>",
    description: "Address for the HTTP API and DNS. The default is 127.0.0.1.",
  },
  node: {
    type: "string",
    placeholder: "<name>",
    description: "The node's name, unique in the cluster. The default is the host name.",
  },
  "node-id": {
    type: "string",
    placeholder: "<uuid>",
    description: "The node's ID. The default is generated once and kept in the data dir.",
  },
  datacenter: {
    type: "string",
    placeholder: "<name>",
    description: "The datacenter this agent runs in. The default is dc1.",
  },
  domain: {
    type: "string",
    placeholder: "<domain>",
    description: "The DNS domain to answer for. The default is consul.",
  },
  "http-port": {
    type: "integer",
    placeholder: "<port>",
    ...portRange,
    description: "HTTP API port; -1 disables it. The default is 8500.",
  },
  "dns-port": {
    type: "integer",
    placeholder: "<port>",
    ...portRange,
    description: "DNS port; -1 disables it. The default is 8600.",
  },
  "server-port": {
    type: "integer",
    placeholder: "<port>",
    ...portRange,
    description: "Server RPC port. The default is 8300.",
  },
  "serf-lan-port": {
    type: "integer",
    placeholder: "<port>",
    ...portRange,
    description: "LAN gossip port. The default is 8301.",
  },
  "serf-wan-port": {
    type: "integer",
    placeholder: "<port>",
    ...portRange,
    description: "WAN gossip port (servers and -dev); -1 disables the WAN pool. The default " +
      "is 8302.",
  },
  "config-file": {
    type: "string",
    multiple: true,
    placeholder: "<path>",
    description: "A JSON config file to load. Repeat it to load several; files and -config-dir " +
      "directories apply in the order given, and later ones win.",
  },
  "config-dir": {
    type: "string",
    multiple: true,
    placeholder: "<path>",
    description: "A directory whose *.json files are loaded in lexical order. Repeatable.",
  },
  "retry-join": {
    type: "string",
    multiple: true,
    placeholder: "<address>",
    description: "An agent to join at start, retried until it answers. Repeatable.",
  },
  "retry-interval": {
    type: "string",
    placeholder: "<duration>",
    description: "Longest wait between -retry-join attempts, which back off from 1s. " +
      "The default is 30s.",
  },
  "retry-max": {
    type: "integer",
    placeholder: "<count>",
    min: 0,
    description: "-retry-join attempts before the agent gives up and exits. The default, 0, " +
      "retries forever.",
  },
  "retry-interval-wan": {
    type: "string",
    placeholder: "<duration>",
    description: "As -retry-interval, for -retry-join-wan.",
  },
  "retry-max-wan": {
    type: "integer",
    placeholder: "<count>",
    min: 0,
    description: "As -retry-max, for -retry-join-wan.",
  },
  join: {
    type: "string",
    multiple: true,
    placeholder: "<address>",
    aliasOf: "retry-join",
    description: "Consul's older spelling.",
  },
  "retry-join-wan": {
    type: "string",
    multiple: true,
    placeholder: "<address>",
    description: "Servers: a server of another datacenter to join in the WAN pool at start, " +
      "retried until it answers (host uses the WAN port, 8302). Repeatable.",
  },
  "join-wan": {
    type: "string",
    multiple: true,
    placeholder: "<address>",
    aliasOf: "retry-join-wan",
    description: "Consul's older spelling of -retry-join-wan.",
  },
  encrypt: {
    type: "string",
    placeholder: "<key>",
    description: "Gossip encryption key: base64 of 16, 24 or 32 random bytes.",
  },
  ui: { type: "boolean", description: "Serve the web UI at /ui." },
  "log-level": {
    type: "string",
    placeholder: "<level>",
    description: "One of trace, debug, info, warn, error. The default is info.",
  },
  "log-json": { type: "boolean", description: "Write logs as JSON lines." },
  "enable-script-checks": {
    type: "boolean",
    description: "Run script checks, including ones registered over HTTP. Dangerous without ACLs.",
  },
  "enable-local-script-checks": {
    type: "boolean",
    description: "Run script checks defined in config files only.",
  },
  "node-meta": {
    type: "string",
    multiple: true,
    placeholder: "<key:value>",
    description: "A metadata pair for this node, as key:value. Repeatable.",
  },
};

/** Options of {@link buildAgentConfig}. */
export interface BuildAgentConfigOptions {
  /** Called with each warning (skipped config keys and files). @default {print to stderr} */
  onWarning?: (message: string) => void;
}

/**
 * Builds the agent's config from `cairn agent` arguments.
 *
 * @param runtime for the environment (host name) and config files
 * @param args the arguments after `agent`
 * @param options where warnings go
 * @returns the config to start the agent with
 * @throws {FlagError} for a usage error (exit code 2); `SyntaxError`/`RangeError` for a config
 *   file or a value the agent cannot run with (exit code 1)
 * @example await buildAgentConfig(runtime, ["-dev", "-node=one"])
 */
export async function buildAgentConfig(
  runtime: Runtime,
  args: string[],
  options: BuildAgentConfigOptions = {},
): Promise<AgentConfig> {
  return await buildAgentConfigFromFlags(runtime, parseFlags(args, AGENT_FLAGS), options);
}

/**
 * Builds the agent's config from flags already parsed with {@link AGENT_FLAGS}.
 *
 * @param runtime for the environment (host name) and config files
 * @param flags the parsed flags
 * @param options where warnings go
 * @returns the config to start the agent with
 */
export async function buildAgentConfigFromFlags(
  runtime: Runtime,
  flags: Flags,
  options: BuildAgentConfigOptions = {},
): Promise<AgentConfig> {
  const warn = options.onWarning ??
    ((message: string) => runtime.writeStderr(`==> Warning: ${message}\n`));
  if (flags.positionals.length > 0) {
    throw new FlagError(
      `Cannot run agent: unexpected argument "${flags.positionals[0]}" (agent takes only flags)`,
    );
  }
  const nodeName = await defaultNodeName(runtime);
  let config = flags.boolean("dev") ? devAgentConfig(nodeName) : defaultAgentConfig(nodeName);
  // Consul keeps -config-file and -config-dir in one list, so they apply in command-line order.
  for (const { name, value } of flags.occurrences()) {
    if (typeof value !== "string") continue;
    let files: LoadedConfigFile[] = [];
    if (name === "config-file") files = [await loadConfigFile(runtime, value)];
    if (name === "config-dir") {
      const dir = await loadConfigDir(runtime, value);
      dir.warnings.forEach(warn);
      files = dir.files;
    }
    for (const file of files) {
      file.warnings.forEach(warn);
      config = mergeAgentConfig(config, file.fragment);
    }
  }
  config = mergeAgentConfig(config, fragmentFromFlags(flags));
  return normaliseAgentConfig(config);
}

/**
 * The node name used when none is configured: `$HOSTNAME`, else `/etc/hostname`, else "cairn".
 *
 * @param runtime for the environment and files
 * @returns a non-empty name
 */
export async function defaultNodeName(runtime: Runtime): Promise<string> {
  const fromEnv = runtime.env("HOSTNAME")?.trim();
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  try {
    const bytes = await readFileAtPath(runtime, "/etc/hostname");
    const fromFile = bytes === undefined ? "" : new TextDecoder().decode(bytes).trim();
    if (fromFile !== "") return fromFile;
  } catch {
    // No readable /etc/hostname (a container or another OS): use the fallback.
  }
  return "cairn";
}

function fragmentFromFlags(flags: Flags): AgentConfigFragment {
  const fragment: AgentConfigFragment = {};
  const text = (name: string) => flags.string(name);
  const integer = (name: string) => flags.integer(name);
  if (flags.has("dev")) fragment.dev = flags.boolean("dev");
  if (flags.has("server")) fragment.server = flags.boolean("server");
  fragment.bootstrapExpect = integer("bootstrap-expect");
  fragment.dataDir = text("data-dir");
  fragment.bindAddr = text("bind");
  fragment.advertiseAddr = text("advertise");
  fragment.clientAddr = text("client");
  fragment.nodeName = text("node");
  fragment.nodeId = text("node-id");
  fragment.datacenter = text("datacenter");
  fragment.domain = text("domain");
  fragment.ports = {
    http: integer("http-port"),
    dns: integer("dns-port"),
    server: integer("server-port"),
    serfLan: integer("serf-lan-port"),
    serfWan: integer("serf-wan-port"),
  };
  fragment.retryJoin = flags.strings("retry-join");
  const retryJoinWan = flags.strings("retry-join-wan");
  if (retryJoinWan.length > 0) fragment.retryJoinWan = retryJoinWan;
  fragment.advertiseAddrWan = text("advertise-wan");
  fragment.retryIntervalMs = durationFlag(flags, "retry-interval");
  fragment.retryIntervalWanMs = durationFlag(flags, "retry-interval-wan");
  fragment.retryMax = integer("retry-max");
  fragment.retryMaxWan = integer("retry-max-wan");
  fragment.encrypt = text("encrypt");
  if (flags.has("ui")) fragment.ui = flags.boolean("ui");
  const logLevel = text("log-level");
  if (logLevel !== undefined) {
    fragment.logLevel = parseLogLevel(logLevel);
    if (fragment.logLevel === undefined) {
      throw new FlagError(
        `Cannot parse flags: invalid value "${logLevel}" for -log-level: ` +
          "want trace, debug, info, warn or error",
      );
    }
  }
  if (flags.has("log-json")) fragment.logJson = flags.boolean("log-json");
  if (flags.has("enable-script-checks")) {
    fragment.enableScriptChecks = flags.boolean("enable-script-checks");
  }
  if (flags.has("enable-local-script-checks")) {
    fragment.enableLocalScriptChecks = flags.boolean("enable-local-script-checks");
  }
  const nodeMeta: Record<string, string> = {};
  for (const pair of flags.strings("node-meta")) {
    // Consul's parseMetaPair: split at the first colon; no colon means an empty value.
    const colon = pair.indexOf(":");
    if (colon === -1) nodeMeta[pair] = "";
    else nodeMeta[pair.slice(0, colon)] = pair.slice(colon + 1);
  }
  fragment.nodeMeta = nodeMeta;
  return fragment;
}

const datacenterPattern = /^[a-z0-9_-]+$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const metaKeyPattern = /^[a-zA-Z0-9_-]+$/;
// Consul's limits on node metadata (`structs.ValidateNodeMetadata`).
const metaPairsMax = 64;
const metaKeyLengthMax = 128;
const metaValueLengthMax = 512;

// Consul's `builder.Validate`, for the fields cairn has; throws RangeError naming the fix.
function normaliseAgentConfig(input: AgentConfig): AgentConfig {
  const config: AgentConfig = {
    ...input,
    // Consul lowercases the datacenter and makes the domain fully qualified.
    datacenter: input.datacenter.toLowerCase(),
    domain: input.domain.endsWith(".") ? input.domain : `${input.domain}.`,
    nodeId: input.nodeId?.toLowerCase(),
    dataDir: input.dataDir === "" ? undefined : input.dataDir,
    encrypt: input.encrypt === "" ? undefined : input.encrypt,
  };
  if (!datacenterPattern.test(config.datacenter)) {
    throw new RangeError(
      `Cannot use datacenter "${config.datacenter}": only lowercase letters, digits, "-" and "_" ` +
        "are allowed",
    );
  }
  if (config.domain === ".") {
    throw new RangeError("Cannot use an empty domain: give -domain=<name>");
  }
  if (config.nodeName.trim() === "") {
    throw new RangeError("Cannot use an empty node name: give -node=<name>");
  }
  if (config.bootstrapExpect > 0 && !config.server) {
    throw new RangeError(
      "Cannot use -bootstrap-expect without -server: give -server or drop -bootstrap-expect",
    );
  }
  if (config.bootstrapExpect > 0 && config.dev) {
    throw new RangeError(
      "Cannot use -bootstrap-expect with -dev: a dev agent bootstraps itself; drop -bootstrap-expect",
    );
  }
  if (!config.dev && config.dataDir === undefined) {
    const role = config.server ? "a server" : "a client";
    throw new RangeError(
      `Cannot start ${role} without -data-dir: give -data-dir=<path> or use -dev`,
    );
  }
  if (config.nodeId !== undefined && !uuidPattern.test(config.nodeId)) {
    throw new RangeError(`Cannot use node ID "${config.nodeId}": it must be a UUID`);
  }
  checkIpAddress("-bind", config.bindAddr);
  checkIpAddress("-client", config.clientAddr);
  if (config.advertiseAddr !== undefined) {
    checkIpAddress("-advertise", config.advertiseAddr);
    if (["0.0.0.0", "::"].includes(config.advertiseAddr)) {
      throw new RangeError(
        `Cannot advertise "${config.advertiseAddr}": give an address other nodes can reach`,
      );
    }
  }
  if (config.encrypt !== undefined) checkEncryptKey(config.encrypt);
  checkWanJoin(config);
  checkGossipTimings(config);
  checkNodeMeta(config.nodeMeta);
  return config;
}

function durationFlag(flags: Flags, name: string): number | undefined {
  const text = flags.string(name);
  if (text === undefined) return undefined;
  try {
    return parseGoDurationMs(text);
  } catch {
    throw new FlagError(
      `Cannot parse flags: invalid value "${text}" for -${name}: want a duration such as "30s"`,
    );
  }
}

/** Consul's floor for `reconnect_timeout`: failed members are kept at least this long. */
export const reconnectTimeoutMinMs = 8 * 3_600_000;

function checkGossipTimings(config: AgentConfig): void {
  for (
    const [name, value] of [
      ["reconnect_timeout", config.reconnectTimeoutMs],
      ["reconnect_timeout_wan", config.reconnectTimeoutWanMs],
    ] as const
  ) {
    if (value !== undefined && value < reconnectTimeoutMinMs) {
      throw new RangeError(`Cannot use ${name} below 8h: failed members must be kept that long`);
    }
  }
  for (
    const [name, value] of [
      ["-retry-interval", config.retryIntervalMs],
      ["-retry-interval-wan", config.retryIntervalWanMs],
    ] as const
  ) {
    if (value !== undefined && (value < 1 || value > retryJoinIntervalMaxMs)) {
      throw new RangeError(`Cannot use ${name}: give 1ms to 24h`);
    }
  }
  if (config.advertiseAddrWan !== undefined) {
    checkIpAddress("-advertise-wan", config.advertiseAddrWan);
    if (["0.0.0.0", "::"].includes(config.advertiseAddrWan)) {
      throw new RangeError(
        `Cannot advertise "${config.advertiseAddrWan}" on the WAN: give an address other ` +
          "datacenters can reach",
      );
    }
  }
}

function checkIpAddress(flag: string, address: string): void {
  if (!isIpAddress(address)) {
    throw new RangeError(
      `Cannot use ${flag} "${address}": it must be one IP address (templates and names are not ` +
        "supported)",
    );
  }
}

function isIpAddress(text: string): boolean {
  const octets = text.split(".");
  if (octets.length === 4 && octets.every((octet) => /^\d{1,3}$/.test(octet))) {
    return octets.every((octet) => Number(octet) <= 255);
  }
  if (!text.includes(":") || /[^0-9a-fA-F:.]/.test(text)) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

function checkEncryptKey(key: string): void {
  let length: number;
  try {
    length = decodeBase64(key).length;
  } catch {
    throw new RangeError("Cannot use -encrypt: the key is not base64");
  }
  if (![16, 24, 32].includes(length)) {
    throw new RangeError(
      `Cannot use -encrypt: the key must be base64 of 16, 24 or 32 bytes, not ${length}`,
    );
  }
}

function checkWanJoin(config: AgentConfig): void {
  if ((config.retryJoinWan ?? []).length === 0) return;
  if (!config.server) {
    throw new RangeError(
      "Cannot use -retry-join-wan on a client: only servers join the WAN pool; give -server " +
        "or drop -retry-join-wan",
    );
  }
  if (config.ports.serfWan < 0 || config.ports.serfLan < 0) {
    throw new RangeError(
      "Cannot use -retry-join-wan with the WAN pool off (-serf-wan-port=-1 or " +
        "-serf-lan-port=-1): drop one or the other",
    );
  }
}

function checkNodeMeta(meta: Record<string, string>): void {
  const keys = Object.keys(meta);
  if (keys.length > metaPairsMax) {
    throw new RangeError(
      `Cannot use ${keys.length} node meta pairs: at most ${metaPairsMax} are allowed`,
    );
  }
  for (const key of keys) {
    if (!metaKeyPattern.test(key) || key.length > metaKeyLengthMax) {
      throw new RangeError(
        `Cannot use node meta key "${key}": use 1 to ${metaKeyLengthMax} letters, digits, "-" ` +
          `or "_"`,
      );
    }
    if (key.startsWith("consul-")) {
      throw new RangeError(`Cannot use node meta key "${key}": the "consul-" prefix is reserved`);
    }
    if (meta[key].length > metaValueLengthMax) {
      throw new RangeError(
        `Cannot use node meta "${key}": the value is longer than ${metaValueLengthMax} characters`,
      );
    }
  }
}
