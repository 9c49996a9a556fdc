// Tests of `PUT /v1/agent/force-leave/:node` and `/v1/operator/keyring` (src/http/agent.ts,
// src/http/operator.ts, the agent's LAN pool).
//
// Goal: force-leave moves a failed member to left and, with ?prune, erases it; an unknown node
// and an agent without gossip answer 500 with a one-line reason; the keyring lists the installed
// key with the count of alive members, and changing it answers 500 "Cannot change the keyring".
// Method: an in-process dev agent with gossip on 127.0.0.90 and `-encrypt`, and a bare SerfPool
// on 127.0.0.91 with the same key that joins it and then closes without leaving (a crash), with
// the runtime that runs the test; waits are bounded.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { detectRuntime } from "../../runtimes/mod.ts";
import type { RunningAgent } from "../../src/agent/agent.ts";
import { type GossipLog, SerfPool } from "../../src/agent/gossip/mod.ts";
import { defaultLocalConfig } from "../../src/core/swim/mod.ts";
import { decodeBase64 } from "../../src/core/base64.ts";
import { call, startTestAgent } from "./_agent.ts";

const key = "cg8StVXbQJ0gPvMd9o7yrg9CR5FJ7hYlGDtK9Q0qBjQ=";
const quiet: GossipLog = { debug() {}, info() {}, warn() {} };

let agent: RunningAgent;
let plain: RunningAgent;
let peer: SerfPool | undefined;
// Sockets are unref'd: hold the event loop while the tests wait on them.
const hold = setInterval(() => {}, 1_000);

before(async () => {
  agent = await startTestAgent({
    configure: (config) => {
      config.bindAddr = "127.0.0.90";
      config.advertiseAddr = "127.0.0.90";
      config.ports.serfLan = 0;
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

test("force-leave and the keyring answer 500 with a reason when gossip is off", async () => {
  const forced = await call(plain, "/v1/agent/force-leave/x", { method: "PUT" });
  assert.equal(forced.status, 500);
  assert.equal(forced.text, "Cannot force-leave: the LAN gossip pool is off (-serf-lan-port=-1)");
  const keys = await call(plain, "/v1/operator/keyring");
  assert.equal(keys.status, 500);
  assert.equal(
    keys.text,
    "Cannot list the keyring: the LAN gossip pool is off (-serf-lan-port=-1)",
  );
});

test("the keyring lists the -encrypt key for every alive member; changes are refused", async () => {
  const runtime = await detectRuntime();
  const members = await call(agent, "/v1/agent/members");
  const port = (members.json as Array<{ Port: number }>)[0].Port;
  peer = await SerfPool.start(runtime, {
    nodeName: "peer",
    bind: { host: "127.0.0.91", port: 0 },
    advertiseHost: "127.0.0.91",
    tags: {},
    keys: [decodeBase64(key)],
    swimConfig: defaultLocalConfig(),
    log: quiet,
  });
  const { joined } = await peer.join([{ host: "127.0.0.90", port }]);
  assert.equal(joined, 1);
  await waitUntil("the peer alive", async () => await statusOf("peer") === 1);

  const listed = await call(agent, "/v1/operator/keyring");
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.json, [{
    WAN: false,
    Datacenter: "dc1",
    Segment: "",
    Keys: { [key]: 2 },
    PrimaryKeys: { [key]: 2 },
    NumNodes: 2,
  }]);
  for (const method of ["POST", "PUT", "DELETE"]) {
    const changed = await call(agent, "/v1/operator/keyring", { method, body: { Key: key } });
    assert.equal(changed.status, 500, method);
    assert.match(changed.text, /^Cannot change the keyring: /);
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
