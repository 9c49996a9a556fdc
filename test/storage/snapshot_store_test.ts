// Goal: SnapshotStore saves snapshots atomically under snapshot-<term>-<index>.snap, keeps the
// newest retainedMax, and loads the newest one that verifies, reporting (not deleting) newer
// damaged ones. Method: real files in a temp dir; damage with node:fs (a flipped byte in the
// body, a cut file, a header that disagrees with the name); a directory shared with a WAL.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { FileStore } from "../../src/runtime.ts";
import {
  decodeSnapshot,
  encodeSnapshot,
  type Snapshot,
  snapshotName,
  SnapshotStore,
} from "../../src/storage/snapshot_store.ts";
import { WriteAheadLog } from "../../src/storage/wal.ts";
import { dropTail, flipByte, makeEntries, reopenFiles, tempFiles } from "./_support.ts";

let dir: string;
let files: FileStore;
let cleanup: () => void;

beforeEach(async () => {
  ({ dir, files, cleanup } = await tempFiles());
});
afterEach(() => cleanup());

const encoder = new TextEncoder();

function makeSnapshot(term: number, index: number, dataBytes = 1_000): Snapshot {
  return {
    term,
    index,
    configuration: encoder.encode(JSON.stringify({ servers: ["a", "b", "c"], index })),
    data: Uint8Array.from({ length: dataBytes }, (_, at) => (at * 31 + index) & 0xff),
  };
}

describe("SnapshotStore", () => {
  it("SnapshotStore.load() finds nothing in an empty directory", async () => {
    const store = new SnapshotStore(files);
    assert.deepEqual(await store.load(), { snapshot: undefined, name: undefined, skipped: [] });
  });

  it("SnapshotStore.save() then load() round-trips through a reopen", async () => {
    const store = new SnapshotStore(files);
    const name = await store.save(makeSnapshot(3, 100));
    assert.equal(name, "snapshot-00000000000000000003-00000000000000000100.snap");
    const loaded = await new SnapshotStore(await reopenFiles(dir)).load();
    assert.equal(loaded.name, name);
    assert.deepEqual(loaded.snapshot, makeSnapshot(3, 100));
    assert.deepEqual(loaded.skipped, []);
  });

  it("SnapshotStore.save() keeps the newest retainedMax snapshots by index", async () => {
    const store = new SnapshotStore(files);
    await store.save(makeSnapshot(1, 10));
    await store.save(makeSnapshot(2, 30));
    await store.save(makeSnapshot(2, 20));
    assert.deepEqual((await store.list()).map((s) => s.index), [30, 20]);
    await store.save(makeSnapshot(5, 40));
    assert.deepEqual(readdirSync(dir).sort(), [snapshotName(2, 30), snapshotName(5, 40)]);
    const three = new SnapshotStore(files, { retainedMax: 3 });
    await three.save(makeSnapshot(6, 50));
    assert.equal((await three.list()).length, 3);
  });

  it("SnapshotStore.load() skips and reports a newer snapshot whose body is damaged", async () => {
    const store = new SnapshotStore(files);
    await store.save(makeSnapshot(1, 10));
    const newest = await store.save(makeSnapshot(2, 20));
    flipByte(join(dir, newest), 500);
    const loaded = await store.load();
    assert.equal(loaded.snapshot?.index, 10);
    assert.deepEqual(loaded.skipped, [{ name: newest, reason: "its checksum fails" }]);
    assert.ok(readdirSync(dir).includes(newest), "a damaged snapshot stays for the operator");
  });

  it("SnapshotStore.load() skips a cut file, a bad header and a name that disagrees", async () => {
    const store = new SnapshotStore(files, { retainedMax: 10 });
    await store.save(makeSnapshot(1, 10));
    const cut = await store.save(makeSnapshot(1, 20));
    dropTail(join(dir, cut), 1);
    const magic = await store.save(makeSnapshot(1, 30));
    flipByte(join(dir, magic), 0);
    const renamed = await store.save(makeSnapshot(1, 40));
    renameSync(join(dir, renamed), join(dir, snapshotName(1, 50)));
    const loaded = await store.load();
    const size = encodeSnapshot(makeSnapshot(1, 20)).byteLength;
    assert.equal(loaded.snapshot?.index, 10);
    assert.deepEqual(loaded.skipped.map((s) => s.reason), [
      "its header says term 1 and index 40, unlike its name",
      "it does not start with CAIRNSNP",
      `its header says ${size} bytes, but it has ${size - 1}`,
    ]);
  });

  it("SnapshotStore.save() refuses snapshots over snapshotBytesMax and bad indexes", async () => {
    const store = new SnapshotStore(files, { snapshotBytesMax: 500 });
    await assert.rejects(
      store.save(makeSnapshot(1, 1, 1_000)),
      /^RangeError: Cannot save a snapshot of 1/,
    );
    await assert.rejects(
      store.save(makeSnapshot(1, -1, 10)),
      /^RangeError: Cannot save a snapshot: its index is -1/,
    );
  });

  it("encodeSnapshot() and decodeSnapshot() round-trip empty and large bodies", () => {
    for (const snapshot of [makeSnapshot(0, 0, 0), makeSnapshot(2 ** 40, 2 ** 45, 100_000)]) {
      assert.deepEqual(decodeSnapshot(encodeSnapshot(snapshot)), snapshot);
    }
    assert.equal(decodeSnapshot(new Uint8Array(10)), "it is 10 bytes, under a header");
  });

  it("SnapshotStore and WriteAheadLog share a directory", async () => {
    const log = await WriteAheadLog.open(files);
    await log.append(makeEntries(1, 3, 1));
    const store = new SnapshotStore(files);
    await store.save(makeSnapshot(1, 2));
    await log.compact(2);
    const again = await WriteAheadLog.open(await reopenFiles(dir));
    assert.equal(again.lastIndex, 3);
    assert.equal((await store.load()).snapshot?.index, 2);
  });
});
