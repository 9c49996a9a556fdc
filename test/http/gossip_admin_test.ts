// Tests of `PUT /v1/agent/force-leave/:node` and `/v1/operator/keyring` (src/http/agent.ts,
// src/http/operator.ts, the agent's LAN pool).
//
// Goal: force-leave moves a failed member to left and, with ?prune, erases it; an unknown node
// and an agent without gossip answer 500 with a one-line reason; the keyring lists, per pool (WAN
// first, then LAN), the keys every member reported through Serf's `_serf_list-keys` query;
// install / use / remove change every member's keyring (the peer's too) and answer 200 empty;
// refused changes (removing the primary, using a key not installed) answer 500 with Consul's
// `keyringErrorsOrNil` lines; a bad key or body answers 400; plaintext gossip answers 500;
// `?local-only` lists this agent's keys alone, `?relay-factor` is checked against Consul's 0-5.
// Method: an in-process dev agent with LAN and WAN gossip on 127.0.11.10 and `-encrypt`, and a
// bare SerfPool on 127.0.11.11 with the same key that joins its LAN pool and later closes
// without leaving (a crash), and a plaintext dev agent on 127.0.11.12, with the runtime that
// runs the test; waits are bounded.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { detectRuntime } from "../../runtimes/mod.ts";
import type { RunningAgent } from "../../src/agent/agent.ts";
import { type GossipLog, SerfPool } from "../../src/agent/gossip/mod.ts";
import { defaultLocalConfig } from "../../src/core/swim/mod.ts";
import { decodeBase64, encodeBase64 } from "../../src/core/base64.ts";
import { call, startTestAgent } from "./_agent.ts";

const key = "cg8StVXbQJ0gPvMd9o7yrg9CR5FJ7hYlGDtK9Q0qBjQ=";
const newKey = "HvY8ubRZMgafUOWvrOadwOckVa1wN3QWAo46FVKbVN8=";
const quiet: GossipLog = { debug() {}, info() {}, warn() {} };

let agent: RunningAgent;
let plain: RunningAgent;
let peer: SerfPool | undefined;
// Sockets are unref'd: hold the event loop while the tests wait on them.
const hold = setInterval(() => {}, 1_000);

before(async () => {
  agent = await startTestAgent({
    configure: (config) => {
      config.bindAddr = "127.0.11.10";
      config.advertiseAddr = "127.0.11.10";
      config.ports.serfLan = 0;
      config.ports.serfWan = 0;
      config.encrypt = key;
    },
  });
  plain = await startTestAgent();
});

after(async () => {
  clearInterval(hold);
  await peer?.close();
  await agent.stop();
  await plain.stop();
});

async function waitUntil(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) assert.fail(`Cannot wait longer for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function statusOf(name: string): Promise<number | undefined> {
  const answer = await call(agent, "/v1/agent/members");
  return (answer.json as Array<{ Name: string; Status: number }>)
    .find((member) => member.Name === name)?.Status;
}

test("the keyring answers 500 with a reason when gossip is plaintext", async () => {
  const unencrypted = await startTestAgent({
    configure: (config) => {
      config.bindAddr = "127.0.11.12";
      config.advertiseAddr = "127.0.11.12";
      config.ports.serfLan = 0;
      config.ports.serfWan = -1;
    },
  });
  try {
    const listed = await call(unencrypted, "/v1/operator/keyring");
    assert.equal(listed.status, 500);
    assert.equal(
      listed.text,
      "Cannot use the keyring: gossip encryption is off in the LAN pool (start the agents with " +
        "-encrypt)",
    );
    const installed = await call(unencrypted, "/v1/operator/keyring", {
      method: "POST",
      body: { Key: newKey },
    });
    assert.equal(installed.status, 500);
  } finally {
    await unencrypted.stop();
  }
});

test("force-leave and the keyring answer 500 with a reason when gossip is off", async () => {
  const forced = await call(plain, "/v1/agent/force-leave/x", { method: "PUT" });
  assert.equal(forced.status, 500);
  assert.equal(forced.text, "Cannot force-leave: the LAN gossip pool is off (-serf-lan-port=-1)");
  const keys = await call(plain, "/v1/operator/keyring");
  assert.equal(keys.status, 500);
  assert.equal(
    keys.text,
    "Cannot use the keyring: the LAN gossip pool is off (-serf-lan-port=-1)",
  );
});

test("the keyring is listed, rotated and refused through Serf's keyring queries", async () => {
  const runtime = await detectRuntime();
  const members = await call(agent, "/v1/agent/members");
  const port = (members.json as Array<{ Port: number }>)[0].Port;
  peer = await SerfPool.start(runtime, {
    nodeName: "peer",
    bind: { host: "127.0.11.11", port: 0 },
    advertiseHost: "127.0.11.11",
    tags: {},
    keys: [decodeBase64(key)],
    swimConfig: defaultLocalConfig(),
    log: quiet,
  });
  const { joined } = await peer.join([{ host: "127.0.11.10", port }]);
  assert.equal(joined, 1);
  await waitUntil("the peer alive", async () => await statusOf("peer") === 1);

  const listed = await call(agent, "/v1/operator/keyring");
  assert.equal(listed.status, 200);
  const pool = (wan: boolean, keys: Record<string, number>, numNodes: number) => ({
    WAN: wan,
    Datacenter: "dc1",
    Segment: "",
    Messages: {},
    Keys: keys,
    PrimaryKeys: { [Object.keys(keys)[0]]: numNodes },
    NumNodes: numNodes,
    NumResp: numNodes,
    NumErr: 0,
  });
  assert.deepEqual(listed.json, [pool(true, { [key]: 1 }, 1), pool(false, { [key]: 2 }, 2)]);

  const installed = await call(agent, "/v1/operator/keyring", {
    method: "POST",
    body: { Key: newKey },
  });
  assert.equal(installed.status, 200, installed.text);
  assert.equal(installed.text, "");
  const used = await call(agent, "/v1/operator/keyring", { method: "PUT", body: { Key: newKey } });
  assert.equal(used.status, 200, used.text);
  // The peer applied both: the new key is its primary now.
  assert.equal(encodeBase64(peer.keys()![0]), newKey);

  const refused = await call(agent, "/v1/operator/keyring", {
    method: "DELETE",
    body: { Key: newKey },
  });
  assert.equal(refused.status, 500);
  assert.equal(
    refused.text,
    [
      "WAN error: 1/1 nodes reported failure",
      "node-1.dc1: Cannot remove key: it is the primary key",
      "dc1 (LAN) error: 2/2 nodes reported failure",
      "node-1: Cannot remove key: it is the primary key",
      "peer: Cannot remove key: it is the primary key",
    ].join("\n"),
  );
  const removed = await call(agent, "/v1/operator/keyring", {
    method: "DELETE",
    body: { Key: key },
  });
  assert.equal(removed.status, 200, removed.text);
  const after = await call(agent, "/v1/operator/keyring");
  assert.deepEqual(after.json, [pool(true, { [newKey]: 1 }, 1), pool(false, { [newKey]: 2 }, 2)]);

  const local = await call(agent, "/v1/operator/keyring?local-only");
  assert.equal(local.status, 200);
  assert.deepEqual(local.json, [
    pool(true, { [newKey]: 1 }, 1),
    pool(false, { [newKey]: 1 }, 1),
  ]);
  const relayed = await call(agent, "/v1/operator/keyring?relay-factor=2");
  assert.equal(relayed.status, 200, relayed.text);
  const tooMuch = await call(agent, "/v1/operator/keyring?relay-factor=6");
  assert.equal(tooMuch.status, 400);
  assert.equal(tooMuch.text, "Relay factor must be in range: [0, 5]");
  const localChange = await call(agent, "/v1/operator/keyring?local-only", {
    method: "POST",
    body: { Key: newKey },
  });
  assert.equal(localChange.status, 400);

  const stranger = "AAECAwQFBgcICQoLDA0ODw==";
  const notInstalled = await call(agent, "/v1/operator/keyring", {
    method: "PUT",
    body: { Key: stranger },
  });
  assert.equal(notInstalled.status, 500);
  assert.match(notInstalled.text, /peer: Cannot use key: it is not in the keyring/);
  for (const body of [{ Key: "not base64!" }, { Key: "AAAA" }, {}]) {
    const bad = await call(agent, "/v1/operator/keyring", { method: "POST", body });
    assert.equal(bad.status, 400, JSON.stringify(body));
  }
});

test("force-leave moves a failed member to left, and ?prune erases it", async () => {
  assert.ok(peer !== undefined, "the keyring test joins the peer first");
  // Closing without a leave is a crash as the others see it.
  await peer.close();
  peer = undefined;
  await waitUntil("the peer failed", async () => await statusOf("peer") === 4);

  const unknown = await call(agent, "/v1/agent/force-leave/nobody", { method: "PUT" });
  assert.equal(unknown.status, 500);
  assert.equal(unknown.text, 'Cannot force-leave "nobody": no member has that name');

  const forced = await call(agent, "/v1/agent/force-leave/peer", { method: "PUT" });
  assert.equal(forced.status, 200);
  assert.equal(forced.text, "");
  assert.equal(await statusOf("peer"), 3);

  const pruned = await call(agent, "/v1/agent/force-leave/peer?prune", { method: "PUT" });
  assert.equal(pruned.status, 200);
  await waitUntil("the peer erased", async () => await statusOf("peer") === undefined, 5_000);
});
