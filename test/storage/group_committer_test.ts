// Goal: GroupCommitter coalesces appends that arrive while an fsync is in flight into the next
// fsync, keeps call order (a later overlapping call replaces, as a second append would), applies
// back-pressure past pendingBytesMax and refuses past waitingCallsMax, and rejects a bad call
// alone. Method: a real log in a temp dir behind a FileStore decorator that counts synced
// appends and delays each one, so concurrent calls pile up deterministically.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { FileStore } from "../../src/runtime.ts";
import { GroupCommitter } from "../../src/storage/group_committer.ts";
import { WriteAheadLog } from "../../src/storage/wal.ts";
import { CountingFileStore, makeEntries, reopenFiles, tempFiles } from "./_support.ts";

let dir: string;
let files: FileStore;
let cleanup: () => void;

beforeEach(async () => {
  ({ dir, files, cleanup } = await tempFiles());
});
afterEach(() => cleanup());

describe("GroupCommitter", () => {
  it("GroupCommitter.append() shares fsyncs among calls made while one is in flight", async () => {
    const counting = new CountingFileStore(files);
    counting.syncDelayMs = 20;
    const log = await WriteAheadLog.open(counting);
    const committer = new GroupCommitter(log);
    const calls = Array.from(
      { length: 200 },
      (_, at) => committer.append(makeEntries(at + 1, 1, 1)),
    );
    await Promise.all(calls);
    // The first call is written alone at once; the other 199 queued behind its fsync.
    assert.equal(counting.syncs, 2);
    assert.deepEqual(committer.stats, { calls: 200, batches: 2, refused: 0 });
    const again = await WriteAheadLog.open(await reopenFiles(dir));
    assert.equal(again.lastIndex, 200);
    assert.deepEqual(await again.entries(1, 201), makeEntries(1, 200, 1));
  });

  it("GroupCommitter.append() keeps call order: a later overlapping call replaces", async () => {
    const counting = new CountingFileStore(files);
    counting.syncDelayMs = 10;
    const log = await WriteAheadLog.open(counting);
    const committer = new GroupCommitter(log);
    await Promise.all([
      committer.append(makeEntries(1, 3, 1)),
      committer.append(makeEntries(4, 3, 1)),
      committer.append(makeEntries(5, 2, 2), { term: 2, vote: "b", commit: 1 }),
      committer.append(makeEntries(7, 1, 2)),
      committer.append([], { term: 2, vote: "b", commit: 4 }),
    ]);
    assert.equal(counting.syncs, 2);
    assert.equal(log.lastIndex, 7);
    assert.deepEqual(await log.entries(1, 8), [
      ...makeEntries(1, 4, 1),
      ...makeEntries(5, 3, 2),
    ]);
    assert.deepEqual(log.hardState, { term: 2, vote: "b", commit: 4 });
  });

  it("GroupCommitter.append() rejects a call that leaves a gap, and only that call", async () => {
    const counting = new CountingFileStore(files);
    counting.syncDelayMs = 10;
    const log = await WriteAheadLog.open(counting);
    const committer = new GroupCommitter(log);
    const results = await Promise.allSettled([
      committer.append(makeEntries(1, 1, 1)),
      committer.append(makeEntries(2, 1, 1)),
      committer.append(makeEntries(9, 1, 1)),
      committer.append(makeEntries(3, 1, 1)),
    ]);
    assert.deepEqual(results.map((result) => result.status), [
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    assert.match(
      String((results[2] as PromiseRejectedResult).reason),
      /^RangeError: Cannot append entry 9/,
    );
    assert.equal(log.lastIndex, 3);
  });

  it("append() waits past pendingBytesMax, refuses past waitingCallsMax", async () => {
    const counting = new CountingFileStore(files);
    counting.syncDelayMs = 10;
    const log = await WriteAheadLog.open(counting);
    const committer = new GroupCommitter(log, { pendingBytesMax: 100, waitingCallsMax: 2 });
    const order: number[] = [];
    const call = (index: number) =>
      committer.append(makeEntries(index, 1, 1, 60)).then(() => order.push(index));
    const first = call(1); // Written at once: the queue holds nothing.
    const second = call(2); // Queued: 60 bytes.
    const third = call(3); // 120 bytes would be over 100: waits for room.
    const fourth = call(4); // Waits too.
    await assert.rejects(
      call(5),
      /^Error: Cannot append to the write-ahead log: 2 calls already wait/,
    );
    assert.ok(committer.pendingBytes <= 100);
    await Promise.all([first, second, third, fourth]);
    assert.deepEqual(order, [1, 2, 3, 4]);
    assert.equal(committer.stats.refused, 1);
    assert.equal(log.lastIndex, 4);
  });

  it("GroupCommitter.append() rejects every call of a batch whose write fails", async () => {
    const counting = new CountingFileStore(files);
    const log = await WriteAheadLog.open(counting);
    const committer = new GroupCommitter(log);
    await committer.append(makeEntries(1, 1, 1));
    counting.crashAfter = 0;
    const results = await Promise.allSettled([
      committer.append(makeEntries(2, 1, 1)),
      committer.append(makeEntries(3, 1, 1)),
    ]);
    assert.ok(results.every((result) => result.status === "rejected"));
  });

  it("GroupCommitter rejects options that cannot work", () => {
    assert.throws(
      () => new GroupCommitter(undefined as unknown as WriteAheadLog, { pendingBytesMax: -1 }),
      /^RangeError: Cannot use group committer options: pendingBytesMax/,
    );
  });
});
