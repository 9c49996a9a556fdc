/**
 * The write-ahead log's record framing, private to `src/storage`. The layout is documented in
 * `wal.ts`; this file encodes, decodes and scans frames and knows nothing about segments.
 *
 * @module
 */

import { crc32cUpdate } from "./crc32c.ts";

/** Bytes before a record's payload: length u32, crc32c u32, type u8. */
export const FRAME_HEADER_BYTES = 9;

/** Type-byte flag: this record is the last of a batch written with one fsync. */
export const BATCH_END_FLAG = 0x80;

/** Type-byte flag: this record is the first of a batch written with one fsync. */
export const BATCH_START_FLAG = 0x40;

/** The type byte's low six bits hold the record type. */
const TYPE_MASK = 0x3f;

/** Record types, the low six bits of the type byte. Append-only: never renumber. */
export const RecordType = {
  /** A log entry: index u64, term u64, then the entry's data. */
  entry: 1,
  /** Raft's hard state: term u64, commit u64, then the vote as UTF-8 ("" for none). */
  hardState: 2,
  /** Entries after `lastKeptIndex` (u64) are void: a follower's conflicting suffix was cut. */
  truncate: 3,
  /** Every entry so far is void; the log restarts empty after `afterIndex` (u64). */
  reset: 4,
} as const;

/** One of {@link RecordType}'s values. */
export type RecordTypeCode = typeof RecordType[keyof typeof RecordType];

/** A frame that passed its checksum, located in its segment. */
export interface Frame {
  /** Byte offset of the frame's first header byte. */
  offset: number;
  /** Byte offset just past the frame. */
  end: number;
  type: RecordTypeCode;
  batchStart: boolean;
  batchEnd: boolean;
  payload: Uint8Array;
}

/** Why a frame at some offset could not be read. */
export type FrameFault =
  | "partial frame header"
  | "length past the end of the file"
  | "length over recordBytesMax"
  | "checksum mismatch"
  | "unknown record type";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const TWO_POW_32 = 0x1_0000_0000;

/** A record to frame: its type and payload. */
export interface Record {
  type: RecordTypeCode;
  payload: Uint8Array;
}

/**
 * Frames records as one batch: the first carries {@link BATCH_START_FLAG}, the last
 * {@link BATCH_END_FLAG} (a batch of one carries both).
 *
 * @param records what to write, at least one
 * @returns the frames back to back in one buffer, and each frame's length
 */
export function encodeBatch(records: readonly Record[]): { bytes: Uint8Array; lengths: number[] } {
  let total = 0;
  for (const record of records) total += FRAME_HEADER_BYTES + record.payload.byteLength;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  const lengths: number[] = [];
  let offset = 0;
  for (const [position, record] of records.entries()) {
    const end = offset + FRAME_HEADER_BYTES + record.payload.byteLength;
    view.setUint32(offset, record.payload.byteLength, true);
    bytes[offset + 8] = record.type |
      (position === 0 ? BATCH_START_FLAG : 0) |
      (position === records.length - 1 ? BATCH_END_FLAG : 0);
    bytes.set(record.payload, offset + FRAME_HEADER_BYTES);
    view.setUint32(offset + 4, frameChecksum(bytes, offset, end), true);
    lengths.push(end - offset);
    offset = end;
  }
  return { bytes, lengths };
}

/** The checksum covers the length, the type and the payload: every byte but the checksum's own. */
function frameChecksum(bytes: Uint8Array, offset: number, end: number): number {
  const crc = crc32cUpdate(0, bytes.subarray(offset, offset + 4));
  return crc32cUpdate(crc, bytes.subarray(offset + 8, end));
}

/**
 * Reads the frame at `offset`.
 *
 * @param bytes the segment's bytes
 * @param offset where the frame starts
 * @param recordBytesMax the largest payload accepted
 * @returns the frame, or why there is none
 */
export function readFrame(
  bytes: Uint8Array,
  offset: number,
  recordBytesMax: number,
): Frame | FrameFault {
  if (bytes.byteLength - offset < FRAME_HEADER_BYTES) return "partial frame header";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(offset, true);
  if (length > recordBytesMax) return "length over recordBytesMax";
  const end = offset + FRAME_HEADER_BYTES + length;
  if (end > bytes.byteLength) return "length past the end of the file";
  if (view.getUint32(offset + 4, true) !== frameChecksum(bytes, offset, end)) {
    return "checksum mismatch";
  }
  const type = bytes[offset + 8] & TYPE_MASK;
  if (type < RecordType.entry || type > RecordType.reset) return "unknown record type";
  return {
    offset,
    end,
    type: type as RecordTypeCode,
    batchStart: (bytes[offset + 8] & BATCH_START_FLAG) !== 0,
    batchEnd: (bytes[offset + 8] & BATCH_END_FLAG) !== 0,
    payload: bytes.subarray(offset + FRAME_HEADER_BYTES, end),
  };
}

/**
 * Looks for valid frames anywhere after a bad one, trying every byte offset, to tell a torn
 * tail (nothing valid follows) from damage in the middle (whole records follow).
 *
 * @param bytes the segment's bytes
 * @param from the first offset to try
 * @param recordBytesMax the largest payload accepted
 * @returns the frames found, in order, none overlapping
 */
export function findFramesAfter(
  bytes: Uint8Array,
  from: number,
  recordBytesMax: number,
): Frame[] {
  const frames: Frame[] = [];
  let offset = from;
  while (offset + FRAME_HEADER_BYTES <= bytes.byteLength) {
    const frame = readFrame(bytes, offset, recordBytesMax);
    if (typeof frame === "string") {
      offset += 1;
    } else {
      frames.push(frame);
      offset = frame.end;
    }
  }
  return frames;
}

/** Writes a safe non-negative integer as u64 little-endian. */
function setUint64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % TWO_POW_32, true);
  view.setUint32(at + 4, Math.floor(value / TWO_POW_32), true);
}

/** Reads a u64 little-endian, or `undefined` when it is past `Number.MAX_SAFE_INTEGER`. */
function getUint64(view: DataView, at: number): number | undefined {
  const value = view.getUint32(at + 4, true) * TWO_POW_32 + view.getUint32(at, true);
  return Number.isSafeInteger(value) ? value : undefined;
}

function payloadView(payload: Uint8Array): DataView {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
}

/** Encodes an entry record's payload. */
export function encodeEntry(index: number, term: number, data: Uint8Array): Uint8Array {
  const payload = new Uint8Array(16 + data.byteLength);
  const view = payloadView(payload);
  setUint64(view, 0, index);
  setUint64(view, 8, term);
  payload.set(data, 16);
  return payload;
}

/** Decodes an entry record's payload; `data` is a view into `payload`. */
export function decodeEntry(
  payload: Uint8Array,
): { index: number; term: number; data: Uint8Array } | undefined {
  if (payload.byteLength < 16) return undefined;
  const view = payloadView(payload);
  const index = getUint64(view, 0);
  const term = getUint64(view, 8);
  if (index === undefined || term === undefined) return undefined;
  return { index, term, data: payload.subarray(16) };
}

/** Encodes a hard state record's payload. */
export function encodeHardState(term: number, commit: number, vote: string): Uint8Array {
  const voteBytes = encoder.encode(vote);
  const payload = new Uint8Array(16 + voteBytes.byteLength);
  const view = payloadView(payload);
  setUint64(view, 0, term);
  setUint64(view, 8, commit);
  payload.set(voteBytes, 16);
  return payload;
}

/** Decodes a hard state record's payload. */
export function decodeHardState(
  payload: Uint8Array,
): { term: number; commit: number; vote: string } | undefined {
  if (payload.byteLength < 16) return undefined;
  const view = payloadView(payload);
  const term = getUint64(view, 0);
  const commit = getUint64(view, 8);
  if (term === undefined || commit === undefined) return undefined;
  try {
    return { term, commit, vote: decoder.decode(payload.subarray(16)) };
  } catch {
    return undefined;
  }
}

/** Encodes a truncate or reset record's payload: one index. */
export function encodeIndex(index: number): Uint8Array {
  const payload = new Uint8Array(8);
  setUint64(payloadView(payload), 0, index);
  return payload;
}

/** Decodes a truncate or reset record's payload. */
export function decodeIndex(payload: Uint8Array): number | undefined {
  if (payload.byteLength !== 8) return undefined;
  return getUint64(payloadView(payload), 0);
}
