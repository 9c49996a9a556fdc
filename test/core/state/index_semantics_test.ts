// Goal: the indexes that blocking queries compare against behave as Consul's (reference §0.2,
// §2): at least 1 even on an empty store, never backwards, table-granular with a per-service
// index for `/health/service`, and unchanged by a registration identical to the stored one so
// that anti-entropy does not wake every watcher. Method: a `StateStore` driven through
// `apply()`; each query's `index` is read before and after a write.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { StateStore } from "../../../src/core/state/state_store.ts";
import {
  checkInput,
  describeStore,
  Harness,
  nodeInput,
  ok,
  type Proposal,
  serviceInput,
} from "./_harness.ts";

function nodeRegistration(name: string): Proposal {
  return {
    type: "register",
    node: nodeInput(name),
    skipNodeUpdate: false,
    service: undefined,
    checks: [],
  };
}

describe("index floor", () => {
  test("`StateStore` queries answer an index of at least 1 on an empty store", () => {
    const store = new StateStore();
    const results = [
      store.kvGet("k"),
      store.kvList(""),
      store.kvList("p/"),
      store.kvKeys("", "/"),
      store.nodes(),
      store.nodeServices("n"),
      store.services(),
      store.serviceNodes("web", []),
      store.serviceHealth("web", { tags: [], passingOnly: true }),
      store.nodeChecks("n"),
      store.serviceChecks("web"),
      store.checksInState("any"),
      store.session("s"),
      store.sessionList(),
      store.nodeSessions("n"),
    ];
    for (const result of results) assert.ok(result.index >= 1, JSON.stringify(result));
    assert.equal(store.lastIndex, 0);
    assert.equal(store.indexOf("kvs"), 0);
  });

  test("`StateStore.apply()` refuses an index that is not above the last applied one", () => {
    const h = new Harness();
    ok(h.set("a", "1"));
    const command = { type: "tombstoneReap" as const, atMs: 0, throughIndex: 0 };
    assert.throws(() => h.store.apply(h.store.lastIndex, command), /Cannot apply index/);
    assert.throws(() => h.store.apply(0, command), /Cannot apply index/);
    assert.equal(h.store.lastIndex, 1);
  });

  test("`StateStore.apply()` rolls back and rethrows when a command throws midway", () => {
    const h = new Harness();
    ok(h.register("n0"));
    const before = describeStore(h.store);
    // A malformed command (no checks list) throws after the node was already upserted.
    const malformed = { ...nodeRegistration("n1"), checks: undefined } as unknown as Proposal;
    assert.throws(() => h.run(malformed), TypeError);
    assert.deepEqual(describeStore(h.store), before);
    // The write was closed: the store takes the next command.
    ok(h.register("n1"));
    assert.equal(h.store.nodes().value.length, 2);
  });

  test("`StateStore.apply()` consumes the index of a failed command", () => {
    const h = new Harness();
    assert.equal(h.lock("k", "no-such-session").ok, false);
    assert.equal(h.store.lastIndex, 1);
    assert.equal(h.store.indexOf("kvs"), 0);
  });
});

describe("table and service indexes", () => {
  test("`StateStore.apply()` bumps only the tables a write touches", () => {
    const h = new Harness();
    ok(h.register("n1"));
    const nodes = h.store.nodes().index;
    ok(h.set("k", "v"));
    assert.equal(h.store.nodes().index, nodes, "a KV write leaves the nodes index");
    assert.equal(h.store.kvList("").index, h.store.lastIndex);
    const kv = h.store.kvList("").index;
    ok(h.register("n2"));
    assert.equal(h.store.kvList("").index, kv, "a catalog write leaves the KV index");
    assert.equal(h.store.nodes().index, h.store.lastIndex);
    ok(h.createSession("s1", "n1"));
    assert.equal(h.store.sessionList().index, h.store.lastIndex);
    assert.equal(h.store.nodes().index, h.store.lastIndex - 1);
  });

  test("`StateStore.serviceHealth()` index moves for its own service, not for another", () => {
    const h = new Harness();
    ok(h.register("n1", { service: serviceInput("web") }));
    ok(h.register("n2", { service: serviceInput("db") }));
    const web = h.store.serviceHealth("web", { tags: [], passingOnly: false });
    assert.deepEqual(web.topics, ["service:web"]);
    const webIndex = web.index;
    assert.equal(webIndex, 1, "web was registered at index 1");
    ok(h.register("n2", { service: serviceInput("db", { port: 5432 }) }));
    ok(h.register("n2", { checks: [checkInput("db-check", "passing", { serviceId: "db" })] }));
    assert.equal(h.store.serviceHealth("web", { tags: [], passingOnly: false }).index, webIndex);
    assert.equal(h.store.serviceNodes("web", []).index, webIndex);
    assert.equal(h.store.serviceHealth("db", { tags: [], passingOnly: false }).index, 4);
    assert.equal(h.store.services().index, 3, "the services table moved with db");
  });

  test("`StateStore.serviceHealth()` of an unknown service answers the services table index", () => {
    const h = new Harness();
    ok(h.register("n1", { service: serviceInput("web") }));
    ok(h.set("k", "v"));
    assert.equal(h.store.serviceHealth("nope", { tags: [], passingOnly: false }).index, 1);
  });

  test("`StateStore.serviceHealth()` index moves when the node's address changes", () => {
    const h = new Harness();
    ok(h.register("n1", { service: serviceInput("web") }));
    const before = h.store.serviceHealth("web", { tags: [], passingOnly: false }).index;
    ok(h.register("n1", { node: { address: "10.1.1.1" } }));
    assert.ok(h.store.serviceHealth("web", { tags: [], passingOnly: false }).index > before);
  });

  test("`StateStore.serviceHealth()` index moves when the service is deregistered", () => {
    const h = new Harness();
    ok(h.register("n1", { service: serviceInput("web") }));
    ok(h.set("k", "v"));
    const at = h.nextIndex;
    ok(h.deregister("n1", { serviceId: "web" }));
    assert.equal(h.store.serviceHealth("web", { tags: [], passingOnly: false }).index, at);
  });

  test("`StateStore.apply()` renaming a service moves both names' indexes", () => {
    const h = new Harness();
    ok(h.register("n1", { service: serviceInput("s-1", { service: "old" }) }));
    ok(h.set("k", "v"));
    const at = h.nextIndex;
    ok(h.register("n1", { service: serviceInput("s-1", { service: "new" }) }));
    assert.equal(h.store.serviceNodes("old", []).index, at);
    assert.equal(h.store.serviceNodes("new", []).index, at);
    assert.deepEqual(h.store.serviceNodes("old", []).value, []);
  });
});

describe("anti-entropy", () => {
  function registerAll(h: Harness): void {
    ok(h.register("n1", {
      node: { taggedAddresses: { lan: "10.0.0.1" }, meta: { rack: "r1" } },
      service: serviceInput("web-1", {
        service: "web",
        tags: ["a", "b"],
        meta: { version: "1" },
        taggedAddresses: { lan: { address: "10.0.0.1", port: 80 } },
      }),
      checks: [
        checkInput("serfHealth", "passing"),
        checkInput("http", "passing", {
          serviceId: "web-1",
          definition: { http: "http://localhost/health", intervalMs: 10_000 },
        }),
      ],
    }));
  }

  test("`StateStore.apply()` of a registration identical to the stored one changes no index", () => {
    const h = new Harness();
    registerAll(h);
    const indexes = () => ({
      nodes: h.store.nodes().index,
      services: h.store.services().index,
      web: h.store.serviceHealth("web", { tags: [], passingOnly: false }).index,
      checks: h.store.checksInState("any").index,
      node: h.store.indexOf("node:n1"),
      records: h.store.serviceHealth("web", { tags: [], passingOnly: false }).value,
    });
    const before = indexes();
    let woken = 0;
    h.store.watches.watch(["nodes", "services", "checks", "service:web", "node:n1"], [], () => {
      woken += 1;
    });
    registerAll(h);
    registerAll(h);
    assert.deepEqual(indexes(), before);
    assert.equal(woken, 0, "no watcher woke");
    assert.equal(h.store.lastIndex, 3, "the log still advanced");
  });

  test("`StateStore.apply()` of a registration with one changed field moves the indexes", () => {
    const h = new Harness();
    registerAll(h);
    const before = h.store.serviceHealth("web", { tags: [], passingOnly: false }).index;
    ok(h.register("n1", {
      checks: [checkInput("http", "warning", {
        serviceId: "web-1",
        definition: { http: "http://localhost/health", intervalMs: 10_000 },
      })],
    }));
    assert.ok(h.store.serviceHealth("web", { tags: [], passingOnly: false }).index > before);
  });
});

describe("monotonic indexes", () => {
  test("`StateStore` indexes never go backwards across a mixed history", () => {
    const h = new Harness();
    const queries = () => [
      h.store.kvGet("a/x").index,
      h.store.kvList("a/").index,
      h.store.kvKeys("", "/").index,
      h.store.nodes().index,
      h.store.serviceHealth("web", { tags: [], passingOnly: false }).index,
      h.store.sessionList().index,
    ];
    let previous = queries();
    const steps: (() => void)[] = [
      () => ok(h.set("a/x", "1")),
      () => ok(h.register("n1", { service: serviceInput("web") })),
      () => ok(h.createSession("s1", "n1")),
      () => ok(h.lock("a/y", "s1")),
      () => ok(h.delete("a/x")),
      () => ok(h.set("b", "unrelated")),
      () => ok(h.destroySession("s1")),
      () => ok(h.deleteTree("a/")),
      () => ok(h.deregister("n1")),
      () => ok(h.set("a/x", "again")),
    ];
    for (const [step, run] of steps.entries()) {
      run();
      const next = queries();
      for (const [i, index] of next.entries()) {
        assert.ok(index >= previous[i], `step ${step}, query ${i}: ${index} < ${previous[i]}`);
      }
      previous = next;
    }
  });
});
