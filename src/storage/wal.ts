/**
 * The Raft write-ahead log: entries and hard state in append-only segment files, each write
 * one batch made durable by one fdatasync (group commit).
 *
 * ## On-disk format
 *
 * A log is the files `wal-<firstIndex>.seg` in one directory, `firstIndex` in 20 decimal digits
 * so that names sort as their numbers do. A segment is named after the first entry written to
 * it; no live entry in it, or in any later segment, has a lower index. A segment holds frames
 * back to back, with no file header; every integer is little-endian:
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 4 | `length`: payload bytes, u32, at most `recordBytesMax` |
 * | 4 | 4 | `crc`: CRC-32C over bytes 0..4 and 8..9+length (length, type, payload) |
 * | 8 | 1 | `type`: bits 0-5 the type; 0x40 first record of a batch; 0x80 last of a batch |
 * | 9 | length | `payload` |
 *
 * | type | record | payload |
 * | --- | --- | --- |
 * | 1 | entry | index u64, term u64, data (the rest) |
 * | 2 | hard state | term u64, commit u64, vote as UTF-8 (the rest; "" for none) |
 * | 3 | truncate | lastKeptIndex u64: entries after it are void |
 * | 4 | reset | afterIndex u64: every entry so far is void; the log continues empty after it |
 *
 * A batch is the records of one `append` (or `truncateAfter`, `reset`, `compact`) call, written
 * with one `FileStore.append(..., { sync: true })`, so one fdatasync. Recovery keeps whole batches
 * only. A batch never spans two segments: a segment rolls over before a batch that would take it
 * past `segmentBytesMax`, and a batch's entries may total at most `segmentBytesMax`, so a
 * segment is under twice `segmentBytesMax` (plus a truncate and a hard state record).
 *
 * ## Hard state lives in the log
 *
 * Raft's term, vote and commit are hard state records in the log, written in the same batch and
 * fsync as the entries they go with: a follower that learns a new term from an AppendEntries
 * persists both with one fsync, and a vote is durable when `append([], hardState)` resolves,
 * before the vote is answered. The newest hard state record wins. Every new segment starts its
 * first batch with a copy of the hard state, and `compact` writes one into the last segment if
 * it has none, so removing old segments never loses it.
 *
 * ## Memory
 *
 * Per live entry the log keeps its term and its frame's offsets (three numbers, about 24 bytes),
 * so `term()` is synchronous and `entries()` reads exactly the frames it needs; Raft's snapshots
 * and `compact()` bound how many entries there are. Entry data is kept only for the newest
 * entries, up to `cacheBytesMax` (the leader's followers read what it just appended).
 *
 * ## Recovery (`open`)
 *
 * - A torn final batch (a partial frame, a bad checksum, or a missing batch-end record, with no
 *   later batch after it) is cut off the file and reported in {@link WalRecovery}.
 * - Damage followed by a valid record that starts a batch throws: a batch written after the
 *   damaged bytes was fsynced, so this is corruption, not a crash. So do a gap between segments
 *   and a record that passes its checksum but does not fit (wrong index).
 * - Segments that an interrupted `truncateAfter` or `reset` left behind are removed, and
 *   reported.
 *
 * @example
 * ```ts ignore
 * const log = await WriteAheadLog.open(await runtime.files(`${dataDir}/raft`));
 * const hardState = { term: 1, vote: "a", commit: 0 };
 * await log.append([{ index: log.lastIndex + 1, term: 1, data }], hardState);
 * ```
 *
 * @module
 */

import type { FileStore } from "../runtime.ts";
import { EntryCache } from "./_entry_cache.ts";
import { CORRUPTION_REMEDY, recoverLog } from "./_wal_recovery.ts";
import {
  decodeEntry,
  encodeBatch,
  encodeEntry,
  encodeHardState,
  encodeIndex,
  FRAME_HEADER_BYTES,
  readFrame,
  type Record,
  RecordType,
} from "./_wal_record.ts";
import {
  cutSegmentAfter,
  emptySegment,
  type Segment,
  segmentLastIndex,
  segmentName,
} from "./_wal_segment.ts";

export { segmentName };

/** One Raft log entry; `data` is opaque to storage. */
export interface LogEntry {
  index: number;
  term: number;
  data: Uint8Array;
}

/** Raft's hard state: what must survive a crash before a vote or an ack leaves. */
export interface HardState {
  term: number;
  /** The server voted for in `term`, or "" for none. */
  vote: string;
  commit: number;
}

/** A segment's size past which the next batch goes to a new segment: 64 MiB. */
export const SEGMENT_BYTES_MAX = 64 * 1024 * 1024;
/** The largest record payload (an entry's data plus 16 bytes): 16 MiB. */
export const RECORD_BYTES_MAX = 16 * 1024 * 1024;
/** Entry data kept in memory for the newest entries: 16 MiB. */
export const CACHE_BYTES_MAX = 16 * 1024 * 1024;

/** Tuning for {@link WriteAheadLog}. */
export interface WriteAheadLogOptions {
  /**
   * Roll over to a new segment before a batch that would take the current one past this.
   * Compaction removes whole segments, so smaller segments free disk sooner.
   * @default {SEGMENT_BYTES_MAX}
   */
  segmentBytesMax?: number;
  /**
   * The largest record payload written or accepted on recovery; a larger length field is
   * damage. Consul caps a KV value at 512 KiB, so entries are far smaller.
   * @default {RECORD_BYTES_MAX}
   */
  recordBytesMax?: number;
  /** Entry data kept in memory for the newest entries. @default {CACHE_BYTES_MAX} */
  cacheBytesMax?: number;
}

/** What recovery found and did when the log was opened. */
export interface WalRecovery {
  /** Segment files read and verified. */
  segmentsRead: number;
  /** Records (entries, hard states, markers) that passed their checksums and were replayed. */
  recordsKept: number;
  /** Bytes cut off torn tails. */
  bytesDropped: number;
  /** Each torn tail cut: the segment, the offset it was cut at, and why. */
  tornTails: { segment: string; offset: number; bytesDropped: number; reason: string }[];
  /** Segment files removed, and why. */
  segmentsRemoved: { segment: string; reason: string }[];
}

/** Options for {@link WriteAheadLog.entries}. */
export interface EntriesOptions {
  /**
   * Stop before the entries' data would pass this many bytes; at least one entry is returned.
   * @default {Infinity}
   */
  bytesMax?: number;
}

/** Bytes in an entry's frame besides its data: the frame header, index and term. */
const ENTRY_OVERHEAD_BYTES = FRAME_HEADER_BYTES + 16;

const NO_HARD_STATE: HardState = { term: 0, vote: "", commit: 0 };

/**
 * Throws a `RangeError` unless `options` can work.
 *
 * @param options the options to check
 */
export function validateWriteAheadLogOptions(options: Required<WriteAheadLogOptions>): void {
  for (const [name, value] of Object.entries(options)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot use write-ahead log options: ${name} must be a positive integer, not ${value}`,
      );
    }
  }
  for (const name of ["segmentBytesMax", "recordBytesMax"] as const) {
    if (options[name] > 0xffff_ffff) {
      throw new RangeError(
        `Cannot use write-ahead log options: ${name} must be under 4 GiB (offsets and lengths ` +
          `are u32), not ${options[name]}`,
      );
    }
  }
}

/**
 * Raft's durable log. All mutations are serialized; each resolves once its batch is on disk
 * (fdatasync'd), and a failed write fails the log for good (fsync errors cannot be retried:
 * the kernel may have dropped the dirty pages), so the server must restart and recover.
 */
export class WriteAheadLog {
  /** What recovery found and did when this log was opened. */
  readonly recovery: WalRecovery;
  readonly #files: FileStore;
  readonly #options: Required<WriteAheadLogOptions>;
  readonly #cache: EntryCache;
  /** Live segments, oldest first; only the last may have no live entries. */
  #segments: Segment[];
  #hardState: HardState | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #failure: Error | undefined;

  private constructor(
    files: FileStore,
    options: Required<WriteAheadLogOptions>,
    recovered: { segments: Segment[]; hardState: HardState | undefined; report: WalRecovery },
  ) {
    this.#files = files;
    this.#options = options;
    this.#cache = new EntryCache(options.cacheBytesMax);
    this.#segments = recovered.segments;
    this.#hardState = recovered.hardState;
    this.recovery = recovered.report;
  }

  /**
   * Opens the log in `files`, recovering it: verifies every record, cuts a torn tail, finishes
   * an interrupted truncation. An empty directory is a new log whose first entry is index 1.
   *
   * @param files the directory of the log (other files in it are ignored)
   * @param options tuning
   * @returns the log; its `recovery` says what was repaired
   * @throws Error "Cannot open the write-ahead log: ..." naming the file, the offset and what
   *   to do when the log is damaged in the middle; the files are then left untouched
   */
  static async open(files: FileStore, options: WriteAheadLogOptions = {}): Promise<WriteAheadLog> {
    const resolved: Required<WriteAheadLogOptions> = {
      segmentBytesMax: options.segmentBytesMax ?? SEGMENT_BYTES_MAX,
      recordBytesMax: options.recordBytesMax ?? RECORD_BYTES_MAX,
      cacheBytesMax: options.cacheBytesMax ?? CACHE_BYTES_MAX,
    };
    validateWriteAheadLogOptions(resolved);
    const recovered = await recoverLog(files, resolved.recordBytesMax);
    return new WriteAheadLog(files, resolved, recovered);
  }

  /** The first live entry's index (`lastIndex + 1` when the log is empty; 1 for a new log). */
  get firstIndex(): number {
    return this.#segments[0]?.startIndex ?? 1;
  }

  /** The last entry's index (`firstIndex - 1` when the log is empty). */
  get lastIndex(): number {
    const last = this.#segments[this.#segments.length - 1];
    return last === undefined ? 0 : segmentLastIndex(last);
  }

  /** The newest hard state written (all zero and no vote before the first). */
  get hardState(): HardState {
    return { ...(this.#hardState ?? NO_HARD_STATE) };
  }

  /** The segment files, oldest first. */
  get segmentNames(): string[] {
    return this.#segments.map((segment) => segment.name);
  }

  /** Entry data bytes held in memory (plus a fixed overhead per entry). */
  get cachedBytes(): number {
    return this.#cache.bytes;
  }

  /**
   * Returns the term of the entry at `index`.
   *
   * @param index an entry's index
   * @returns its term, or `undefined` outside `firstIndex ..= lastIndex`
   */
  term(index: number): number | undefined {
    const segment = this.#segmentOf(index);
    return segment?.terms[index - segment.startIndex];
  }

  /**
   * Reads entries `from ..< to`, from memory when they are recent, else from the segments
   * (each record's checksum verified again).
   *
   * @param from the first index, at least `firstIndex`
   * @param to one past the last index, at most `lastIndex + 1`
   * @param options a size limit
   * @returns the entries in order; callers must not change their data
   */
  entries(from: number, to: number, options: EntriesOptions = {}): Promise<LogEntry[]> {
    const bytesMax = options.bytesMax ?? Infinity;
    try {
      this.#checkRange(from, to);
    } catch (error) {
      return Promise.reject(error);
    }
    const cached: LogEntry[] = [];
    let bytes = 0;
    for (let index = from; index < to; index++) {
      const entry = this.#cache.get(index);
      if (entry === undefined) {
        return this.#exclusive(() => this.#readEntries(from, to, bytesMax));
      }
      bytes += entry.data.byteLength;
      if (bytes > bytesMax && cached.length > 0) break;
      cached.push(entry);
    }
    return Promise.resolve(cached);
  }

  /**
   * Appends entries (and the hard state, if given) as one batch with one fdatasync. When the
   * first entry's index is at or below `lastIndex`, the entries from there on are replaced: a
   * follower's conflicting suffix (Raft §5.3). The log keeps references to the entries.
   *
   * @param entries consecutive entries, the first at most `lastIndex + 1`; may be empty
   * @param hardState the hard state to persist with them
   * @returns once the batch is durable
   */
  append(entries: readonly LogEntry[], hardState?: HardState): Promise<void> {
    try {
      checkEntries(entries, this.#options.recordBytesMax);
      if (hardState !== undefined) checkHardState(hardState);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#exclusive(() => this.#append(entries, hardState));
  }

  /**
   * Voids the entries after `index` (a follower's conflicting suffix), durably: a truncate
   * record goes into the segment holding `index + 1`, then the segments after it are removed.
   *
   * @param index the last entry to keep, at least `firstIndex - 1`; at or past `lastIndex`
   *   this does nothing
   * @returns once the truncation is durable
   */
  truncateAfter(index: number): Promise<void> {
    return this.#exclusive(async () => {
      this.#checkUsable();
      if (index >= this.lastIndex) return;
      if (!Number.isSafeInteger(index) || index < this.firstIndex - 1) {
        throw new RangeError(
          `Cannot truncate the write-ahead log after index ${index}: its first entry is ` +
            `${this.firstIndex}, and compacted entries cannot be truncated`,
        );
      }
      await this.#writeMarker(RecordType.truncate, index);
    });
  }

  /**
   * Empties the log so that it continues after `afterIndex`: for a follower that installed a
   * snapshot its log does not match. Save the snapshot first.
   *
   * @param afterIndex the snapshot's index; the next entry appended is `afterIndex + 1`
   * @returns once the reset is durable
   */
  reset(afterIndex: number): Promise<void> {
    return this.#exclusive(async () => {
      this.#checkUsable();
      const first = this.#segments[0];
      if (!Number.isSafeInteger(afterIndex) || afterIndex < 0) {
        throw new RangeError(`Cannot reset the write-ahead log after index ${afterIndex}`);
      }
      if (first === undefined) {
        const segment = emptySegment(afterIndex + 1);
        this.#segments.push(segment);
        const records: Record[] = [{ type: RecordType.reset, payload: encodeIndex(afterIndex) }];
        if (this.#hardState !== undefined) records.push(hardStateRecord(this.#hardState));
        await this.#write(segment, records);
        segment.hasHardState = this.#hardState !== undefined;
        return;
      }
      if (afterIndex + 1 < first.firstIndex) {
        throw new RangeError(
          `Cannot reset the write-ahead log after index ${afterIndex}: its first segment ` +
            `starts at index ${first.firstIndex}, and a snapshot older than the log is never ` +
            "installed",
        );
      }
      await this.#writeMarker(RecordType.reset, afterIndex);
    });
  }

  /**
   * Removes whole segments whose entries are all at or below `throughIndex`, oldest first;
   * the last segment always stays. Call after a snapshot through `throughIndex` is saved.
   *
   * @param throughIndex the snapshot's index
   * @returns how many segment files were removed
   */
  compact(throughIndex: number): Promise<number> {
    return this.#exclusive(async () => {
      this.#checkUsable();
      let removable = 0;
      while (
        removable < this.#segments.length - 1 &&
        segmentLastIndex(this.#segments[removable]) <= throughIndex
      ) removable += 1;
      if (removable === 0) return 0;
      const last = this.#segments[this.#segments.length - 1];
      if (this.#hardState !== undefined && !last.hasHardState) {
        // The newest hard state may sit in a segment about to go: copy it forward first.
        await this.#write(last, [hardStateRecord(this.#hardState)]);
        last.hasHardState = true;
      }
      for (let removed = 0; removed < removable; removed++) {
        const segment = this.#segments[0];
        await this.#guard(() => this.#files.remove(segment.name));
        this.#segments.shift();
      }
      return removable;
    });
  }

  async #append(entries: readonly LogEntry[], hardState: HardState | undefined): Promise<void> {
    this.#checkUsable();
    if (entries.length === 0 && hardState === undefined) return;
    const records: Record[] = [];
    if (entries.length > 0) {
      const first = entries[0].index;
      if (first > this.lastIndex + 1 || first < this.firstIndex) {
        throw new RangeError(
          `Cannot append entry ${first} to the write-ahead log: it holds entries ` +
            `${this.firstIndex} to ${this.lastIndex}, so the next must be at most ` +
            `${this.lastIndex + 1} and at least ${this.firstIndex}`,
        );
      }
      const entryBytes = entries.reduce((sum, e) => sum + ENTRY_OVERHEAD_BYTES + e.data.length, 0);
      if (entryBytes > this.#options.segmentBytesMax) {
        throw new RangeError(
          `Cannot append ${entries.length} entries to the write-ahead log: their ${entryBytes} ` +
            `bytes are over segmentBytesMax (${this.#options.segmentBytesMax}); split the batch`,
        );
      }
      if (first <= this.lastIndex) {
        if (this.#markerSegment(first - 1) !== this.#segments[this.#segments.length - 1]) {
          // The suffix starts in an earlier segment: cut it there first (its own fsync).
          await this.#writeMarker(RecordType.truncate, first - 1);
        } else {
          records.push({ type: RecordType.truncate, payload: encodeIndex(first - 1) });
        }
      }
      for (const entry of entries) {
        records.push({
          type: RecordType.entry,
          payload: encodeEntry(entry.index, entry.term, entry.data),
        });
      }
    }
    let segment = this.#segments[this.#segments.length - 1];
    const newState = hardState ?? this.#hardState;
    const batchBytes = records.reduce((sum, r) => sum + FRAME_HEADER_BYTES + r.payload.length, 0);
    const rollOver = segment !== undefined && segment.positions.length > 0 &&
      records[0]?.type === RecordType.entry &&
      segment.sizeBytes + batchBytes > this.#options.segmentBytesMax;
    if (segment === undefined || rollOver) {
      segment = emptySegment(entries.length > 0 ? entries[0].index : this.lastIndex + 1);
      this.#segments.push(segment);
      if (hardState === undefined && newState !== undefined) {
        records.push(hardStateRecord(newState)); // A new segment carries the hard state.
      }
    }
    if (hardState !== undefined) records.push(hardStateRecord(hardState));
    const frames = await this.#write(segment, records);
    this.#index(segment, records, frames, entries);
    if (newState !== undefined && records.some((r) => r.type === RecordType.hardState)) {
      this.#hardState = { ...newState };
      segment.hasHardState = true;
    }
  }

  /** Updates the in-memory index after `records` were written to `segment` at `offsets`. */
  #index(
    segment: Segment,
    records: Record[],
    offsets: { positions: number[]; ends: number[] },
    entries: readonly LogEntry[],
  ): void {
    let entryAt = 0;
    for (const [at, record] of records.entries()) {
      if (record.type === RecordType.truncate) {
        const index = entries[0].index - 1;
        cutSegmentAfter(segment, index);
        this.#cache.truncateAfter(index);
      } else if (record.type === RecordType.entry) {
        segment.positions.push(offsets.positions[at]);
        segment.ends.push(offsets.ends[at]);
        segment.terms.push(entries[entryAt].term);
        entryAt += 1;
      }
    }
    this.#cache.append(entries);
  }

  /** Where a truncate or reset record to `index` goes: last segment named <= `index + 1`. */
  #markerSegment(index: number): Segment {
    for (let at = this.#segments.length - 1; at > 0; at--) {
      if (this.#segments[at].firstIndex <= index + 1) return this.#segments[at];
    }
    return this.#segments[0];
  }

  /**
   * Writes a truncate or reset record (with the hard state) into the segment it belongs to,
   * then removes the segments it voids: later ones newest first, so a crash leaves a state that
   * recovery recognizes and finishes (see `_wal_recovery.ts`), and for a reset the earlier ones.
   */
  async #writeMarker(type: typeof RecordType.truncate | typeof RecordType.reset, index: number) {
    const target = this.#markerSegment(index);
    const records: Record[] = [{ type, payload: encodeIndex(index) }];
    if (this.#hardState !== undefined) records.push(hardStateRecord(this.#hardState));
    await this.#write(target, records);
    if (this.#hardState !== undefined) target.hasHardState = true;
    while (this.#segments[this.#segments.length - 1] !== target) {
      const later = this.#segments[this.#segments.length - 1];
      await this.#guard(() => this.#files.remove(later.name));
      this.#segments.pop();
    }
    if (type === RecordType.reset) {
      while (this.#segments[0] !== target) {
        const earlier = this.#segments[0];
        await this.#guard(() => this.#files.remove(earlier.name));
        this.#segments.shift();
      }
      target.startIndex = index + 1;
      this.#cache.clear();
    }
    cutSegmentAfter(target, index);
    this.#cache.truncateAfter(index);
  }

  /**
   * Writes one batch to `segment` with one fdatasync.
   *
   * @returns each record's frame offsets in the segment
   */
  async #write(
    segment: Segment,
    records: Record[],
  ): Promise<{ positions: number[]; ends: number[] }> {
    const { bytes, lengths } = encodeBatch(records);
    await this.#guard(() => this.#files.append(segment.name, bytes, { sync: true }));
    const positions: number[] = [];
    const ends: number[] = [];
    let offset = segment.sizeBytes;
    for (const length of lengths) {
      positions.push(offset);
      offset += length;
      ends.push(offset);
    }
    segment.sizeBytes = offset;
    return { positions, ends };
  }

  /** Runs a file operation; a failure fails the log for good. */
  async #guard(operation: () => Promise<void>): Promise<void> {
    try {
      await operation();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.#failure = new Error(
        `Cannot use the write-ahead log: a write failed (${reason}), so what is on disk is ` +
          "unknown; restart the server to recover the log",
        { cause: error },
      );
      throw this.#failure;
    }
  }

  #checkUsable(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  #checkRange(from: number, to: number): void {
    if (
      !Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < this.firstIndex ||
      to > this.lastIndex + 1 || from > to
    ) {
      throw new RangeError(
        `Cannot read entries ${from} to ${to} (exclusive) from the write-ahead log: it holds ` +
          `entries ${this.firstIndex} to ${this.lastIndex}`,
      );
    }
  }

  async #readEntries(from: number, to: number, bytesMax: number): Promise<LogEntry[]> {
    this.#checkUsable();
    this.#checkRange(from, to);
    const result: LogEntry[] = [];
    let bytes = 0;
    let index = from;
    while (index < to) {
      const segment = this.#segmentOf(index)!;
      const first = index - segment.startIndex;
      const end = Math.min(to - 1, segmentLastIndex(segment)) - segment.startIndex;
      // Plan the read where the size limit stops it: frame sizes are known without reading.
      const dataBytes = (k: number) =>
        segment.ends[k] - segment.positions[k] - ENTRY_OVERHEAD_BYTES;
      if (result.length > 0 && bytes + dataBytes(first) > bytesMax) break;
      let last = first;
      bytes += dataBytes(first);
      while (last < end && bytes + dataBytes(last + 1) <= bytesMax) {
        last += 1;
        bytes += dataBytes(last);
      }
      result.push(...await this.#readSegmentEntries(segment, first, last));
      index = segment.startIndex + last + 1;
      if (last < end) break;
    }
    return result;
  }

  async #readSegmentEntries(segment: Segment, first: number, last: number): Promise<LogEntry[]> {
    const start = segment.positions[first];
    const length = segment.ends[last] - start;
    let span: Uint8Array | undefined;
    if (this.#files.readRange !== undefined) {
      span = await this.#files.readRange(segment.name, start, length);
    } else {
      span = (await this.#files.read(segment.name))?.subarray(start, start + length);
    }
    const entries: LogEntry[] = [];
    for (let k = first; k <= last; k++) {
      const index = segment.startIndex + k;
      const frame = span === undefined
        ? "missing file"
        : readFrame(span, segment.positions[k] - start, this.#options.recordBytesMax);
      const entry = typeof frame === "string" ? undefined : decodeEntry(frame.payload);
      if (typeof frame === "string" || entry === undefined || entry.index !== index) {
        const fault = typeof frame === "string" ? frame : "wrong entry";
        throw new Error(
          `Cannot read entry ${index} from the write-ahead log: the record at ` +
            `${this.#files.dir}/${segment.name} offset ${segment.positions[k]} was valid when ` +
            `the log was opened and now has a ${fault}; the disk is corrupting data, so ` +
            `stop this server and ${CORRUPTION_REMEDY}`,
        );
      }
      entries.push({ index, term: entry.term, data: entry.data.slice() });
    }
    return entries;
  }

  #segmentOf(index: number): Segment | undefined {
    if (!Number.isSafeInteger(index) || index < this.firstIndex || index > this.lastIndex) {
      return undefined;
    }
    let low = 0;
    let high = this.#segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.#segments[middle].startIndex <= index) low = middle;
      else high = middle - 1;
    }
    return this.#segments[low];
  }

  /** Runs `body` after every earlier operation has settled. */
  #exclusive<T>(body: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(body);
    this.#tail = result.catch(() => {});
    return result;
  }
}

function hardStateRecord(state: HardState): Record {
  return {
    type: RecordType.hardState,
    payload: encodeHardState(state.term, state.commit, state.vote),
  };
}

/** Throws a `RangeError` unless the entries are consecutive, with safe indexes and terms. */
function checkEntries(entries: readonly LogEntry[], recordBytesMax: number): void {
  for (const [at, entry] of entries.entries()) {
    const expected = at === 0 ? entry.index : entries[0].index + at;
    if (
      !Number.isSafeInteger(entry.index) || entry.index < 1 || entry.index !== expected ||
      !Number.isSafeInteger(entry.term) || entry.term < 0
    ) {
      throw new RangeError(
        `Cannot append entries to the write-ahead log: entry ${at} has index ${entry.index} ` +
          `and term ${entry.term}; indexes must be consecutive from 1 up, terms non-negative`,
      );
    }
    if (entry.data.byteLength + 16 > recordBytesMax) {
      throw new RangeError(
        `Cannot append entry ${entry.index} to the write-ahead log: its ` +
          `${entry.data.byteLength} bytes are over recordBytesMax (${recordBytesMax}) less 16`,
      );
    }
  }
}

function checkHardState(state: HardState): void {
  if (
    !Number.isSafeInteger(state.term) || state.term < 0 || !Number.isSafeInteger(state.commit) ||
    state.commit < 0 || typeof state.vote !== "string"
  ) {
    throw new RangeError(
      `Cannot persist hard state: term ${state.term} and commit ${state.commit} must be ` +
        "non-negative integers and vote a string",
    );
  }
}
