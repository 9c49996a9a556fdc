// Goal: the npm `consul` client (the Node client most apps use) drives a cairn dev agent
// unchanged: KV put/get/cas/recurse/keys, a blocking query that wakes on a write, a service with
// a TTL check that turns passing, health with `passing` and `tag`, session locks.
// Method: start `cairn agent -dev` as a separate process on 127.0.0.2 and call it through the
// client exactly as an application would.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import Consul from "consul";
import { type AgentProcess, startAgentProcess } from "../_support/agent_process.ts";

describe("npm consul client against a dev agent", () => {
  let agent: AgentProcess;
  // The client's typings cover a subset of its answers; the test reads raw Consul fields.
  // deno-lint-ignore no-explicit-any
  let consul: any;

  before(async () => {
    agent = await startAgentProcess({ host: "127.0.0.2" });
    consul = new Consul({ host: agent.httpHost, port: agent.httpPort });
  });

  after(async () => {
    await agent?.stop();
  });

  test("kv.set/get/keys/recurse and cas work as in Consul", async () => {
    assert.equal(await consul.kv.set("app/config/a", "1"), true);
    assert.equal(await consul.kv.set("app/config/b", "2"), true);
    assert.equal(await consul.kv.set("app/other", "3"), true);
    const one = await consul.kv.get("app/config/a");
    assert.equal(one.Value, "1");
    assert.equal(one.Key, "app/config/a");
    const tree = await consul.kv.get({ key: "app/", recurse: true });
    assert.deepEqual(tree.map((entry: { Key: string }) => entry.Key), [
      "app/config/a",
      "app/config/b",
      "app/other",
    ]);
    assert.deepEqual(await consul.kv.keys({ key: "app/", separator: "/" }), [
      "app/config/",
      "app/other",
    ]);
    // The client turns Consul's literal `false` body into undefined; `true` stays true.
    assert.notEqual(await consul.kv.set({ key: "app/config/a", value: "x", cas: 1 }), true);
    assert.equal(
      await consul.kv.set({ key: "app/config/a", value: "x", cas: one.ModifyIndex }),
      true,
    );
    assert.equal((await consul.kv.get("app/config/a")).Value, "x");
    await consul.kv.del({ key: "app/", recurse: true });
    assert.equal(await consul.kv.get("app/config/a"), undefined);
  });

  test("a blocking kv.get wakes within a second of a write", async () => {
    await consul.kv.set("watched", "before");
    const current = await consul.kv.get("watched");
    const startedMs = Date.now();
    const waiting = consul.kv.get({ key: "watched", index: current.ModifyIndex, wait: "10s" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await consul.kv.set("watched", "after");
    const woke = await waiting;
    const elapsedMs = Date.now() - startedMs;
    assert.equal(woke.Value, "after");
    assert.ok(elapsedMs < 1_200 + 200, `woke after ${elapsedMs} ms`);
  });

  test("a service with a TTL check turns passing and health filters by passing and tag", async () => {
    await consul.agent.service.register({
      name: "web",
      id: "web-1",
      port: 8080,
      tags: ["v1", "primary"],
      check: { ttl: "30s" },
    });
    await consul.agent.service.register({ name: "web", id: "web-2", port: 8081, tags: ["v2"] });
    const before = await consul.health.service({ service: "web", passing: true });
    assert.deepEqual(before.map((entry: { Service: { ID: string } }) => entry.Service.ID), [
      "web-2",
    ]);
    await consul.agent.check.pass("service:web-1");
    const passing = await consul.health.service({ service: "web", passing: true });
    assert.deepEqual(
      passing.map((entry: { Service: { ID: string } }) => entry.Service.ID).sort(),
      ["web-1", "web-2"],
    );
    const tagged = await consul.health.service({ service: "web", passing: true, tag: "v1" });
    assert.deepEqual(tagged.map((entry: { Service: { ID: string } }) => entry.Service.ID), [
      "web-1",
    ]);
    const checks = await consul.agent.check.list();
    assert.equal(checks["service:web-1"].Status, "passing");
    await consul.agent.service.deregister("web-2");
    const services = await consul.agent.service.list();
    assert.deepEqual(Object.keys(services), ["web-1"]);
  });

  test("session acquire/release, and destroy releases the lock", async () => {
    const first = await consul.session.create({ ttl: "30s", name: "holder" });
    const second = await consul.session.create({ name: "contender" });
    assert.equal(await consul.kv.set({ key: "lock/leader", value: "a", acquire: first.ID }), true);
    assert.notEqual(
      await consul.kv.set({ key: "lock/leader", value: "b", acquire: second.ID }),
      true,
    );
    const held = await consul.kv.get("lock/leader");
    assert.equal(held.Session, first.ID);
    assert.equal(held.LockIndex, 1);
    assert.equal(await consul.kv.set({ key: "lock/leader", value: "a", release: first.ID }), true);
    assert.equal(await consul.kv.set({ key: "lock/leader", value: "a", acquire: first.ID }), true);
    await consul.session.destroy(first.ID);
    const released = await consul.kv.get("lock/leader");
    assert.equal(released.Session, undefined);
    const info = await consul.session.info(first.ID);
    assert.equal(info, undefined);
  });

  test("status.leader and agent.self answer", async () => {
    const leader = await consul.status.leader();
    assert.match(leader, /^127\.0\.0\.2:\d+$/);
    const self = await consul.agent.self();
    assert.equal(self.Config.Datacenter, "dc1");
  });
});
