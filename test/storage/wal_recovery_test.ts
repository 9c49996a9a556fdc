// Goal: WriteAheadLog.open() repairs what a crash can do (a torn or incomplete final batch, a
// garbage or zeroed tail, an interrupted truncation or reset) and reports it, and refuses, with
// a message naming the file, the offset and the remedy, what only corruption can do (damage
// followed by later batches, damage in a non-last segment, a missing segment, a valid record
// that does not fit), leaving the files exactly as found. Method: real logs in a temp dir,
// damaged with node:fs (flipped bytes, dropped tails, appended bytes) or by a FileStore
// decorator that crashes at the Nth write; each frame is 9 + 16 + data bytes, so offsets are known.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { FileStore } from "../../src/runtime.ts";
import { encodeBatch, encodeEntry, RecordType } from "../../src/storage/_wal_record.ts";
import { segmentName, WriteAheadLog } from "../../src/storage/wal.ts";
import {
  appendRaw,
  CountingFileStore,
  dropTail,
  flipByte,
  makeEntries,
  readBytes,
  reopenFiles,
  tempFiles,
} from "./_support.ts";

/** One entry frame with 32 bytes of data. */
const FRAME = 9 + 16 + 32;
const FIRST = segmentName(1);

let dir: string;
let files: FileStore;
let cleanup: () => void;

beforeEach(async () => {
  ({ dir, files, cleanup } = await tempFiles());
});
afterEach(() => cleanup());

/** Three batches of two 32-byte entries (indexes 1-6), no hard state: 6 frames of 57 bytes. */
async function threeBatches(): Promise<void> {
  const log = await WriteAheadLog.open(files);
  for (const first of [1, 3, 5]) await log.append(makeEntries(first, 2, 1));
}

function snapshotDir(): Map<string, string> {
  const state = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    state.set(name, Array.from(readBytes(join(dir, name))).join(","));
  }
  return state;
}

async function openAgain(options = {}): Promise<WriteAheadLog> {
  return await WriteAheadLog.open(await reopenFiles(dir), options);
}

/** Opening must fail with `pattern`, and leave every file as it was. */
async function assertRefuses(pattern: RegExp, options = {}): Promise<Error> {
  const before = snapshotDir();
  const error = await openAgain(options).then(
    () => assert.fail("the log opened"),
    (error: Error) => error,
  );
  assert.match(error.message, pattern);
  assert.match(
    error.message,
    new RegExp(
      "restore the data dir from a backup or snapshot, " +
        "or remove this server's data dir and let it rejoin the cluster$",
    ),
  );
  assert.deepEqual(snapshotDir(), before, "a refused log is left untouched");
  return error;
}

describe("WriteAheadLog recovery", () => {
  it("cuts a partial final frame, reports it, and appends after the cut", async () => {
    await threeBatches();
    dropTail(join(dir, FIRST), 10);
    const log = await openAgain();
    assert.equal(log.lastIndex, 4);
    assert.deepEqual(log.recovery.tornTails, [{
      segment: FIRST,
      offset: 4 * FRAME,
      bytesDropped: 2 * FRAME - 10,
      reason: `length past the end of the file at offset ${5 * FRAME}`,
    }]);
    assert.equal(log.recovery.bytesDropped, 2 * FRAME - 10);
    assert.equal(log.recovery.recordsKept, 4);
    assert.equal(statSync(join(dir, FIRST)).size, 4 * FRAME);
    await log.append(makeEntries(5, 1, 2));
    const again = await openAgain();
    assert.deepEqual(again.recovery.tornTails, []);
    assert.deepEqual(await again.entries(1, 6), [...makeEntries(1, 4, 1), ...makeEntries(5, 1, 2)]);
  });

  it("cuts a final record whose checksum fails (the very end of the log)", async () => {
    const log = await WriteAheadLog.open(files);
    await log.append(makeEntries(1, 3, 1));
    await log.append(makeEntries(4, 1, 1));
    flipByte(join(dir, FIRST), 3 * FRAME + 30);
    const again = await openAgain();
    assert.equal(again.lastIndex, 3);
    assert.equal(again.recovery.tornTails[0].reason, `checksum mismatch at offset ${3 * FRAME}`);
  });

  it("cuts a final batch whose first record is lost but later ones reached the disk", async () => {
    // Pages of one unsynced write can reach the disk out of order: the batch's records after
    // the damage carry no batch-start flag, so they belong to the torn batch.
    const log = await WriteAheadLog.open(files);
    await log.append(makeEntries(1, 2, 1));
    await log.append(makeEntries(3, 3, 1));
    for (let offset = 2 * FRAME; offset < 3 * FRAME; offset++) flipByte(join(dir, FIRST), offset);
    const again = await openAgain();
    assert.equal(again.lastIndex, 2);
    assert.equal(again.recovery.bytesDropped, 3 * FRAME);
  });

  it("cuts a final batch that ends at a frame boundary before its last record", async () => {
    await threeBatches();
    dropTail(join(dir, FIRST), FRAME);
    const again = await openAgain();
    assert.equal(again.lastIndex, 4);
    assert.equal(again.recovery.tornTails[0].reason, "the final batch is incomplete");
  });

  it("cuts a zero-filled or garbage tail", async () => {
    await threeBatches();
    appendRaw(join(dir, FIRST), new Uint8Array(4_096));
    let again = await openAgain();
    assert.equal(again.lastIndex, 6);
    assert.equal(again.recovery.bytesDropped, 4_096);
    appendRaw(join(dir, FIRST), Uint8Array.from({ length: 300 }, (_, i) => (i * 97 + 13) & 0xff));
    again = await openAgain();
    assert.equal(again.lastIndex, 6);
    assert.equal(again.recovery.bytesDropped, 300);
  });

  it("refuses damage in the middle of the last segment that later batches follow", async () => {
    await threeBatches();
    flipByte(join(dir, FIRST), FRAME + 20);
    const error = await assertRefuses(
      new RegExp(
        `^Cannot open the write-ahead log: record at ${dir}/${FIRST} offset ${FRAME} has a ` +
          `checksum mismatch, and valid records follow it \\(a batch starts at offset ` +
          `${2 * FRAME}\\), so this is not a torn write; `,
      ),
    );
    assert.ok(!(error instanceof RangeError));
  });

  it("refuses a damaged length field that later batches follow", async () => {
    await threeBatches();
    flipByte(join(dir, FIRST), 2 * FRAME + 3);
    await assertRefuses(/offset 114 has a length over recordBytesMax, and valid records follow/);
  });

  it("refuses damage in a segment that is not the last", async () => {
    const log = await WriteAheadLog.open(files, { segmentBytesMax: 4 * FRAME });
    for (let first = 1; first <= 12; first += 2) await log.append(makeEntries(first, 2, 1));
    assert.ok(log.segmentNames.length >= 3);
    flipByte(join(dir, log.segmentNames[1]), 10);
    await assertRefuses(
      new RegExp(`record at ${dir}/${log.segmentNames[1]} offset 0 has a checksum mismatch`),
    );
  });

  it("refuses a lost record at the end of a segment that is not the last", async () => {
    const log = await WriteAheadLog.open(files, { segmentBytesMax: 4 * FRAME });
    for (let first = 1; first <= 12; first += 2) await log.append(makeEntries(first, 2, 1));
    const middle = log.segmentNames[1];
    flipByte(join(dir, middle), statSync(join(dir, middle)).size - 5);
    await assertRefuses(
      new RegExp(
        `${log.segmentNames[2]} starts at index \\d+ but the segment before it ends at index ` +
          "\\d+ \\(its bytes from offset \\d+ are unreadable: checksum mismatch at offset " +
          "\\d+\\), so entries are missing",
      ),
    );
  });

  it("refuses a missing segment", async () => {
    const log = await WriteAheadLog.open(files, { segmentBytesMax: 4 * FRAME });
    for (let first = 1; first <= 12; first += 2) await log.append(makeEntries(first, 2, 1));
    rmSync(join(dir, log.segmentNames[1]));
    await assertRefuses(
      /starts at index \d+ but the segment before it ends at index 4, so entries are missing/,
    );
  });

  it("refuses a record that passes its checksum but holds the wrong index", async () => {
    const log = await WriteAheadLog.open(files);
    await log.append(makeEntries(1, 2, 1));
    const stray = encodeBatch([{
      type: RecordType.entry,
      payload: encodeEntry(7, 1, new Uint8Array(4)),
    }]);
    appendRaw(join(dir, FIRST), stray.bytes);
    await assertRefuses(
      new RegExp(`offset ${2 * FRAME} passes its checksum but holds entry 7 where entry 3 belongs`),
    );
  });

  it("finishes a truncation that a crash interrupted after its record was durable", async () => {
    const counting = new CountingFileStore(files);
    const log = await WriteAheadLog.open(counting, { segmentBytesMax: 4 * FRAME });
    await log.append([], { term: 1, vote: "a", commit: 0 });
    for (let first = 1; first <= 16; first += 2) await log.append(makeEntries(first, 2, 1));
    await log.append([], { term: 2, vote: "b", commit: 1 });
    const segments = log.segmentNames;
    // The truncate record and one removal happen; the next removal crashes.
    counting.crashAfter = 2;
    await assert.rejects(log.truncateAfter(3), /crash while/);
    const again = await openAgain({ segmentBytesMax: 4 * FRAME });
    assert.equal(again.lastIndex, 3);
    assert.deepEqual(again.hardState, { term: 2, vote: "b", commit: 1 });
    assert.ok(again.recovery.segmentsRemoved.length >= 1);
    assert.match(
      again.recovery.segmentsRemoved[0].reason,
      /truncation after index 3 that a crash interrupted/,
    );
    assert.deepEqual(readdirSync(dir).sort(), segments.filter((name) => name <= segmentName(4)));
    assert.deepEqual(await again.entries(1, 4), makeEntries(1, 3, 1));
    await again.append(makeEntries(4, 1, 2));
    const third = await openAgain({ segmentBytesMax: 4 * FRAME });
    assert.deepEqual(third.recovery.segmentsRemoved, []);
    assert.equal(third.term(4), 2);
  });

  it("keeps the old log when a crash tore a truncate record in an older segment", async () => {
    const counting = new CountingFileStore(files);
    const log = await WriteAheadLog.open(counting, { segmentBytesMax: 4 * FRAME });
    await log.append([], { term: 1, vote: "a", commit: 0 });
    for (let first = 1; first <= 16; first += 2) await log.append(makeEntries(first, 2, 1));
    counting.crashAfter = 0;
    counting.tornBytes = 11;
    await assert.rejects(log.truncateAfter(3), /crash while/);
    const again = await openAgain({ segmentBytesMax: 4 * FRAME });
    assert.equal(again.lastIndex, 16);
    assert.equal(again.recovery.tornTails.length, 1);
    assert.equal(again.recovery.tornTails[0].bytesDropped, 11);
    assert.deepEqual(await again.entries(1, 17), makeEntries(1, 16, 1));
  });

  it("finishes a reset that a crash interrupted", async () => {
    const counting = new CountingFileStore(files);
    const log = await WriteAheadLog.open(counting, { segmentBytesMax: 4 * FRAME });
    await log.append([], { term: 3, vote: "c", commit: 0 });
    for (let first = 1; first <= 16; first += 2) await log.append(makeEntries(first, 2, 3));
    counting.crashAfter = 1; // The reset record is durable; removing the first old segment crashes.
    await assert.rejects(log.reset(50), /crash while/);
    const again = await openAgain({ segmentBytesMax: 4 * FRAME });
    assert.equal(again.firstIndex, 51);
    assert.equal(again.lastIndex, 50);
    assert.deepEqual(again.hardState, { term: 3, vote: "c", commit: 0 });
    assert.ok(
      again.recovery.segmentsRemoved.every((removed) => removed.reason === "voided by a reset"),
    );
    assert.deepEqual(readdirSync(dir), [again.segmentNames[0]]);
  });

  it("keeps a hard state whose segment a crash left empty", async () => {
    const counting = new CountingFileStore(files);
    const log = await WriteAheadLog.open(counting, { segmentBytesMax: 6 * FRAME });
    await log.append(makeEntries(1, 4, 1), { term: 5, vote: "e", commit: 0 });
    counting.crashAfter = 0;
    counting.tornBytes = 20;
    await assert.rejects(log.append(makeEntries(5, 2, 5)), /crash while/);
    const again = await openAgain({ segmentBytesMax: 6 * FRAME });
    assert.equal(again.lastIndex, 4);
    assert.deepEqual(again.segmentNames, [FIRST, segmentName(5)]);
    assert.deepEqual(again.hardState, { term: 5, vote: "e", commit: 0 });
    await again.append(makeEntries(5, 4, 5));
    await again.compact(4);
    const third = await openAgain({ segmentBytesMax: 6 * FRAME });
    assert.deepEqual(third.segmentNames, [segmentName(5)]);
    assert.deepEqual(third.hardState, { term: 5, vote: "e", commit: 0 });
  });
});
