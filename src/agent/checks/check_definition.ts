/**
 * Consul check definitions as clients send them (`PUT /v1/agent/check/register`, the `Check` and
 * `Checks` of a service registration, config files), parsed into one normalized
 * {@link CheckDefinition}. Decoding follows Go's `encoding/json` as Consul uses it: keys match
 * case-insensitively, snake_case spellings are accepted (`deregister_critical_service_after`),
 * unknown keys and `null` values are ignored, durations are Go duration text or integer
 * nanoseconds. Validation follows `structs.CheckType.Validate` and `agent.addCheck`; error
 * messages are one line, fit to be a 400 body.
 *
 * @module
 */

import { z } from "zod";
import {
  formatGoDuration,
  goDurationNumberToMs,
  parseGoDurationMs,
} from "../../core/go_duration.ts";
import { type CheckStatus, isCheckStatus } from "./status_handler.ts";

export { formatGoDuration, parseGoDurationMs } from "../../core/go_duration.ts";

/** The check types cairn runs. */
export type CheckType = "ttl" | "http" | "tcp" | "script";

/** Fields every check has. Durations are milliseconds. */
export interface CheckDefinitionCommon {
  /** The check's ID: `ID` or `CheckID`, else the name (`service:<id>[:<n>]` in a service). */
  id: string;
  name: string;
  /** The service the check belongs to, or `undefined` for a node check. */
  serviceId: string | undefined;
  /** Free text for humans. @default {""} */
  notes: string;
  /** The status before the first result. @default {"critical"} */
  status: CheckStatus;
  /** Deregister the service after this long critical; 0 never. Clamped to >= 1 minute. */
  deregisterCriticalServiceAfterMs: number;
  /** Successes in a row before passing. @default {0} */
  successBeforePassing: number;
  /** Failures in a row before warning. @default {failuresBeforeCritical} */
  failuresBeforeWarning: number;
  /** Failures in a row before critical. @default {0} */
  failuresBeforeCritical: number;
  /** Output cap in bytes asked for by the check; 0 means the agent's cap (4096 by default). */
  outputMaxSize: number;
}

/** A check whose status is pushed by the application, and expires to critical. */
export interface TtlCheckDefinition extends CheckDefinitionCommon {
  type: "ttl";
  /** Time allowed between updates before the check turns critical. */
  ttlMs: number;
}

/** Fields of the checks that poll on an interval. */
export interface IntervalCheckDefinitionCommon extends CheckDefinitionCommon {
  /** Time between the end of one run and the start of the next; >= 1 s after parsing. */
  intervalMs: number;
  /** Time allowed for one run. @default {10000}, script checks 30000 */
  timeoutMs: number;
}

/** A check that makes an HTTP request: 2xx passing, 429 warning, anything else critical. */
export interface HttpCheckDefinition extends IntervalCheckDefinitionCommon {
  type: "http";
  /** The URL requested. */
  http: string;
  /** @default {"GET"} */
  method: string;
  /** Request headers, each with one or more values. @default {{}} */
  header: Record<string, string[]>;
  /** Request body. @default {""} */
  body: string;
  /** Skip TLS certificate verification (honoured where the runtime's fetch allows it). */
  tlsSkipVerify: boolean;
  /** SNI name for TLS. @default {""} */
  tlsServerName: string;
  /** Do not follow redirects (a 3xx is then critical). @default {false} */
  disableRedirects: boolean;
}

/** A check that opens a TCP connection: connected passing, else critical. */
export interface TcpCheckDefinition extends IntervalCheckDefinitionCommon {
  type: "tcp";
  /** `host:port` (IPv6 in brackets). */
  tcp: string;
}

/** A check that runs a program (no shell): exit 0 passing, 1 warning, else critical. */
export interface ScriptCheckDefinition extends IntervalCheckDefinitionCommon {
  type: "script";
  /** The program and its arguments. */
  args: string[];
}

/** A parsed, validated, defaulted check definition; `type` tells which kind. */
export type CheckDefinition =
  | TtlCheckDefinition
  | HttpCheckDefinition
  | TcpCheckDefinition
  | ScriptCheckDefinition;

/**
 * The `Definition` object of a HealthCheck in Consul's JSON (`structs.HealthCheckDefinition`):
 * PascalCase, empty fields omitted, durations as Go text (TTL as integer nanoseconds, as Consul
 * marshals it).
 */
export interface HealthCheckDefinitionJson {
  HTTP?: string;
  TLSServerName?: string;
  TLSSkipVerify?: boolean;
  Header?: Record<string, string[]>;
  Method?: string;
  Body?: string;
  DisableRedirects?: boolean;
  TCP?: string;
  Interval?: string;
  OutputMaxSize?: number;
  Timeout?: string;
  DeregisterCriticalServiceAfter?: string;
  ScriptArgs?: string[];
  TTL?: number;
}

/** Where a check sits inside a service registration, for its defaults. */
export interface ServiceCheckContext {
  /** The service's ID; becomes the check's `serviceId`. */
  id: string;
  /** The service's name, for the default check name `Service '<name>' check`. */
  name: string;
  /** The check's 0-based position among the service's checks. */
  index: number;
  /** How many checks the service registers (`Check` and `Checks` together). */
  count: number;
}

/** Options for {@link parseCheckDefinition}. */
export interface ParseCheckDefinitionOptions {
  /** Set when the check is part of a service registration: Name and ID then have defaults. */
  service?: ServiceCheckContext;
  /** Hears about values that were adjusted (interval below 1 s, deregister below 1 min). */
  onWarning?: (message: string) => void;
}

/** Consul's `checks.MinInterval`: shorter intervals are raised to this, to avoid fork bombs. */
export const CHECK_INTERVAL_MIN_MS = 1_000;

/** Consul's `check_deregister_interval_min`: shorter DeregisterCriticalServiceAfter is raised. */
export const CHECK_DEREGISTER_AFTER_MIN_MS = 60_000;

/** Timeout of HTTP and TCP checks without one (Go's client and dialer in Consul). */
export const CHECK_TIMEOUT_DEFAULT_MS = 10_000;

/** Timeout of script checks without one (Consul's `CheckMonitor`). */
export const SCRIPT_CHECK_TIMEOUT_DEFAULT_MS = 30_000;

/** Consul's `checks.DefaultBufSize`: the default and agent cap of a check's output. */
export const CHECK_OUTPUT_MAX_SIZE_DEFAULT = 4_096;

/** Arguments a script check may have: a bound, as on everything untrusted. */
export const CHECK_ARGS_MAX = 1_024;

/** Header values an HTTP check may send, all names together. */
export const CHECK_HEADER_VALUES_MAX = 1_024;

/**
 * The default ID of a check inside a service registration, as Consul's agent gives it:
 * `service:<serviceId>` when the service has one check, `service:<serviceId>:<n>` (1-based) when
 * it has several.
 *
 * @param serviceId the service's ID
 * @param index the check's 0-based position
 * @param count how many checks the service has
 * @returns the check ID
 * @example
 * ```ts
 * import { serviceCheckId } from "./check_definition.ts";
 * serviceCheckId("web", 1, 2); // "service:web:2"
 * ```
 */
export function serviceCheckId(serviceId: string, index: number, count: number): string {
  return count > 1 ? `service:${serviceId}:${index + 1}` : `service:${serviceId}`;
}

/**
 * Folds a JSON object's keys the way cairn matches them: lowercase, without underscores, so
 * `"DeregisterCriticalServiceAfter"`, `"deregistercriticalserviceafter"` and
 * `"deregister_critical_service_after"` are one key. `null` values are dropped (Go leaves the
 * field at its zero value); for repeated keys the last wins, as in Go. Values are not copied or
 * folded (header names keep their case).
 *
 * @param object a decoded JSON object
 * @returns a new object keyed by folded names
 */
export function foldJsonKeys(object: Record<string, unknown>): Record<string, unknown> {
  const folded = new Map<string, unknown>();
  for (const [key, value] of Object.entries(object)) {
    if (value === null) continue;
    const foldedKey = foldKey(key);
    folded.delete(foldedKey); // The last of repeated keys wins, and takes its place.
    folded.set(foldedKey, value);
  }
  // fromEntries defines own properties, so a "__proto__" key stays data, never a prototype.
  return Object.fromEntries(folded);
}

/**
 * Tells whether a service's `Check` is empty, which Consul skips rather than refuses
 * (`CheckType.Empty`): `null`, absent, or an object whose every value is `null` or a zero
 * value (`""`, `0`, `false`, `[]`, `{}`). A service registration should skip such a check
 * before calling {@link parseCheckDefinition}.
 *
 * @param input the decoded `Check` value
 * @returns true when there is no check to register
 */
export function isEmptyCheckDefinition(input: unknown): boolean {
  if (input === null || input === undefined) return true;
  if (typeof input !== "object" || Array.isArray(input)) return false;
  return Object.values(input).every((value) =>
    value === null || value === "" || value === 0 || value === false ||
    (Array.isArray(value) && value.length === 0) ||
    (typeof value === "object" && Object.keys(value).length === 0)
  );
}

function foldKey(key: string): string {
  return key.replaceAll("_", "").toLowerCase();
}

const durationInput = z.union([z.string(), z.number()]);
const count = z.number().int();
const stringList = z.array(z.string()).max(CHECK_ARGS_MAX);

/**
 * The field types of a check definition, over keys folded by {@link foldJsonKeys}. Unknown keys
 * pass through untouched. Meaning, defaults and cross-field rules are applied by
 * {@link parseCheckDefinition}.
 */
export const checkDefinitionFieldsSchema = z.looseObject({
  name: z.string().optional(),
  id: z.string().optional(),
  checkid: z.string().optional(),
  serviceid: z.string().optional(),
  notes: z.string().optional(),
  status: z.string().optional(),
  ttl: durationInput.optional(),
  http: z.string().optional(),
  method: z.string().optional(),
  header: z.record(z.string(), z.union([z.array(z.string()), z.string()])).optional(),
  body: z.string().optional(),
  tlsskipverify: z.boolean().optional(),
  tlsservername: z.string().optional(),
  disableredirects: z.boolean().optional(),
  tcp: z.string().optional(),
  tcpusetls: z.boolean().optional(),
  args: stringList.optional(),
  scriptargs: stringList.optional(),
  script: z.string().optional(),
  interval: durationInput.optional(),
  timeout: durationInput.optional(),
  deregistercriticalserviceafter: durationInput.optional(),
  successbeforepassing: count.optional(),
  failuresbeforewarning: count.optional(),
  failuresbeforecritical: count.optional(),
  outputmaxsize: count.optional(),
});

type CheckDefinitionFields = z.infer<typeof checkDefinitionFieldsSchema>;

/** Consul's spelling of each folded field, and what it must be, for error messages. */
const FIELD_DESCRIPTIONS: Record<string, [name: string, expected: string]> = {
  ttl: ["TTL", 'a duration such as "10s" or a number of nanoseconds'],
  interval: ["Interval", 'a duration such as "10s" or a number of nanoseconds'],
  timeout: ["Timeout", 'a duration such as "10s" or a number of nanoseconds'],
  deregistercriticalserviceafter: [
    "DeregisterCriticalServiceAfter",
    'a duration such as "90m" or a number of nanoseconds',
  ],
  header: ["Header", "an object mapping header names to lists of strings"],
  args: ["Args", `a list of at most ${CHECK_ARGS_MAX} strings`],
  scriptargs: ["ScriptArgs", `a list of at most ${CHECK_ARGS_MAX} strings`],
  tlsskipverify: ["TLSSkipVerify", "a boolean"],
  disableredirects: ["DisableRedirects", "a boolean"],
  tcpusetls: ["TCPUseTLS", "a boolean"],
  successbeforepassing: ["SuccessBeforePassing", "an integer"],
  failuresbeforewarning: ["FailuresBeforeWarning", "an integer"],
  failuresbeforecritical: ["FailuresBeforeCritical", "an integer"],
  outputmaxsize: ["OutputMaxSize", "an integer"],
  name: ["Name", "a string"],
  id: ["ID", "a string"],
  checkid: ["CheckID", "a string"],
  serviceid: ["ServiceID", "a string"],
  notes: ["Notes", "a string"],
  status: ["Status", "a string"],
  http: ["HTTP", "a string"],
  method: ["Method", "a string"],
  body: ["Body", "a string"],
  tlsservername: ["TLSServerName", "a string"],
  tcp: ["TCP", "a string"],
  script: ["Script", "a string"],
};

/** Check kinds Consul has and cairn does not run, by folded key. */
const UNSUPPORTED_TYPES: ReadonlyArray<[key: string, name: string]> = [
  ["grpc", "GRPC"],
  ["udp", "UDP"],
  ["h2ping", "H2PING"],
  ["aliasservice", "AliasService"],
  ["aliasnode", "AliasNode"],
  ["dockercontainerid", "DockerContainerID"],
  ["osservice", "OSService"],
];

/**
 * Parses and validates a check definition as decoded from a client's JSON.
 *
 * @param input the decoded JSON value (an object)
 * @param options service context and a warning sink
 * @returns the normalized definition
 * @throws {TypeError} when a field has the wrong JSON type ("Request decode failed: ...")
 * @throws {RangeError} when the definition is invalid ("Missing check name", "Bad check status",
 *   "Invalid check: ...")
 * @example
 * ```ts
 * import { parseCheckDefinition } from "./check_definition.ts";
 * const check = parseCheckDefinition({
 *   name: "web",
 *   http: "http://127.0.0.1:8080/health",
 *   interval: "10s",
 * });
 * check.type; // "http"
 * ```
 */
export function parseCheckDefinition(
  input: unknown,
  options: ParseCheckDefinitionOptions = {},
): CheckDefinition {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new TypeError("Request decode failed: a check definition must be a JSON object");
  }
  const parsed = checkDefinitionFieldsSchema.safeParse(
    foldJsonKeys(input as Record<string, unknown>),
  );
  if (!parsed.success) throw decodeError(parsed.error);
  const fields = parsed.data;
  const warn = options.onWarning ?? (() => {});
  const common = parseCommonFields(fields, options.service, warn);
  const type = pickType(fields);
  if (type === "ttl") {
    if (durationMs(fields.interval, "Interval") > 0) {
      throw invalid("Interval and TTL cannot both be specified");
    }
    return { ...common, type, ttlMs: durationMs(fields.ttl, "TTL") };
  }
  const typeName = type === "http" ? "HTTP" : type === "tcp" ? "TCP" : "Script";
  let intervalMs = durationMs(fields.interval, "Interval");
  if (!(intervalMs > 0)) throw invalid(`Interval must be > 0 for ${typeName} checks`);
  if (intervalMs < CHECK_INTERVAL_MIN_MS) {
    warn(
      `Check ${JSON.stringify(common.id)} has interval ${formatGoDuration(intervalMs)} below ` +
        `the minimum: using ${formatGoDuration(CHECK_INTERVAL_MIN_MS)}`,
    );
    intervalMs = CHECK_INTERVAL_MIN_MS;
  }
  const timeoutGivenMs = durationMs(fields.timeout, "Timeout");
  const timeoutMs = timeoutGivenMs > 0
    ? timeoutGivenMs
    : type === "script"
    ? SCRIPT_CHECK_TIMEOUT_DEFAULT_MS
    : CHECK_TIMEOUT_DEFAULT_MS;
  const interval = { ...common, intervalMs, timeoutMs };
  if (type === "tcp") return { ...interval, type, tcp: fields.tcp! };
  if (type === "script") {
    return {
      ...interval,
      type,
      args: [...(fields.args?.length ? fields.args : fields.scriptargs!)],
    };
  }
  return {
    ...interval,
    type,
    http: fields.http!,
    method: fields.method || "GET",
    header: parseHeader(fields.header),
    body: fields.body ?? "",
    tlsSkipVerify: fields.tlsskipverify ?? false,
    tlsServerName: fields.tlsservername ?? "",
    disableRedirects: fields.disableredirects ?? false,
  };
}

/** The fields every check type has, with their defaults and rules. */
function parseCommonFields(
  fields: CheckDefinitionFields,
  service: ServiceCheckContext | undefined,
  warn: (message: string) => void,
): CheckDefinitionCommon {
  const name = fields.name || (service ? `Service '${service.name}' check` : "");
  if (name === "") throw new RangeError("Missing check name");
  if (fields.status && !isCheckStatus(fields.status)) {
    throw new RangeError(
      `Bad check status ${JSON.stringify(fields.status)}: ` +
        `Status for checks must be "passing", "warning" or "critical"`,
    );
  }
  const serviceDefaultId = service && serviceCheckId(service.id, service.index, service.count);
  const id = fields.id || fields.checkid || serviceDefaultId || name;
  const successBeforePassing = nonNegative(fields.successbeforepassing, "SuccessBeforePassing");
  const failuresBeforeCritical = nonNegative(
    fields.failuresbeforecritical,
    "FailuresBeforeCritical",
  );
  const failuresBeforeWarning = nonNegative(fields.failuresbeforewarning, "FailuresBeforeWarning");
  if (failuresBeforeWarning > failuresBeforeCritical) {
    throw invalid("FailuresBeforeWarning can't be higher than FailuresBeforeCritical");
  }
  const outputMaxSize = fields.outputmaxsize ?? 0;
  if (outputMaxSize < 0) throw invalid("OutputMaxSize must be >= 0");
  let deregisterCriticalServiceAfterMs = Math.max(
    0,
    durationMs(fields.deregistercriticalserviceafter, "DeregisterCriticalServiceAfter"),
  );
  if (
    deregisterCriticalServiceAfterMs > 0 &&
    deregisterCriticalServiceAfterMs < CHECK_DEREGISTER_AFTER_MIN_MS
  ) {
    // Consul raises it to check_deregister_interval_min (agent.go addCheck) rather than refuse.
    warn(
      `Check ${JSON.stringify(id)} has DeregisterCriticalServiceAfter ` +
        `${formatGoDuration(deregisterCriticalServiceAfterMs)} below the minimum: using ` +
        formatGoDuration(CHECK_DEREGISTER_AFTER_MIN_MS),
    );
    deregisterCriticalServiceAfterMs = CHECK_DEREGISTER_AFTER_MIN_MS;
  }
  return {
    id,
    name,
    serviceId: service?.id ?? (fields.serviceid || undefined),
    notes: fields.notes ?? "",
    status: (fields.status || "critical") as CheckStatus,
    deregisterCriticalServiceAfterMs,
    successBeforePassing,
    // Defaults to FailuresBeforeCritical, as Consul's agent does before starting the check.
    failuresBeforeWarning: failuresBeforeWarning || failuresBeforeCritical,
    failuresBeforeCritical,
    outputMaxSize,
  };
}

/** Finds the one check type the fields ask for, or explains why there is not exactly one. */
function pickType(fields: CheckDefinitionFields): CheckType {
  for (const [key, name] of UNSUPPORTED_TYPES) {
    const value = fields[key];
    if (value !== undefined && value !== "") {
      throw invalid(`${name} checks are not supported by cairn (use HTTP, TCP, Args or TTL)`);
    }
  }
  if (fields.tcpusetls === true) {
    throw invalid("TCPUseTLS is not supported by cairn (use an HTTPS check)");
  }
  if (fields.script) {
    throw invalid(
      'Script is no longer supported: use Args, e.g. ["/bin/sh", "-c", "<script>"]',
    );
  }
  const present: CheckType[] = [];
  // A zero TTL is Go's zero value, "not a TTL check", so {"HTTP": ..., "TTL": "0s"} is HTTP.
  if (durationMs(fields.ttl, "TTL") > 0) present.push("ttl");
  if (fields.http) present.push("http");
  if (fields.tcp) present.push("tcp");
  if ((fields.args ?? []).length > 0 || (fields.scriptargs ?? []).length > 0) {
    present.push("script");
  }
  if (present.length > 1) {
    const names = present.map((type) => (type === "script" ? "Args" : type.toUpperCase()));
    throw invalid(`only one of TTL, HTTP, TCP or Args may be set, got ${names.join(" and ")}`);
  }
  if (present.length === 0) {
    throw invalid(
      "TTL must be > 0 for TTL checks (set one of TTL, HTTP, TCP or Args: " +
        "check types other than these are not supported)",
    );
  }
  return present[0];
}

/** A Go duration field in milliseconds; absent or `""` is 0, as Go's zero value. */
function durationMs(value: string | number | undefined, name: string): number {
  if (value === undefined || value === "") return 0;
  try {
    return typeof value === "number" ? goDurationNumberToMs(value) : parseGoDurationMs(value);
  } catch (error) {
    throw new RangeError(`Invalid check: ${name}: ${(error as Error).message}`);
  }
}

function nonNegative(value: number | undefined, name: string): number {
  if (value !== undefined && (value < 0 || !Number.isSafeInteger(value))) {
    throw invalid(`${name} must be a non-negative integer`);
  }
  return value ?? 0;
}

function parseHeader(header: Record<string, string | string[]> | undefined) {
  const result: Record<string, string[]> = {};
  let valueCount = 0;
  for (const [name, values] of Object.entries(header ?? {})) {
    // Go needs a list; a lone string is accepted as a list of one, as a convenience.
    const list = typeof values === "string" ? [values] : values;
    valueCount += list.length;
    if (valueCount > CHECK_HEADER_VALUES_MAX) {
      throw invalid(`Header must have at most ${CHECK_HEADER_VALUES_MAX} values`);
    }
    result[name] = [...list];
  }
  return result;
}

function invalid(reason: string): RangeError {
  return new RangeError(`Invalid check: ${reason}`);
}

function decodeError(error: z.ZodError): TypeError {
  const issue = error.issues[0];
  const key = String(issue?.path[0] ?? "");
  const [name, expected] = FIELD_DESCRIPTIONS[key] ?? [key, "of another type"];
  // Path segments are client-chosen keys: control characters would break the one-line rule.
  const segments =
    issue?.path.slice(1).map((segment) => String(segment).replaceAll(/\p{Cc}/gu, "?")) ?? [];
  const where = segments.length > 0 ? ` (at ${[name, ...segments].join(".")})` : "";
  return new TypeError(`Request decode failed: ${name} must be ${expected}${where}`);
}

/**
 * The `Definition` JSON of a HealthCheck for `definition`, as Consul's agent reports it in
 * `/v1/agent/checks` and the catalog: empty fields omitted, durations as Go text.
 *
 * @param definition a parsed definition
 * @returns the PascalCase object to put under `Definition`
 */
export function echoCheckDefinition(definition: CheckDefinition): HealthCheckDefinitionJson {
  const echo: HealthCheckDefinitionJson = {};
  switch (definition.type) {
    case "http":
      echo.HTTP = definition.http;
      if (definition.tlsServerName) echo.TLSServerName = definition.tlsServerName;
      if (definition.tlsSkipVerify) echo.TLSSkipVerify = true;
      if (Object.keys(definition.header).length > 0) echo.Header = definition.header;
      echo.Method = definition.method;
      if (definition.body) echo.Body = definition.body;
      if (definition.disableRedirects) echo.DisableRedirects = true;
      break;
    case "tcp":
      echo.TCP = definition.tcp;
      break;
    case "script":
      echo.ScriptArgs = definition.args;
      break;
    case "ttl":
      // Consul marshals TTL as a plain time.Duration: integer nanoseconds.
      echo.TTL = Math.round(definition.ttlMs * 1e6);
      break;
  }
  if (definition.type !== "ttl") {
    echo.Interval = formatGoDuration(definition.intervalMs);
    echo.Timeout = formatGoDuration(definition.timeoutMs);
  }
  if (definition.outputMaxSize > 0) echo.OutputMaxSize = definition.outputMaxSize;
  if (definition.deregisterCriticalServiceAfterMs > 0) {
    echo.DeregisterCriticalServiceAfter = formatGoDuration(
      definition.deregisterCriticalServiceAfterMs,
    );
  }
  return echo;
}
