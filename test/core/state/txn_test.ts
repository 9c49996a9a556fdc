// Goal: transactions are all-or-nothing as Consul's `/v1/txn` (`agent/consul/state/txn.go`): a
// failing operation rolls back every earlier one (values, indexes, session links, tombstones,
// lock-delays) and names its operation index; `readTxn` changes nothing; the read and check
// verbs answer as documented. Method: a `StateStore` driven through `apply()`; a failed
// transaction is compared with the store's full description (every table and the session → key
// links) taken before it, and a watcher proves no wake-up escapes a rollback.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TxnOp } from "../../../src/core/state/commands.ts";
import {
  bytes,
  checkInput,
  describeStore,
  Harness,
  nodeInput,
  ok,
  serviceInput,
  text,
  txnKv,
} from "./_harness.ts";

function fixture(): Harness {
  const h = new Harness();
  ok(
    h.register("n1", {
      service: serviceInput("web"),
      checks: [checkInput("serfHealth", "passing")],
    }),
  );
  ok(h.createSession("s1", "n1", { lockDelayMs: 1_000 }));
  ok(h.createSession("s2", "n1", { behavior: "delete" }));
  ok(h.set("config/a", "1"));
  ok(h.set("config/b", "2"));
  ok(h.lock("locks/leader", "s1", "me"));
  return h;
}

describe("txn success", () => {
  test("`StateStore.apply()` txn applies every op at one index and returns results in order", () => {
    const h = fixture();
    const at = h.nextIndex;
    const outcome = h.txn([
      txnKv("set", "config/c", { value: bytes("3") }),
      txnKv("get", "config/a"),
      txnKv("cas", "config/b", { value: bytes("22"), index: h.get("config/b")?.modifyIndex }),
      txnKv("delete", "config/a"),
    ]);
    assert.ok(outcome.ok);
    assert.deepEqual(
      outcome.results.map((result) =>
        result.kind === "kv" ? [result.record.key, result.withValue] : result.kind
      ),
      [["config/c", false], ["config/a", true], ["config/b", false]],
    );
    assert.equal(h.get("config/c")?.modifyIndex, at);
    assert.equal(text(h.get("config/b")), "22");
    assert.equal(h.get("config/a"), undefined);
    assert.equal(h.store.kvList("config/").index, at);
  });

  test("`StateStore.apply()` txn get-tree returns every key under the prefix with values", () => {
    const h = fixture();
    const outcome = h.txn([txnKv("get-tree", "config/")]);
    assert.ok(outcome.ok);
    assert.deepEqual(
      outcome.results.map((result) => result.kind === "kv" && text(result.record)),
      ["1", "2"],
    );
  });

  test("`StateStore.apply()` txn check-index, check-session and check-not-exists pass", () => {
    const h = fixture();
    const index = h.get("config/a")?.modifyIndex;
    const outcome = h.txn([
      txnKv("check-index", "config/a", { index }),
      txnKv("check-session", "locks/leader", { session: "s1" }),
      txnKv("check-session", "config/a", { session: "" }),
      txnKv("check-not-exists", "config/none"),
      txnKv("set", "config/none", { value: bytes("now") }),
    ]);
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.equal(outcome.results.length, 4, "check-not-exists has no result");
    assert.equal(text(h.get("config/none")), "now");
  });

  test("`StateStore.apply()` txn lock and unlock move session links", () => {
    const h = fixture();
    const outcome = h.txn([
      txnKv("unlock", "locks/leader", { session: "s1" }),
      txnKv("lock", "locks/leader", { session: "s2" }),
    ]);
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.equal(h.get("locks/leader")?.lockIndex, 2);
    ok(h.destroySession("s1"));
    assert.equal(h.get("locks/leader")?.session, "s2", "s1 no longer holds it");
    ok(h.destroySession("s2"));
    assert.equal(h.get("locks/leader"), undefined, "s2 (delete behavior) held it");
  });

  test("`StateStore.apply()` txn catalog ops register, cas and delete", () => {
    const h = fixture();
    const outcome = h.txn([
      { kind: "node", verb: "set", node: nodeInput("n2"), index: 0 },
      { kind: "service", verb: "set", node: "n2", service: serviceInput("api"), index: 0 },
      { kind: "check", verb: "set", node: "n2", check: checkInput("c", "passing"), index: 0 },
      { kind: "service", verb: "cas", node: "n2", service: serviceInput("db"), index: 0 },
      { kind: "node", verb: "get", node: nodeInput("n1"), index: 0 },
    ]);
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.deepEqual(outcome.results.map((result) => result.kind), [
      "node",
      "service",
      "check",
      "service",
      "node",
    ]);
    assert.equal(h.store.serviceNodes("api", []).value.length, 1);
    const deleted = h.txn([{ kind: "node", verb: "delete", node: nodeInput("n2"), index: 0 }]);
    assert.ok(deleted.ok);
    assert.equal(h.store.node("n2"), undefined);
    assert.deepEqual(h.store.serviceNodes("api", []).value, []);
  });
});

describe("txn rollback", () => {
  /** Runs `ops`, expects failure at `opIndex` with `what`, and proves nothing changed. */
  function expectRollback(h: Harness, ops: TxnOp[], opIndex: number, what: string): void {
    const before = describeStore(h.store);
    const lastIndex = h.store.lastIndex;
    let woken = 0;
    const watch = h.store.watches.watch(
      ["kvs", "nodes", "services", "checks", "sessions", "tombstones"],
      [""],
      () => woken += 1,
    );
    const outcome = h.txn(ops);
    assert.deepEqual(outcome, { ok: false, errors: [{ opIndex, what }] });
    assert.deepEqual(describeStore(h.store), before);
    assert.equal(h.store.lastIndex, lastIndex + 1, "the failed txn consumed its index only");
    assert.equal(woken, 0, "a rolled-back txn wakes no watcher");
    watch.cancel();
  }

  test("`StateStore.apply()` txn rolls back sets, deletes and tombstones on a failed cas", () => {
    const h = fixture();
    expectRollback(
      h,
      [
        txnKv("set", "config/a", { value: bytes("changed") }),
        txnKv("set", "new/key", { value: bytes("x") }),
        txnKv("delete", "config/b"),
        txnKv("delete-tree", "config/"),
        txnKv("cas", "new/key", { value: bytes("y"), index: 1 }),
      ],
      4,
      'failed to set key "new/key", index is stale',
    );
    assert.equal(text(h.get("config/a")), "1");
    assert.equal(h.get("new/key"), undefined);
  });

  test("`StateStore.apply()` txn rolls back lock and unlock session links", () => {
    const h = fixture();
    expectRollback(
      h,
      [
        txnKv("unlock", "locks/leader", { session: "s1" }),
        txnKv("lock", "locks/leader", { session: "s2" }),
        txnKv("lock", "locks/other", { session: "s2" }),
        txnKv("check-index", "config/a", { index: 999 }),
      ],
      3,
      "current modify index 4 != 999",
    );
    // The links are s1 → locks/leader as before: destroying s2 must not touch it.
    ok(h.destroySession("s2"));
    assert.equal(h.get("locks/leader")?.session, "s1");
    ok(h.destroySession("s1"));
    assert.equal(h.get("locks/leader")?.session, "");
    assert.equal(text(h.get("locks/leader")), "me");
  });

  test("`StateStore.apply()` txn rolls back catalog changes and session invalidation", () => {
    const h = fixture();
    expectRollback(
      h,
      [
        {
          kind: "check",
          verb: "set",
          node: "n1",
          check: checkInput("serfHealth", "critical"),
          index: 0,
        },
        { kind: "node", verb: "set", node: nodeInput("n9"), index: 0 },
        { kind: "service", verb: "delete", node: "n1", service: serviceInput("web"), index: 0 },
        txnKv("get", "config/missing"),
      ],
      3,
      'key "config/missing" doesn\'t exist',
    );
  });

  test("`StateStore.apply()` txn rolls back the lock-delay set by a session destroyed in it", () => {
    const h = fixture();
    ok(h.createSession("s3", "n1", { nodeChecks: ["serfHealth"], lockDelayMs: 60_000 }));
    ok(h.lock("locks/s3", "s3"));
    expectRollback(
      h,
      [
        { kind: "node", verb: "delete", node: nodeInput("n1"), index: 0 },
        txnKv("check-not-exists", "config/a"),
      ],
      1,
      'key "config/a" exists',
    );
    assert.equal(h.store.lockDelayUntilMs("locks/s3"), undefined);
    assert.equal(h.get("locks/s3")?.session, "s3");
  });

  test("`StateStore.apply()` txn reports errors of each verb with its op index", () => {
    const h = fixture();
    const index = h.get("config/a")?.modifyIndex as number;
    const cases: [TxnOp, string][] = [
      [
        txnKv("lock", "locks/leader", { session: "s2" }),
        'failed to lock key "locks/leader", lock is already held',
      ],
      [
        txnKv("unlock", "locks/leader", { session: "s2" }),
        'failed to unlock key "locks/leader", lock isn\'t held, or is held by another session',
      ],
      [txnKv("lock", "k", { session: "ghost" }), 'failed to lock key "k": invalid session "ghost"'],
      [
        txnKv("delete-cas", "config/a", { index: index + 1 }),
        'failed to delete key "config/a", index is stale',
      ],
      [txnKv("check-index", "config/none", { index: 1 }), 'key "config/none" doesn\'t exist'],
      [txnKv("check-session", "locks/leader", { session: "s2" }), 'current session "s1" != "s2"'],
      [
        txnKv("check-session", "config/none", { session: "s2" }),
        'key "config/none" doesn\'t exist',
      ],
      [
        { kind: "node", verb: "get", node: nodeInput("ghost"), index: 0 },
        'node "ghost" doesn\'t exist',
      ],
      [
        { kind: "node", verb: "cas", node: nodeInput("n1"), index: 999 },
        'failed to cas node "n1", index is stale',
      ],
      [
        {
          kind: "check",
          verb: "set",
          node: "n1",
          check: checkInput("c", "passing", { serviceId: "nope" }),
          index: 0,
        },
        "Missing service registration",
      ],
    ];
    for (const [op, what] of cases) {
      expectRollback(h, [txnKv("set", "scratch", { value: bytes("x") }), op], 1, what);
    }
  });

  test("`StateStore.apply()` txn reports every failing op, as Consul does", () => {
    const h = fixture();
    const outcome = h.txn([
      txnKv("get", "nope-1"),
      txnKv("get-or-empty", "nope-3"),
      txnKv("get", "nope-2"),
    ]);
    assert.deepEqual(outcome, {
      ok: false,
      errors: [
        { opIndex: 0, what: 'key "nope-1" doesn\'t exist' },
        { opIndex: 2, what: 'key "nope-2" doesn\'t exist' },
      ],
    });
  });

  test("`StateStore.readTxn()` get-or-empty answers an empty entry for a missing key", () => {
    const h = fixture();
    const outcome = h.store.readTxn([txnKv("get-or-empty", "nope")], h.nowMs);
    assert.equal(outcome.ok, true);
    if (!outcome.ok) return;
    assert.equal(outcome.results.length, 1);
    const result = outcome.results[0];
    assert.equal(result.kind, "kv");
    if (result.kind !== "kv") return;
    assert.equal(result.record.key, "nope");
    assert.equal(result.record.value.length, 0);
    assert.equal(result.record.modifyIndex, 0);
  });
});

describe("readTxn", () => {
  test("`StateStore.readTxn()` reads without changing anything, even for write verbs", () => {
    const h = fixture();
    const before = describeStore(h.store, { withLastIndex: true });
    let woken = 0;
    h.store.watches.watch(["kvs", "sessions"], [""], () => woken += 1);
    const outcome = h.store.readTxn([
      txnKv("get", "config/a"),
      txnKv("get-tree", "config/"),
      txnKv("set", "config/a", { value: bytes("changed") }),
      txnKv("delete", "config/b"),
      txnKv("unlock", "locks/leader", { session: "s1" }),
    ], h.nowMs);
    assert.ok(outcome.ok);
    assert.equal(outcome.results[0].kind === "kv" && text(outcome.results[0].record), "1");
    assert.deepEqual(describeStore(h.store, { withLastIndex: true }), before);
    assert.equal(woken, 0);
    // The store still takes writes after a read transaction.
    ok(h.set("config/a", "after"));
    assert.equal(text(h.get("config/a")), "after");
  });

  test("`StateStore.readTxn()` reports a failed read like a write txn", () => {
    const h = fixture();
    const outcome = h.store.readTxn([txnKv("get", "config/a"), txnKv("get", "nope")], h.nowMs);
    assert.deepEqual(outcome, {
      ok: false,
      errors: [{ opIndex: 1, what: 'key "nope" doesn\'t exist' }],
    });
  });
});
