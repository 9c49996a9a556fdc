// Tests of how `cairn agent` builds its config (src/cli/agent_config.ts, src/agent/config_file.ts).
//
// Goal: the config an agent starts with is what Consul would build from the same flags and files:
// defaults (or the -dev preset), then config files and directories in command-line order, then
// flags; arrays append and maps overlay; bad files and impossible settings fail with a one-line
// message naming the file and key or the fix. Method: JSON files written to a temporary directory,
// buildAgentConfig called in-process on a fake runtime, and the resulting AgentConfig compared.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildAgentConfig } from "../../src/cli/agent_config.ts";
import { defaultAgentConfig, devAgentConfig } from "../../src/agent/config.ts";
import { parseConfigFile } from "../../src/agent/config_file.ts";
import { FlagError } from "../../src/cli/flags.ts";
import { FakeRuntime } from "./fake_runtime.ts";

const root = mkdtempSync(join(tmpdir(), "cairn-cli-config-"));
after(() => rmSync(root, { recursive: true, force: true }));
let fileCount = 0;

/** Writes `content` (JSON unless a string) to a new file; returns its path. */
function writeConfig(content: unknown, name = `config-${++fileCount}.json`, dir = root): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

function runtimeWithHost(): FakeRuntime {
  return new FakeRuntime({ env: { HOSTNAME: "host-a" } });
}

async function buildError(args: string[]): Promise<Error> {
  try {
    await buildAgentConfig(runtimeWithHost(), args, { onWarning: () => {} });
  } catch (error) {
    assert.ok(error instanceof Error);
    return error;
  }
  assert.fail(`buildAgentConfig(${JSON.stringify(args)}) did not throw`);
}

test("buildAgentConfig() with -dev gives the dev preset, named after $HOSTNAME", async () => {
  const config = await buildAgentConfig(runtimeWithHost(), ["-dev"]);
  assert.deepEqual(config, devAgentConfig("host-a"));
});

test("buildAgentConfig() falls back to /etc/hostname, then to the defaults for the rest", async () => {
  const config = await buildAgentConfig(new FakeRuntime(), ["-data-dir", "/tmp/x"]);
  assert.ok(config.nodeName.length > 0);
  assert.deepEqual(config, { ...defaultAgentConfig(config.nodeName), dataDir: "/tmp/x" });
});

test("buildAgentConfig() maps every flag onto the config", async () => {
  const config = await buildAgentConfig(runtimeWithHost(), [
    "-server",
    "-bootstrap-expect=3",
    "-data-dir=/var/cairn",
    "-bind=127.0.0.2",
    "-advertise",
    "127.0.0.3",
    "-client=127.0.0.4",
    "-node=n1",
    "-node-id=0F2C4A5E-1111-2222-3333-444455556666",
    "-datacenter=East",
    "-domain=example",
    "-http-port=18500",
    "-dns-port=-1",
    "-server-port=18300",
    "-serf-lan-port=18301",
    "-serf-wan-port=18302",
    "-retry-join=127.0.0.5",
    "-join=127.0.0.6",
    "-encrypt=" + btoa("0123456789abcdef"),
    "-ui",
    "-log-level=WARN",
    "-log-json",
    "-enable-script-checks",
    "-enable-local-script-checks=true",
    "-node-meta=rack:r1",
    "-node-meta",
    "zone:a:b",
  ]);
  assert.deepEqual(config, {
    ...defaultAgentConfig("n1"),
    server: true,
    bootstrapExpect: 3,
    dataDir: "/var/cairn",
    bindAddr: "127.0.0.2",
    advertiseAddr: "127.0.0.3",
    clientAddr: "127.0.0.4",
    nodeId: "0f2c4a5e-1111-2222-3333-444455556666",
    datacenter: "east",
    domain: "example.",
    ports: { http: 18500, dns: -1, server: 18300, serfLan: 18301, serfWan: 18302 },
    retryJoin: ["127.0.0.5", "127.0.0.6"],
    encrypt: btoa("0123456789abcdef"),
    ui: true,
    logLevel: "warn",
    logJson: true,
    enableScriptChecks: true,
    enableLocalScriptChecks: true,
    nodeMeta: { rack: "r1", zone: "a:b" },
  });
});

test("buildAgentConfig() applies defaults, then files in order, then flags (Consul's merge)", async () => {
  const first = writeConfig({
    datacenter: "east",
    data_dir: "/first",
    server: true,
    retry_join: ["127.0.0.2"],
    node_meta: { a: "1", shared: "first" },
    ports: { http: 18500, dns: 18600 },
    log_level: "debug",
  });
  const second = writeConfig({
    datacenter: "west",
    retry_join: ["127.0.0.3"],
    node_meta: { b: "2", shared: "second" },
    ports: { dns: 28600 },
    ui_config: { enabled: true },
  });
  const config = await buildAgentConfig(runtimeWithHost(), [
    "-config-file",
    first,
    "-config-file=" + second,
    "-retry-join=127.0.0.4",
    "-node-meta=c:3",
    "-datacenter=north",
  ]);
  assert.equal(config.datacenter, "north");
  assert.equal(config.dataDir, "/first");
  assert.equal(config.server, true);
  assert.equal(config.ui, true);
  assert.equal(config.logLevel, "debug");
  assert.deepEqual(config.ports, {
    http: 18500,
    dns: 28600,
    server: 8300,
    serfLan: 8301,
    serfWan: 8302,
  });
  assert.deepEqual(config.retryJoin, ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
  assert.deepEqual(config.nodeMeta, { a: "1", shared: "second", b: "2", c: "3" });
});

test("buildAgentConfig() lets flags override booleans from files and the dev preset", async () => {
  const file = writeConfig({ server: true, ui: true, data_dir: "/d", log_json: true });
  const config = await buildAgentConfig(runtimeWithHost(), [
    "-config-file",
    file,
    "-server=false",
    "-ui=false",
    "-log-json=false",
  ]);
  assert.equal(config.server, false);
  assert.equal(config.ui, false);
  assert.equal(config.logJson, false);
  const dev = await buildAgentConfig(runtimeWithHost(), ["-dev", "-ui=false"]);
  assert.equal(dev.ui, false);
  assert.equal(dev.server, true);
});

test("buildAgentConfig() loads a -config-dir's *.json files in lexical order", async () => {
  const dir = join(root, "conf.d");
  writeConfig({ datacenter: "from-b", node_name: "b" }, "20-b.json", dir);
  writeConfig({ datacenter: "from-a", data_dir: "/a" }, "10-a.json", dir);
  writeConfig("not json at all", "README.txt", dir);
  const warnings: string[] = [];
  const config = await buildAgentConfig(runtimeWithHost(), ["-config-dir", dir], {
    onWarning: (message) => warnings.push(message),
  });
  assert.equal(config.datacenter, "from-b");
  assert.equal(config.nodeName, "b");
  assert.equal(config.dataDir, "/a");
  assert.deepEqual(warnings, [
    `Skipping file "${dir}/README.txt": the extension must be .json`,
  ]);
});

test("buildAgentConfig() warns about a -config-dir without JSON files", async () => {
  const warnings: string[] = [];
  const dir = join(root, "empty.d");
  mkdirSync(dir, { recursive: true });
  await buildAgentConfig(runtimeWithHost(), ["-dev", "-config-dir", dir], {
    onWarning: (message) => warnings.push(message),
  });
  assert.deepEqual(warnings, [`Config dir "${dir}" has no .json files`]);
});

test("buildAgentConfig() applies -config-file and -config-dir in command-line order", async () => {
  const dir = join(root, "ordered.d");
  writeConfig({ datacenter: "from-dir", data_dir: "/d" }, "a.json", dir);
  const file = writeConfig({ datacenter: "from-file" });
  const dirLast = await buildAgentConfig(runtimeWithHost(), [
    "-config-file=" + file,
    "-config-dir=" + dir,
  ]);
  assert.equal(dirLast.datacenter, "from-dir");
  const fileLast = await buildAgentConfig(runtimeWithHost(), [
    "-config-dir=" + dir,
    "-config-file=" + file,
  ]);
  assert.equal(fileLast.datacenter, "from-file");
});

test("buildAgentConfig() collects services and checks from files without validating them", async () => {
  const file = writeConfig({
    data_dir: "/d",
    service: { name: "web", port: 80 },
    services: [{ name: "db" }, { name: "cache", checks: [{ ttl: "10s" }] }],
    check: { id: "mem", args: ["true"], interval: "10s" },
    checks: [{ id: "disk", ttl: "30s" }],
  });
  const second = writeConfig({ service: { name: "api" } });
  const config = await buildAgentConfig(runtimeWithHost(), [
    "-config-file=" + file,
    "-config-file=" + second,
  ]);
  assert.deepEqual(config.services, [
    { name: "web", port: 80 },
    { name: "db" },
    { name: "cache", checks: [{ ttl: "10s" }] },
    { name: "api" },
  ]);
  assert.deepEqual(config.checks, [
    { id: "mem", args: ["true"], interval: "10s" },
    { id: "disk", ttl: "30s" },
  ]);
});

test("buildAgentConfig() skips Consul keys cairn does not implement, with a warning", async () => {
  const file = writeConfig({
    data_dir: "/d",
    telemetry: { prometheus_retention_time: "1m" },
    ports: { grpc: 8502, http: 18500 },
    leave_on_terminate: true,
  });
  const warnings: string[] = [];
  const config = await buildAgentConfig(runtimeWithHost(), ["-config-file", file], {
    onWarning: (message) => warnings.push(message),
  });
  assert.equal(config.ports.http, 18500);
  assert.deepEqual(warnings, [
    `Ignoring config key "telemetry" in "${file}": cairn does not support it`,
    `Ignoring config key "ports.grpc" in "${file}": cairn does not support it`,
    `Ignoring config key "leave_on_terminate" in "${file}": cairn does not support it`,
  ]);
});

test("buildAgentConfig() refuses unknown keys, wrong types, bad JSON, HCL and missing files", async () => {
  const unknown = writeConfig({ data_dir: "/d", colour: "blue" });
  assert.equal(
    (await buildError(["-config-file", unknown])).message,
    `Cannot load config file "${unknown}": unknown field "colour"`,
  );
  const nested = writeConfig({ ports: { htp: 1 } });
  assert.equal(
    (await buildError(["-config-file", nested])).message,
    `Cannot load config file "${nested}": unknown field "ports.htp"`,
  );
  const wrongType = writeConfig({ bootstrap_expect: "3" });
  assert.equal(
    (await buildError(["-config-file", wrongType])).message,
    `Cannot load config file "${wrongType}": invalid "bootstrap_expect": expected number, received string`,
  );
  const wrongPort = writeConfig({ ports: { http: 70000 } });
  assert.match(
    (await buildError(["-config-file", wrongPort])).message,
    new RegExp(`^Cannot load config file "${wrongPort}": invalid "ports.http": `),
  );
  const badJson = writeConfig("{ data_dir: ");
  assert.match(
    (await buildError(["-config-file", badJson])).message,
    new RegExp(`^Cannot load config file "${badJson}": it is not valid JSON \\(`),
  );
  const notObject = writeConfig([1, 2]);
  assert.equal(
    (await buildError(["-config-file", notObject])).message,
    `Cannot load config file "${notObject}": the top level must be a JSON object`,
  );
  const hcl = writeConfig('data_dir = "/d"', "agent.hcl");
  assert.equal(
    (await buildError(["-config-file", hcl])).message,
    `Cannot load config file "${hcl}": HCL is not supported, only JSON: convert it to a .json file`,
  );
  const hclDir = join(root, "hcl.d");
  writeConfig("server = true", "server.hcl", hclDir);
  assert.match((await buildError(["-config-dir", hclDir])).message, /HCL is not supported/);
  const missing = join(root, "missing.json");
  assert.equal(
    (await buildError(["-config-file", missing])).message,
    `Cannot load config file "${missing}": no such file`,
  );
  const directory = join(root, "a-dir.json");
  mkdirSync(directory, { recursive: true });
  assert.match(
    (await buildError(["-config-file", directory])).message,
    new RegExp(`^Cannot load config file "${directory}": `),
  );
  const badLevel = writeConfig({ log_level: "loud" });
  assert.match((await buildError(["-config-file", badLevel])).message, /"log_level" is "loud"/);
});

test("buildAgentConfig() requires -data-dir outside -dev, for servers and clients", async () => {
  assert.equal(
    (await buildError(["-server"])).message,
    "Cannot start a server without -data-dir: give -data-dir=<path> or use -dev",
  );
  assert.equal(
    (await buildError([])).message,
    "Cannot start a client without -data-dir: give -data-dir=<path> or use -dev",
  );
  assert.equal(
    (await buildError(["-server", "-data-dir="])).message.startsWith("Cannot start a server"),
    true,
  );
});

test("buildAgentConfig() refuses -bootstrap-expect without -server, and with -dev", async () => {
  const withoutServer = await buildError(["-bootstrap-expect=3", "-data-dir=/d"]);
  assert.ok(withoutServer instanceof RangeError);
  assert.equal(
    withoutServer.message,
    "Cannot use -bootstrap-expect without -server: give -server or drop -bootstrap-expect",
  );
  assert.match((await buildError(["-dev", "-bootstrap-expect=1"])).message, /with -dev/);
});

test("buildAgentConfig() refuses values the agent cannot run with", async () => {
  const base = ["-dev"];
  const cases: Array<[string[], RegExp]> = [
    [["-datacenter=dc 1"], /^Cannot use datacenter "dc 1"/],
    [["-node-id=not-a-uuid"], /^Cannot use node ID "not-a-uuid": it must be a UUID$/],
    [["-bind={{ GetPrivateIP }}"], /^Cannot use -bind "\{\{ GetPrivateIP \}\}": it must be one IP/],
    [["-client=127.0.0.1 ::1"], /^Cannot use -client/],
    [["-advertise=0.0.0.0"], /^Cannot advertise "0.0.0.0"/],
    [
      ["-encrypt=c2hvcnQ="],
      /^Cannot use -encrypt: the key must be base64 of 16, 24 or 32 bytes, not 5$/,
    ],
    [["-encrypt=***"], /^Cannot use -encrypt: the key is not base64$/],
    [["-node-meta=consul-x:1"], /"consul-" prefix is reserved/],
    [["-node-meta=bad key:1"], /^Cannot use node meta key "bad key"/],
    [["-node="], /^Cannot use an empty node name/],
  ];
  for (const [args, pattern] of cases) {
    assert.match((await buildError([...base, ...args])).message, pattern, args.join(" "));
  }
  const ipv6 = await buildAgentConfig(runtimeWithHost(), ["-dev", "-bind=::1", "-client=::1"]);
  assert.equal(ipv6.bindAddr, "::1");
});

test("buildAgentConfig() throws FlagError for usage errors, for exit code 2", async () => {
  for (const args of [["-log-level=loud"], ["-nope"], ["-dev", "extra"]]) {
    assert.ok((await buildError(args)) instanceof FlagError, args.join(" "));
  }
});

test("parseConfigFile() reads ui and ui_config, start_join as retry_join, and nothing else", () => {
  const { fragment, warnings } = parseConfigFile(
    "a.json",
    JSON.stringify({ ui: false, ui_config: { enabled: true }, start_join: ["127.0.0.9"] }),
  );
  assert.deepEqual(fragment, { ui: true, retryJoin: ["127.0.0.9"] });
  assert.deepEqual(warnings, []);
  assert.deepEqual(parseConfigFile("b.json", "{}").fragment, {});
});

test("buildAgentConfig() takes the retry, reconnect and WAN-advertise settings from files and flags", async () => {
  const file = writeConfig({
    data_dir: "/d",
    server: true,
    retry_interval: "5s",
    retry_max: 3,
    retry_interval_wan: "1m",
    retry_max_wan: 7,
    reconnect_timeout: "8h",
    reconnect_timeout_wan: "96h",
    advertise_addr_wan: "192.0.2.10",
  });
  const fromFile = await buildAgentConfig(runtimeWithHost(), ["-config-file", file]);
  assert.equal(fromFile.retryIntervalMs, 5_000);
  assert.equal(fromFile.retryMax, 3);
  assert.equal(fromFile.retryIntervalWanMs, 60_000);
  assert.equal(fromFile.retryMaxWan, 7);
  assert.equal(fromFile.reconnectTimeoutMs, 8 * 3_600_000);
  assert.equal(fromFile.reconnectTimeoutWanMs, 96 * 3_600_000);
  assert.equal(fromFile.advertiseAddrWan, "192.0.2.10");
  const fromFlags = await buildAgentConfig(runtimeWithHost(), [
    "-config-file",
    file,
    "-retry-interval=250ms",
    "-retry-max=0",
    "-retry-interval-wan=2s",
    "-retry-max-wan=1",
    "-advertise-wan=192.0.2.11",
  ]);
  assert.equal(fromFlags.retryIntervalMs, 250);
  assert.equal(fromFlags.retryMax, 0);
  assert.equal(fromFlags.retryIntervalWanMs, 2_000);
  assert.equal(fromFlags.retryMaxWan, 1);
  assert.equal(fromFlags.advertiseAddrWan, "192.0.2.11");

  assert.match(
    (await buildError(["-dev", "-retry-interval=soon"])).message,
    /invalid value "soon" for -retry-interval: want a duration/,
  );
  assert.match((await buildError(["-dev", "-retry-interval=0s"])).message, /-retry-interval: give/);
  assert.match((await buildError(["-dev", "-advertise-wan=::"])).message, /Cannot advertise "::"/);
  const short = writeConfig({ reconnect_timeout: "1h" });
  assert.match(
    (await buildError(["-dev", "-config-file", short])).message,
    /^Cannot use reconnect_timeout below 8h/,
  );
  const garbled = writeConfig({ reconnect_timeout_wan: "3 days" });
  assert.match(
    (await buildError(["-dev", "-config-file", garbled])).message,
    /"reconnect_timeout_wan" is "3 days": want a duration/,
  );
});
