/**
 * Agent config files: Consul's JSON format with its snake_case keys, parsed with zod into
 * fragments of {@link AgentConfig}, and merged in order by Consul's rules (`agent/config/merge.go`:
 * later scalars win, arrays append, maps overlay). HCL is not supported.
 *
 * Like Consul, a key the format does not know is an error. Keys Consul knows but cairn does not
 * implement yet (`telemetry`, `acl`, ...) are skipped with a warning, so real Consul configs load.
 *
 * @module
 */

import { z } from "zod";
import type { Runtime } from "../runtime.ts";
import { parseGoDurationMs } from "../core/go_duration.ts";
import type { AgentConfig, AgentPorts, LogLevel } from "./config.ts";

/** What one source (a config file, or the flags) sets; absent fields leave the config as it is. */
export type AgentConfigFragment = Partial<Omit<AgentConfig, "ports">> & {
  ports?: Partial<AgentPorts>;
};

/** A parsed config file. */
export interface LoadedConfigFile {
  /** The path it was read from. */
  path: string;
  /** What it sets. */
  fragment: AgentConfigFragment;
  /** Keys skipped because cairn does not implement them, one sentence each. */
  warnings: string[];
}

const logLevels: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error"];

const portSchema = z.number().int().min(-1).max(65_535);
const definitionSchema = z.record(z.string(), z.unknown());

const configFileSchema = z.strictObject({
  datacenter: z.string(),
  data_dir: z.string(),
  node_name: z.string(),
  node_id: z.string(),
  server: z.boolean(),
  bootstrap_expect: z.number().int().min(0),
  bind_addr: z.string(),
  advertise_addr: z.string(),
  client_addr: z.string(),
  ports: z.strictObject({
    http: portSchema,
    dns: portSchema,
    server: portSchema,
    serf_lan: portSchema,
    serf_wan: portSchema,
  }).partial(),
  retry_join: z.array(z.string()),
  // Consul's older `start_join` (the `-join` flag); cairn treats it as `retry_join`.
  start_join: z.array(z.string()),
  // Servers' WAN joins (`-retry-join-wan`); `start_join_wan` is the older spelling.
  retry_join_wan: z.array(z.string()),
  start_join_wan: z.array(z.string()),
  encrypt: z.string(),
  ui: z.boolean(),
  ui_config: z.strictObject({ enabled: z.boolean() }).partial(),
  log_level: z.string(),
  log_json: z.boolean(),
  enable_script_checks: z.boolean(),
  enable_local_script_checks: z.boolean(),
  node_meta: z.record(z.string(), z.string()),
  domain: z.string(),
  service: definitionSchema,
  services: z.array(definitionSchema),
  check: definitionSchema,
  checks: z.array(definitionSchema),
  advertise_addr_wan: z.string(),
  retry_interval: z.string(),
  retry_interval_wan: z.string(),
  retry_max: z.number().int().min(0).max(1_000_000),
  retry_max_wan: z.number().int().min(0).max(1_000_000),
  reconnect_timeout: z.string(),
  reconnect_timeout_wan: z.string(),
  raft_snapshot_threshold: z.number().int().min(1).max(1_048_576),
  raft_trailing_logs: z.number().int().min(0).max(1_048_576),
}).partial();

/**
 * Consul config keys that cairn accepts but ignores, with a warning. From Consul's
 * `agent/config/config.go`; a key in neither this list nor the schema is an error, as in Consul.
 */
const unsupportedKeys: Record<string, readonly string[]> = {
  "": [
    "acl",
    "acl_datacenter",
    "acl_default_policy",
    "acl_down_policy",
    "acl_master_token",
    "acl_token",
    "addresses",
    "advertise_addr_ipv4",
    "advertise_addr_ipv6",
    "alt_domain",
    "audit",
    "auto_config",
    "auto_encrypt",
    "autopilot",
    "bind_addr_wan",
    "bootstrap",
    "ca_file",
    "ca_path",
    "cert_file",
    "check_update_interval",
    "client_addr_wan",
    "config_entries",
    "connect",
    "disable_anonymous_signature",
    "disable_host_node_id",
    "disable_keyring_file",
    "disable_remote_exec",
    "disable_update_check",
    "discard_check_output",
    "dns_config",
    "enable_acl_replication",
    "enable_agent_tls_for_checks",
    "enable_central_service_config",
    "enable_debug",
    "enable_syslog",
    "encrypt_verify_incoming",
    "encrypt_verify_outgoing",
    "http_config",
    "key_file",
    "leave_on_terminate",
    "license_path",
    "limits",
    "log_file",
    "log_rotate_bytes",
    "log_rotate_duration",
    "log_rotate_max_files",
    "performance",
    "pid_file",
    "primary_datacenter",
    "primary_gateways",
    "raft_protocol",
    "raft_snapshot_interval",
    "read_replica",
    "recursor",
    "recursors",
    "rejoin_after_leave",
    "serf_lan",
    "serf_wan",
    "session_ttl_min",
    "skip_leave_on_interrupt",
    "syslog_facility",
    "telemetry",
    "tls",
    "translate_wan_addrs",
    "ui_content_path",
    "ui_dir",
    "unix_sockets",
    "verify_incoming",
    "verify_incoming_https",
    "verify_incoming_rpc",
    "verify_outgoing",
    "verify_server_hostname",
    "watches",
  ],
  ports: [
    "https",
    "grpc",
    "grpc_tls",
    "sidecar_min_port",
    "sidecar_max_port",
    "expose_min_port",
    "expose_max_port",
  ],
  ui_config: [
    "content_path",
    "dir",
    "metrics_provider",
    "metrics_provider_files",
    "metrics_provider_options_json",
    "metrics_proxy",
    "dashboard_url_templates",
  ],
};

/**
 * Parses one config file's text.
 *
 * @param path the file's path, for messages (a `.hcl` path is refused)
 * @param text the file's contents
 * @returns what the file sets, and warnings for the keys skipped
 * @throws {SyntaxError} `Cannot load config file "<path>": ...` for HCL, bad JSON, an unknown
 *   key or a value of the wrong type
 * @example parseConfigFile("a.json", '{"datacenter": "east"}').fragment // { datacenter: "east" }
 */
export function parseConfigFile(path: string, text: string): LoadedConfigFile {
  const fail = (reason: string) => new SyntaxError(`Cannot load config file "${path}": ${reason}`);
  if (path.endsWith(".hcl")) {
    throw fail("HCL is not supported, only JSON: convert it to a .json file");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw fail(`it is not valid JSON (${reason})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw fail("the top level must be a JSON object");
  }
  const warnings: string[] = [];
  const kept = withoutUnsupportedKeys(raw as Record<string, unknown>, (key) => {
    warnings.push(`Ignoring config key "${key}" in "${path}": cairn does not support it`);
  });
  const result = configFileSchema.safeParse(kept);
  if (!result.success) throw fail(describeIssue(result.error.issues[0]));
  const file = result.data;
  let logLevel: LogLevel | undefined;
  if (file.log_level !== undefined) {
    logLevel = parseLogLevel(file.log_level);
    if (logLevel === undefined) {
      throw fail(`"log_level" is "${file.log_level}": want one of ${logLevels.join(", ")}`);
    }
  }
  const durationKey = (key: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    try {
      return parseGoDurationMs(text);
    } catch {
      throw fail(`"${key}" is "${text}": want a duration such as "30s" or "72h"`);
    }
  };
  const joins = [...(file.retry_join ?? []), ...(file.start_join ?? [])];
  const wanJoins = [...(file.retry_join_wan ?? []), ...(file.start_join_wan ?? [])];
  const services = [
    ...(file.service === undefined ? [] : [file.service]),
    ...(file.services ?? []),
  ];
  const checks = [...(file.check === undefined ? [] : [file.check]), ...(file.checks ?? [])];
  const fragment: AgentConfigFragment = withoutUndefined({
    datacenter: file.datacenter,
    dataDir: file.data_dir,
    nodeName: file.node_name,
    nodeId: file.node_id,
    server: file.server,
    bootstrapExpect: file.bootstrap_expect,
    bindAddr: file.bind_addr,
    advertiseAddr: file.advertise_addr,
    clientAddr: file.client_addr,
    ports: file.ports === undefined ? undefined : withoutUndefined({
      http: file.ports.http,
      dns: file.ports.dns,
      server: file.ports.server,
      serfLan: file.ports.serf_lan,
      serfWan: file.ports.serf_wan,
    }),
    retryJoin: joins.length === 0 ? undefined : joins,
    retryJoinWan: wanJoins.length === 0 ? undefined : wanJoins,
    encrypt: file.encrypt,
    // `ui_config.enabled` replaced `ui` in Consul 1.9; when a file has both, the newer one wins.
    ui: file.ui_config?.enabled ?? file.ui,
    logLevel,
    logJson: file.log_json,
    enableScriptChecks: file.enable_script_checks,
    enableLocalScriptChecks: file.enable_local_script_checks,
    nodeMeta: file.node_meta,
    domain: file.domain,
    services: services.length === 0 ? undefined : services,
    checks: checks.length === 0 ? undefined : checks,
    advertiseAddrWan: file.advertise_addr_wan,
    retryIntervalMs: durationKey("retry_interval", file.retry_interval),
    retryIntervalWanMs: durationKey("retry_interval_wan", file.retry_interval_wan),
    retryMax: file.retry_max,
    retryMaxWan: file.retry_max_wan,
    reconnectTimeoutMs: durationKey("reconnect_timeout", file.reconnect_timeout),
    reconnectTimeoutWanMs: durationKey("reconnect_timeout_wan", file.reconnect_timeout_wan),
    raftSnapshotThreshold: file.raft_snapshot_threshold,
    raftTrailingLogs: file.raft_trailing_logs,
  });
  return { path, fragment, warnings };
}

/**
 * Reads and parses one config file through `runtime`.
 *
 * @param runtime whose files are read
 * @param path the file's path
 * @returns the parsed file
 * @throws {SyntaxError} as {@link parseConfigFile}, or when the file does not exist
 */
export async function loadConfigFile(runtime: Runtime, path: string): Promise<LoadedConfigFile> {
  if (path.endsWith(".hcl")) return parseConfigFile(path, "");
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readFileAtPath(runtime, path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SyntaxError(`Cannot load config file "${path}": ${reason}`);
  }
  if (bytes === undefined) {
    throw new SyntaxError(`Cannot load config file "${path}": no such file`);
  }
  return parseConfigFile(path, new TextDecoder().decode(bytes));
}

/** The parsed files of a config directory. */
export interface LoadedConfigDir {
  /** The `*.json` files, parsed, in the (lexical) order they apply. */
  files: LoadedConfigFile[];
  /** Files skipped for their extension, one sentence each. */
  warnings: string[];
}

/**
 * Loads every `*.json` file of a config directory in lexical order, as Consul's `-config-dir`.
 * A `.hcl` file is an error (only JSON is supported); other files are skipped with a warning.
 *
 * @param runtime whose files are read
 * @param dir the directory
 * @returns the parsed files in the order they apply, and warnings for the files skipped
 */
export async function loadConfigDir(runtime: Runtime, dir: string): Promise<LoadedConfigDir> {
  let names: string[];
  try {
    names = await (await runtime.files(dir)).list();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SyntaxError(`Cannot load config dir "${dir}": ${reason}`);
  }
  const files: LoadedConfigFile[] = [];
  const warnings: string[] = [];
  for (const name of [...names].sort()) {
    const path = dir.endsWith("/") ? dir + name : `${dir}/${name}`;
    if (name.endsWith(".json") || name.endsWith(".hcl")) {
      files.push(await loadConfigFile(runtime, path));
    } else {
      warnings.push(`Skipping file "${path}": the extension must be .json`);
    }
  }
  // Runtime.files() creates a missing directory, so a mistyped -config-dir shows up only here.
  if (files.length === 0) warnings.push(`Config dir "${dir}" has no .json files`);
  return { files, warnings };
}

/**
 * Applies `fragment` over `base` by Consul's merge rules: scalars replace, arrays append, maps
 * overlay key by key.
 *
 * @param base the config so far
 * @param fragment what the next source sets
 * @returns a new config; neither argument is changed
 */
export function mergeAgentConfig(base: AgentConfig, fragment: AgentConfigFragment): AgentConfig {
  const scalars = withoutUndefined({ ...fragment });
  return {
    ...base,
    ...scalars,
    ports: { ...base.ports, ...withoutUndefined({ ...fragment.ports }) },
    retryJoin: [...base.retryJoin, ...(fragment.retryJoin ?? [])],
    retryJoinWan: [...(base.retryJoinWan ?? []), ...(fragment.retryJoinWan ?? [])],
    nodeMeta: { ...base.nodeMeta, ...fragment.nodeMeta },
    services: [...base.services, ...(fragment.services ?? [])],
    checks: [...base.checks, ...(fragment.checks ?? [])],
  };
}

/**
 * Reads a log level as Consul does (any case; "warning" and "err" too).
 *
 * @param text e.g. "INFO", "warn"
 * @returns the level, or `undefined` when `text` is not one
 */
export function parseLogLevel(text: string): LogLevel | undefined {
  const lower = text.trim().toLowerCase();
  if (lower === "warning") return "warn";
  if (lower === "err") return "error";
  return logLevels.find((level) => level === lower);
}

/**
 * Reads a whole file by path through `runtime` (which opens files by directory and name).
 *
 * @param runtime whose files are read
 * @param path absolute or relative to the working directory
 * @returns the bytes, or `undefined` when there is no such file
 */
export async function readFileAtPath(
  runtime: Runtime,
  path: string,
): Promise<Uint8Array | undefined> {
  const slash = path.lastIndexOf("/");
  const dir = slash === -1 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  const name = path.slice(slash + 1);
  if (name === "" || name === "." || name === "..") {
    throw new TypeError(`Cannot read "${path}": it names a directory, not a file`);
  }
  return await (await runtime.files(dir)).read(name);
}

function withoutUnsupportedKeys(
  raw: Record<string, unknown>,
  warn: (key: string) => void,
): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (unsupportedKeys[""].includes(key)) {
      warn(key);
      continue;
    }
    const nested = unsupportedKeys[key];
    if (
      nested !== undefined && typeof value === "object" && value !== null && !Array.isArray(value)
    ) {
      const inner: Record<string, unknown> = {};
      for (const [innerKey, innerValue] of Object.entries(value)) {
        if (nested.includes(innerKey)) warn(`${key}.${innerKey}`);
        else inner[innerKey] = innerValue;
      }
      kept[key] = inner;
      continue;
    }
    kept[key] = value;
  }
  return kept;
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return "it does not match the config format";
  const path = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    const key = path === "" ? issue.keys[0] : `${path}.${issue.keys[0]}`;
    return `unknown field "${key}"`;
  }
  const reason = issue.message.replace(/^Invalid input: /, "");
  return `invalid "${path}": ${reason}`;
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(
    Object.entries(value).filter(([, entry]) => entry !== undefined),
  ) as T;
}
