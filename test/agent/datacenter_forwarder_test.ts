// Goal: the cross-datacenter forwarder answers Consul's 500 "No path to datacenter" for a
// datacenter no alive WAN server belongs to, names the datacenter when its servers cannot be
// reached, lists the other datacenters from alive servers only, and its keyring RPC handler
// refuses requests without an action or without a LAN pool.
// Method: a DatacenterForwarder over a fixed member list, with a server at 127.0.11.59 port 9
// where nothing listens (the call fails at once); the runtime that runs the test.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { detectRuntime } from "../../runtimes/mod.ts";
import {
  DatacenterForwarder,
  keyringLanHandler,
  noPathMessage,
} from "../../src/agent/datacenter_forwarder.ts";
import type { GossipMember } from "../../src/agent/server_finder.ts";
import type { RpcContext } from "../../src/server/rpc.ts";

/** The caller's end of the connection: the handler does not read it. */
const context: RpcContext = { remote: { host: "127.0.11.58", port: 1 } };

const members: GossipMember[] = [
  {
    name: "s1.dc1",
    addr: "127.0.11.58",
    port: 8302,
    status: 1,
    tags: { role: "consul", dc: "dc1", port: "8300" },
  },
  {
    name: "s2.dc2",
    addr: "127.0.11.59",
    port: 8302,
    status: 1,
    tags: { role: "consul", dc: "dc2", port: "9" },
  },
  {
    name: "s3.dc3",
    addr: "127.0.11.57",
    port: 8302,
    status: 4,
    tags: { role: "consul", dc: "dc3", port: "8300" },
  },
  { name: "x.dc4", addr: "127.0.11.56", port: 8302, status: 1, tags: { role: "node", dc: "dc4" } },
];

describe("DatacenterForwarder", () => {
  it("DatacenterForwarder.otherDatacenters() lists datacenters with an alive server", async () => {
    const forwarder = new DatacenterForwarder(await detectRuntime(), () => members);
    assert.deepEqual(forwarder.otherDatacenters("dc1"), ["dc2"]);
    await forwarder.close();
  });

  it("DatacenterForwarder.forward() answers No path to datacenter, or names the unreachable one", async () => {
    const forwarder = new DatacenterForwarder(await detectRuntime(), () => members);
    try {
      for (const dc of ["dc3", "dc4", "dc9"]) {
        const response = await forwarder.forward(dc, new Request(`http://x/v1/kv/a?dc=${dc}`));
        assert.equal(response.status, 500, dc);
        assert.equal(await response.text(), noPathMessage);
      }
      const unreachable = await forwarder.forward("dc2", new Request("http://x/v1/kv/a?dc=dc2"));
      assert.equal(unreachable.status, 500);
      assert.match(await unreachable.text(), /^Cannot reach datacenter "dc2": /);
      const keyring = await forwarder.keyringLan("dc2", "list", "");
      assert.equal(keyring.datacenter, "dc2");
      assert.equal(keyring.numNodes, 0);
      assert.match(keyring.error, /^Cannot reach datacenter "dc2": /);
    } finally {
      await forwarder.close();
    }
  });

  it("keyringLanHandler() refuses a request without an action, or without a LAN pool", async () => {
    const handler = keyringLanHandler(() => undefined, "dc1");
    await assert.rejects(async () => await handler({ key: "x" }, context), /names no action/);
    await assert.rejects(async () => await handler(null, context), /names no action/);
    await assert.rejects(
      async () => await handler({ action: "list" }, context),
      /LAN gossip pool is off/,
    );
  });
});
