// Goal: the WAN pool is the LAN pool's code with memberlist's WAN configuration: its profile
// takes `DefaultWANConfig`'s timings, port 8302 and the `remote.*` files; members are named
// `<node>.<dc>`; two servers of different datacenters joined over WAN list each other, and
// `wanDatacenters()` lists both datacenters, our own first (its servers count as 0 s), while
// `wanCoordinates()` groups the servers' coordinates by datacenter once probes gathered them;
// the agent flags `-serf-wan-port`, `-retry-join-wan` and `-join-wan` (and the config keys
// `retry_join_wan`, `start_join_wan`) parse and are checked; flood joins bring a datacenter's
// LAN servers (not its clients) into the WAN pool at their `wan_join_port`.
// Method: pure checks of the profile, name helpers and flags; then two in-process WAN pools on
// 127.0.11.20-21 (port 0, fast local timings so probes run every second) with a temporary data
// dir for the snapshot and keyring files, and LAN + WAN pools of two servers and a client on
// 127.0.11.22-24; waits are bounded.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { detectRuntime } from "../../../runtimes/mod.ts";
import {
  consulTags,
  type GossipLog,
  LanPool,
  poolProfile,
  serfWanPortDefault,
  startWanPool,
  wanCoordinates,
  wanDatacenters,
  WanFlooder,
  wanMemberDatacenter,
  wanMemberName,
} from "../../../src/agent/gossip/mod.ts";
import {
  defaultLanConfig,
  defaultLocalConfig,
  defaultWanConfig,
} from "../../../src/core/swim/mod.ts";
import { buildAgentConfig } from "../../../src/cli/agent_config.ts";
import { defaultAgentConfig } from "../../../src/agent/config.ts";
import { mergeAgentConfig, parseConfigFile } from "../../../src/agent/config_file.ts";
import { FakeRuntime } from "../../cli/fake_runtime.ts";

const quiet: GossipLog = { debug() {}, info() {}, warn() {} };
const key = "cg8StVXbQJ0gPvMd9o7yrg9CR5FJ7hYlGDtK9Q0qBjQ=";

async function waitUntil(what: string, condition: () => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`Cannot wait longer for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("WAN profile", () => {
  it("poolProfile() gives the WAN pool memberlist's DefaultWANConfig, port 8302, remote files", () => {
    const wan = poolProfile("wan");
    assert.equal(wan.portDefault, 8302);
    assert.equal(serfWanPortDefault, 8302);
    assert.equal(wan.label, "WAN");
    assert.equal(wan.snapshotFileName, "remote.snapshot");
    assert.equal(wan.keyringFileName, "remote.keyring");
    const config = wan.swimConfig();
    assert.deepEqual(config, defaultWanConfig());
    // memberlist's DefaultWANConfig, value by value.
    assert.equal(config.probeIntervalMs, 5_000);
    assert.equal(config.probeTimeoutMs, 3_000);
    assert.equal(config.suspicionMult, 6);
    assert.equal(config.gossipIntervalMs, 500);
    assert.equal(config.gossipNodes, 4);
    assert.equal(config.gossipToTheDeadTimeMs, 60_000);
    assert.equal(config.pushPullIntervalMs, 60_000);
    assert.equal(config.tcpTimeoutMs, 30_000);
    const lan = poolProfile("lan");
    assert.deepEqual(lan.swimConfig(), defaultLanConfig());
    assert.equal(lan.portDefault, 8301);
    assert.equal(lan.snapshotFileName, "local.snapshot");
    assert.equal(lan.keyringFileName, "local.keyring");
  });

  it("wanMemberName() and wanMemberDatacenter() follow Consul's <node>.<dc> and tags", () => {
    assert.equal(wanMemberName("s1", "dc2"), "s1.dc2");
    const member = { name: "s1.dc2", addr: "", port: 0, status: 1, versions: [] };
    assert.equal(wanMemberDatacenter({ ...member, tags: { role: "consul", dc: "dc2" } }), "dc2");
    assert.equal(wanMemberDatacenter({ ...member, tags: { role: "node", dc: "dc2" } }), undefined);
    assert.equal(wanMemberDatacenter({ ...member, tags: { role: "consul" } }), undefined);
  });
});

describe("WAN flags", () => {
  const build = (args: string[]) =>
    buildAgentConfig(new FakeRuntime({ env: { HOSTNAME: "h" } }), args, { onWarning: () => {} });

  it("-serf-wan-port defaults to 8302; -retry-join-wan and -join-wan collect WAN joins", async () => {
    const dev = await build(["-dev"]);
    assert.equal(dev.ports.serfWan, 8302);
    assert.deepEqual(dev.retryJoinWan, []);
    const server = await build([
      "-server",
      "-bootstrap-expect=1",
      "-data-dir=/tmp/x",
      "-serf-wan-port=18302",
      "-retry-join-wan=10.0.0.1",
      "-join-wan=10.0.0.2:8302",
    ]);
    assert.equal(server.ports.serfWan, 18302);
    assert.deepEqual(server.retryJoinWan, ["10.0.0.1", "10.0.0.2:8302"]);
    assert.equal((await build(["-dev", "-serf-wan-port=-1"])).ports.serfWan, -1);
  });

  it("config files take retry_join_wan and start_join_wan, appended to the flags' joins", () => {
    const { fragment, warnings } = parseConfigFile(
      "wan.json",
      '{"retry_join_wan": ["10.0.0.1"], "start_join_wan": ["10.0.0.2"]}',
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(fragment.retryJoinWan, ["10.0.0.1", "10.0.0.2"]);
    const base = { ...defaultAgentConfig("h"), retryJoinWan: ["10.0.0.9"] };
    assert.deepEqual(mergeAgentConfig(base, fragment).retryJoinWan, [
      "10.0.0.9",
      "10.0.0.1",
      "10.0.0.2",
    ]);
  });

  it("-retry-join-wan is refused on clients and with the WAN pool off, naming the fix", async () => {
    await assert.rejects(
      build(["-data-dir=/tmp/x", "-retry-join-wan=10.0.0.1"]),
      /Cannot use -retry-join-wan on a client: only servers join the WAN pool/,
    );
    await assert.rejects(
      build(["-dev", "-serf-wan-port=-1", "-retry-join-wan=10.0.0.1"]),
      /Cannot use -retry-join-wan with the WAN pool off/,
    );
  });
});

describe("two datacenters in one WAN pool", () => {
  const pools: LanPool[] = [];
  let dataDir = "";
  const hold = setInterval(() => {}, 1_000);

  before(async () => {
    const runtime = await detectRuntime();
    dataDir = await mkdtemp(`${tmpdir()}/cairn-wan-`);
    for (const [n, datacenter] of [[1, "dc1"], [2, "dc2"]] as const) {
      pools.push(
        await startWanPool(runtime, {
          nodeName: `s${n}`,
          datacenter,
          bind: { host: `127.0.11.${19 + n}`, port: 0 },
          advertiseHost: `127.0.11.${19 + n}`,
          tags: consulTags({
            server: true,
            datacenter,
            nodeId: `00000000-0000-0000-0000-00000000000${n}`,
            serverPort: 8300,
            bootstrapExpect: 1,
            dev: false,
            version: "0.1.0",
          }),
          encrypt: key,
          dataDir: `${dataDir}/${datacenter}`,
          config: defaultLocalConfig(),
          log: quiet,
        }),
      );
    }
    const { joined } = await pools[1].join([`127.0.11.20:${pools[0].address.port}`]);
    assert.equal(joined, 1);
  });

  after(async () => {
    clearInterval(hold);
    await Promise.all(pools.map((pool) => pool.stop()));
    await rm(dataDir, { recursive: true, force: true });
  });

  it("WAN pools list each other as <node>.<dc> with their datacenter's tags", async () => {
    await waitUntil(
      "both alive in both pools",
      () =>
        pools.every((pool) => pool.members().filter((member) => member.status === 1).length === 2),
    );
    assert.equal(pools[0].name, "s1.dc1");
    assert.equal(pools[0].kind, "wan");
    const seen = pools[0].members().map((member) => [member.name, member.tags.dc]);
    assert.deepEqual(seen, [["s1.dc1", "dc1"], ["s2.dc2", "dc2"]]);
  });

  it("wanDatacenters() lists every datacenter, our own first", () => {
    assert.deepEqual(wanDatacenters(pools[0], "dc1"), ["dc1", "dc2"]);
    assert.deepEqual(wanDatacenters(pools[1], "dc2"), ["dc2", "dc1"]);
  });

  it("wanCoordinates() groups the servers' coordinates by datacenter", async () => {
    await waitUntil(
      "a probe ack carried the other's coordinate",
      () => pools[0].peerCoordinate("s2.dc2") !== undefined,
    );
    const coordinates = wanCoordinates(pools[0]);
    assert.deepEqual(coordinates.map((entry) => entry.datacenter), ["dc1", "dc2"]);
    assert.deepEqual(coordinates[0].coordinates.map((entry) => entry.node), ["s1.dc1"]);
    assert.deepEqual(coordinates[1].coordinates.map((entry) => entry.node), ["s2.dc2"]);
    assert.equal(coordinates[1].coordinates[0].coord.vec.length, 8);
  });

  it("the WAN pool keeps remote.snapshot and remote.keyring under <data-dir>/serf", async () => {
    const files = await readdir(`${dataDir}/dc1/serf`);
    assert.ok(files.includes("remote.keyring"), files.join(","));
    assert.ok(files.includes("remote.snapshot"), files.join(","));
    assert.ok(!files.includes("local.keyring"), files.join(","));
  });
});

describe("flood joins", () => {
  it("WanFlooder joins the datacenter's LAN servers into the WAN pool at their wan_join_port", async () => {
    const runtime = await detectRuntime();
    const hold = setInterval(() => {}, 1_000);
    const started: LanPool[] = [];
    const start = async (n: number, wan: boolean, tags: Record<string, string>) => {
      const host = `127.0.11.${21 + n}`;
      const options = { bind: { host, port: 0 }, advertiseHost: host, tags, log: quiet };
      const pool = wan
        ? await startWanPool(runtime, { ...options, nodeName: `s${n}`, datacenter: "dc1" })
        : await LanPool.start(runtime, { ...options, nodeName: `s${n}`, config: localConfig });
      started.push(pool);
      return pool;
    };
    const localConfig = defaultLocalConfig();
    const server = (wanPort?: number) => ({
      ...consulTags({
        server: true,
        datacenter: "dc1",
        nodeId: "00000000-0000-0000-0000-000000000001",
        serverPort: 8300,
        bootstrapExpect: 1,
        dev: false,
        version: "0.1.0",
        wanJoinPort: wanPort,
      }),
    });
    try {
      const wan1 = await start(1, true, server());
      const wan2 = await start(2, true, server());
      const lan1 = await start(1, false, server(wan1.address.port));
      const lan2 = await start(2, false, server(wan2.address.port));
      // A client of dc1 on the LAN is no server: it is never flooded in.
      const client = await start(3, false, { role: "node", dc: "dc1" });
      await lan2.join([`127.0.11.22:${lan1.address.port}`]);
      await client.join([`127.0.11.22:${lan1.address.port}`]);
      await waitUntil(
        "three LAN members",
        () => lan1.members().filter((member) => member.status === 1).length === 3,
      );
      assert.equal(lan2.members()[0].tags.wan_join_port, String(wan2.address.port));

      const flooder = new WanFlooder(runtime, {
        lanMembers: () => lan1.members(),
        wan: wan1,
        datacenter: "dc1",
        log: quiet,
      });
      assert.equal(await flooder.flood(), 1);
      await waitUntil(
        "both servers in both WAN pools",
        () =>
          [wan1, wan2].every((pool) =>
            pool.members().filter((member) => member.status === 1).length === 2
          ),
      );
      assert.deepEqual(wan1.members().map((member) => member.name), ["s1.dc1", "s2.dc1"]);
      // Nothing is missing any more: a second check joins no one.
      assert.equal(await flooder.flood(), 0);
    } finally {
      clearInterval(hold);
      await Promise.all(started.map((pool) => pool.stop()));
    }
  });
});
