/**
 * What the write-ahead log knows about one segment file, private to `src/storage`.
 *
 * @module
 */

/** Digits in a segment name: enough for any u64, so names sort as their numbers do. */
const INDEX_DIGITS = 20;

const SEGMENT_NAME = /^wal-(\d{20})\.seg$/;

/**
 * One segment file and the in-memory index of its live entries. Live entries are
 * `startIndex ..= startIndex + positions.length - 1`; entry `startIndex + k` is the frame at
 * `positions[k] ..< ends[k]` with term `terms[k]`. Dead records (entries voided by a truncate
 * or reset record, hard states, markers) are not indexed.
 */
export interface Segment {
  /** `wal-<firstIndex, 20 digits>.seg`. */
  name: string;
  /** The index in the name: no live entry in this file, nor in any later one, is below it. */
  firstIndex: number;
  /** The first live entry's index; above `firstIndex` after a reset record in this file. */
  startIndex: number;
  positions: number[];
  ends: number[];
  terms: number[];
  /** Bytes in the file that belong to the log (after recovery cut any torn tail). */
  sizeBytes: number;
  /** The file holds a hard state record, so compaction may remove every earlier file. */
  hasHardState: boolean;
}

/**
 * Names the segment whose first entry is `firstIndex`.
 *
 * @param firstIndex the index of the segment's first entry
 * @returns e.g. `wal-00000000000000000001.seg`
 */
export function segmentName(firstIndex: number): string {
  return `wal-${String(firstIndex).padStart(INDEX_DIGITS, "0")}.seg`;
}

/**
 * Reads the first index out of a segment's name.
 *
 * @param name a file name
 * @returns the index, or `undefined` when `name` is not a segment's
 */
export function parseSegmentName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  if (match === null) return undefined;
  const index = Number(match[1]);
  return Number.isSafeInteger(index) ? index : undefined;
}

/**
 * Creates the in-memory record of an empty segment.
 *
 * @param firstIndex the index in its name
 * @returns the segment, with nothing indexed
 */
export function emptySegment(firstIndex: number): Segment {
  return {
    name: segmentName(firstIndex),
    firstIndex,
    startIndex: firstIndex,
    positions: [],
    ends: [],
    terms: [],
    sizeBytes: 0,
    hasHardState: false,
  };
}

/**
 * The index of a segment's last live entry (`startIndex - 1` when it has none).
 *
 * @param segment the segment
 * @returns that index
 */
export function segmentLastIndex(segment: Segment): number {
  return segment.startIndex + segment.positions.length - 1;
}

/**
 * Forgets a segment's live entries after `index`.
 *
 * @param segment the segment
 * @param index the last entry to keep, at least `startIndex - 1`
 */
export function cutSegmentAfter(segment: Segment, index: number): void {
  const keep = Math.max(0, index - segment.startIndex + 1);
  segment.positions.length = Math.min(segment.positions.length, keep);
  segment.ends.length = segment.positions.length;
  segment.terms.length = segment.positions.length;
}
