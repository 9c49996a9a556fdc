// Goal: the KV store keeps Consul's semantics (`agent/consul/state/kvs.go`, reference §3): set,
// cas (0 = create only, N = ModifyIndex must match), flags, advisory locks with LockIndex and
// lock-delay, deletes with tombstones so a prefix's index never drops, tombstone reaping, and the
// keys/separator rollup. Method: a `StateStore` driven through `apply()` with consecutive indexes
// and an explicit wall clock; every check reads back through the store's query API.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Harness, ok, text } from "./_harness.ts";

/** A harness with node "n1" and sessions "s1" and "s2" (lock-delay 10 s) on it. */
function withSessions(): Harness {
  const h = new Harness();
  ok(h.register("n1"));
  ok(h.createSession("s1", "n1", { lockDelayMs: 10_000 }));
  ok(h.createSession("s2", "n1", { lockDelayMs: 10_000 }));
  return h;
}

describe("KV set and cas", () => {
  test("`StateStore.apply()` sets a key and `kvGet()` returns it with its indexes", () => {
    const h = new Harness();
    const at = h.nextIndex;
    assert.equal(ok(h.set("web/config", "v1", 42)), true);
    const record = h.get("web/config");
    assert.equal(text(record), "v1");
    assert.equal(record?.flags, 42);
    assert.equal(record?.createIndex, at);
    assert.equal(record?.modifyIndex, at);
    assert.equal(record?.lockIndex, 0);
    assert.equal(record?.session, "");
    assert.equal(h.store.kvGet("web/config").index, at);
  });

  test("`StateStore.apply()` keeps CreateIndex and replaces value and flags on a second set", () => {
    const h = new Harness();
    const created = h.nextIndex;
    ok(h.set("k", "v1", 1));
    const updated = h.nextIndex;
    ok(h.set("k", "v2", 0));
    const record = h.get("k");
    assert.equal(text(record), "v2");
    assert.equal(record?.flags, 0);
    assert.equal(record?.createIndex, created);
    assert.equal(record?.modifyIndex, updated);
  });

  test("`StateStore.apply()` cas 0 creates an absent key and refuses an existing one", () => {
    const h = new Harness();
    assert.equal(ok(h.cas("k", "first", 0)), true);
    const index = h.get("k")?.modifyIndex;
    assert.equal(ok(h.cas("k", "second", 0)), false);
    assert.equal(text(h.get("k")), "first");
    assert.equal(h.get("k")?.modifyIndex, index);
  });

  test("`StateStore.apply()` cas N writes only when ModifyIndex is N", () => {
    const h = new Harness();
    ok(h.set("k", "v1"));
    const index = h.get("k")?.modifyIndex as number;
    assert.equal(ok(h.cas("k", "stale", index + 100)), false);
    assert.equal(text(h.get("k")), "v1");
    assert.equal(ok(h.cas("k", "v2", index)), true);
    assert.equal(text(h.get("k")), "v2");
    // The index moved on: the same cas is now stale.
    assert.equal(ok(h.cas("k", "v3", index)), false);
    assert.equal(text(h.get("k")), "v2");
  });

  test("`StateStore.apply()` cas N on an absent key fails", () => {
    const h = new Harness();
    assert.equal(ok(h.cas("missing", "v", 5)), false);
    assert.equal(h.get("missing"), undefined);
  });

  test("`StateStore.apply()` keeps an empty value and zero flags distinct from absence", () => {
    const h = new Harness();
    ok(h.set("empty", ""));
    const record = h.get("empty");
    assert.ok(record !== undefined);
    assert.equal(record.value.length, 0);
    assert.equal(h.store.kvList("").value.length, 1);
  });
});

describe("KV locks", () => {
  test("`StateStore.apply()` lock acquires a free key and bumps LockIndex to 1", () => {
    const h = withSessions();
    assert.equal(ok(h.lock("leader", "s1", "me")), true);
    const record = h.get("leader");
    assert.equal(record?.session, "s1");
    assert.equal(record?.lockIndex, 1);
    assert.equal(text(record), "me");
  });

  test("`StateStore.apply()` lock fails when another session holds the key", () => {
    const h = withSessions();
    ok(h.lock("leader", "s1", "one"));
    const before = h.get("leader");
    assert.equal(ok(h.lock("leader", "s2", "two")), false);
    assert.deepEqual(h.get("leader"), before);
  });

  test("`StateStore.apply()` re-acquire by the holder updates the value, not LockIndex", () => {
    const h = withSessions();
    ok(h.lock("leader", "s1", "one"));
    const at = h.nextIndex;
    assert.equal(ok(h.lock("leader", "s1", "again")), true);
    const record = h.get("leader");
    assert.equal(record?.lockIndex, 1);
    assert.equal(record?.session, "s1");
    assert.equal(record?.modifyIndex, at);
    assert.equal(text(record), "again");
  });

  test("`StateStore.apply()` lock bumps LockIndex only on each new acquisition", () => {
    const h = withSessions();
    ok(h.lock("leader", "s1"));
    ok(h.lock("leader", "s1"));
    assert.equal(ok(h.unlock("leader", "s1")), true);
    assert.equal(h.get("leader")?.lockIndex, 1, "unlock keeps LockIndex");
    ok(h.lock("leader", "s2"));
    assert.equal(h.get("leader")?.lockIndex, 2);
  });

  test("`StateStore.apply()` lock on an existing unlocked key keeps CreateIndex", () => {
    const h = withSessions();
    const created = h.nextIndex;
    ok(h.set("leader", "plain"));
    ok(h.lock("leader", "s1"));
    assert.equal(h.get("leader")?.createIndex, created);
    assert.equal(h.get("leader")?.lockIndex, 1);
  });

  test("`StateStore.apply()` keeps the lock holder and LockIndex on a plain set", () => {
    const h = withSessions();
    ok(h.lock("leader", "s1", "one"));
    assert.equal(ok(h.set("leader", "overwritten", 7)), true);
    const record = h.get("leader");
    assert.equal(record?.session, "s1");
    assert.equal(record?.lockIndex, 1);
    assert.equal(text(record), "overwritten");
    assert.equal(record?.flags, 7);
    // The holder still owns it: destroying the session releases it.
    ok(h.destroySession("s1"));
    assert.equal(h.get("leader")?.session, "");
  });

  test("`StateStore.apply()` keeps the lock holder on a cas", () => {
    const h = withSessions();
    ok(h.lock("leader", "s1"));
    assert.equal(ok(h.cas("leader", "cas", h.get("leader")?.modifyIndex as number)), true);
    assert.equal(h.get("leader")?.session, "s1");
    assert.equal(h.get("leader")?.lockIndex, 1);
  });

  test("`StateStore.apply()` unlock by the holder clears Session, keeps LockIndex, writes value", () => {
    const h = withSessions();
    ok(h.lock("leader", "s1", "one"));
    const at = h.nextIndex;
    assert.equal(ok(h.unlock("leader", "s1", "released")), true);
    const record = h.get("leader");
    assert.equal(record?.session, "");
    assert.equal(record?.lockIndex, 1);
    assert.equal(record?.modifyIndex, at);
    assert.equal(text(record), "released");
  });

  test("`StateStore.apply()` unlock by a non-holder fails and changes nothing", () => {
    const h = withSessions();
    ok(h.lock("leader", "s1", "one"));
    const before = h.get("leader");
    assert.equal(ok(h.unlock("leader", "s2")), false);
    assert.deepEqual(h.get("leader"), before);
    assert.equal(ok(h.unlock("absent", "s2")), false);
    assert.equal(h.get("absent"), undefined);
    ok(h.set("free", "x"));
    assert.equal(ok(h.unlock("free", "s1")), false);
  });

  test("`StateStore.apply()` unlock with an unknown session is false, as Consul's kvsUnlockTxn", () => {
    // Consul only requires a non-empty session to release; a stale session simply isn't the holder.
    const h = withSessions();
    ok(h.lock("leader", "s1"));
    assert.deepEqual(h.unlock("leader", "gone"), { ok: true, value: false });
    assert.equal(h.get("leader")?.session, "s1");
  });

  test("`StateStore.apply()` lock with an unknown session errors with `invalid session`", () => {
    const h = withSessions();
    const result = h.lock("leader", "nope");
    assert.deepEqual(result, { ok: false, error: 'invalid session "nope"', status: 500 });
    assert.equal(h.get("leader"), undefined);
  });

  test("`StateStore.apply()` lock and unlock without a session error with `missing session`", () => {
    const h = withSessions();
    assert.deepEqual(h.lock("leader", ""), { ok: false, error: "missing session", status: 500 });
    assert.deepEqual(h.unlock("leader", ""), { ok: false, error: "missing session", status: 500 });
  });

  test("`StateStore.apply()` lock fails during lock-delay and succeeds once atMs reaches its end", () => {
    const h = withSessions();
    ok(h.lock("leader", "s1"));
    const destroyedAtMs = h.nowMs;
    ok(h.destroySession("s1"));
    assert.equal(h.get("leader")?.session, "");
    assert.equal(h.store.lockDelayUntilMs("leader"), destroyedAtMs + 10_000);

    h.nowMs = destroyedAtMs + 9_999;
    assert.equal(ok(h.lock("leader", "s2")), false);
    assert.equal(h.get("leader")?.session, "");
    // Other keys are not delayed.
    assert.equal(ok(h.lock("other", "s2")), true);

    h.nowMs = destroyedAtMs + 10_000;
    assert.equal(ok(h.lock("leader", "s2")), true);
    assert.equal(h.get("leader")?.session, "s2");
    assert.equal(h.get("leader")?.lockIndex, 2);
  });

  test("`StateStore.apply()` tombstone reaping also forgets lock-delays that have ended", () => {
    const h = withSessions();
    ok(h.lock("leader", "s1"));
    ok(h.lock("follower", "s1"));
    const destroyedAtMs = h.nowMs;
    ok(h.destroySession("s1"));
    h.nowMs = destroyedAtMs + 5_000;
    ok(h.run({ type: "tombstoneReap", throughIndex: 0 }));
    assert.equal(h.store.lockDelayUntilMs("leader"), destroyedAtMs + 10_000);
    h.nowMs = destroyedAtMs + 10_000;
    ok(h.run({ type: "tombstoneReap", throughIndex: 0 }));
    assert.equal(h.store.lockDelayUntilMs("leader"), undefined);
    assert.equal(h.store.lockDelayUntilMs("follower"), undefined);
  });

  test("`StateStore.apply()` plain set is allowed during lock-delay", () => {
    const h = withSessions();
    ok(h.lock("leader", "s1"));
    ok(h.destroySession("s1"));
    assert.equal(ok(h.set("leader", "plain")), true);
    assert.equal(text(h.get("leader")), "plain");
  });

  test("`StateStore.apply()` lock-delay 0 lets another session acquire at once", () => {
    const h = withSessions();
    ok(h.createSession("quick", "n1", { lockDelayMs: 0 }));
    ok(h.lock("leader", "quick"));
    ok(h.destroySession("quick"));
    assert.equal(h.store.lockDelayUntilMs("leader"), undefined);
    assert.equal(ok(h.lock("leader", "s2")), true);
  });
});

describe("KV deletes and tombstones", () => {
  test("`StateStore.apply()` deletes a key; deleting a missing key is true", () => {
    const h = new Harness();
    ok(h.set("k", "v"));
    assert.equal(ok(h.delete("k")), true);
    assert.equal(h.get("k"), undefined);
    assert.equal(ok(h.delete("k")), true);
  });

  test("`StateStore.apply()` deleting a missing key changes no index", () => {
    const h = new Harness();
    ok(h.set("k", "v"));
    const kvs = h.store.indexOf("kvs");
    ok(h.delete("nothing"));
    ok(h.deleteTree("nothing/"));
    assert.equal(h.store.indexOf("kvs"), kvs);
    assert.equal(h.store.indexOf("tombstones"), 0);
  });

  test("`StateStore.apply()` delete-cas deletes on a matching index only; a missing key is true", () => {
    const h = new Harness();
    ok(h.set("k", "v"));
    const index = h.get("k")?.modifyIndex as number;
    assert.equal(ok(h.deleteCas("k", index + 1)), false);
    assert.equal(text(h.get("k")), "v");
    assert.equal(ok(h.deleteCas("k", 0)), false, "cas=0 never deletes an existing key");
    assert.equal(ok(h.deleteCas("k", index)), true);
    assert.equal(h.get("k"), undefined);
    assert.equal(ok(h.deleteCas("k", index)), true);
    assert.equal(ok(h.deleteCas("never", 3)), true);
  });

  test("`StateStore.apply()` delete-tree removes every key under the prefix and no other", () => {
    const h = new Harness();
    for (const key of ["app/a", "app/b/c", "app2", "apple", "other"]) ok(h.set(key, key));
    assert.equal(ok(h.deleteTree("app/")), true);
    assert.deepEqual(h.store.kvList("").value.map((record) => record.key), [
      "app2",
      "apple",
      "other",
    ]);
    ok(h.deleteTree("app"));
    assert.deepEqual(h.store.kvList("").value.map((record) => record.key), ["other"]);
  });

  test("`StateStore.apply()` delete-tree of the empty prefix empties the store", () => {
    const h = new Harness();
    for (const key of ["a", "b/c", "d"]) ok(h.set(key, key));
    ok(h.deleteTree(""));
    assert.deepEqual(h.store.kvList("").value, []);
  });

  test("`StateStore.apply()` delete unlinks a held key from its session", () => {
    const h = withSessions();
    ok(h.lock("leader", "s1"));
    ok(h.delete("leader"));
    ok(h.set("leader", "new owner-less value"));
    ok(h.destroySession("s1"));
    // The re-created key was never held by s1, so destroying s1 leaves it alone.
    assert.equal(text(h.get("leader")), "new owner-less value");
    assert.equal(h.store.lockDelayUntilMs("leader"), undefined);
  });

  test("`StateStore.kvList()` index does not drop when the newest key under a prefix is deleted", () => {
    const h = new Harness();
    ok(h.set("web/a", "1"));
    ok(h.set("web/b", "2"));
    const before = h.store.kvList("web/").index;
    const deletedAt = h.nextIndex;
    ok(h.delete("web/b"));
    const after = h.store.kvList("web/");
    assert.equal(after.value.length, 1);
    assert.equal(after.index, deletedAt);
    assert.ok(after.index > before);
  });

  test("`StateStore.kvList()` index keeps the deletion index after a whole prefix is deleted", () => {
    const h = new Harness();
    ok(h.set("web/a", "1"));
    ok(h.set("unrelated", "x"));
    const deletedAt = h.nextIndex;
    ok(h.deleteTree("web/"));
    ok(h.set("later", "y"));
    assert.equal(h.store.kvList("web/").index, deletedAt);
    assert.equal(h.store.kvKeys("web/", "").index, deletedAt);
  });

  test("`StateStore.apply()` tombstoneReap removes tombstones through the given index only", () => {
    const h = new Harness();
    ok(h.set("a/1", "x"));
    ok(h.set("a/2", "x"));
    ok(h.set("b/1", "x"));
    const firstDelete = h.nextIndex;
    ok(h.delete("a/1"));
    ok(h.delete("a/2"));
    const secondDelete = h.store.lastIndex;
    ok(h.delete("b/1"));
    const lastDelete = h.store.lastIndex;

    assert.equal(ok(h.run({ type: "tombstoneReap", throughIndex: firstDelete })), 1);
    // a/2's tombstone still holds the prefix's index.
    assert.equal(h.store.kvList("a/").index, secondDelete);
    assert.equal(ok(h.run({ type: "tombstoneReap", throughIndex: secondDelete })), 1);
    // No key and no tombstone under "a/": the index falls back to the KV table's, still >= 1.
    assert.equal(h.store.kvList("a/").index, lastDelete);
    assert.equal(h.store.kvList("b/").index, lastDelete);
    assert.equal(ok(h.run({ type: "tombstoneReap", throughIndex: h.store.lastIndex })), 1);
    assert.equal(ok(h.run({ type: "tombstoneReap", throughIndex: h.store.lastIndex })), 0);
  });

  test("`StateStore.apply()` tombstoneReap does not touch the KV table index", () => {
    const h = new Harness();
    ok(h.set("k", "v"));
    ok(h.delete("k"));
    const kvs = h.store.indexOf("kvs");
    const table = h.store.kvList("").index;
    ok(h.run({ type: "tombstoneReap", throughIndex: h.store.lastIndex }));
    assert.equal(h.store.indexOf("kvs"), kvs);
    assert.equal(h.store.kvList("").index, table);
  });
});

describe("KV reads", () => {
  function fixture(): Harness {
    const h = new Harness();
    for (const key of ["web/bar", "web/foo/x", "web/subdir/a", "web/subdir/b/c", "webby", "z"]) {
      ok(h.set(key, key));
    }
    return h;
  }

  test("`StateStore.kvKeys()` without a separator lists every key under the prefix", () => {
    const h = fixture();
    assert.deepEqual(h.store.kvKeys("web/", "").value, [
      "web/bar",
      "web/foo/x",
      "web/subdir/a",
      "web/subdir/b/c",
    ]);
    assert.equal(h.store.kvKeys("", "").value.length, 6);
  });

  test("`StateStore.kvKeys()` rolls up children at the separator (Consul's `?keys&separator=/`)", () => {
    const h = new Harness();
    for (const key of ["web/bar", "web/subdir/a", "web/subdir/b"]) ok(h.set(key, key));
    assert.deepEqual(h.store.kvKeys("web/", "/").value, ["web/bar", "web/subdir/"]);
  });

  test("`StateStore.kvKeys()` rolls up nested and sibling directories once each", () => {
    const h = fixture();
    assert.deepEqual(h.store.kvKeys("web/", "/").value, ["web/bar", "web/foo/", "web/subdir/"]);
    assert.deepEqual(h.store.kvKeys("", "/").value, ["web/", "webby", "z"]);
    assert.deepEqual(h.store.kvKeys("web", "/").value, ["web/", "webby"]);
  });

  test("`StateStore.kvKeys()` keeps a key equal to its own rollup once", () => {
    const h = new Harness();
    ok(h.set("dir/", "folder marker"));
    ok(h.set("dir/child", "x"));
    assert.deepEqual(h.store.kvKeys("", "/").value, ["dir/"]);
    assert.deepEqual(h.store.kvKeys("dir/", "/").value, ["dir/", "dir/child"]);
  });

  test("`StateStore.kvList()` returns keys under the prefix in order; index = max ModifyIndex", () => {
    const h = fixture();
    const list = h.store.kvList("web/subdir/");
    assert.deepEqual(list.value.map((record) => record.key), ["web/subdir/a", "web/subdir/b/c"]);
    const max = Math.max(...list.value.map((record) => record.modifyIndex));
    assert.equal(list.index, max);
    assert.ok(list.index < h.store.lastIndex, "an unrelated later write does not count");
    assert.deepEqual(list.prefixes, ["web/subdir/"]);
  });

  test("`StateStore.kvGet()` of an absent key answers the KV table's index, at least 1", () => {
    const h = new Harness();
    assert.equal(h.store.kvGet("nothing").index, 1);
    assert.equal(h.store.kvList("").index, 1);
    assert.equal(h.store.kvKeys("", "/").index, 1);
    ok(h.register("n1"));
    ok(h.register("n2"));
    // Catalog writes do not move the KV index.
    assert.equal(h.store.kvGet("nothing").index, 1);
    ok(h.set("a", "x"));
    ok(h.set("b", "x"));
    assert.equal(h.store.kvGet("nothing").index, h.store.lastIndex);
  });

  test("`StateStore.kvGet()` of a deleted key answers the deletion index", () => {
    const h = new Harness();
    ok(h.set("k", "v"));
    const deletedAt = h.nextIndex;
    ok(h.delete("k"));
    const result = h.store.kvGet("k");
    assert.equal(result.value, undefined);
    assert.equal(result.index, deletedAt);
  });
});
