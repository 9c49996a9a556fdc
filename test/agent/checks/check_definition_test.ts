// Goal: check definitions sent the ways Consul's clients send them (PascalCase, lowercase,
// snake_case, durations as Go text or nanosecond numbers, with unknown fields) parse to the same
// normalized definition with Consul's defaults, and every invalid definition is refused with a
// one-line message a 400 can carry. Method: example inputs against expected objects and
// messages, one test per rule.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type CheckDefinition,
  echoCheckDefinition,
  foldJsonKeys,
  isEmptyCheckDefinition,
  parseCheckDefinition,
  serviceCheckId,
} from "../../../src/agent/checks/check_definition.ts";

/** Asserts that parsing `input` throws `type` with exactly `message`. */
function assertRefused(
  input: unknown,
  type: typeof TypeError | typeof RangeError,
  message: string | RegExp,
): void {
  assert.throws(() => parseCheckDefinition(input), (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    assert.ok(!error.message.includes("\n"), "messages are one line");
    return true;
  });
}

test("parseCheckDefinition() reads a PascalCase HTTP check with Consul's defaults", () => {
  const check = parseCheckDefinition({
    Name: "web health",
    HTTP: "http://127.0.0.1:8080/health",
    Interval: "10s",
  });
  const expected: CheckDefinition = {
    type: "http",
    id: "web health",
    name: "web health",
    serviceId: undefined,
    notes: "",
    status: "critical",
    deregisterCriticalServiceAfterMs: 0,
    successBeforePassing: 0,
    failuresBeforeWarning: 0,
    failuresBeforeCritical: 0,
    outputMaxSize: 0,
    intervalMs: 10_000,
    timeoutMs: 10_000,
    http: "http://127.0.0.1:8080/health",
    method: "GET",
    header: {},
    body: "",
    tlsSkipVerify: false,
    tlsServerName: "",
    disableRedirects: false,
  };
  assert.deepEqual(check, expected);
});

test("parseCheckDefinition() matches keys case-insensitively and in snake_case", () => {
  const spellings = [
    {
      Name: "api",
      CheckID: "api-check",
      ServiceID: "api-1",
      TCP: "127.0.0.1:9000",
      Interval: "15s",
      Timeout: "2s",
      DeregisterCriticalServiceAfter: "90m",
      TLSSkipVerify: true,
    },
    {
      name: "api",
      checkid: "api-check",
      serviceid: "api-1",
      tcp: "127.0.0.1:9000",
      interval: "15s",
      timeout: "2s",
      deregistercriticalserviceafter: "90m",
      tlsskipverify: true,
    },
    {
      NAME: "api",
      check_id: "api-check",
      service_id: "api-1",
      TCP: "127.0.0.1:9000",
      INTERVAL: "15s",
      TimeOut: "2s",
      deregister_critical_service_after: "90m",
      tls_skip_verify: true,
    },
  ];
  const parsed = spellings.map((input) => parseCheckDefinition(input));
  for (const check of parsed) {
    assert.equal(check.type, "tcp");
    assert.equal(check.id, "api-check");
    assert.equal(check.name, "api");
    assert.equal(check.serviceId, "api-1");
    assert.equal(check.deregisterCriticalServiceAfterMs, 90 * 60_000);
    if (check.type !== "tcp") throw new Error("unreachable");
    assert.equal(check.tcp, "127.0.0.1:9000");
    assert.equal(check.intervalMs, 15_000);
    assert.equal(check.timeoutMs, 2_000);
  }
  assert.deepEqual(parsed[1], parsed[0]);
  assert.deepEqual(parsed[2], parsed[0]);
});

test("parseCheckDefinition() tolerates unknown fields and null values", () => {
  const check = parseCheckDefinition({
    Name: "ttl",
    TTL: "30s",
    Definition: { Whatever: true },
    Namespace: "default",
    Notes: null,
    Interval: null,
    SomethingNew: [1, 2, 3],
  });
  assert.equal(check.type, "ttl");
  assert.equal(check.notes, "");
});

test("parseCheckDefinition() lets the last of repeated keys win, as Go does", () => {
  const check = parseCheckDefinition({ name: "first", Name: "second", TTL: "5s" });
  assert.equal(check.name, "second");
  assert.equal(check.id, "second");
});

test("parseCheckDefinition() prefers ID over CheckID, and defaults the ID to the name", () => {
  assert.equal(parseCheckDefinition({ Name: "n", ID: "a", CheckID: "b", TTL: "5s" }).id, "a");
  assert.equal(parseCheckDefinition({ Name: "n", CheckID: "b", TTL: "5s" }).id, "b");
  assert.equal(parseCheckDefinition({ Name: "n", TTL: "5s" }).id, "n");
});

test("parseCheckDefinition() reads a TTL check with an initial status and notes", () => {
  const check = parseCheckDefinition({
    Name: "heartbeat",
    TTL: "30s",
    Status: "passing",
    Notes: "pushed by the app",
  });
  assert.equal(check.type, "ttl");
  if (check.type !== "ttl") throw new Error("unreachable");
  assert.equal(check.ttlMs, 30_000);
  assert.equal(check.status, "passing");
  assert.equal(check.notes, "pushed by the app");
});

test("parseCheckDefinition() reads durations as nanosecond numbers, as Go clients send", () => {
  const check = parseCheckDefinition({
    Name: "n",
    HTTP: "http://127.0.0.1/",
    Interval: 10_000_000_000,
    Timeout: 1_500_000_000,
    DeregisterCriticalServiceAfter: 3_600_000_000_000,
  });
  if (check.type !== "http") throw new Error("unreachable");
  assert.equal(check.intervalMs, 10_000);
  assert.equal(check.timeoutMs, 1_500);
  assert.equal(check.deregisterCriticalServiceAfterMs, 3_600_000);
});

test("parseCheckDefinition() reads a script check from Args, ScriptArgs or script_args", () => {
  for (const key of ["Args", "args", "ScriptArgs", "script_args"]) {
    const check = parseCheckDefinition({ Name: "s", [key]: ["/bin/true", "-x"], Interval: "5s" });
    assert.equal(check.type, "script", key);
    if (check.type !== "script") throw new Error("unreachable");
    assert.deepEqual(check.args, ["/bin/true", "-x"]);
    assert.equal(check.timeoutMs, 30_000, "script checks default to a 30s timeout");
  }
  const both = parseCheckDefinition({
    Name: "s",
    Args: [],
    ScriptArgs: ["/bin/x"],
    Interval: "5s",
  });
  if (both.type !== "script") throw new Error("unreachable");
  assert.deepEqual(both.args, ["/bin/x"]);
});

test("parseCheckDefinition() reads the HTTP request fields", () => {
  const check = parseCheckDefinition({
    Name: "h",
    HTTP: "https://127.0.0.1:8443/ready",
    Method: "POST",
    Header: { "X-Token": ["a", "b"], Accept: "text/plain" },
    Body: '{"ping":true}',
    TLSSkipVerify: true,
    TLSServerName: "svc.local",
    DisableRedirects: true,
    Interval: "1m",
    OutputMaxSize: 1024,
  });
  if (check.type !== "http") throw new Error("unreachable");
  assert.equal(check.method, "POST");
  assert.deepEqual(check.header, { "X-Token": ["a", "b"], Accept: ["text/plain"] });
  assert.equal(check.body, '{"ping":true}');
  assert.equal(check.tlsSkipVerify, true);
  assert.equal(check.tlsServerName, "svc.local");
  assert.equal(check.disableRedirects, true);
  assert.equal(check.outputMaxSize, 1024);
});

test("parseCheckDefinition() reads the thresholds, defaulting warning to critical", () => {
  const check = parseCheckDefinition({
    Name: "t",
    TCP: "127.0.0.1:1",
    Interval: "5s",
    success_before_passing: 2,
    FailuresBeforeCritical: 3,
  });
  assert.equal(check.successBeforePassing, 2);
  assert.equal(check.failuresBeforeCritical, 3);
  assert.equal(check.failuresBeforeWarning, 3);
  const both = parseCheckDefinition({
    Name: "t",
    TCP: "127.0.0.1:1",
    Interval: "5s",
    FailuresBeforeWarning: 1,
    FailuresBeforeCritical: 3,
  });
  assert.equal(both.failuresBeforeWarning, 1);
});

test("parseCheckDefinition() raises an interval below 1s to 1s and says so", () => {
  const warnings: string[] = [];
  const check = parseCheckDefinition(
    { Name: "fast", HTTP: "http://127.0.0.1/", Interval: "100ms" },
    { onWarning: (message) => warnings.push(message) },
  );
  if (check.type !== "http") throw new Error("unreachable");
  assert.equal(check.intervalMs, 1_000);
  assert.deepEqual(warnings, [
    'Check "fast" has interval 100ms below the minimum: using 1s',
  ]);
});

test("parseCheckDefinition() raises DeregisterCriticalServiceAfter below 1m to 1m", () => {
  const warnings: string[] = [];
  const check = parseCheckDefinition(
    { Name: "d", TTL: "10s", DeregisterCriticalServiceAfter: "10s" },
    { onWarning: (message) => warnings.push(message) },
  );
  assert.equal(check.deregisterCriticalServiceAfterMs, 60_000);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /DeregisterCriticalServiceAfter 10s below the minimum: using 1m0s/);
});

test("parseCheckDefinition() treats a zero TTL as no TTL, as Go's zero value", () => {
  const check = parseCheckDefinition({
    Name: "h",
    HTTP: "http://127.0.0.1/",
    Interval: "5s",
    TTL: "0s",
  });
  assert.equal(check.type, "http");
});

test("parseCheckDefinition() gives a service's checks Consul's default names and IDs", () => {
  const service = { id: "web-1", name: "web" };
  const single = parseCheckDefinition({ TTL: "10s" }, {
    service: { ...service, index: 0, count: 1 },
  });
  assert.equal(single.id, "service:web-1");
  assert.equal(single.name, "Service 'web' check");
  assert.equal(single.serviceId, "web-1");
  const second = parseCheckDefinition({ HTTP: "http://127.0.0.1/", Interval: "10s" }, {
    service: { ...service, index: 1, count: 2 },
  });
  assert.equal(second.id, "service:web-1:2");
  const named = parseCheckDefinition({ Name: "mine", CheckID: "own", TTL: "10s" }, {
    service: { ...service, index: 0, count: 1 },
  });
  assert.equal(named.id, "own");
  assert.equal(named.name, "mine");
});

test("serviceCheckId() numbers from 1 only when a service has several checks", () => {
  assert.equal(serviceCheckId("db", 0, 1), "service:db");
  assert.equal(serviceCheckId("db", 0, 3), "service:db:1");
  assert.equal(serviceCheckId("db", 2, 3), "service:db:3");
});

test("foldJsonKeys() folds case and underscores, drops nulls and never sets a prototype", () => {
  const folded = foldJsonKeys(JSON.parse('{"Check_ID":"a","NOTES":null,"__proto__":{"x":1}}'));
  assert.deepEqual(Object.keys(folded).sort(), ["checkid", "proto"]);
  assert.equal(Object.getPrototypeOf(folded), Object.prototype);
});

test("isEmptyCheckDefinition() spots the empty Check of a service, which Consul skips", () => {
  for (const empty of [null, undefined, {}, { Interval: "", TTL: null, Args: [], Header: {} }]) {
    assert.equal(isEmptyCheckDefinition(empty), true, JSON.stringify(empty));
  }
  for (const real of [{ TTL: "10s" }, { Name: "x" }, "text", []]) {
    assert.equal(isEmptyCheckDefinition(real), false, JSON.stringify(real));
  }
});

test("parseCheckDefinition() refuses a check without a name", () => {
  assertRefused({ TTL: "10s" }, RangeError, "Missing check name");
  assertRefused({ Name: "", TTL: "10s" }, RangeError, "Missing check name");
});

test("parseCheckDefinition() refuses an unknown status", () => {
  assertRefused(
    { Name: "n", TTL: "10s", Status: "ok" },
    RangeError,
    'Bad check status "ok": Status for checks must be "passing", "warning" or "critical"',
  );
  assertRefused({ Name: "n", TTL: "10s", Status: "Passing" }, RangeError, /^Bad check status/);
});

test("parseCheckDefinition() refuses a check with no type", () => {
  assertRefused(
    { Name: "n" },
    RangeError,
    "Invalid check: TTL must be > 0 for TTL checks (set one of TTL, HTTP, TCP or Args: " +
      "check types other than these are not supported)",
  );
});

test("parseCheckDefinition() refuses more than one type", () => {
  assertRefused(
    { Name: "n", HTTP: "http://127.0.0.1/", TCP: "127.0.0.1:1", Interval: "5s" },
    RangeError,
    "Invalid check: only one of TTL, HTTP, TCP or Args may be set, got HTTP and TCP",
  );
  assertRefused(
    { Name: "n", TTL: "5s", Args: ["/bin/true"] },
    RangeError,
    "Invalid check: only one of TTL, HTTP, TCP or Args may be set, got TTL and Args",
  );
});

test("parseCheckDefinition() refuses a polling check without an interval", () => {
  assertRefused(
    { Name: "n", HTTP: "http://127.0.0.1/" },
    RangeError,
    "Invalid check: Interval must be > 0 for HTTP checks",
  );
  assertRefused(
    { Name: "n", TCP: "127.0.0.1:1", Interval: "0s" },
    RangeError,
    "Invalid check: Interval must be > 0 for TCP checks",
  );
  assertRefused(
    { Name: "n", Args: ["/bin/true"], Interval: "-5s" },
    RangeError,
    "Invalid check: Interval must be > 0 for Script checks",
  );
});

test("parseCheckDefinition() refuses a TTL check with an interval", () => {
  assertRefused(
    { Name: "n", TTL: "10s", Interval: "10s" },
    RangeError,
    "Invalid check: Interval and TTL cannot both be specified",
  );
});

test("parseCheckDefinition() refuses the legacy Script field, naming the fix", () => {
  assertRefused(
    { Name: "n", Script: "curl localhost", Interval: "10s" },
    RangeError,
    'Invalid check: Script is no longer supported: use Args, e.g. ["/bin/sh", "-c", "<script>"]',
  );
});

test("parseCheckDefinition() refuses Consul check types cairn does not run", () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ GRPC: "127.0.0.1:9000" }, "GRPC"],
    [{ udp: "127.0.0.1:53" }, "UDP"],
    [{ H2PING: "127.0.0.1:443" }, "H2PING"],
    [{ AliasService: "web" }, "AliasService"],
    [{ alias_node: "n1" }, "AliasNode"],
    [{ docker_container_id: "abc", Args: ["/bin/true"] }, "DockerContainerID"],
    [{ OSService: "sshd" }, "OSService"],
  ];
  for (const [fields, name] of cases) {
    assertRefused(
      { Name: "n", Interval: "10s", ...fields },
      RangeError,
      `Invalid check: ${name} checks are not supported by cairn (use HTTP, TCP, Args or TTL)`,
    );
  }
  assertRefused(
    { Name: "n", TCP: "127.0.0.1:1", TCPUseTLS: true, Interval: "10s" },
    RangeError,
    "Invalid check: TCPUseTLS is not supported by cairn (use an HTTPS check)",
  );
});

test("parseCheckDefinition() refuses FailuresBeforeWarning above FailuresBeforeCritical", () => {
  assertRefused(
    {
      Name: "n",
      TCP: "127.0.0.1:1",
      Interval: "5s",
      FailuresBeforeWarning: 4,
      FailuresBeforeCritical: 2,
    },
    RangeError,
    "Invalid check: FailuresBeforeWarning can't be higher than FailuresBeforeCritical",
  );
});

test("parseCheckDefinition() refuses negative counts and sizes", () => {
  assertRefused(
    { Name: "n", TTL: "5s", SuccessBeforePassing: -1 },
    RangeError,
    "Invalid check: SuccessBeforePassing must be a non-negative integer",
  );
  assertRefused(
    { Name: "n", TTL: "5s", OutputMaxSize: -1 },
    RangeError,
    "Invalid check: OutputMaxSize must be >= 0",
  );
});

test("parseCheckDefinition() refuses garbage durations, naming the field", () => {
  assertRefused(
    { Name: "n", TTL: "soon" },
    RangeError,
    'Invalid check: TTL: Cannot parse duration "soon": expected a Go duration such as "10s", ' +
      '"1m30s" or "500ms"',
  );
  assertRefused(
    { Name: "n", HTTP: "http://127.0.0.1/", Interval: "10" },
    RangeError,
    /^Invalid check: Interval: Cannot parse duration "10": missing unit/,
  );
  assertRefused(
    { Name: "n", HTTP: "http://127.0.0.1/", Interval: "10s", Timeout: "3d" },
    RangeError,
    /^Invalid check: Timeout: Cannot parse duration "3d": unknown unit "d"/,
  );
});

test("parseCheckDefinition() refuses fields of the wrong JSON type", () => {
  assertRefused(
    { Name: "n", HTTP: "http://127.0.0.1/", Interval: true },
    TypeError,
    'Request decode failed: Interval must be a duration such as "10s" or a number of nanoseconds',
  );
  assertRefused(
    { Name: "n", Args: "/bin/true", Interval: "5s" },
    TypeError,
    "Request decode failed: Args must be a list of at most 1024 strings",
  );
  assertRefused(
    { Name: "n", HTTP: "http://127.0.0.1/", Interval: "5s", Header: { A: [1] } },
    TypeError,
    "Request decode failed: Header must be an object mapping header names to lists of strings " +
      "(at Header.A)",
  );
  assertRefused(
    { Name: "n", TTL: "5s", Header: { "A\nB": 5 } },
    TypeError,
    "Request decode failed: Header must be an object mapping header names to lists of strings " +
      "(at Header.A?B)",
  );
  assertRefused(
    { Name: 7, TTL: "5s" },
    TypeError,
    "Request decode failed: Name must be a string",
  );
  assertRefused(
    { Name: "n", TTL: "5s", TLSSkipVerify: "yes" },
    TypeError,
    "Request decode failed: TLSSkipVerify must be a boolean",
  );
  assertRefused(
    { Name: "n", TTL: "5s", FailuresBeforeCritical: 1.5 },
    TypeError,
    "Request decode failed: FailuresBeforeCritical must be an integer",
  );
  assertRefused(
    ["not", "an", "object"],
    TypeError,
    "Request decode failed: a check definition must be a JSON object",
  );
});

test("parseCheckDefinition() bounds the argument list", () => {
  const args = Array.from({ length: 1025 }, () => "x");
  assertRefused(
    { Name: "n", Args: args, Interval: "5s" },
    TypeError,
    "Request decode failed: Args must be a list of at most 1024 strings",
  );
});

test("echoCheckDefinition() renders Consul's Definition JSON", () => {
  const http = parseCheckDefinition({
    Name: "h",
    HTTP: "http://127.0.0.1:8080/",
    Header: { "X-A": ["1"] },
    Interval: "90s",
    DeregisterCriticalServiceAfter: "1h",
  });
  assert.deepEqual(echoCheckDefinition(http), {
    HTTP: "http://127.0.0.1:8080/",
    Header: { "X-A": ["1"] },
    Method: "GET",
    Interval: "1m30s",
    Timeout: "10s",
    DeregisterCriticalServiceAfter: "1h0m0s",
  });
  const tcp = parseCheckDefinition({ Name: "t", TCP: "127.0.0.1:22", Interval: "10s" });
  assert.deepEqual(echoCheckDefinition(tcp), {
    TCP: "127.0.0.1:22",
    Interval: "10s",
    Timeout: "10s",
  });
  const script = parseCheckDefinition({
    Name: "s",
    Args: ["/bin/true"],
    Interval: "10s",
    OutputMaxSize: 100,
  });
  assert.deepEqual(echoCheckDefinition(script), {
    ScriptArgs: ["/bin/true"],
    Interval: "10s",
    Timeout: "30s",
    OutputMaxSize: 100,
  });
  const ttl = parseCheckDefinition({ Name: "t", TTL: "15s" });
  assert.deepEqual(echoCheckDefinition(ttl), { TTL: 15_000_000_000 });
});
