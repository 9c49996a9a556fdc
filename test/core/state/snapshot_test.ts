// Goal: a snapshot carries the whole state store: encode → decode → restore into a new store
// answers every query as the original (values, indexes, lock holders), rebuilds the session →
// key links so a session destroyed after the restore still releases its locks, keeps lock-delays
// and tombstones, owns its bytes, and refuses garbage with a `SyntaxError`. Method: a store
// with every kind of record is snapshotted; the copy is compared query by query, then the same
// writes are applied to both and their full descriptions compared.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import {
  decodeSnapshot,
  encodeSnapshot,
  restoreSnapshot,
} from "../../../src/core/state/snapshot.ts";
import { StateStore } from "../../../src/core/state/state_store.ts";
import { checkInput, describeStore, Harness, ok, serviceInput, text } from "./_harness.ts";

function populated(): Harness {
  const h = new Harness();
  ok(h.register("n1", {
    node: { meta: { rack: "r1" }, taggedAddresses: { wan: "1.2.3.4" } },
    service: serviceInput("web-1", { service: "web", tags: ["v1"] }),
    checks: [
      checkInput("serfHealth", "passing"),
      checkInput("http", "warning", {
        serviceId: "web-1",
        definition: { http: "http://x/", header: { A: ["b"] }, intervalMs: 10_000 },
      }),
    ],
  }));
  ok(h.register("n2", { service: serviceInput("db") }));
  ok(h.createSession("s-release", "n1", { lockDelayMs: 5_000 }));
  ok(h.createSession("s-delete", "n2", { behavior: "delete", lockDelayMs: 0 }));
  ok(h.createSession("s-gone", "n2", { lockDelayMs: 60_000 }));
  ok(h.set("config/a", "1", 9));
  ok(h.set("config/b", "2"));
  ok(h.lock("locks/leader", "s-release", "me"));
  ok(h.lock("locks/ephemeral", "s-delete", "tmp"));
  ok(h.lock("locks/delayed", "s-gone"));
  ok(h.destroySession("s-gone"));
  ok(h.delete("config/b"));
  ok(h.set("bin", "")); // An empty value must round-trip as an empty value.
  return h;
}

function restored(h: Harness): Harness {
  const copy = new Harness();
  restoreSnapshot(copy.store, decodeSnapshot(encodeSnapshot(h.store)));
  copy.nowMs = h.nowMs;
  return copy;
}

/** Every query answer of `store` that the HTTP API can reach, as plain data. */
function answers(store: StateStore): unknown[] {
  return [
    store.lastIndex,
    store.kvList(""),
    store.kvList("config/"),
    store.kvKeys("", "/"),
    store.kvGet("locks/leader"),
    store.kvGet("config/b"),
    store.nodes(),
    store.nodeServices("n1"),
    [...store.services().value],
    store.services().index,
    store.serviceNodes("web", []),
    store.serviceHealth("web", { tags: [], passingOnly: false }),
    store.serviceHealth("db", { tags: [], passingOnly: true }),
    store.nodeChecks("n1"),
    store.serviceChecks("web"),
    store.checksInState("any"),
    store.sessionList(),
    store.nodeSessions("n2"),
    store.lockDelayUntilMs("locks/delayed"),
    ["kvs", "tombstones", "nodes", "services", "checks", "sessions", "service:web"].map((name) =>
      store.indexOf(name)
    ),
  ];
}

describe("snapshot round trip", () => {
  test("`restoreSnapshot()` gives a store with identical query answers", () => {
    const h = populated();
    const copy = restored(h);
    assert.deepEqual(answers(copy.store), answers(h.store));
    assert.deepEqual(
      describeStore(copy.store, { withLastIndex: true }),
      describeStore(h.store, { withLastIndex: true }),
    );
    assert.equal(copy.get("locks/leader")?.session, "s-release");
    assert.equal(text(copy.get("config/a")), "1");
    assert.equal(copy.get("bin")?.value.length, 0);
  });

  test("`restoreSnapshot()` rebuilds session links: destroying a session releases its locks", () => {
    const h = populated();
    const copy = restored(h);
    for (const store of [h, copy]) {
      ok(store.destroySession("s-release"));
      ok(store.destroySession("s-delete"));
    }
    assert.equal(copy.get("locks/leader")?.session, "");
    assert.equal(copy.get("locks/ephemeral"), undefined);
    assert.deepEqual(describeStore(copy.store), describeStore(h.store));
  });

  test("`restoreSnapshot()` keeps lock-delays and tombstones", () => {
    const h = populated();
    const copy = restored(h);
    ok(copy.createSession("s-new", "n1", { lockDelayMs: 0 }));
    assert.equal(ok(copy.lock("locks/delayed", "s-new")), false, "still inside lock-delay");
    copy.nowMs += 60_000;
    assert.equal(ok(copy.lock("locks/delayed", "s-new")), true);
    assert.equal(copy.store.kvList("config/b").index, h.store.kvList("config/b").index);
  });

  test("`restoreSnapshot()` continues the log where the snapshot ends", () => {
    const h = populated();
    const copy = restored(h);
    assert.equal(copy.store.lastIndex, h.store.lastIndex);
    assert.throws(() =>
      copy.store.apply(h.store.lastIndex, { type: "tombstoneReap", atMs: 0, throughIndex: 0 })
    );
    ok(copy.set("after", "x"));
    assert.equal(copy.get("after")?.modifyIndex, h.store.lastIndex + 1);
  });

  test("`restoreSnapshot()` replaces whatever the target store held", () => {
    const h = populated();
    const target = new Harness();
    ok(target.register("stale-node"));
    ok(target.set("stale/key", "x"));
    for (let i = 0; i < 40; i += 1) ok(target.set("filler", String(i)));
    restoreSnapshot(target.store, decodeSnapshot(encodeSnapshot(h.store)));
    assert.deepEqual(answers(target.store), answers(h.store));
    assert.equal(target.store.node("stale-node"), undefined);
  });

  test("`restoreSnapshot()` values do not alias the snapshot bytes", () => {
    const h = populated();
    const bytes = encodeSnapshot(h.store);
    const copy = new Harness();
    restoreSnapshot(copy.store, decodeSnapshot(bytes));
    bytes.fill(0);
    assert.equal(text(copy.get("config/a")), "1");
    assert.equal(text(copy.get("locks/leader")), "me");
  });

  test("`restoreSnapshot()` keeps a registration identical after restore a no-op", () => {
    // Agents echo check definitions with unset fields as `undefined`; after a restore the same
    // registration must still be recognised as unchanged, or anti-entropy churns every index.
    const h = new Harness();
    const register = (target: Harness) =>
      ok(target.register("n1", {
        service: serviceInput("web"),
        checks: [checkInput("http", "passing", {
          serviceId: "web",
          definition: { http: "http://x/", deregisterCriticalServiceAfterMs: undefined },
        })],
      }));
    register(h);
    const copy = restored(h);
    const before = describeStore(copy.store);
    register(copy);
    assert.deepEqual(describeStore(copy.store), before);
    assert.deepEqual(
      copy.store.nodeChecks("n1").value,
      h.store.nodeChecks("n1").value.map(
        (check) => ({ ...check, definition: { http: "http://x/" } }),
      ),
    );
  });
});

describe("snapshot decoding", () => {
  test("`decodeSnapshot()` throws SyntaxError on garbage bytes", () => {
    const garbage = [
      new Uint8Array([]),
      new Uint8Array([0xc1]),
      new Uint8Array([1, 2, 3]),
      new TextEncoder().encode("not a snapshot at all"),
      encode(null),
      encode({ format: "other", version: 1 }),
      encode({ format: "cairn-state", version: 99 }),
      encode([1, 2, 3]),
    ];
    for (const bytes of garbage) {
      assert.throws(() => decodeSnapshot(bytes), SyntaxError, `bytes ${[...bytes].slice(0, 8)}`);
    }
  });

  test("`decodeSnapshot()` refuses a header without its tables before restore clears anything", () => {
    const h = populated();
    const good = decodeSnapshot(encodeSnapshot(h.store)) as unknown as Record<string, unknown>;
    const damaged = [
      { format: "cairn-state", version: 1 },
      { ...good, kv: undefined },
      { ...good, indexes: { kvs: 3 } },
      { ...good, lastIndex: "12" },
    ];
    const target = populated();
    for (const body of damaged) {
      assert.throws(
        () => restoreSnapshot(target.store, decodeSnapshot(encode(body))),
        SyntaxError,
        JSON.stringify(Object.keys(body)),
      );
    }
    assert.deepEqual(answers(target.store), answers(h.store), "the target store is still whole");
  });

  test("`decodeSnapshot()` throws SyntaxError on a truncated snapshot", () => {
    const bytes = encodeSnapshot(populated().store);
    assert.throws(() => decodeSnapshot(bytes.subarray(0, bytes.length - 3)), SyntaxError);
  });

  test("`encodeSnapshot()` of an empty store restores to an empty store", () => {
    const copy = new StateStore();
    restoreSnapshot(copy, decodeSnapshot(encodeSnapshot(new StateStore())));
    assert.deepEqual(answers(copy), answers(new StateStore()));
  });
});
