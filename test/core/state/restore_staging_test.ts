// Goal: a restore travels the log as `restoreChunk` entries and one `restore` entry, and every
// store that applies the same entries ends in the same state: the chunks stage, the `restore`
// entry swaps in their state at its index (waking blocking queries), chunks may come in any
// order but a missing one makes the `restore` fail and leaves the state alone, a newer restore
// replaces an older staging, an abandoned staging expires after
// `RESTORE_STAGING_IDLE_ENTRIES_MAX` entries, and a snapshot install drops whatever was
// staged. Method: `Harness` stores fed commands directly.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeSnapshot,
  encodeSnapshot,
  RESTORE_CHUNK_BYTES,
  RESTORE_CHUNKS_MAX,
  RESTORE_STAGING_IDLE_ENTRIES_MAX,
  restoreSnapshot,
} from "../../../src/core/state/snapshot.ts";
import { Harness, text } from "./_harness.ts";

/** A snapshot body of a store holding `keys` (each 300 KiB, so the body spans chunks). */
function bodyWith(keys: string[]): Uint8Array {
  const h = new Harness();
  for (const key of keys) h.set(key, `${key}:`.padEnd(300 * 1024, "x"));
  return encodeSnapshot(h.store);
}

function chunksOf(body: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < body.byteLength; at += RESTORE_CHUNK_BYTES) {
    chunks.push(body.subarray(at, at + RESTORE_CHUNK_BYTES));
  }
  return chunks;
}

function stage(h: Harness, id: string, chunks: Uint8Array[], seqs = chunks.map((_, s) => s)) {
  for (const seq of seqs) h.run({ type: "restoreChunk", id, seq, data: chunks[seq] });
}

describe("StateStore restores in chunks", () => {
  test("chunks then `restore` replace the state at the restore's index and wake watches", () => {
    const body = bodyWith(["a", "b", "c"]);
    const chunks = chunksOf(body);
    assert.ok(chunks.length >= 2, `${chunks.length} chunks`);
    const h = new Harness();
    h.set("a", "old");
    h.set("z", "gone after the restore");
    let woken = 0;
    h.store.watches.watch(["kv:z"], [], () => woken++);
    stage(h, "r1", chunks);
    assert.equal(h.store.restoreStaging.open, true);
    assert.equal(text(h.get("a")), "old", "staging changes nothing visible");
    assert.equal(woken, 0);
    const index = h.nextIndex;
    const result = h.run({
      type: "restore",
      id: "r1",
      chunkCount: chunks.length,
      bytes: body.byteLength,
    });
    assert.deepEqual(result, { ok: true, value: index });
    assert.equal(h.store.restoreStaging.open, false);
    assert.equal(h.store.lastIndex, index);
    assert.ok(text(h.get("a"))!.startsWith("a:"));
    assert.ok(text(h.get("c"))!.startsWith("c:"));
    assert.equal(h.get("z"), undefined);
    assert.equal(h.get("c")!.modifyIndex, index, "a key the restore changes takes its index");
    assert.equal(woken, 1);
  });

  test("chunks in any order restore; a missing chunk fails the `restore` and keeps the state", () => {
    const body = bodyWith(["a", "b", "c", "d"]);
    const chunks = chunksOf(body);
    assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
    const reversed = new Harness();
    stage(reversed, "r1", chunks, chunks.map((_, seq) => seq).reverse());
    const restore = {
      type: "restore",
      id: "r1",
      chunkCount: chunks.length,
      bytes: body.byteLength,
    };
    assert.equal(reversed.run({ ...restore, type: "restore" }).ok, true);
    assert.ok(text(reversed.get("b"))!.startsWith("b:"));

    const h = new Harness();
    h.set("keep", "me");
    stage(h, "r1", chunks, [0, 2]);
    const again = h.run({ type: "restoreChunk", id: "r1", seq: 2, data: chunks[2] });
    assert.equal(again.ok, false, "a chunk number comes once");
    const past = h.run({
      type: "restoreChunk",
      id: "r1",
      seq: RESTORE_CHUNKS_MAX,
      data: chunks[2],
    });
    assert.equal(past.ok, false, "chunk numbers are bounded");
    const result = h.run({ ...restore, type: "restore" });
    assert.equal(result.ok, false);
    assert.match((result as { error: string }).error, /missing chunks \[1\]/);
    assert.equal(h.store.restoreStaging.open, false);
    assert.equal(text(h.get("keep")), "me");
    assert.equal(h.get("a"), undefined);
  });

  test("a count or size that differs from the staging fails the `restore`", () => {
    const body = bodyWith(["a", "b"]);
    const chunks = chunksOf(body);
    const h = new Harness();
    stage(h, "r1", chunks.slice(0, -1));
    const result = h.run({
      type: "restore",
      id: "r1",
      chunkCount: chunks.length,
      bytes: body.byteLength,
    });
    assert.equal(result.ok, false);
    assert.match((result as { error: string }).error, /are staged, not/);
    assert.equal(h.get("a"), undefined);
  });

  test("a newer restore replaces an older staging; the older `restore` then fails", () => {
    const older = chunksOf(bodyWith(["old"]));
    const body = bodyWith(["new1", "new2"]);
    const newer = chunksOf(body);
    const h = new Harness();
    stage(h, "older", older);
    stage(h, "newer", newer);
    const stale = h.run({ type: "restore", id: "older", chunkCount: older.length, bytes: 1 });
    assert.equal(stale.ok, false);
    assert.equal(h.store.restoreStaging.open, true, "the newer staging stays");
    const result = h.run({
      type: "restore",
      id: "newer",
      chunkCount: newer.length,
      bytes: body.byteLength,
    });
    assert.equal(result.ok, true);
    assert.ok(text(h.get("new2"))!.startsWith("new2:"));
    assert.equal(h.get("old"), undefined);
  });

  test("a staging idle for RESTORE_STAGING_IDLE_ENTRIES_MAX entries expires", () => {
    const chunks = chunksOf(bodyWith(["a", "b"]));
    const h = new Harness();
    stage(h, "r1", chunks, [0]);
    const lastChunk = h.store.lastIndex;
    h.store.apply(lastChunk + RESTORE_STAGING_IDLE_ENTRIES_MAX, {
      type: "tombstoneReap",
      atMs: h.nowMs,
      throughIndex: 0,
    });
    assert.equal(h.store.restoreStaging.open, true, "not idle long enough yet");
    h.set("x", "y");
    assert.equal(h.store.restoreStaging.open, false);
  });

  test("installing a snapshot drops the staging", () => {
    const chunks = chunksOf(bodyWith(["a"]));
    const h = new Harness();
    stage(h, "r1", chunks, [0]);
    restoreSnapshot(h.store, decodeSnapshot(encodeSnapshot(new Harness().store)));
    assert.equal(h.store.restoreStaging.open, false);
    assert.equal(h.store.restoreStaging.bytes, 0);
  });
});
