// Tests of `cairn members|catalog ...|services ...|info|leave` (src/cli/*_command(s).ts).
//
// Goal: each command sends the requests Consul's CLI sends and prints Consul's tables and
// messages, with Consul's exit codes. Method: runCli in-process on a fake runtime against a fake
// agent (node:http on 127.0.0.1, port 0) that records requests and answers from a table; the
// recorded requests (method, path, query, JSON body) and the captured output are asserted exactly.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CairnOutcome,
  type FakeAgent,
  type FakeRoutes,
  runCairn,
  startFakeAgent,
} from "./fake_agent.ts";

let agent: FakeAgent;
const root = mkdtempSync(join(tmpdir(), "cairn-cli-agent-"));

before(async () => {
  agent = await startFakeAgent();
});
after(async () => {
  await agent.close();
  rmSync(root, { recursive: true, force: true });
});

function cairn(args: string[], routes: FakeRoutes): Promise<CairnOutcome> {
  return runCairn(agent, args, routes);
}

function member(name: string, addr: string, status: number, tags: Record<string, string>) {
  return {
    Name: name,
    Addr: addr,
    Port: 8301,
    Tags: tags,
    Status: status,
    ProtocolMin: 1,
    ProtocolMax: 5,
    ProtocolCur: 2,
    DelegateMin: 2,
    DelegateMax: 5,
    DelegateCur: 4,
  };
}

const members = [
  member("web-1", "127.0.0.3", 1, { role: "node", dc: "dc1", vsn: "2", build: "0.1.0:abc" }),
  member("server-1", "127.0.0.2", 1, { role: "consul", dc: "dc1", vsn: "2", build: "1.17.0:x" }),
  member("old", "::1", 4, { dc: "dc1", vsn: "2" }),
];

test("members prints Consul's table, sorted by name", async () => {
  const result = await cairn(["members"], { "GET /v1/agent/members": { body: members } });
  assert.deepEqual(result, {
    code: 0,
    stdout: [
      "Node      Address         Status  Type     Build   Protocol  DC",
      "old       [::1]:8301      failed  unknown  < 0.3   2         dc1",
      "server-1  127.0.0.2:8301  alive   server   1.17.0  2         dc1",
      "web-1     127.0.0.3:8301  alive   client   0.1.0   2         dc1",
      "",
    ].join("\n"),
    stderr: "",
    requests: ["GET /v1/agent/members"],
  });
});

test("members -detailed prints every tag; -wan asks for the WAN pool", async () => {
  const detailed = await cairn(["members", "-detailed", "-wan"], {
    "GET /v1/agent/members?wan=1": { body: members.slice(0, 2) },
  });
  assert.deepEqual(detailed.requests, ["GET /v1/agent/members?wan=1"]);
  assert.equal(
    detailed.stdout,
    [
      "Node      Address         Status  Tags",
      "server-1  127.0.0.2:8301  alive   build=1.17.0:x,dc=dc1,role=consul,vsn=2",
      "web-1     127.0.0.3:8301  alive   build=0.1.0:abc,dc=dc1,role=node,vsn=2",
      "",
    ].join("\n"),
  );
});

test("members -status filters by a regexp and exits 2 when nothing matches", async () => {
  const routes = { "GET /v1/agent/members": { body: members } };
  const failed = await cairn(["members", "-status=fail"], routes);
  assert.equal(failed.code, 0);
  assert.match(failed.stdout, /^Node +Address +Status.*\nold +\[::1\]:8301 +failed +unknown/);
  assert.equal(failed.stdout.split("\n").length, 3);
  const none = await cairn(["members", "-status=^left$"], routes);
  assert.deepEqual([none.code, none.stdout, none.stderr], [2, "", ""]);
  const bad = await cairn(["members", "-status=("], routes);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^Failed to compile status regexp: /);
});

test("catalog datacenters prints one per line; none is an error", async () => {
  const result = await cairn(["catalog", "datacenters"], {
    "GET /v1/catalog/datacenters": { body: ["dc1", "dc2"] },
  });
  assert.deepEqual(result, {
    code: 0,
    stdout: "dc1\ndc2\n",
    stderr: "",
    requests: ["GET /v1/catalog/datacenters"],
  });
  const malformed = await cairn(["catalog", "datacenters"], {
    "GET /v1/catalog/datacenters": { body: { dc1: true } },
  });
  assert.deepEqual(
    [malformed.code, malformed.stderr],
    [1, "Error listing datacenters: the agent's answer is not in the expected shape\n"],
  );
  const none = await cairn(["catalog", "datacenters"], {
    "GET /v1/catalog/datacenters": { body: [] },
  });
  assert.deepEqual([none.code, none.stderr], [1, "No datacenters found\n"]);
});

const nodes = [
  {
    ID: "40e4a748-2192-161a-0510-9bf59fe950b5",
    Node: "node-a",
    Address: "127.0.0.2",
    Datacenter: "dc1",
    TaggedAddresses: { wan: "127.0.0.2", lan: "127.0.0.2" },
    Meta: { rack: "r1", "consul-network-segment": "" },
    CreateIndex: 5,
    ModifyIndex: 6,
  },
  {
    ID: "",
    Node: "b",
    Address: "127.0.0.3",
    Datacenter: "dc1",
    TaggedAddresses: null,
    Meta: null,
    CreateIndex: 7,
    ModifyIndex: 7,
  },
];

test("catalog nodes prints the short ID; -detailed the rest", async () => {
  const routes = { "GET /v1/catalog/nodes": { body: nodes } };
  const plain = await cairn(["catalog", "nodes"], routes);
  assert.equal(
    plain.stdout,
    [
      "Node    ID        Address    DC",
      "node-a  40e4a748  127.0.0.2  dc1",
      "b                 127.0.0.3  dc1",
      "",
    ].join("\n"),
  );
  const detailed = await cairn(["catalog", "nodes", "-detailed"], routes);
  assert.equal(
    detailed.stdout,
    [
      "Node    ID                                    Address    DC   TaggedAddresses               " +
      "Meta",
      "node-a  40e4a748-2192-161a-0510-9bf59fe950b5  127.0.0.2  dc1  lan=127.0.0.2, wan=127.0.0.2  " +
      "consul-network-segment=, rack=r1",
      // columnize pads every cell but the last, so empty trailing cells leave spaces, as in Consul.
      "b                                             127.0.0.3  dc1                                ",
      "",
    ].join("\n"),
  );
});

test("catalog nodes -service, -near, -node-meta and -filter become the API's query", async () => {
  const result = await cairn(
    ["catalog", "nodes", "-service=web", "-near=_agent", "-node-meta=rack=r1", "-filter=Node == a"],
    {
      "GET /v1/catalog/service/web?filter=Node+%3D%3D+a&near=_agent&node-meta=rack%3Ar1": {
        body: [{ ID: "x-y", Node: "a", Address: "127.0.0.9", Datacenter: "dc1", NodeMeta: {} }],
      },
    },
  );
  assert.deepEqual(result.requests, [
    "GET /v1/catalog/service/web?filter=Node+%3D%3D+a&near=_agent&node-meta=rack%3Ar1",
  ]);
  assert.equal(result.stdout, "Node  ID  Address    DC\na     x   127.0.0.9  dc1\n");
  const none = await cairn(["catalog", "nodes", "-service=nothing"], {
    "GET /v1/catalog/service/nothing": { body: [] },
  });
  assert.deepEqual(
    [none.code, none.stdout, none.stderr],
    [0, "", "No nodes match the given query - try expanding your search.\n"],
  );
  const badMeta = await cairn(["catalog", "nodes", "-node-meta=rack"], {});
  assert.equal(badMeta.code, 2);
});

test("catalog services prints sorted names; -tags adds the sorted tags", async () => {
  const routes = {
    "GET /v1/catalog/services": { body: { web: ["v2", "v1"], consul: [], db: null } },
  };
  const plain = await cairn(["catalog", "services"], routes);
  assert.deepEqual(plain, {
    code: 0,
    stdout: "consul\ndb\nweb\n",
    stderr: "",
    requests: ["GET /v1/catalog/services"],
  });
  const tagged = await cairn(["catalog", "services", "-tags"], routes);
  // Go's tabwriter pads a cell even when the last one is empty; only the end is trimmed.
  assert.equal(tagged.stdout, "consul      \ndb          \nweb         v1,v2\n");
});

test("catalog services -node lists the services of one node", async () => {
  const result = await cairn(["catalog", "services", "-node=node-a", "-tags"], {
    "GET /v1/catalog/node/node-a": {
      body: {
        Node: nodes[0],
        Services: {
          "web-1": { ID: "web-1", Service: "web", Tags: ["b"] },
          "web-2": { ID: "web-2", Service: "web", Tags: ["a"] },
          redis: { ID: "redis", Service: "redis", Tags: null },
        },
      },
    },
  });
  assert.equal(result.stdout, "redis      \nweb        a,b\n");
  const unknown = await cairn(["catalog", "services", "-node=ghost"], {
    "GET /v1/catalog/node/ghost": { body: null },
  });
  assert.deepEqual(
    [unknown.code, unknown.stderr],
    [0, "No services match the given query - try expanding your search.\n"],
  );
});

test("services register from flags sends Consul's registration body", async () => {
  const result = await cairn(
    [
      "services",
      "register",
      "-name=web",
      "-id=web-1",
      "-address=127.0.0.7",
      "-port=8080",
      "-tag=v1",
      "-tag=primary",
      "-meta=version=1.2=3",
    ],
    { "PUT /v1/agent/service/register": { body: "" } },
  );
  assert.deepEqual(result, {
    code: 0,
    stdout: "Registered service: web\n",
    stderr: "",
    requests: ["PUT /v1/agent/service/register"],
  });
  assert.deepEqual(JSON.parse(agent.requests[0].body), {
    ID: "web-1",
    Name: "web",
    Tags: ["v1", "primary"],
    Port: 8080,
    Address: "127.0.0.7",
    Meta: { version: "1.2=3" },
  });
  assert.equal(agent.requests[0].contentType, "application/json");
});

test("services register from a file converts config keys to the API's", async () => {
  const file = join(root, "web.json");
  writeFileSync(
    file,
    JSON.stringify({
      service: {
        name: "web",
        id: "web-1",
        port: 80,
        enable_tag_override: true,
        meta: { some_key: "v" },
        tagged_addresses: { lan: { address: "127.0.0.1", port: 80 } },
        weights: { passing: 3, warning: 1 },
        check: {
          id: "web-http",
          http: "http://127.0.0.1/health",
          tls_skip_verify: true,
          interval: "10s",
          deregister_critical_service_after: "1m",
          header: { x_custom: ["1"] },
        },
        checks: [{ args: ["/bin/true"], interval: "5s" }, { ttl: "30s", Notes: "kept" }],
      },
    }),
  );
  const result = await cairn(["services", "register", file], {
    "PUT /v1/agent/service/register": { body: "" },
  });
  assert.equal(result.stdout, "Registered service: web\n");
  assert.deepEqual(JSON.parse(agent.requests[0].body), {
    Name: "web",
    ID: "web-1",
    Port: 80,
    EnableTagOverride: true,
    Meta: { some_key: "v" },
    TaggedAddresses: { lan: { Address: "127.0.0.1", Port: 80 } },
    Weights: { Passing: 3, Warning: 1 },
    Check: {
      CheckID: "web-http",
      HTTP: "http://127.0.0.1/health",
      TLSSkipVerify: true,
      Interval: "10s",
      DeregisterCriticalServiceAfter: "1m",
      Header: { x_custom: ["1"] },
    },
    Checks: [{ ScriptArgs: ["/bin/true"], Interval: "5s" }, { TTL: "30s", Notes: "kept" }],
  });
});

test("services register takes a services array, and reports files and HTTP errors", async () => {
  const file = join(root, "many.json");
  writeFileSync(file, JSON.stringify({ services: [{ name: "a" }, { name: "b" }] }));
  const many = await cairn(["services", "register", file], {
    "PUT /v1/agent/service/register": { body: "" },
  });
  assert.equal(many.stdout, "Registered service: a\nRegistered service: b\n");
  const empty = join(root, "empty.json");
  writeFileSync(empty, "{}");
  const noServices = await cairn(["services", "register", empty], {});
  assert.deepEqual(
    [noServices.code, noServices.stderr],
    [1, `Error: Cannot load service file "${empty}": it defines no "service" or "services"\n`],
  );
  const refused = await cairn(["services", "register", "-name=x"], {
    "PUT /v1/agent/service/register": { status: 400, body: "Invalid service address" },
  });
  assert.deepEqual(
    [refused.code, refused.stderr],
    [1, 'Error registering service "x": 400 (Invalid service address)\n'],
  );
  const neither = await cairn(["services", "register"], {});
  assert.equal(neither.code, 2);
  const both = await cairn(["services", "register", "-name=x", file], {});
  assert.equal(both.code, 2);
});

test("services deregister takes IDs, -id, or files (by ID, else name)", async () => {
  const file = join(root, "dereg.json");
  writeFileSync(file, JSON.stringify({ services: [{ name: "a", id: "a-1" }, { name: "b" }] }));
  const routes = {
    "PUT /v1/agent/service/deregister/web%201": { body: "" },
    "PUT /v1/agent/service/deregister/a-1": { body: "" },
    "PUT /v1/agent/service/deregister/b": { body: "" },
  };
  const byId = await cairn(["services", "deregister", "web 1"], routes);
  assert.deepEqual(byId, {
    code: 0,
    stdout: "Deregistered service: web 1\n",
    stderr: "",
    requests: ["PUT /v1/agent/service/deregister/web%201"],
  });
  const byFlag = await cairn(["services", "deregister", "-id", "b"], routes);
  assert.deepEqual(byFlag.requests, ["PUT /v1/agent/service/deregister/b"]);
  const byFile = await cairn(["services", "deregister", file], routes);
  assert.deepEqual(byFile.requests, [
    "PUT /v1/agent/service/deregister/a-1",
    "PUT /v1/agent/service/deregister/b",
  ]);
  assert.equal(byFile.stdout, "Deregistered service: a-1\nDeregistered service: b\n");
  const missing = await cairn(["services", "deregister", "ghost"], {
    "PUT /v1/agent/service/deregister/ghost": { status: 404, body: "Unknown service ID" },
  });
  assert.deepEqual(
    [missing.code, missing.stderr],
    [1, 'Error deregistering service "ghost": 404 (Unknown service ID)\n'],
  );
});

test("info prints the agent's stats by sorted section and key", async () => {
  const result = await cairn(["info"], {
    "GET /v1/agent/self": {
      body: {
        Config: { Datacenter: "dc1" },
        Stats: {
          raft: { state: "Leader", applied_index: "12" },
          agent: { services: "1", checks: "0" },
        },
      },
    },
  });
  assert.deepEqual(result, {
    code: 0,
    stdout: "agent:\n\tchecks = 0\n\tservices = 1\nraft:\n\tapplied_index = 12\n\tstate = Leader\n",
    stderr: "",
    requests: ["GET /v1/agent/self"],
  });
  const broken = await cairn(["info"], { "GET /v1/agent/self": { body: { Config: {} } } });
  assert.deepEqual([broken.code, broken.stderr], [
    1,
    "Agent response did not contain 'Stats' key\n",
  ]);
});

test("leave asks the agent to leave, and reports a refusal", async () => {
  const result = await cairn(["leave"], { "PUT /v1/agent/leave": { body: "" } });
  assert.deepEqual(result, {
    code: 0,
    stdout: "Graceful leave complete\n",
    stderr: "",
    requests: ["PUT /v1/agent/leave"],
  });
  const denied = await cairn(["leave"], {
    "PUT /v1/agent/leave": { status: 403, body: "Permission denied" },
  });
  assert.deepEqual([denied.code, denied.stderr], [1, "Error leaving: 403 (Permission denied)\n"]);
});
