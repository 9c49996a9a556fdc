// Goal: WriteAheadLog keeps what it acknowledged across a reopen: entries, terms, hard state,
// truncations (in the last segment and across segments), resets and compaction, with segment
// rollover, one fdatasync per batch, and reads served from memory or disk alike. Method: real
// files in a temp dir (the runtime's FileStore), small segments to force rollover, a counting
// FileStore decorator to observe fsyncs, and a reopen after each step.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { FileStore } from "../../src/runtime.ts";
import { type LogEntry, segmentName, WriteAheadLog } from "../../src/storage/wal.ts";
import { CountingFileStore, makeEntries, reopenFiles, tempFiles } from "./_support.ts";

let dir: string;
let files: FileStore;
let cleanup: () => void;

beforeEach(async () => {
  ({ dir, files, cleanup } = await tempFiles());
});
afterEach(() => cleanup());

async function reopen(options = {}): Promise<WriteAheadLog> {
  const log = await WriteAheadLog.open(await reopenFiles(dir), options);
  assert.equal(log.recovery.tornTails.length, 0, "a clean log has no torn tail");
  assert.equal(log.recovery.segmentsRemoved.length, 0, "a clean log has no leftovers");
  return log;
}

function describeEntries(entries: LogEntry[]): string[] {
  return entries.map((e) =>
    `${e.index}@${e.term}:${new TextDecoder().decode(e.data).split("\0")[0]}`
  );
}

describe("WriteAheadLog", () => {
  it("WriteAheadLog.open() starts a new log empty at index 1", async () => {
    const log = await WriteAheadLog.open(files);
    assert.equal(log.firstIndex, 1);
    assert.equal(log.lastIndex, 0);
    assert.deepEqual(log.hardState, { term: 0, vote: "", commit: 0 });
    assert.deepEqual(await log.entries(1, 1), []);
    assert.equal(log.term(1), undefined);
    assert.deepEqual(await files.list(), []);
  });

  it("WriteAheadLog.append() round-trips entries and hard state through a reopen", async () => {
    const log = await WriteAheadLog.open(files);
    await log.append(makeEntries(1, 5, 1), { term: 1, vote: "server-a", commit: 0 });
    await log.append(makeEntries(6, 3, 2), { term: 2, vote: "", commit: 5 });
    await log.append([], { term: 3, vote: "server-ü", commit: 7 });
    const again = await reopen();
    assert.equal(again.firstIndex, 1);
    assert.equal(again.lastIndex, 8);
    assert.equal(again.term(5), 1);
    assert.equal(again.term(6), 2);
    assert.equal(again.term(9), undefined);
    assert.deepEqual(again.hardState, { term: 3, vote: "server-ü", commit: 7 });
    assert.deepEqual(await again.entries(1, 9), [...makeEntries(1, 5, 1), ...makeEntries(6, 3, 2)]);
    assert.equal(again.recovery.segmentsRead, 1);
    assert.equal(again.recovery.recordsKept, 8 + 3);
  });

  it("WriteAheadLog.append() writes each batch with exactly one fdatasync", async () => {
    const counting = new CountingFileStore(files);
    const log = await WriteAheadLog.open(counting);
    await log.append(makeEntries(1, 64, 1), { term: 1, vote: "a", commit: 0 });
    await log.append(makeEntries(65, 1, 1));
    await log.append([], { term: 2, vote: "b", commit: 10 });
    assert.equal(counting.syncs, 3);
    assert.equal(counting.appends, 3);
  });

  it("WriteAheadLog.append() rejects gaps, unordered entries and oversized entries", async () => {
    const log = await WriteAheadLog.open(files, { recordBytesMax: 1_000 });
    await assert.rejects(log.append(makeEntries(2, 1, 1)), /^RangeError: Cannot append entry 2/);
    await assert.rejects(
      log.append([...makeEntries(1, 1, 1), ...makeEntries(3, 1, 1)]),
      /RangeError: Cannot append entries to the write-ahead log: entry 1 has index 3/,
    );
    await assert.rejects(log.append(makeEntries(1, 1, 1, 2_000)), /over recordBytesMax/);
    await log.append(makeEntries(1, 2, 1));
    assert.equal(log.lastIndex, 2);
  });

  it("WriteAheadLog rolls over to a new segment named after its first entry", async () => {
    const log = await WriteAheadLog.open(files, { segmentBytesMax: 1_000 });
    await log.append([], { term: 4, vote: "x", commit: 0 });
    for (let index = 1; index <= 60; index += 3) await log.append(makeEntries(index, 3, 4, 100));
    assert.ok(log.segmentNames.length > 5, `segments: ${log.segmentNames}`);
    assert.equal(log.segmentNames[0], segmentName(1));
    assert.match(log.segmentNames[1], /^wal-\d{20}\.seg$/);
    // A batch never spans segments: every segment but the first starts at a batch's first index.
    for (const name of log.segmentNames.slice(1)) {
      assert.equal((Number(name.slice(4, 24)) - 1) % 3, 0);
    }
    const again = await reopen({ segmentBytesMax: 1_000 });
    assert.deepEqual(again.segmentNames, log.segmentNames);
    assert.equal(again.lastIndex, 63 - 3);
    assert.deepEqual(await again.entries(1, 61), makeEntries(1, 60, 4, 100));
  });

  it("WriteAheadLog.entries() reads from disk past the cache and honours bytesMax", async () => {
    const log = await WriteAheadLog.open(files, { segmentBytesMax: 2_000, cacheBytesMax: 1 });
    for (let index = 1; index <= 100; index += 10) await log.append(makeEntries(index, 10, 1, 50));
    assert.ok(log.cachedBytes < 200, "the cache keeps only the newest entry");
    assert.deepEqual(await log.entries(3, 97), makeEntries(3, 94, 1, 50));
    assert.deepEqual(describeEntries(await log.entries(5, 90, { bytesMax: 120 })), [
      "5@1:e5t1",
      "6@1:e6t1",
    ]);
    assert.equal((await log.entries(5, 90, { bytesMax: 1 })).length, 1, "at least one entry");
    await assert.rejects(log.entries(0, 3), /RangeError: Cannot read entries 0 to 3/);
    await assert.rejects(log.entries(5, 102), RangeError);
    // A FileStore without readRange is read whole instead.
    const plain: FileStore = {
      dir,
      append: (name, bytes, options) => files.append(name, bytes, options),
      replace: (name, bytes) => files.replace(name, bytes),
      read: (name) => files.read(name),
      list: () => files.list(),
      remove: (name) => files.remove(name),
    };
    const again = await WriteAheadLog.open(plain, { segmentBytesMax: 2_000, cacheBytesMax: 1 });
    assert.deepEqual(await again.entries(2, 100), makeEntries(2, 98, 1, 50));
  });

  it("WriteAheadLog.append() over the last entries replaces the conflicting suffix", async () => {
    const log = await WriteAheadLog.open(files);
    await log.append(makeEntries(1, 10, 1));
    await log.append(makeEntries(7, 2, 2), { term: 2, vote: "b", commit: 3 });
    assert.equal(log.lastIndex, 8);
    assert.equal(log.term(6), 1);
    assert.equal(log.term(7), 2);
    await log.append(makeEntries(9, 1, 2));
    const again = await reopen();
    assert.equal(again.lastIndex, 9);
    assert.deepEqual(await again.entries(1, 10), [
      ...makeEntries(1, 6, 1),
      ...makeEntries(7, 3, 2),
    ]);
    assert.deepEqual(again.hardState, { term: 2, vote: "b", commit: 3 });
  });

  it("WriteAheadLog.truncateAfter() across segments removes later segments durably", async () => {
    const counting = new CountingFileStore(files);
    const log = await WriteAheadLog.open(counting, { segmentBytesMax: 600 });
    await log.append([], { term: 1, vote: "a", commit: 0 });
    for (let index = 1; index <= 40; index += 4) await log.append(makeEntries(index, 4, 1, 64));
    const before = log.segmentNames;
    assert.ok(before.length >= 4);
    await log.truncateAfter(6);
    assert.equal(log.lastIndex, 6);
    assert.ok(log.segmentNames.length < before.length);
    assert.deepEqual(await files.list(), log.segmentNames);
    await log.append(makeEntries(7, 3, 3, 64), { term: 3, vote: "c", commit: 2 });
    await log.truncateAfter(100); // Past the end: nothing to do.
    await assert.rejects(log.truncateAfter(-5), RangeError);
    const again = await reopen({ segmentBytesMax: 600 });
    assert.equal(again.lastIndex, 9);
    assert.deepEqual(await again.entries(1, 10), [
      ...makeEntries(1, 6, 1, 64),
      ...makeEntries(7, 3, 3, 64),
    ]);
    assert.deepEqual(again.hardState, { term: 3, vote: "c", commit: 2 });
  });

  it("WriteAheadLog.truncateAfter() before every entry leaves an empty log", async () => {
    const log = await WriteAheadLog.open(files, { segmentBytesMax: 400 });
    for (let index = 1; index <= 20; index += 2) await log.append(makeEntries(index, 2, 1, 64));
    await log.truncateAfter(0);
    assert.equal(log.lastIndex, 0);
    assert.equal(log.firstIndex, 1);
    assert.deepEqual(await reopenFiles(dir).then((f) => f.list()), [segmentName(1)]);
    await log.append(makeEntries(1, 1, 2));
    const again = await reopen({ segmentBytesMax: 400 });
    assert.deepEqual(await again.entries(1, 2), makeEntries(1, 1, 2));
  });

  it("WriteAheadLog.compact() removes whole segments below the index, keeps hard state", async () => {
    const log = await WriteAheadLog.open(files, { segmentBytesMax: 500 });
    await log.append([], { term: 7, vote: "v", commit: 0 });
    for (let index = 1; index <= 50; index += 5) await log.append(makeEntries(index, 5, 7, 40));
    const segments = log.segmentNames;
    const removed = await log.compact(23);
    assert.ok(removed >= 1);
    assert.ok(log.firstIndex <= 24, `firstIndex ${log.firstIndex} must keep entry 24`);
    assert.ok(log.firstIndex > 1);
    assert.deepEqual(log.segmentNames, segments.slice(removed));
    assert.equal(await log.compact(0), 0);
    // Compacting past everything keeps the last segment, and with it the hard state.
    await log.compact(1_000);
    assert.equal(log.segmentNames.length, 1);
    const again = await reopen({ segmentBytesMax: 500 });
    assert.deepEqual(again.hardState, { term: 7, vote: "v", commit: 0 });
    assert.equal(again.lastIndex, 50);
    assert.equal(again.firstIndex, log.firstIndex);
    assert.deepEqual(
      await again.entries(again.firstIndex, 51),
      makeEntries(again.firstIndex, 51 - again.firstIndex, 7, 40),
    );
    assert.equal(again.term(again.firstIndex - 1), undefined);
  });

  it("WriteAheadLog.reset() empties the log to continue after a snapshot's index", async () => {
    const log = await WriteAheadLog.open(files, { segmentBytesMax: 500 });
    await log.append([], { term: 2, vote: "r", commit: 0 });
    for (let index = 1; index <= 30; index += 5) await log.append(makeEntries(index, 5, 2, 40));
    await log.reset(1_000);
    assert.equal(log.firstIndex, 1_001);
    assert.equal(log.lastIndex, 1_000);
    assert.equal(log.segmentNames.length, 1);
    await log.append(makeEntries(1_001, 2, 3));
    let again = await reopen({ segmentBytesMax: 500 });
    assert.equal(again.firstIndex, 1_001);
    assert.deepEqual(await again.entries(1_001, 1_003), makeEntries(1_001, 2, 3));
    assert.deepEqual(again.hardState, { term: 2, vote: "r", commit: 0 });
    // A reset inside the log (a snapshot whose term did not match) drops the rest too.
    await again.reset(1_001);
    assert.equal(again.lastIndex, 1_001);
    assert.equal(again.firstIndex, 1_002);
    again = await reopen({ segmentBytesMax: 500 });
    assert.equal(again.firstIndex, 1_002);
    assert.equal(again.lastIndex, 1_001);
    await assert.rejects(
      again.reset(5),
      /RangeError: Cannot reset the write-ahead log after index 5/,
    );
  });

  it("WriteAheadLog.reset() on a new log starts it after the index", async () => {
    const log = await WriteAheadLog.open(files);
    await log.reset(99);
    assert.deepEqual(await files.list(), [segmentName(100)]);
    await log.append(makeEntries(100, 1, 5));
    const again = await reopen();
    assert.equal(again.firstIndex, 100);
    assert.equal(again.lastIndex, 100);
  });

  it("WriteAheadLog fails for good after a write fails", async () => {
    const counting = new CountingFileStore(files);
    const log = await WriteAheadLog.open(counting);
    await log.append(makeEntries(1, 1, 1));
    counting.crashAfter = 0;
    await assert.rejects(
      log.append(makeEntries(2, 1, 1)),
      /Cannot use the write-ahead log: a write failed/,
    );
    counting.crashAfter = undefined;
    await assert.rejects(log.append(makeEntries(2, 1, 1)), /restart the server to recover the log/);
    await assert.rejects(log.compact(1), /a write failed/);
  });

  it("WriteAheadLog.open() ignores other files in its directory", async () => {
    await files.replace("snapshot-1.snap", new Uint8Array(10));
    const log = await WriteAheadLog.open(files);
    await log.append(makeEntries(1, 2, 1));
    const again = await reopen();
    assert.equal(again.lastIndex, 2);
  });

  it("FileStore.readRange() reads a span, short at the end, undefined when missing", async () => {
    await files.append("data", Uint8Array.from([1, 2, 3, 4, 5]), { sync: true });
    assert.deepEqual(await files.readRange!("data", 1, 3), Uint8Array.from([2, 3, 4]));
    assert.deepEqual(await files.readRange!("data", 3, 10), Uint8Array.from([4, 5]));
    assert.deepEqual(await files.readRange!("data", 9, 10), new Uint8Array(0));
    assert.equal(await files.readRange!("missing", 0, 1), undefined);
  });

  it("WriteAheadLog.open() rejects options that cannot work", async () => {
    await assert.rejects(
      WriteAheadLog.open(files, { segmentBytesMax: 0 }),
      /^RangeError: Cannot use write-ahead log options: segmentBytesMax/,
    );
  });
});
