// Goal: `/v1/coordinate/*` stores and serves Vivaldi coordinates with Consul's field names, refuses
// malformed ones, ignores unknown nodes, and `?near=` sorts catalog and health answers by the
// estimated round-trip time from the named node. Method: an in-process dev agent; three external
// nodes registered through the catalog; coordinates placed on a line so the expected order is
// known; everything driven through `agent.fetch`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningAgent } from "../../src/agent/agent.ts";
import { call, put, startTestAgent } from "./_agent.ts";

function coordinateAt(x: number) {
  return { Vec: [x, 0, 0, 0, 0, 0, 0, 0], Error: 0.1, Adjustment: 0, Height: 0.00001 };
}

describe("HTTP /v1/coordinate", () => {
  let agent: RunningAgent;

  before(async () => {
    agent = await startTestAgent();
    for (const [name, x] of [["near-a", 0], ["far-c", 0.09], ["mid-b", 0.03]] as const) {
      const registered = await put(agent, "/v1/catalog/register", {
        Node: name,
        Address: "10.9.0.1",
        Service: { Service: "db", Port: 5432 },
      });
      assert.equal(registered.status, 200, registered.text);
      const updated = await put(agent, "/v1/coordinate/update", {
        Node: name,
        Coord: coordinateAt(x),
      });
      assert.equal(updated.status, 200, updated.text);
    }
  });

  after(async () => {
    await agent.stop();
  });

  it("`GET /v1/coordinate/nodes` lists every stored coordinate with Consul's fields", async () => {
    const answer = await call(agent, "/v1/coordinate/nodes");
    assert.equal(answer.status, 200);
    assert.ok(answer.index! >= 1);
    const names = answer.json.map((entry: { Node: string }) => entry.Node);
    assert.deepEqual(names, ["far-c", "mid-b", "near-a"]);
    assert.deepEqual(Object.keys(answer.json[0]).sort(), ["Coord", "Node", "Segment"]);
    assert.deepEqual(Object.keys(answer.json[0].Coord).sort(), [
      "Adjustment",
      "Error",
      "Height",
      "Vec",
    ]);
  });

  it("`GET /v1/coordinate/node/:node` answers one node, 404 for a node without one", async () => {
    const one = await call(agent, "/v1/coordinate/node/mid-b");
    assert.equal(one.status, 200);
    assert.equal(one.json[0].Coord.Vec[0], 0.03);
    const none = await call(agent, "/v1/coordinate/node/nobody");
    assert.equal(none.status, 404);
  });

  it("`PUT /v1/coordinate/update` refuses a malformed coordinate and skips unknown nodes", async () => {
    const short = await put(agent, "/v1/coordinate/update", {
      Node: "near-a",
      Coord: { Vec: [1, 2], Error: 0, Adjustment: 0, Height: 0 },
    });
    assert.equal(short.status, 400);
    const unknown = await put(agent, "/v1/coordinate/update", {
      Node: "ghost",
      Coord: coordinateAt(1),
    });
    assert.equal(unknown.status, 200);
    assert.equal((await call(agent, "/v1/coordinate/node/ghost")).status, 404);
  });

  it("`?near=` sorts catalog and health answers by estimated round-trip time", async () => {
    const nodes = await call(agent, "/v1/catalog/service/db?near=near-a");
    assert.deepEqual(nodes.json.map((entry: { Node: string }) => entry.Node), [
      "near-a",
      "mid-b",
      "far-c",
    ]);
    const fromFar = await call(agent, "/v1/health/service/db?near=far-c");
    assert.deepEqual(fromFar.json.map((entry: { Node: { Node: string } }) => entry.Node.Node), [
      "far-c",
      "mid-b",
      "near-a",
    ]);
  });

  it("deregistering a node removes its coordinate", async () => {
    await put(agent, "/v1/catalog/register", { Node: "gone", Address: "10.9.0.9" });
    await put(agent, "/v1/coordinate/update", { Node: "gone", Coord: coordinateAt(0.5) });
    assert.equal((await call(agent, "/v1/coordinate/node/gone")).status, 200);
    await put(agent, "/v1/catalog/deregister", { Node: "gone" });
    assert.equal((await call(agent, "/v1/coordinate/node/gone")).status, 404);
  });

  it("`GET /v1/coordinate/datacenters` lists the local datacenter", async () => {
    const answer = await call(agent, "/v1/coordinate/datacenters");
    assert.equal(answer.status, 200);
    assert.equal(answer.json[0].Datacenter, "dc1");
    assert.equal(answer.json[0].AreaID, "WAN");
  });
});
