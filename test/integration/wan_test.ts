// Goal: servers of two datacenters meet in the WAN gossip pool: each server runs it on its WAN
// port with the name `<node>.<dc>`; `-retry-join-wan` joins dc2 to dc1; both list each other in
// `/v1/agent/members?wan=1` and `cairn members -wan`; `/v1/catalog/datacenters` lists both, own
// datacenter first; `/v1/coordinate/datacenters` lists both with their servers' WAN coordinates
// once probes gathered them; `cairn join -wan` works; the LAN pools stay apart; a data request
// on dc1 with `?dc=dc2` (KV write and read, catalog) is answered by dc2's server over the server
// RPC (from a client agent of dc1 too, through its server), and a `?dc=` no WAN member belongs
// to answers Consul's 500 "No path to datacenter"; with -encrypt, a keyring list or install on
// dc1 covers the WAN pool and both datacenters' LAN pools.
// Method: two real `cairn agent -server -bootstrap-expect=1` processes with their own data dirs
// on 127.0.11.41 (dc1) and 127.0.11.42 (dc2), and a client of dc1 on 127.0.11.43; WAN port
// 8302 (memberlist's WAN timings: probes every 5 s); the CLI runs as a process; waits are
// bounded and generous.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AgentProcess, runtimeCommand, startAgentProcess } from "../_support/agent_process.ts";
import { waitFor } from "../_support/wait_for.ts";

const cliMain = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), "cairn-wan-"));
const key = "cg8StVXbQJ0gPvMd9o7yrg9CR5FJ7hYlGDtK9Q0qBjQ=";
const newKey = "HvY8ubRZMgafUOWvrOadwOckVa1wN3QWAo46FVKbVN8=";
/** Two WAN probe rounds (5 s each) and some slack on a loaded machine. */
const coordinateWaitMs = 40_000;

interface Member {
  Name: string;
  Addr: string;
  Port: number;
  Status: number;
  Tags: Record<string, string>;
}

function cairn(args: string[]): Promise<{ code: number; output: string }> {
  const [command, commandArgs] = runtimeCommand(cliMain, args);
  return new Promise((resolve) => {
    execFile(command, commandArgs, { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

async function get<T>(agent: AgentProcess, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${agent.httpUrl}${path}`);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Plain-text errors stay text.
  }
  return { status: response.status, body: body as T };
}

function server(node: string, datacenter: string, host: string, args: string[] = []) {
  return startAgentProcess({
    host,
    dev: false,
    args: [
      "-server",
      "-bootstrap-expect=1",
      `-data-dir=${join(dataDir, datacenter)}`,
      `-node=${node}`,
      `-datacenter=${datacenter}`,
      "-serf-wan-port=8302",
      `-encrypt=${key}`,
      ...args,
    ],
  });
}

describe("two datacenters joined over the WAN pool", () => {
  let dc1: AgentProcess;
  let dc2: AgentProcess;

  before(async () => {
    dc1 = await server("s1", "dc1", "127.0.11.41");
    dc2 = await server("s2", "dc2", "127.0.11.42", ["-retry-join-wan=127.0.11.41"]);
  });

  after(async () => {
    await Promise.all([dc1?.stop(3_000), dc2?.stop(3_000)]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("each server lists both in /v1/agent/members?wan=1 as <node>.<dc>", async () => {
    for (const agent of [dc1, dc2]) {
      await waitFor(
        "both servers alive in the WAN pool",
        async () => {
          const { body } = await get<Member[]>(agent, "/v1/agent/members?wan=1");
          const alive = body.filter((member) => member.Status === 1).map((member) => member.Name);
          return alive.sort().join(",") === "s1.dc1,s2.dc2" ? true : undefined;
        },
        30_000,
        () => `\ndc1 log:\n${dc1.log()}\ndc2 log:\n${dc2.log()}`,
      );
    }
    const { status, body } = await get<Member[]>(dc1, "/v1/agent/members?wan=1");
    assert.equal(status, 200);
    assert.equal(body[0].Name, "s1.dc1", "the agent itself comes first");
    const other = body.find((member) => member.Name === "s2.dc2")!;
    assert.equal(other.Addr, "127.0.11.42");
    assert.equal(other.Port, 8302);
    assert.equal(other.Tags.role, "consul");
    assert.equal(other.Tags.dc, "dc2");
    // The LAN pools stay apart: each datacenter's LAN lists only its own server.
    const lan = await get<Member[]>(dc1, "/v1/agent/members");
    assert.deepEqual(lan.body.map((member) => member.Name), ["s1"]);
  });

  it("cairn members -wan lists both servers with their datacenters", async () => {
    const listed = await cairn(["members", "-wan", `-http-addr=${dc2.httpUrl}`]);
    assert.equal(listed.code, 0, listed.output);
    assert.match(listed.output, /^s1\.dc1\s+127\.0\.11\.41:8302\s+alive\s+server\s.*\sdc1$/m);
    assert.match(listed.output, /^s2\.dc2\s+127\.0\.11\.42:8302\s+alive\s+server\s.*\sdc2$/m);
  });

  it("/v1/catalog/datacenters lists both, own datacenter first", async () => {
    assert.deepEqual((await get(dc1, "/v1/catalog/datacenters")).body, ["dc1", "dc2"]);
    assert.deepEqual((await get(dc2, "/v1/catalog/datacenters")).body, ["dc2", "dc1"]);
    const listed = await cairn(["catalog", "datacenters", `-http-addr=${dc2.httpUrl}`]);
    assert.equal(listed.code, 0, listed.output);
    assert.equal(listed.output, "dc2\ndc1\n");
  });

  it("/v1/coordinate/datacenters lists both datacenters with WAN coordinates", async () => {
    type Entry = { Datacenter: string; AreaID: string; Coordinates: { Node: string }[] };
    const entries = await waitFor("both servers' WAN coordinates on dc1", async () => {
      const { body } = await get<Entry[]>(dc1, "/v1/coordinate/datacenters");
      return body.every((entry) => entry.Coordinates.length === 1) && body.length === 2
        ? body
        : undefined;
    }, coordinateWaitMs);
    assert.deepEqual(entries.map((entry) => [entry.Datacenter, entry.AreaID]), [
      ["dc1", "WAN"],
      ["dc2", "WAN"],
    ]);
    assert.equal(entries[1].Coordinates[0].Node, "s2.dc2");
  });

  it("cairn join -wan answers; a WAN join or force-leave that finds no one fails with a reason", async () => {
    const joined = await cairn(["join", "-wan", `-http-addr=${dc1.httpUrl}`, "127.0.11.42"]);
    assert.equal(joined.code, 0, joined.output);
    assert.match(joined.output, /Successfully joined cluster by contacting 1 nodes/);
    const refused = await fetch(`${dc1.httpUrl}/v1/agent/join/127.0.11.99?wan=1`, {
      method: "PUT",
    });
    assert.equal(refused.status, 500);
    assert.match(await refused.text(), /^Cannot join "127\.0\.11\.99"/);
    const forced = await fetch(`${dc1.httpUrl}/v1/agent/force-leave/s9.dc9?wan=1`, {
      method: "PUT",
    });
    assert.equal(forced.status, 500);
    assert.equal(await forced.text(), 'Cannot force-leave "s9.dc9": no member has that name');
  });

  it("?dc=dc2 on dc1 is answered by dc2's server; an unknown dc answers No path to datacenter", async () => {
    const written = await fetch(`${dc1.httpUrl}/v1/kv/where?dc=dc2`, {
      method: "PUT",
      body: "in-dc2",
    });
    assert.equal(written.status, 200, await written.clone().text());
    assert.equal(await written.text(), "true");
    const read = await fetch(`${dc1.httpUrl}/v1/kv/where?dc=dc2&raw`);
    assert.equal(read.status, 200);
    assert.equal(await read.text(), "in-dc2");
    assert.ok(Number(read.headers.get("X-Consul-Index")) > 0, "the index crosses over too");
    // The key lives in dc2's store only.
    assert.equal(await fetch(`${dc2.httpUrl}/v1/kv/where?raw`).then((r) => r.text()), "in-dc2");
    const local = await fetch(`${dc1.httpUrl}/v1/kv/where`);
    assert.equal(local.status, 404);
    await local.body?.cancel();

    const nodes = await get<{ Node: string; Datacenter: string }[]>(
      dc1,
      "/v1/catalog/nodes?dc=dc2",
    );
    assert.equal(nodes.status, 200);
    assert.deepEqual(nodes.body.map((node) => [node.Node, node.Datacenter]), [["s2", "dc2"]]);

    const { status, body } = await get(dc1, "/v1/catalog/nodes?dc=dc9");
    assert.equal(status, 500);
    assert.equal(body, "No path to datacenter");
  });

  it("/v1/event/fire?dc=dc2 on dc1 is fired in dc2 by its server, not in dc1", async () => {
    const fired = await fetch(`${dc1.httpUrl}/v1/event/fire/deploy-dc2?dc=dc2`, {
      method: "PUT",
      body: "v2",
    });
    assert.equal(fired.status, 200, await fired.clone().text());
    const event = await fired.json() as { Name: string; Payload: string };
    assert.equal(event.Name, "deploy-dc2");
    type Listed = { Name: string; Payload: string }[];
    const inDc2 = await waitFor("dc2's agent to list the event", async () => {
      const { body } = await get<Listed>(dc2, "/v1/event/list?name=deploy-dc2");
      return body.length > 0 ? body : undefined;
    }, 10_000);
    assert.equal(atob(inDc2[0].Payload), "v2");
    assert.deepEqual((await get<Listed>(dc1, "/v1/event/list?name=deploy-dc2")).body, []);
    const nowhere = await fetch(`${dc1.httpUrl}/v1/event/fire/x?dc=dc9`, { method: "PUT" });
    assert.equal(nowhere.status, 500);
    assert.equal(await nowhere.text(), "No path to datacenter");
  });

  it("the keyring spans the WAN pool and every datacenter's LAN pool", async () => {
    type Pool = { WAN: boolean; Datacenter: string; Keys: Record<string, number> };
    const listed = await get<Pool[]>(dc1, "/v1/operator/keyring");
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(listed.body.map((pool) => [pool.WAN, pool.Datacenter, pool.Keys]), [
      [true, "dc1", { [key]: 2 }],
      [false, "dc1", { [key]: 1 }],
      [false, "dc2", { [key]: 1 }],
    ]);
    const installed = await fetch(`${dc1.httpUrl}/v1/operator/keyring`, {
      method: "POST",
      body: JSON.stringify({ Key: newKey }),
    });
    assert.equal(installed.status, 200, await installed.text());
    // dc2's own LAN pool got it through dc2's server.
    const seen = await get<Pool[]>(dc2, "/v1/operator/keyring");
    const dc2Lan = seen.body.find((pool) => !pool.WAN && pool.Datacenter === "dc2");
    assert.deepEqual(dc2Lan?.Keys, { [key]: 1, [newKey]: 1 });
  });

  it("a client agent of dc1 reaches dc2 through its server: ?dc=dc2 crosses two hops", async () => {
    const client = await startAgentProcess({
      host: "127.0.11.43",
      dev: false,
      args: [
        `-data-dir=${join(dataDir, "client")}`,
        "-node=c1",
        "-datacenter=dc1",
        `-encrypt=${key}`,
        `-retry-join=127.0.11.41:${dc1.serfLanPort}`,
      ],
    });
    try {
      const read = await waitFor(
        "the client to know a server",
        async () => {
          const response = await fetch(`${client.httpUrl}/v1/kv/where?dc=dc2&raw`);
          const text = await response.text();
          return response.status === 200 ? text : undefined;
        },
        20_000,
        () => `\nclient log:\n${client.log()}`,
      );
      assert.equal(read, "in-dc2");
      // Clients run no WAN pool.
      assert.deepEqual((await get(client, "/v1/agent/members?wan=1")).body, []);
    } finally {
      await client.stop(3_000);
    }
  });
});
