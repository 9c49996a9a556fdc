// Goal: `createAgent()` starts an agent inside this process whose typed client does what Consul's
// HTTP API does: KV get/put/delete/list with cas and exact uint64 flags, services and checks
// registered and deregistered, TTL checks passed, warned and failed, health filtered by passing
// and tag; options are validated (zod) with one TypeError naming each bad option; no socket opens
// unless a port is asked for; `stop()` is idempotent and resolves `stopped`.
// Method: one quiet embedded agent per describe, driven only through the public API (`_cairn.ts`),
// so the same file also runs on Node against the built npm package (npm/verify.sh).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ClientError, createAgent, type EmbeddedAgent } from "./_cairn.ts";

describe("createAgent()", () => {
  let agent: EmbeddedAgent;

  before(async () => {
    agent = await createAgent({ nodeName: "embed-1", logLevel: "error" });
  });

  after(async () => {
    await agent.stop();
  });

  it("createAgent() opens no listener unless a port is given", () => {
    assert.equal(agent.httpAddress, undefined);
    assert.equal(agent.dnsAddress, undefined);
    assert.equal(agent.config.nodeName, "embed-1");
    assert.equal(agent.config.datacenter, "dc1");
  });

  it("kv.put() and kv.get() round-trip text, bytes and uint64 flags", async () => {
    assert.equal(await agent.kv.put("kv1/text", "héllo"), true);
    const text = await agent.kv.get("kv1/text");
    assert.equal(text?.value, "héllo");
    assert.equal(text?.key, "kv1/text");
    assert.equal(text?.flags, 0n);
    const bytes = new Uint8Array([0, 1, 254, 255]);
    assert.equal(await agent.kv.put("kv1/bytes", bytes, { flags: 18446744073709551615n }), true);
    const read = await agent.kv.get("kv1/bytes");
    assert.deepEqual(read?.bytes, bytes);
    assert.equal(read?.flags, 18446744073709551615n);
    assert.equal(await agent.kv.get("kv1/missing"), undefined);
  });

  it("kv.put() with cas writes only at the expected index", async () => {
    assert.equal(await agent.kv.put("kv2/a", "1", { cas: 0 }), true);
    assert.equal(await agent.kv.put("kv2/a", "2", { cas: 0 }), false, "cas 0: only when absent");
    const entry = await agent.kv.get("kv2/a");
    assert.ok(entry !== undefined);
    assert.equal(await agent.kv.put("kv2/a", "3", { cas: entry.modifyIndex }), true);
    assert.equal(await agent.kv.put("kv2/a", "4", { cas: entry.modifyIndex }), false);
    assert.equal((await agent.kv.get("kv2/a"))?.value, "3");
  });

  it("kv.list() lists a prefix in key order and kv.delete() removes one key or a tree", async () => {
    for (const key of ["kv3/b", "kv3/a", "kv3/c/d", "kv3x"]) await agent.kv.put(key, key);
    assert.deepEqual((await agent.kv.list("kv3/")).map((entry) => entry.key), [
      "kv3/a",
      "kv3/b",
      "kv3/c/d",
    ]);
    assert.equal(await agent.kv.delete("kv3/a"), true);
    assert.equal(await agent.kv.delete("kv3/never"), true, "a missing key is not an error");
    assert.deepEqual((await agent.kv.list("kv3/")).map((entry) => entry.key), ["kv3/b", "kv3/c/d"]);
    await agent.kv.delete("kv3/", { recurse: true });
    assert.deepEqual(await agent.kv.list("kv3/"), []);
    assert.equal((await agent.kv.get("kv3x"))?.value, "kv3x", "outside the prefix");
  });

  it("checks.pass/warn/fail() drive a service's TTL check and health.service() filters", async () => {
    await agent.services.register({
      name: "web",
      id: "web-1",
      port: 8080,
      tags: ["blue"],
      meta: { version: "1" },
      check: { ttl: "30s" },
    });
    await agent.services.register({ name: "web", id: "web-2", port: 8081, tags: ["green"] });
    const all = await agent.health.service("web");
    assert.deepEqual(all.map((entry) => entry.service.id).sort(), ["web-1", "web-2"]);
    const first = all.find((entry) => entry.service.id === "web-1");
    assert.equal(first?.service.port, 8080);
    assert.deepEqual(first?.service.meta, { version: "1" });
    assert.equal(first?.node.name, "embed-1");
    assert.equal(first?.address, "127.0.0.1", "the node's address when the service has none");
    const ttl = first?.checks.find((check) => check.id === "service:web-1");
    assert.equal(ttl?.status, "critical");

    const passingIds = async () =>
      (await agent.health.service("web", { passing: true })).map((entry) => entry.service.id)
        .sort();
    assert.deepEqual(await passingIds(), ["web-2"]);
    await agent.checks.pass("service:web-1", "all good");
    assert.deepEqual(await passingIds(), ["web-1", "web-2"]);
    const passed = (await agent.health.service("web", { tag: "blue" }))[0];
    assert.equal(passed.checks.find((check) => check.id === "service:web-1")?.output, "all good");
    await agent.checks.warn("service:web-1");
    assert.deepEqual(await passingIds(), ["web-2"]);
    await agent.checks.fail("service:web-1", "down");
    const failed = await agent.health.service("web", { tag: "blue" });
    assert.equal(failed.length, 1);
    assert.equal(failed[0].checks.find((c) => c.id === "service:web-1")?.status, "critical");

    await agent.services.deregister("web-1");
    await agent.services.deregister("web-2");
    assert.deepEqual(await agent.health.service("web"), []);
  });

  it("checks.register() adds a check to a service and checks.deregister() removes it", async () => {
    await agent.services.register({ name: "api", port: 9000 });
    await agent.checks.register({ name: "api alive", id: "api-ttl", ttl: "10s", serviceId: "api" });
    const checks = async () =>
      (await agent.health.service("api"))[0].checks.map((check) => check.id).sort();
    assert.deepEqual(await checks(), ["api-ttl", "serfHealth"]);
    await agent.checks.pass("api-ttl");
    assert.equal((await agent.health.service("api", { passing: true })).length, 1);
    await agent.checks.deregister("api-ttl");
    assert.deepEqual(await checks(), ["serfHealth"]);
    await agent.services.deregister("api");
  });

  it("the client throws ClientError with the agent's status for refused calls", async () => {
    await assert.rejects(agent.services.deregister("no-such-service"), (error) => {
      assert.ok(error instanceof ClientError);
      assert.equal(error.status, 404);
      assert.match(error.message, /^Cannot deregister service "no-such-service": the agent/);
      return true;
    });
    await assert.rejects(agent.checks.pass("no-such-check"), ClientError);
    await assert.rejects(
      agent.services.register({ name: "bad", check: { ttl: "not-a-duration" } }),
      (error) => error instanceof ClientError && error.status === 400,
    );
  });
});

describe("createAgent() options", () => {
  it("createAgent() refuses invalid and unknown options with one TypeError naming each", async () => {
    await assert.rejects(
      // @ts-expect-error: the wrong type is the point of the test
      createAgent({ httpPort: "8500", datacenter: "no spaces", bogus: true }),
      (error) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /^Cannot create agent: invalid options \(/);
        assert.match(error.message, /httpPort/);
        assert.match(error.message, /datacenter/);
        assert.match(error.message, /bogus/);
        return true;
      },
    );
    await assert.rejects(createAgent({ httpPort: 70_000 }), TypeError);
  });

  it("createAgent() refuses a non-dev agent until Raft and gossip exist", async () => {
    await assert.rejects(createAgent({ dev: false, logLevel: "error" }), RangeError);
  });

  it("createAgent() serves the HTTP API when asked and stop() is idempotent", async () => {
    const agent = await createAgent({ httpPort: 0, clientAddr: "127.0.0.44", logLevel: "error" });
    try {
      const address = agent.httpAddress;
      assert.ok(address !== undefined && address.port > 0);
      assert.equal(address.host, "127.0.0.44");
      await agent.kv.put("over/http", "yes");
      const response = await fetch(`http://127.0.0.44:${address.port}/v1/kv/over/http?raw`);
      assert.equal(await response.text(), "yes");
      assert.equal(agent.config.datacenter, "dc1");
    } finally {
      await agent.stop();
    }
    await agent.stop();
    await agent.stopped;
  });
});
