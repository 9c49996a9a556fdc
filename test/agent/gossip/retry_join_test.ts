// Goal: join addresses parse as Consul's (`host`, `host:port`, `[v6]:port`, default port 8301),
// host names are refused with a message naming the fix, and Consul's LAN tags are complete.
// Method: plain calls with literal inputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { consulTags, parseJoinAddress } from "../../../src/agent/gossip/mod.ts";

test("parseJoinAddress() takes host, host:port and [v6]:port, with port 8301 by default", () => {
  assert.deepEqual(parseJoinAddress("127.0.0.3", 8301), { host: "127.0.0.3", port: 8301 });
  assert.deepEqual(parseJoinAddress("127.0.0.3:7946", 8301), { host: "127.0.0.3", port: 7946 });
  assert.deepEqual(parseJoinAddress("[::1]:7946", 8301), { host: "::1", port: 7946 });
  assert.deepEqual(parseJoinAddress("::1", 8301), { host: "::1", port: 8301 });
  assert.throws(() => parseJoinAddress("consul.example:8301", 8301), /give an IP address/);
  assert.throws(() => parseJoinAddress("127.0.0.3:70000", 8301), /port must be 1 to 65535/);
});

test("consulTags() gives servers role consul with their RPC port, clients role node", () => {
  const base = {
    datacenter: "dc1",
    nodeId: "9b11685f-dcfa-4fbc-91b3-c948748285a6",
    serverPort: 8300,
    bootstrapExpect: 0,
    dev: true,
    version: "0.1.0",
  };
  assert.deepEqual(consulTags({ ...base, server: true }), {
    role: "consul",
    dc: "dc1",
    id: base.nodeId,
    vsn: "2",
    vsn_min: "2",
    vsn_max: "3",
    build: "0.1.0:cairn",
    port: "8300",
    raft_vsn: "3",
    bootstrap: "1",
  });
  const client = consulTags({ ...base, server: false, dev: false });
  assert.equal(client.role, "node");
  assert.equal(client.port, undefined);
  assert.equal(consulTags({ ...base, server: true, dev: false, bootstrapExpect: 3 }).expect, "3");
});
