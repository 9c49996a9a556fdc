// Goal: `/v1/catalog/*` and `/v1/health/*` answer as Consul's catalog and health endpoints: an
// external node with a service and a check registers and deregisters directly; nodes, services
// (the union of tags), service instances (with `?tag`) and a node's services (null when unknown)
// carry Consul's exact field names; health lists checks by node, by service and by state
// (`any|passing|warning|critical`, anything else a 400) and service entries with `?passing`.
// Method: an in-process dev agent (no sockets) driven through `agent.fetch`; two external nodes
// are registered through `/v1/catalog/register`, as ESM and Consul's docs do.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningAgent } from "../../src/agent/agent.ts";
import { call, put, startTestAgent } from "./_agent.ts";

const catalogServiceFields = [
  "Address",
  "CreateIndex",
  "Datacenter",
  "ID",
  "ModifyIndex",
  "Node",
  "NodeMeta",
  "ServiceAddress",
  "ServiceEnableTagOverride",
  "ServiceID",
  "ServiceKind",
  "ServiceMeta",
  "ServiceName",
  "ServicePort",
  "ServiceTaggedAddresses",
  "ServiceTags",
  "ServiceWeights",
  "TaggedAddresses",
];

const healthCheckFields = [
  "CheckID",
  "CreateIndex",
  "Definition",
  "ExposedPort",
  "Interval",
  "ModifyIndex",
  "Name",
  "Node",
  "Notes",
  "Output",
  "ServiceID",
  "ServiceName",
  "ServiceTags",
  "Status",
  "Timeout",
  "Type",
];

describe("HTTP /v1/catalog and /v1/health", () => {
  let agent: RunningAgent;

  before(async () => {
    agent = await startTestAgent();
    const registrations = [
      {
        Node: "ext-1",
        Address: "10.1.0.1",
        NodeMeta: { rack: "r1" },
        Service: { Service: "redis", ID: "redis-1", Tags: ["primary", "v6"], Port: 6379 },
        Check: {
          CheckID: "redis-alive",
          Name: "Redis alive",
          Status: "passing",
          ServiceID: "redis-1",
        },
      },
      {
        node: "ext-2",
        address: "10.1.0.2",
        service: { service: "redis", id: "redis-2", tags: ["replica", "v6"], port: 6380 },
        checks: [
          {
            CheckID: "redis-lag",
            Name: "Replication lag",
            Status: "warning",
            ServiceID: "redis-2",
          },
          { CheckID: "ext-2-ping", Name: "Ping", Status: "passing" },
        ],
      },
    ];
    for (const body of registrations) {
      const answer = await put(agent, "/v1/catalog/register", body);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.text, "true");
    }
  });

  after(async () => {
    await agent.stop();
  });

  it("`GET /v1/catalog/datacenters` lists this datacenter", async () => {
    assert.deepEqual((await call(agent, "/v1/catalog/datacenters")).json, ["dc1"]);
  });

  it("`GET /v1/catalog/nodes` lists the agent and the external nodes with Node fields", async () => {
    const answer = await call(agent, "/v1/catalog/nodes");
    assert.equal(answer.status, 200);
    assert.ok(answer.index !== undefined && answer.index >= 1);
    assert.deepEqual(answer.json.map((node: { Node: string }) => node.Node), [
      "ext-1",
      "ext-2",
      "node-1",
    ]);
    const ext = answer.json[0];
    assert.deepEqual(Object.keys(ext).sort(), [
      "Address",
      "CreateIndex",
      "Datacenter",
      "ID",
      "Meta",
      "ModifyIndex",
      "Node",
      "TaggedAddresses",
    ]);
    assert.equal(ext.Address, "10.1.0.1");
    assert.equal(ext.Datacenter, "dc1");
    assert.deepEqual(ext.Meta, { rack: "r1" });

    const filtered = (await call(agent, "/v1/catalog/nodes?node-meta=rack:r1")).json;
    assert.deepEqual(filtered.map((node: { Node: string }) => node.Node), ["ext-1"]);
  });

  it("`GET /v1/catalog/services` maps each service to the union of its tags", async () => {
    const answer = await call(agent, "/v1/catalog/services");
    assert.equal(answer.status, 200);
    assert.ok(answer.index !== undefined && answer.index >= 1);
    assert.deepEqual(answer.json.redis, ["primary", "replica", "v6"]);
  });

  it("`GET /v1/catalog/service/:name` lists instances with CatalogService fields and `?tag`", async () => {
    const answer = await call(agent, "/v1/catalog/service/redis");
    assert.equal(answer.status, 200);
    assert.equal(answer.json.length, 2);
    const first = answer.json[0];
    for (const field of catalogServiceFields) assert.ok(field in first, `missing ${field}`);
    assert.equal(first.Node, "ext-1");
    assert.equal(first.Address, "10.1.0.1");
    assert.equal(first.ServiceID, "redis-1");
    assert.equal(first.ServiceName, "redis");
    assert.equal(first.ServicePort, 6379);
    assert.equal(first.ServiceAddress, "");
    assert.deepEqual(first.ServiceTags, ["primary", "v6"]);
    assert.deepEqual(first.NodeMeta, { rack: "r1" });
    assert.deepEqual(first.ServiceWeights, { Passing: 1, Warning: 1 });

    const tagged = (await call(agent, "/v1/catalog/service/redis?tag=replica")).json;
    assert.deepEqual(tagged.map((entry: { ServiceID: string }) => entry.ServiceID), ["redis-2"]);
    const both = (await call(agent, "/v1/catalog/service/redis?tag=v6&tag=primary")).json;
    assert.deepEqual(both.map((entry: { ServiceID: string }) => entry.ServiceID), ["redis-1"]);

    const none = await call(agent, "/v1/catalog/service/no-such-service");
    assert.equal(none.status, 200);
    assert.deepEqual(none.json, []);
    assert.ok(none.index !== undefined && none.index >= 1);
  });

  it("`GET /v1/catalog/node/:node` returns the node and its services by ID, null if unknown", async () => {
    const answer = await call(agent, "/v1/catalog/node/ext-2");
    assert.equal(answer.status, 200);
    assert.deepEqual(Object.keys(answer.json), ["Node", "Services"]);
    assert.equal(answer.json.Node.Node, "ext-2");
    assert.deepEqual(Object.keys(answer.json.Services), ["redis-2"]);
    const service = answer.json.Services["redis-2"];
    assert.equal(service.ID, "redis-2");
    assert.equal(service.Service, "redis");
    assert.equal(service.Port, 6380);
    assert.deepEqual(service.Tags, ["replica", "v6"]);

    const unknown = await call(agent, "/v1/catalog/node/nobody");
    assert.equal(unknown.status, 200);
    assert.equal(unknown.text, "null");
    assert.ok(unknown.index !== undefined && unknown.index >= 1);
  });

  it("`GET /v1/health/node/:node` lists that node's checks with HealthCheck fields", async () => {
    const answer = await call(agent, "/v1/health/node/ext-2");
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json.map((check: { CheckID: string }) => check.CheckID), [
      "ext-2-ping",
      "redis-lag",
    ]);
    const lag = answer.json[1];
    assert.deepEqual(Object.keys(lag).sort(), healthCheckFields);
    assert.equal(lag.Node, "ext-2");
    assert.equal(lag.Status, "warning");
    assert.equal(lag.ServiceID, "redis-2");
    assert.equal(lag.ServiceName, "redis");
    assert.deepEqual(lag.ServiceTags, ["replica", "v6"]);
    const ping = answer.json[0];
    assert.equal(ping.ServiceID, "", "a check without ServiceID is a node check");
    assert.equal(ping.ServiceName, "");

    assert.deepEqual((await call(agent, "/v1/health/node/nobody")).json, []);
  });

  it("`GET /v1/health/checks/:service` lists the service's checks on every node", async () => {
    const answer = await call(agent, "/v1/health/checks/redis");
    assert.deepEqual(
      answer.json.map((check: { Node: string; CheckID: string }) =>
        `${check.Node}/${check.CheckID}`
      ),
      ["ext-1/redis-alive", "ext-2/redis-lag"],
    );
  });

  it("`GET /v1/health/service/:name` returns ServiceEntries; `?passing` drops warnings", async () => {
    const all = await call(agent, "/v1/health/service/redis");
    assert.equal(all.status, 200);
    assert.ok(all.index !== undefined && all.index >= 1);
    assert.equal(all.json.length, 2);
    const entry = all.json[1];
    assert.deepEqual(Object.keys(entry), ["Node", "Service", "Checks"]);
    assert.equal(entry.Node.Node, "ext-2");
    assert.equal(entry.Node.Address, "10.1.0.2");
    assert.equal(entry.Service.ID, "redis-2");
    assert.equal(entry.Service.Service, "redis");
    assert.equal(entry.Service.Port, 6380);
    assert.deepEqual(
      entry.Checks.map((check: { CheckID: string }) => check.CheckID),
      ["ext-2-ping", "redis-lag"],
      "node checks and the service's own checks, not other services'",
    );

    const passing = (await call(agent, "/v1/health/service/redis?passing")).json;
    assert.deepEqual(passing.map((item: { Service: { ID: string } }) => item.Service.ID), [
      "redis-1",
    ]);
    const explicitFalse = (await call(agent, "/v1/health/service/redis?passing=false")).json;
    assert.equal(explicitFalse.length, 2, "?passing=false does not filter");
  });

  it("`GET /v1/health/state/:state` filters checks by status", async () => {
    const ids = async (state: string) => {
      const answer = await call(agent, `/v1/health/state/${state}`);
      assert.equal(answer.status, 200, answer.text);
      return answer.json.map((check: { Node: string; CheckID: string }) =>
        `${check.Node}/${check.CheckID}`
      );
    };
    assert.deepEqual(await ids("warning"), ["ext-2/redis-lag"]);
    assert.deepEqual(await ids("passing"), [
      "ext-1/redis-alive",
      "ext-2/ext-2-ping",
      "node-1/serfHealth",
    ]);
    assert.deepEqual(await ids("critical"), []);
    assert.deepEqual(await ids("any"), [
      "ext-1/redis-alive",
      "ext-2/ext-2-ping",
      "ext-2/redis-lag",
      "node-1/serfHealth",
    ]);
    const bad = await call(agent, "/v1/health/state/broken");
    assert.equal(bad.status, 400);
    assert.match(bad.headers.get("Content-Type") ?? "", /^text\/plain/);
    assert.ok(bad.text.length > 0);
  });

  it("`PUT /v1/catalog/register` without Node or Address is a 400", async () => {
    const noNode = await put(agent, "/v1/catalog/register", { Address: "10.9.9.9" });
    assert.equal(noNode.status, 400);
    const noAddress = await put(agent, "/v1/catalog/register", { Node: "half" });
    assert.equal(noAddress.status, 400);
    const badJson = await put(agent, "/v1/catalog/register", "{");
    assert.equal(badJson.status, 400);
    assert.equal((await call(agent, "/v1/catalog/node/half")).text, "null");
  });

  it("`PUT /v1/catalog/register` with a check on an unknown service fails and writes nothing", async () => {
    const answer = await put(agent, "/v1/catalog/register", {
      Node: "ext-3",
      Address: "10.1.0.3",
      Check: { CheckID: "c", Name: "c", ServiceID: "ghost" },
    });
    assert.equal(answer.status, 500, answer.text);
    assert.match(answer.text, /Missing service registration/);
    assert.equal(
      (await call(agent, "/v1/catalog/node/ext-3")).text,
      "null",
      "no half-registered node",
    );
  });

  it("`PUT /v1/catalog/deregister` removes a check, a service, then the node", async () => {
    const check = await put(agent, "/v1/catalog/deregister", {
      Node: "ext-2",
      CheckID: "ext-2-ping",
    });
    assert.equal(check.text, "true");
    const checks = (await call(agent, "/v1/health/node/ext-2")).json;
    assert.deepEqual(checks.map((item: { CheckID: string }) => item.CheckID), ["redis-lag"]);

    const service = await put(agent, "/v1/catalog/deregister", {
      Node: "ext-2",
      ServiceID: "redis-2",
    });
    assert.equal(service.text, "true");
    const redis = (await call(agent, "/v1/catalog/service/redis")).json;
    assert.deepEqual(redis.map((entry: { ServiceID: string }) => entry.ServiceID), ["redis-1"]);
    assert.deepEqual((await call(agent, "/v1/health/node/ext-2")).json, [], "its checks went too");
    assert.deepEqual((await call(agent, "/v1/catalog/services")).json.redis, ["primary", "v6"]);

    assert.equal((await put(agent, "/v1/catalog/deregister", { Node: "ext-1" })).text, "true");
    assert.equal((await call(agent, "/v1/catalog/node/ext-1")).text, "null");
    assert.deepEqual((await call(agent, "/v1/catalog/service/redis")).json, []);
    assert.equal("redis" in (await call(agent, "/v1/catalog/services")).json, false);

    assert.equal((await put(agent, "/v1/catalog/deregister", {})).status, 400);
  });
});
