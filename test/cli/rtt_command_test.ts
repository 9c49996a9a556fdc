// Goal: `cairn rtt` prints Consul's estimate from two nodes' coordinates, takes the agent's own
// node when given one name, and says which node has no coordinate. Method: runCli in-process
// against the fake agent answering /v1/coordinate/nodes and /v1/agent/self from a table.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { type FakeAgent, runCairn, startFakeAgent } from "./fake_agent.ts";

let agent: FakeAgent;

before(async () => {
  agent = await startFakeAgent();
});
after(async () => {
  await agent.close();
});

function coordinate(node: string, first: number) {
  return {
    Node: node,
    Segment: "",
    Coord: { Vec: [first, 0, 0, 0, 0, 0, 0, 0], Error: 0.2, Adjustment: 0, Height: 0.0005 },
  };
}

const coordinates = [coordinate("a", 0), coordinate("b", 0.01)];

test("rtt prints the distance between two nodes' coordinates", async () => {
  const result = await runCairn(agent, ["rtt", "a", "b"], {
    "GET /v1/coordinate/nodes": { body: coordinates },
  });
  assert.deepEqual(result, {
    code: 0,
    // 10 ms apart on the plane plus both heights (0.5 ms each).
    stdout: "Estimated a <-> b rtt: 11.000 ms (using LAN coordinates)\n",
    stderr: "",
    requests: ["GET /v1/coordinate/nodes"],
  });
});

test("rtt with one node measures from the agent's own node; a missing node exits 1", async () => {
  const self = { body: { Config: { NodeName: "b" } } };
  const one = await runCairn(agent, ["rtt", "a"], {
    "GET /v1/agent/self": self,
    "GET /v1/coordinate/nodes": { body: coordinates },
  });
  assert.equal(one.code, 0);
  assert.equal(one.stdout, "Estimated a <-> b rtt: 11.000 ms (using LAN coordinates)\n");
  const missing = await runCairn(agent, ["rtt", "a", "zz"], {
    "GET /v1/coordinate/nodes": { body: coordinates },
  });
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Could not find a coordinate for node "zz"\n');
});
