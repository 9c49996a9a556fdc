// Goal: the small endpoints and the cross-cutting rules answer as Consul's: `/v1/status/leader`
// and `/peers`; `/v1/event/fire` and `/list` (reserved `_` names a 400, list blocking wakes on a
// fire); unknown endpoints a 404; a wrong method a 405 with `Allow`; `?pretty` indents;
// `?dc=<other>` a 500 `No path to datacenter`. Method: one in-process dev agent (no sockets)
// driven through `agent.fetch`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningAgent } from "../../src/agent/agent.ts";
import { call, nowMs, put, sleep, startTestAgent } from "./_agent.ts";

describe("HTTP status, events and routing", () => {
  let agent: RunningAgent;

  before(async () => {
    agent = await startTestAgent();
  });

  after(async () => {
    await agent.stop();
  });

  it("`GET /v1/status/leader` is a JSON string `ip:port` and `/peers` lists it", async () => {
    const leader = await call(agent, "/v1/status/leader");
    assert.equal(leader.status, 200);
    assert.match(leader.headers.get("Content-Type") ?? "", /^application\/json/);
    assert.equal(typeof leader.json, "string");
    assert.match(leader.json, /^\d+\.\d+\.\d+\.\d+:\d+$/);
    assert.equal(leader.json, "127.0.0.1:8300");
    const peers = await call(agent, "/v1/status/peers");
    assert.deepEqual(peers.json, [leader.json]);
  });

  it("`PUT /v1/event/fire/:name` returns the event with Consul's fields", async () => {
    const answer = await put(agent, "/v1/event/fire/deploy?service=web&tag=v1", "v1.2.3");
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(Object.keys(answer.json).sort(), [
      "ID",
      "LTime",
      "Name",
      "NodeFilter",
      "Payload",
      "ServiceFilter",
      "TagFilter",
      "Version",
    ]);
    assert.equal(answer.json.Name, "deploy");
    assert.equal(answer.json.Payload, btoa("v1.2.3"));
    assert.equal(answer.json.ServiceFilter, "web");
    assert.equal(answer.json.TagFilter, "v1");
    assert.equal(answer.json.NodeFilter, "");

    const empty = await put(agent, "/v1/event/fire/no-payload");
    assert.equal(empty.json.Payload, null);
    assert.ok(empty.json.LTime > answer.json.LTime);
  });

  it("`PUT /v1/event/fire/_name` is a 400: names starting with _ are reserved", async () => {
    const answer = await put(agent, "/v1/event/fire/_internal");
    assert.equal(answer.status, 400);
    assert.match(answer.headers.get("Content-Type") ?? "", /^text\/plain/);
    assert.ok(answer.text.length > 0);
    const listed = (await call(agent, "/v1/event/list")).json;
    assert.equal(listed.some((event: { Name: string }) => event.Name === "_internal"), false);
  });

  it("`GET /v1/event/list` lists events oldest first and filters by `?name`", async () => {
    await put(agent, "/v1/event/fire/list-a");
    await put(agent, "/v1/event/fire/list-b");
    const all = await call(agent, "/v1/event/list");
    assert.ok(all.index !== undefined && all.index >= 1);
    const names = all.json.map((event: { Name: string }) => event.Name);
    assert.ok(names.indexOf("list-a") < names.indexOf("list-b"));
    const onlyA = (await call(agent, "/v1/event/list?name=list-a")).json;
    assert.deepEqual(onlyA.map((event: { Name: string }) => event.Name), ["list-a"]);
  });

  it("a blocking `GET /v1/event/list?index` wakes when an event fires", async () => {
    const first = await call(agent, "/v1/event/list?name=wake");
    const startedMs = nowMs();
    const query = call(agent, `/v1/event/list?name=wake&index=${first.index}&wait=10s`);
    await sleep(100);
    await put(agent, "/v1/event/fire/wake", "now");
    const answer = await query;
    assert.ok(nowMs() - startedMs < 2_000);
    assert.ok(answer.index! > first.index!);
    assert.deepEqual(answer.json.map((event: { Name: string }) => event.Name), ["wake"]);
  });

  it("an unknown endpoint is a 404 saying so", async () => {
    for (const path of ["/v1/nope", "/v1/kvs/foo", "/v1/agent/nothing"]) {
      const answer = await call(agent, path);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.text, "Invalid URL path: not a recognized HTTP API endpoint");
    }
    const outside = await call(agent, "/v2/kv/foo");
    assert.equal(outside.status, 404);
    assert.match(outside.text, /ensure the path starts with '\/v1\/'/);
  });

  it("a wrong method is a 405 `method X not allowed` with `Allow: OPTIONS,...`", async () => {
    const cases: [string, string, string][] = [
      ["POST", "/v1/kv/foo", "OPTIONS,GET,PUT,DELETE"],
      ["DELETE", "/v1/status/leader", "OPTIONS,GET"],
      ["GET", "/v1/session/create", "OPTIONS,PUT"],
      ["PUT", "/v1/catalog/nodes", "OPTIONS,GET"],
      ["GET", "/v1/agent/check/update/some-check", "OPTIONS,PUT"],
      ["GET", "/v1/agent/check/register", "OPTIONS,PUT"],
      ["POST", "/v1/health/service/web", "OPTIONS,GET"],
    ];
    for (const [method, path, allow] of cases) {
      const answer = await call(agent, path, { method });
      assert.equal(answer.status, 405, `${method} ${path}`);
      assert.equal(answer.headers.get("Allow"), allow, `${method} ${path}`);
      assert.equal(answer.text, `method ${method} not allowed`);
    }
  });

  it("`OPTIONS` is a 200 with the path's methods in `Allow`", async () => {
    const kv = await call(agent, "/v1/kv/anything", { method: "OPTIONS" });
    assert.equal(kv.status, 200);
    assert.equal(kv.text, "");
    assert.equal(kv.headers.get("Allow"), "OPTIONS,GET,PUT,DELETE");
    const register = await call(agent, "/v1/agent/service/register", { method: "OPTIONS" });
    assert.equal(register.headers.get("Allow"), "OPTIONS,PUT");
  });

  it("`?pretty` indents JSON; without it JSON is compact", async () => {
    await put(agent, "/v1/kv/pretty/key", "v");
    const compact = await call(agent, "/v1/kv/pretty/key");
    assert.equal(compact.text.includes("\n"), false);
    for (const query of ["pretty", "pretty=", "pretty=1"]) {
      const pretty = await call(agent, `/v1/kv/pretty/key?${query}`);
      assert.ok(pretty.text.includes("\n    "), `?${query}: ${pretty.text}`);
      assert.deepEqual(pretty.json, compact.json);
    }
    const services = await call(agent, "/v1/catalog/nodes?pretty");
    assert.ok(services.text.includes("\n"));
  });

  it("`?dc=` another datacenter is a 500 `No path to datacenter`; `?dc=dc1` works", async () => {
    for (
      const path of ["/v1/kv/foo?dc=dc2", "/v1/catalog/nodes?dc=other", "/v1/health/state/any?dc=x"]
    ) {
      const answer = await call(agent, path);
      assert.equal(answer.status, 500, path);
      assert.equal(answer.text, "No path to datacenter");
    }
    assert.equal((await call(agent, "/v1/catalog/nodes?dc=dc1")).status, 200);
  });

  it("errors other than JSON 409s are plain text, not JSON", async () => {
    const answer = await call(agent, "/v1/kv/foo?dc=elsewhere");
    assert.match(answer.headers.get("Content-Type") ?? "", /^text\/plain/);
    assert.equal(answer.json, undefined);
  });
});
