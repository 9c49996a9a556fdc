// Goal: blocking queries wake when, and only when, something they read may have changed (memdb
// WatchSet semantics): a key watcher wakes on that key and sleeps through unrelated keys, prefix
// watchers wake for any key under the prefix, table topics wake on table writes, each waiter
// fires once, cancel works, a restore wakes everyone, and nothing leaks. Method: waiters are
// registered with the topics and prefixes a query returns, then writes go through `apply()`;
// `WatchHub` is also driven directly for its own edge cases. `watches.size` is checked at the end.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeSnapshot,
  encodeSnapshot,
  restoreSnapshot,
} from "../../../src/core/state/snapshot.ts";
import type { QueryResult } from "../../../src/core/state/state_store.ts";
import { WatchHub } from "../../../src/core/state/watches.ts";
import { checkInput, Harness, ok, serviceInput } from "./_harness.ts";

/** Registers a waiter for `result` and returns a counter of its wake-ups. */
function watchQuery(h: Harness, result: QueryResult<unknown>): { count: number; cancel(): void } {
  const counter = { count: 0, cancel: () => {} };
  const handle = h.store.watches.watch(result.topics, result.prefixes, () => counter.count += 1);
  counter.cancel = () => handle.cancel();
  return counter;
}

describe("KV watches", () => {
  test("`StateStore.kvGet()` watchers sleep through writes to longer keys with the same prefix", () => {
    const h = new Harness();
    ok(h.set("a", "1"));
    const waiter = watchQuery(h, h.store.kvGet("a"));
    ok(h.set("ab", "2"));
    ok(h.set("a/b", "3"));
    assert.equal(waiter.count, 0);
    ok(h.set("a", "4"));
    assert.equal(waiter.count, 1);
  });

  test("`WatchHub` wakes a key watcher on that key's change and not on an unrelated key", () => {
    const h = new Harness();
    ok(h.set("service/web/leader", "a"));
    const watcher = watchQuery(h, h.store.kvGet("service/web/leader"));
    ok(h.set("other/key", "b"));
    ok(h.register("n1"));
    assert.equal(watcher.count, 0);
    ok(h.set("service/web/leader", "c"));
    assert.equal(watcher.count, 1);
    ok(h.set("service/web/leader", "d"));
    assert.equal(watcher.count, 1, "a waiter fires once, then must watch again");
    assert.equal(h.store.watches.size, 0);
  });

  test("`WatchHub` wakes a watcher on an absent key when it is created", () => {
    const h = new Harness();
    const watcher = watchQuery(h, h.store.kvGet("later"));
    ok(h.set("unrelated", "x"));
    assert.equal(watcher.count, 0);
    ok(h.set("later", "now"));
    assert.equal(watcher.count, 1);
  });

  test("`WatchHub` wakes a prefix watcher for a key under it, not outside it", () => {
    const h = new Harness();
    const watcher = watchQuery(h, h.store.kvList("app/"));
    ok(h.set("apple", "x"));
    ok(h.set("ap", "x"));
    assert.equal(watcher.count, 0);
    ok(h.set("app/deep/key", "x"));
    assert.equal(watcher.count, 1);
  });

  test("`WatchHub` wakes prefix watchers on delete, delete-tree and session release", () => {
    const h = new Harness();
    ok(h.register("n1"));
    ok(h.createSession("s1", "n1"));
    ok(h.set("app/a", "x"));
    ok(h.lock("app/lock", "s1"));
    for (
      const write of [
        () => h.delete("app/a"),
        () => h.destroySession("s1"),
        () => h.deleteTree("app/"),
      ]
    ) {
      const watcher = watchQuery(h, h.store.kvList("app/"));
      ok(write());
      assert.equal(watcher.count, 1);
    }
  });

  test("`WatchHub` wakes the whole-store watcher (empty prefix) on any key", () => {
    const h = new Harness();
    const watcher = watchQuery(h, h.store.kvList(""));
    ok(h.set("x", "1"));
    assert.equal(watcher.count, 1);
  });

  test("`WatchHub` keeps a key watcher asleep through a failed cas and a no-op delete", () => {
    const h = new Harness();
    ok(h.set("k", "v"));
    const watcher = watchQuery(h, h.store.kvGet("k"));
    ok(h.cas("k", "nope", 999));
    ok(h.delete("k-other"));
    ok(h.deleteCas("k", 999));
    assert.equal(watcher.count, 0);
    watcher.cancel();
    assert.equal(h.store.watches.size, 0);
  });
});

describe("table topics", () => {
  test("`WatchHub` wakes catalog queries on their tables and per-service topics", () => {
    const h = new Harness();
    ok(h.register("n1", { service: serviceInput("web") }));
    const web = watchQuery(h, h.store.serviceHealth("web", { tags: [], passingOnly: false }));
    const db = watchQuery(h, h.store.serviceHealth("db", { tags: [], passingOnly: false }));
    const nodes = watchQuery(h, h.store.nodes());
    const sessions = watchQuery(h, h.store.sessionList());
    ok(h.register("n1", { checks: [checkInput("web-check", "passing", { serviceId: "web" })] }));
    assert.deepEqual([web.count, db.count, nodes.count, sessions.count], [1, 0, 0, 0]);
    ok(h.register("n2", { service: serviceInput("db") }));
    assert.deepEqual([web.count, db.count, nodes.count, sessions.count], [1, 1, 1, 0]);
    ok(h.createSession("s1", "n2"));
    assert.deepEqual([web.count, db.count, nodes.count, sessions.count], [1, 1, 1, 1]);
    assert.equal(h.store.watches.size, 0);
  });

  test("`WatchHub` does not wake catalog queries on KV writes", () => {
    const h = new Harness();
    ok(h.register("n1", { service: serviceInput("web") }));
    const nodes = watchQuery(h, h.store.nodes());
    const web = watchQuery(h, h.store.serviceNodes("web", []));
    ok(h.set("k", "v"));
    assert.deepEqual([nodes.count, web.count], [0, 0]);
    nodes.cancel();
    web.cancel();
    assert.equal(h.store.watches.size, 0);
  });
});

describe("WatchHub", () => {
  test("`WatchHub.watch()` cancel stops a waiter and frees it; a second cancel is harmless", () => {
    const hub = new WatchHub();
    let fired = 0;
    const handle = hub.watch(["nodes"], ["a/"], () => fired += 1);
    assert.equal(hub.size, 1);
    handle.cancel();
    handle.cancel();
    assert.equal(hub.size, 0);
    hub.fire(["nodes"], ["a/b"]);
    assert.equal(fired, 0);
  });

  test("`WatchHub.fire()` calls a waiter on many matching topics and prefixes once", () => {
    const hub = new WatchHub();
    let fired = 0;
    hub.watch(["nodes", "services", "nodes"], ["", "a", "a/"], () => fired += 1);
    hub.fire(["nodes", "services"], ["a/b", "a/c"]);
    assert.equal(fired, 1);
    assert.equal(hub.size, 0);
  });

  test("`WatchHub.fire()` matches prefixes both when keys are short and when prefixes are few", () => {
    // The hub walks whichever is smaller: the key's own prefixes or the registered prefixes.
    for (const extra of [0, 40]) {
      const hub = new WatchHub();
      const fired: string[] = [];
      for (let i = 0; i < extra; i += 1) hub.watch([], [`zz${i}/`], () => fired.push(`zz${i}`));
      hub.watch([], ["a/b"], () => fired.push("a/b"));
      hub.watch([], ["a/c"], () => fired.push("a/c"));
      hub.watch([], ["a/bc/d/e"], () => fired.push("too long"));
      hub.watch([], ["a/bc/d"], () => fired.push("the key itself"));
      hub.watch([], [""], () => fired.push("everything"));
      hub.fire([], ["a/bc/d"]);
      assert.deepEqual(fired.sort(), ["a/b", "everything", "the key itself"], `${extra} extra`);
      assert.equal(hub.size, extra + 2);
    }
  });

  test("`WatchHub.fire()` does not fire a waiter registered during the wake-up", () => {
    const hub = new WatchHub();
    let inner = 0;
    hub.watch(["t"], [], () => {
      hub.watch(["t"], [], () => inner += 1);
    });
    hub.fire(["t"], []);
    assert.equal(inner, 0);
    assert.equal(hub.size, 1);
    hub.fire(["t"], []);
    assert.equal(inner, 1);
    assert.equal(hub.size, 0);
  });

  test("`WatchHub.fireAll()` wakes every waiter, once each", () => {
    const hub = new WatchHub();
    const fired: number[] = [];
    hub.watch(["a"], [], () => fired.push(1));
    hub.watch([], ["p/"], () => fired.push(2));
    hub.watch(["b"], ["q/"], () => fired.push(3));
    hub.fireAll();
    assert.deepEqual(fired.sort(), [1, 2, 3]);
    assert.equal(hub.size, 0);
  });

  test("`restoreSnapshot()` wakes every blocking query of the restored store", () => {
    const source = new Harness();
    ok(source.set("k", "v"));
    const target = new Harness();
    const kv = watchQuery(target, target.store.kvGet("k"));
    const nodes = watchQuery(target, target.store.nodes());
    restoreSnapshot(target.store, decodeSnapshot(encodeSnapshot(source.store)));
    assert.deepEqual([kv.count, nodes.count], [1, 1]);
    assert.equal(target.store.watches.size, 0);
  });

  test("`WatchHub` leaks no waiter after many fired and cancelled queries", () => {
    const h = new Harness();
    ok(h.register("n1", { service: serviceInput("web") }));
    const handles = [];
    for (let i = 0; i < 200; i += 1) {
      const result = i % 2 === 0
        ? h.store.kvGet(`k/${i % 7}`)
        : h.store.serviceHealth("web", { tags: [], passingOnly: false });
      handles.push(h.store.watches.watch(result.topics, result.prefixes, () => {}));
    }
    for (let i = 0; i < 7; i += 2) ok(h.set(`k/${i}`, "x"));
    for (const handle of handles) handle.cancel();
    assert.equal(h.store.watches.size, 0);
    // Internal maps are empty too: a fresh waiter on a fired topic still works alone.
    let fired = 0;
    h.store.watches.watch(["service:web"], [], () => fired += 1);
    ok(h.register("n1", { service: serviceInput("web", { port: 1 }) }));
    assert.equal(fired, 1);
    assert.equal(h.store.watches.size, 0);
  });
});
