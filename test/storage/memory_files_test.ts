// Goal: `MemoryFileStore` is a faithful FileStore: the same operations give the same results as
// the runtime's real store on a temp dir, and the write-ahead log runs on it (including recovery
// from a torn tail). Method: a differential run of one script of operations against both stores,
// then the WAL opened, written, torn and reopened on a memory store.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryFileStore } from "../../src/storage/memory_files.ts";
import { WriteAheadLog } from "../../src/storage/wal.ts";
import type { FileStore } from "../../src/runtime.ts";
import { tempFiles } from "./_support.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

async function script(files: FileStore): Promise<unknown[]> {
  const seen: unknown[] = [];
  seen.push(await files.read("a"));
  seen.push(await files.readRange!("a", 0, 4));
  await files.append("a", bytes(1, 2, 3), { sync: true });
  await files.append("a", bytes(4, 5), { sync: false });
  seen.push(await files.read("a"));
  seen.push(await files.readRange!("a", 1, 3));
  seen.push(await files.readRange!("a", 4, 100));
  seen.push(await files.readRange!("a", 9, 2));
  await files.replace("b", bytes(9, 9));
  await files.replace("b", bytes(8));
  seen.push(await files.read("b"));
  seen.push(await files.list());
  await files.remove("a");
  await files.remove("missing");
  seen.push(await files.list());
  // A read result is a copy: changing it does not change the file.
  const copy = await files.read("b");
  copy![0] = 0;
  seen.push(await files.read("b"));
  return seen.map((value) => value instanceof Uint8Array ? [...value] : value);
}

describe("MemoryFileStore", () => {
  it("`MemoryFileStore` answers a script of operations as the runtime's disk store does", async () => {
    const disk = await tempFiles("cairn-memory-files-");
    try {
      const expected = await script(disk.files);
      const actual = await script(new MemoryFileStore("memory:test"));
      assert.deepEqual(actual, expected);
    } finally {
      disk.cleanup();
    }
  });

  it("`MemoryFileStore.append()` grows a file across many appends", async () => {
    const files = new MemoryFileStore("memory:test");
    const expected: number[] = [];
    for (let at = 0; at < 1_000; at++) {
      const chunk = bytes(at % 256, (at * 7) % 256, (at * 13) % 256);
      expected.push(...chunk);
      await files.append("log", chunk, { sync: true });
    }
    assert.deepEqual([...(await files.read("log"))!], expected);
  });

  it("`MemoryFileStore` refuses names with separators", async () => {
    const files = new MemoryFileStore("memory:test");
    await assert.rejects(files.append("a/b", bytes(1), { sync: true }), TypeError);
    await assert.rejects(files.replace("..", bytes(1)), TypeError);
  });

  it("`WriteAheadLog` runs on a `MemoryFileStore` and recovers from a torn tail", async () => {
    const files = new MemoryFileStore("memory:wal");
    const log = await WriteAheadLog.open(files);
    for (let index = 1; index <= 5; index++) {
      await log.append([{ index, term: 1, data: bytes(index) }], { term: 1, vote: "a", commit: 0 });
    }
    const [segment] = await files.list();
    const length = (await files.read(segment))!.byteLength;
    files.truncate(segment, length - 3);
    const reopened = await WriteAheadLog.open(files);
    assert.equal(reopened.lastIndex, 4);
    assert.equal(reopened.recovery.tornTails.length, 1);
    assert.deepEqual((await reopened.entries(1, 5)).map((entry) => entry.data[0]), [1, 2, 3, 4]);
  });
});
