// Goal: the catalog keeps Consul's registration rules (`agent/consul/state/catalog.go`):
// node/service/check upserts, checks bound to known services only, deregistration cascades
// (a service takes its checks, a node takes everything and its sessions), and the health
// queries (`/health/service` with `passing` and `tag`, `/health/state`). Method: a `StateStore`
// driven through `apply()`; answers are read back with the query API, and a failed command is
// compared with the store's tables before it to prove it left no trace.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { checkInput, describeStore, Harness, nodeInput, ok, serviceInput } from "./_harness.ts";

describe("registration", () => {
  test("`StateStore.apply()` registers a node, a service and its checks", () => {
    const h = new Harness();
    const at = h.nextIndex;
    ok(h.register("n1", {
      service: serviceInput("web-1", { service: "web", tags: ["v1"], port: 80 }),
      checks: [
        checkInput("serfHealth", "passing"),
        checkInput("web-http", "passing", { serviceId: "web-1" }),
      ],
    }));
    const { node, services } = h.store.nodeServices("n1").value;
    assert.equal(node?.address, "10.0.0.1");
    assert.equal(node?.createIndex, at);
    assert.deepEqual(services.map((service) => [service.id, service.service, service.port]), [
      ["web-1", "web", 80],
    ]);
    const checks = h.store.nodeChecks("n1").value;
    assert.deepEqual(checks.map((check) => check.checkId), ["serfHealth", "web-http"]);
    const serviceCheck = checks[1];
    assert.equal(serviceCheck.serviceName, "web");
    assert.deepEqual(serviceCheck.serviceTags, ["v1"]);
    assert.equal(h.store.nodes().value.length, 1);
    assert.deepEqual([...h.store.services().value], [["web", ["v1"]]]);
  });

  test("`StateStore.apply()` fails a check for an unknown service and leaves no trace", () => {
    const h = new Harness();
    ok(h.register("n1"));
    const before = describeStore(h.store);
    const result = h.register("n2", {
      service: serviceInput("api"),
      checks: [checkInput("c", "passing", { serviceId: "nope" })],
    });
    assert.deepEqual(result, { ok: false, error: "Missing service registration", status: 500 });
    // The node and the service of the failed command must not be half-registered.
    assert.equal(h.store.node("n2"), undefined);
    assert.deepEqual(describeStore(h.store), before);
  });

  test("`StateStore.apply()` fails a service op on an unknown node inside a txn", () => {
    const h = new Harness();
    const outcome = h.txn([{
      kind: "service",
      verb: "set",
      node: "ghost",
      service: serviceInput("web"),
      index: 0,
    }]);
    assert.deepEqual(outcome, {
      ok: false,
      errors: [{ opIndex: 0, what: 'node "ghost" doesn\'t exist' }],
    });
    assert.deepEqual(h.store.serviceNodes("web", []).value, []);
  });

  test("`StateStore.apply()` fails a check op on an unknown node inside a txn", () => {
    const h = new Harness();
    const outcome = h.txn([{
      kind: "check",
      verb: "set",
      node: "ghost",
      check: checkInput("c", "passing"),
      index: 0,
    }]);
    assert.deepEqual(outcome, {
      ok: false,
      errors: [{ opIndex: 0, what: "Missing node registration" }],
    });
  });

  test("`StateStore.apply()` with skipNodeUpdate keeps the stored node", () => {
    const h = new Harness();
    ok(h.register("n1", { node: { address: "10.0.0.1" } }));
    ok(h.run({
      type: "register",
      node: nodeInput("n1", { address: "10.9.9.9" }),
      skipNodeUpdate: true,
      service: serviceInput("web"),
      checks: [],
    }));
    assert.equal(h.store.node("n1")?.address, "10.0.0.1");
    assert.equal(h.store.serviceNodes("web", []).value.length, 1);
  });

  test("`StateStore.apply()` updates a check's service name and tags when its service changes", () => {
    const h = new Harness();
    ok(h.register("n1", {
      service: serviceInput("web-1", { service: "web", tags: ["a"] }),
      checks: [checkInput("http", "passing", { serviceId: "web-1" })],
    }));
    ok(h.register("n1", { service: serviceInput("web-1", { service: "web", tags: ["b"] }) }));
    assert.deepEqual(h.store.check("n1", "http")?.serviceTags, ["b"]);
  });
});

describe("deregistration", () => {
  function fixture(): Harness {
    const h = new Harness();
    ok(h.register("n1", {
      service: serviceInput("web-1", { service: "web" }),
      checks: [
        checkInput("serfHealth", "passing"),
        checkInput("web-http", "passing", { serviceId: "web-1" }),
      ],
    }));
    ok(h.register("n1", {
      service: serviceInput("db-1", { service: "db" }),
      checks: [checkInput("db-tcp", "passing", { serviceId: "db-1" })],
    }));
    ok(h.register("n2", { service: serviceInput("web-2", { service: "web" }) }));
    return h;
  }

  test("`StateStore.apply()` deregisters one check", () => {
    const h = fixture();
    ok(h.deregister("n1", { checkId: "web-http" }));
    assert.deepEqual(h.store.nodeChecks("n1").value.map((check) => check.checkId), [
      "db-tcp",
      "serfHealth",
    ]);
    assert.equal(h.store.serviceNodes("web", []).value.length, 2);
  });

  test("`StateStore.apply()` deregisters a service together with its checks", () => {
    const h = fixture();
    ok(h.deregister("n1", { serviceId: "web-1" }));
    assert.deepEqual(h.store.nodeServices("n1").value.services.map((service) => service.id), [
      "db-1",
    ]);
    assert.deepEqual(h.store.nodeChecks("n1").value.map((check) => check.checkId), [
      "db-tcp",
      "serfHealth",
    ]);
    assert.deepEqual(h.store.serviceNodes("web", []).value.map((entry) => entry.node.node), [
      "n2",
    ]);
  });

  test("`StateStore.apply()` deregisters a node with its services, checks and sessions", () => {
    const h = fixture();
    ok(h.createSession("s1", "n1", { behavior: "delete" }));
    ok(h.createSession("s2", "n2"));
    ok(h.lock("leader", "s1"));
    ok(h.deregister("n1"));
    assert.equal(h.store.node("n1"), undefined);
    assert.deepEqual(h.store.nodeServices("n1").value.services, []);
    assert.deepEqual(h.store.nodeChecks("n1").value, []);
    assert.deepEqual(h.store.serviceNodes("db", []).value, []);
    assert.deepEqual(h.store.sessionList().value.map((session) => session.id), ["s2"]);
    assert.equal(h.get("leader"), undefined, "the delete-behavior session took its key");
    assert.equal(h.store.nodes().value.length, 1);
  });

  test("`StateStore.apply()` deregistering an unknown node, service or check is fine", () => {
    const h = fixture();
    const before = describeStore(h.store);
    ok(h.deregister("ghost"));
    ok(h.deregister("n1", { serviceId: "nope" }));
    ok(h.deregister("n1", { checkId: "nope" }));
    assert.deepEqual(describeStore(h.store), before);
  });
});

describe("health queries", () => {
  function fixture(): Harness {
    const h = new Harness();
    ok(h.register("n1", {
      service: serviceInput("web-1", { service: "web", tags: ["Primary", "v1"] }),
      checks: [
        checkInput("serfHealth", "passing"),
        checkInput("web-1-http", "passing", { serviceId: "web-1" }),
      ],
    }));
    ok(h.register("n2", {
      service: serviceInput("web-2", { service: "web", tags: ["v1"] }),
      checks: [
        checkInput("serfHealth", "passing"),
        checkInput("web-2-http", "warning", { serviceId: "web-2" }),
      ],
    }));
    ok(h.register("n3", {
      service: serviceInput("web-3", { service: "web", tags: ["v2"] }),
      checks: [checkInput("web-3-http", "critical", { serviceId: "web-3" })],
    }));
    return h;
  }

  function nodesOf(entries: { node: { node: string } }[]): string[] {
    return entries.map((entry) => entry.node.node);
  }

  test("`StateStore.serviceHealth()` returns every instance with node and service checks", () => {
    const h = fixture();
    const entries = h.store.serviceHealth("web", { tags: [], passingOnly: false }).value;
    assert.deepEqual(nodesOf(entries), ["n1", "n2", "n3"]);
    assert.deepEqual(entries[0].checks.map((check) => check.checkId), ["serfHealth", "web-1-http"]);
  });

  test("`StateStore.serviceHealth()` with passingOnly drops warning and critical instances", () => {
    const h = fixture();
    const entries = h.store.serviceHealth("web", { tags: [], passingOnly: true }).value;
    assert.deepEqual(nodesOf(entries), ["n1"]);
  });

  test("`StateStore.serviceHealth()` filters tags case-insensitively, every tag required", () => {
    const h = fixture();
    const health = (tags: string[]) =>
      nodesOf(h.store.serviceHealth("web", { tags, passingOnly: false }).value);
    assert.deepEqual(health(["v1"]), ["n1", "n2"]);
    assert.deepEqual(health(["PRIMARY"]), ["n1"]);
    assert.deepEqual(health(["primary", "V1"]), ["n1"]);
    assert.deepEqual(health(["primary", "v2"]), []);
    assert.deepEqual(nodesOf(h.store.serviceNodes("web", ["V2"]).value), ["n3"]);
  });

  test("`StateStore.serviceHealth()` counts a node check against every service on the node", () => {
    const h = fixture();
    ok(h.register("n1", { service: serviceInput("db-1", { service: "db" }) }));
    const passing = () => ({
      web: nodesOf(h.store.serviceHealth("web", { tags: [], passingOnly: true }).value),
      db: nodesOf(h.store.serviceHealth("db", { tags: [], passingOnly: true }).value),
    });
    assert.deepEqual(passing(), { web: ["n1"], db: ["n1"] });
    const webIndex = h.store.serviceHealth("web", { tags: [], passingOnly: true }).index;
    const dbIndex = h.store.serviceHealth("db", { tags: [], passingOnly: true }).index;
    ok(h.register("n1", { checks: [checkInput("serfHealth", "critical")] }));
    assert.deepEqual(passing(), { web: [], db: [] });
    // Both services' health answers changed, so both per-service indexes moved.
    assert.ok(h.store.serviceHealth("web", { tags: [], passingOnly: true }).index > webIndex);
    assert.ok(h.store.serviceHealth("db", { tags: [], passingOnly: true }).index > dbIndex);
  });

  test("`StateStore.serviceHealth()` does not mix in another service's checks", () => {
    const h = fixture();
    ok(h.register("n1", {
      service: serviceInput("db-1", { service: "db" }),
      checks: [checkInput("db-check", "critical", { serviceId: "db-1" })],
    }));
    const web = h.store.serviceHealth("web", { tags: [], passingOnly: true }).value;
    assert.deepEqual(nodesOf(web), ["n1"]);
    assert.ok(web[0].checks.every((check) => check.checkId !== "db-check"));
  });

  test("`StateStore.checksInState()` filters by status; `any` returns all", () => {
    const h = fixture();
    const ids = (state: Parameters<typeof h.store.checksInState>[0]) =>
      h.store.checksInState(state).value.map((check) => `${check.node}/${check.checkId}`);
    assert.deepEqual(ids("passing"), ["n1/serfHealth", "n1/web-1-http", "n2/serfHealth"]);
    assert.deepEqual(ids("warning"), ["n2/web-2-http"]);
    assert.deepEqual(ids("critical"), ["n3/web-3-http"]);
    assert.equal(ids("any").length, 5);
  });

  test("`StateStore.serviceChecks()` returns the checks bound to instances of a service", () => {
    const h = fixture();
    assert.deepEqual(h.store.serviceChecks("web").value.map((check) => check.checkId), [
      "web-1-http",
      "web-2-http",
      "web-3-http",
    ]);
  });

  test("`StateStore.services()` unions the tags of every instance, sorted", () => {
    const h = fixture();
    assert.deepEqual([...h.store.services().value], [["web", ["Primary", "v1", "v2"]]]);
  });
});
