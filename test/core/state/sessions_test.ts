// Goal: sessions keep Consul's rules (`agent/consul/state/session.go`, reference §4): creation
// needs a known node and known, non-critical checks; a check turning critical (or going away)
// invalidates the sessions bound to it; invalidation releases or deletes held keys as the
// behavior says and starts lock-delay; destroying an unknown session is fine. Method: a
// `StateStore` driven through `apply()`; effects are read back through sessions and KV queries.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { checkInput, describeStore, Harness, ok, serviceInput, text } from "./_harness.ts";

function fixture(): Harness {
  const h = new Harness();
  ok(h.register("n1", {
    service: serviceInput("web-1", { service: "web" }),
    checks: [
      checkInput("serfHealth", "passing"),
      checkInput("web-http", "passing", { serviceId: "web-1" }),
    ],
  }));
  ok(h.register("n2", { checks: [checkInput("serfHealth", "passing")] }));
  return h;
}

describe("session creation", () => {
  test("`StateStore.apply()` creates a session and `session()` returns it", () => {
    const h = fixture();
    const at = h.nextIndex;
    assert.equal(
      ok(h.createSession("s1", "n1", { nodeChecks: ["serfHealth"], name: "lock" })),
      "s1",
    );
    const [session] = h.store.session("s1").value;
    assert.equal(session.name, "lock");
    assert.equal(session.createIndex, at);
    assert.equal(session.modifyIndex, at);
    assert.equal(h.store.session("s1").index, at);
    assert.deepEqual(h.store.session("nope").value, []);
  });

  test("`StateStore.apply()` refuses a session on an unknown node", () => {
    const h = fixture();
    const result = h.createSession("s1", "ghost");
    assert.deepEqual(result, { ok: false, error: "Missing node registration", status: 500 });
    assert.deepEqual(h.store.sessionList().value, []);
  });

  test("`StateStore.apply()` refuses a session whose check is missing", () => {
    const h = fixture();
    const result = h.createSession("s1", "n1", { nodeChecks: ["serfHealth", "nope"] });
    assert.deepEqual(result, {
      ok: false,
      error: "Missing check 'nope' registration",
      status: 500,
    });
    // A check of another node does not count.
    assert.equal(
      h.createSession("s2", "n2", { serviceChecks: [{ id: "web-http", namespace: "" }] }).ok,
      false,
    );
    assert.deepEqual(h.store.sessionList().value, []);
  });

  test("`StateStore.apply()` refuses a session whose check is critical", () => {
    const h = fixture();
    ok(h.register("n1", { checks: [checkInput("serfHealth", "critical")] }));
    const result = h.createSession("s1", "n1", { nodeChecks: ["serfHealth"] });
    assert.deepEqual(result, {
      ok: false,
      error: "Check 'serfHealth' is in critical state",
      status: 500,
    });
  });

  test("`StateStore.apply()` accepts a session on a warning check", () => {
    const h = fixture();
    ok(h.register("n1", { checks: [checkInput("serfHealth", "warning")] }));
    assert.equal(h.createSession("s1", "n1", { nodeChecks: ["serfHealth"] }).ok, true);
  });

  test("`StateStore.apply()` refuses a second session with the same id", () => {
    const h = fixture();
    ok(h.createSession("s1", "n1"));
    const before = describeStore(h.store);
    assert.equal(h.createSession("s1", "n2").ok, false);
    assert.deepEqual(describeStore(h.store), before);
  });
});

describe("session invalidation", () => {
  test("`StateStore.apply()` invalidates sessions bound to a check that turns critical", () => {
    const h = fixture();
    ok(h.createSession("bound", "n1", { nodeChecks: ["serfHealth"] }));
    ok(h.createSession("svc", "n1", { serviceChecks: [{ id: "web-http", namespace: "" }] }));
    ok(h.createSession("free", "n1"));
    ok(h.createSession("other-node", "n2", { nodeChecks: ["serfHealth"] }));
    ok(h.lock("leader", "bound"));

    ok(h.register("n1", { checks: [checkInput("serfHealth", "critical")] }));
    const ids = () => h.store.sessionList().value.map((session) => session.id);
    assert.deepEqual(ids(), ["free", "other-node", "svc"]);
    assert.equal(h.get("leader")?.session, "", "its lock was released");

    ok(h.register("n1", {
      checks: [checkInput("web-http", "critical", { serviceId: "web-1" })],
    }));
    assert.deepEqual(ids(), ["free", "other-node"]);
  });

  test("`StateStore.apply()` invalidates sessions bound to a deregistered check", () => {
    const h = fixture();
    ok(h.createSession("svc", "n1", { serviceChecks: [{ id: "web-http", namespace: "" }] }));
    ok(h.deregister("n1", { serviceId: "web-1" }));
    assert.deepEqual(h.store.sessionList().value, []);
  });

  test("`StateStore.apply()` release behavior clears Session on held keys and keeps them", () => {
    const h = fixture();
    ok(h.createSession("s1", "n1", { behavior: "release" }));
    ok(h.lock("a", "s1", "va"));
    ok(h.lock("b", "s1", "vb"));
    ok(h.set("c", "unheld"));
    const at = h.nextIndex;
    ok(h.destroySession("s1"));
    for (const key of ["a", "b"]) {
      const record = h.get(key);
      assert.equal(record?.session, "");
      assert.equal(record?.lockIndex, 1);
      assert.equal(record?.modifyIndex, at);
    }
    assert.equal(text(h.get("a")), "va");
    assert.ok((h.get("c")?.modifyIndex as number) < at, "an unheld key is untouched");
  });

  test("`StateStore.apply()` delete behavior removes held keys and leaves tombstones", () => {
    const h = fixture();
    ok(h.createSession("s1", "n1", { behavior: "delete" }));
    ok(h.lock("locks/a", "s1"));
    ok(h.set("locks/b", "unheld"));
    const at = h.nextIndex;
    ok(h.destroySession("s1"));
    assert.equal(h.get("locks/a"), undefined);
    assert.equal(text(h.get("locks/b")), "unheld");
    assert.equal(h.store.kvList("locks/").index, at);
  });

  test("`StateStore.apply()` starts lock-delay on keys of an invalidated session", () => {
    const h = fixture();
    ok(h.createSession("s1", "n1", { nodeChecks: ["serfHealth"], lockDelayMs: 5_000 }));
    ok(h.createSession("s2", "n2"));
    ok(h.lock("leader", "s1"));
    const invalidatedAtMs = h.nowMs;
    ok(h.register("n1", { checks: [checkInput("serfHealth", "critical")] }));
    assert.equal(h.store.lockDelayUntilMs("leader"), invalidatedAtMs + 5_000);
    h.nowMs += 4_999;
    assert.equal(ok(h.lock("leader", "s2")), false);
    h.nowMs += 1;
    assert.equal(ok(h.lock("leader", "s2")), true);
  });

  test("`StateStore.apply()` destroys an unknown session without error or index change", () => {
    const h = fixture();
    const before = describeStore(h.store);
    assert.deepEqual(h.destroySession("never"), { ok: true, value: true });
    assert.deepEqual(describeStore(h.store), before);
  });

  test("`StateStore.nodeSessions()` lists the sessions of one node only", () => {
    const h = fixture();
    ok(h.createSession("b", "n1"));
    ok(h.createSession("a", "n1"));
    ok(h.createSession("c", "n2"));
    assert.deepEqual(h.store.nodeSessions("n1").value.map((session) => session.id), ["a", "b"]);
    assert.deepEqual(h.store.nodeSessions("n2").value.map((session) => session.id), ["c"]);
    assert.deepEqual(h.store.nodeSessions("ghost").value, []);
    assert.equal(h.store.nodeSessions("n1").index, h.store.indexOf("sessions"));
  });
});
