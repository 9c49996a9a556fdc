// Goal: `connect(url)` gives the same typed client over HTTP as the embedded agent has in-process:
// KV, services, checks, health and watches work against an agent's real HTTP port; `close()` ends
// the client's watches and leaves the agent running; an unreachable agent and a bad address fail
// with "Cannot ..." errors.
// Method: an embedded agent with an HTTP listener on 127.0.0.45 (a free port), driven through a
// remote client; bounded waits only.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ClientError, connect, createAgent, type EmbeddedAgent } from "./_cairn.ts";
import { delay, waitFor } from "./_wait.ts";

describe("connect()", () => {
  let agent: EmbeddedAgent;
  let url: string;

  before(async () => {
    agent = await createAgent({ httpPort: 0, clientAddr: "127.0.0.45", logLevel: "error" });
    url = `http://127.0.0.45:${agent.httpAddress?.port}`;
  });

  after(async () => {
    await agent.stop();
  });

  it("connect() reads and writes KV over HTTP", async () => {
    const client = connect(url);
    assert.equal(client.baseUrl, url);
    assert.equal(await client.kv.put("remote/a", "1"), true);
    assert.equal((await agent.kv.get("remote/a"))?.value, "1", "the agent sees the write");
    assert.equal((await client.kv.get("remote/a"))?.value, "1");
    assert.deepEqual((await client.kv.list("remote/")).map((entry) => entry.key), ["remote/a"]);
    assert.equal(await client.kv.delete("remote/a"), true);
    assert.equal(await client.kv.get("remote/a"), undefined);
    client.close();
  });

  it("connect() accepts host:port and registers services with checks", async () => {
    const client = connect(url.replace("http://", ""));
    await client.services.register({ name: "svc", id: "svc-1", port: 1234, check: { ttl: "1m" } });
    assert.equal((await client.health.service("svc", { passing: true })).length, 0);
    await client.checks.pass("service:svc-1");
    const healthy = await client.health.service("svc", { passing: true });
    assert.deepEqual(healthy.map((instance) => instance.service.port), [1234]);
    await assert.rejects(client.services.deregister("nope"), ClientError);
    await client.services.deregister("svc-1");
    client.close();
  });

  it("close() ends the client's watches and leaves the agent running", async () => {
    const client = connect(url);
    const seen: number[] = [];
    const watch = client.watch.kvPrefix("rw/", (entries) => {
      seen.push(entries.length);
    });
    await waitFor("the first callback", () => seen.length === 1);
    await agent.kv.put("rw/a", "1");
    await waitFor("the change", () => seen.length === 2);
    assert.deepEqual(seen, [0, 1]);
    client.close();
    await watch.done;
    await agent.kv.put("rw/b", "2");
    await delay(50);
    assert.deepEqual(seen, [0, 1]);
    assert.equal((await agent.kv.get("rw/b"))?.value, "2", "the agent still runs");
  });

  it("connect() reports an unreachable agent and a bad address", async () => {
    // Port 1 on a loopback address of ours: nothing listens there.
    const client = connect("http://127.0.0.45:1");
    await assert.rejects(client.kv.get("x"), /^TypeError: Cannot reach the agent at/);
    const errors: unknown[] = [];
    const watch = client.watch.kvPrefix("x", () => {}, { onError: (error) => errors.push(error) });
    await waitFor("a reported failure", () => errors.length >= 1);
    client.close();
    await watch.done;
    assert.throws(() => connect("ftp://127.0.0.1"), TypeError);
    // @ts-expect-error: the wrong type is the point of the test
    assert.throws(() => connect(url, { token: 5 }), /^TypeError: Cannot connect: invalid options/);
  });
});
