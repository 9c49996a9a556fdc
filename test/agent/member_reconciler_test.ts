// Goal: the leader brings the catalog in line with gossip as Consul's reconcileMember does: a
// failed member's serfHealth turns critical, a member alive again turns it passing, a member
// that left is deregistered (never ourselves), and nothing else is written: unknown nodes,
// plain Serf agents, other datacenters and members already in line are left alone. Method:
// member lists and a catalog view as plain objects, the plan compared as data.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type CatalogView,
  planMemberReconcile,
  reconcileProposalsMax,
  serfHealthCheck,
} from "../../src/agent/member_reconciler.ts";
import type { HealthStatus } from "../../src/core/state/types.ts";

const options = { datacenter: "dc1", selfName: "server-1" };

function member(name: string, status: number, tags: Record<string, string> = {}) {
  return {
    name,
    addr: "10.0.0.7",
    port: 8301,
    status,
    tags: { role: "node", dc: "dc1", id: `id-${name}`, ...tags },
  };
}

function catalog(nodes: Record<string, HealthStatus | undefined>): CatalogView {
  return {
    serfHealth: (node) => node in nodes ? { status: nodes[node] } : undefined,
  };
}

describe("planMemberReconcile()", () => {
  it("marks failed members critical and alive ones passing, skipping the node update", () => {
    const plan = planMemberReconcile(
      [member("dead", 4), member("back", 1, { role: "consul" })],
      catalog({ dead: "passing", back: "critical" }),
      options,
    );
    assert.deepEqual(plan, [
      {
        type: "register",
        node: {
          id: "id-dead",
          node: "dead",
          address: "10.0.0.7",
          datacenter: "dc1",
          taggedAddresses: {},
          meta: {},
        },
        skipNodeUpdate: true,
        service: undefined,
        checks: [serfHealthCheck("critical")],
      },
      {
        type: "register",
        node: {
          id: "id-back",
          node: "back",
          address: "10.0.0.7",
          datacenter: "dc1",
          taggedAddresses: {},
          meta: {},
        },
        skipNodeUpdate: true,
        service: undefined,
        checks: [serfHealthCheck("passing")],
      },
    ]);
    assert.equal(serfHealthCheck("critical").output, "Agent not live or unreachable");
  });

  it("deregisters members that left, but never this server", () => {
    const plan = planMemberReconcile(
      [member("gone", 3), member("server-1", 3, { role: "consul" })],
      catalog({ gone: "passing", "server-1": "passing" }),
      options,
    );
    assert.deepEqual(plan, [{ type: "deregister", node: "gone", serviceId: "", checkId: "" }]);
  });

  it("leaves alone what is in line, unknown nodes, Serf agents and other datacenters", () => {
    const members = [
      member("fine", 1),
      member("down", 4),
      member("leaving", 2),
      member("unregistered", 4),
      { ...member("serf", 4), tags: {} },
      member("far", 4, { dc: "dc2" }),
    ];
    const view = catalog({
      fine: "passing",
      down: "critical",
      leaving: "passing",
      serf: "passing",
      far: "passing",
    });
    assert.deepEqual(planMemberReconcile(members, view, options), []);
  });

  it("adds serfHealth to a registered node that has none, and bounds one round", () => {
    const plan = planMemberReconcile([member("bare", 1)], catalog({ bare: undefined }), options);
    assert.equal(plan.length, 1);
    const many = Array.from({ length: reconcileProposalsMax + 5 }, (_, at) => member(`n${at}`, 4));
    const nodes = Object.fromEntries(many.map((m) => [m.name, "passing" as const]));
    assert.equal(planMemberReconcile(many, catalog(nodes), options).length, reconcileProposalsMax);
  });
});
