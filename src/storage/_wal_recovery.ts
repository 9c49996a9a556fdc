/**
 * Start-up recovery of the write-ahead log, private to `src/storage`. It first reads and judges
 * every segment without changing anything, and only when the whole log is sound does it repair:
 * cut torn tails, remove segments a truncation or reset left behind. A log that is damaged in
 * the middle is left exactly as found, for the operator.
 *
 * @module
 */

import type { FileStore } from "../runtime.ts";
import {
  decodeEntry,
  decodeHardState,
  decodeIndex,
  findFramesAfter,
  type Frame,
  readFrame,
  RecordType,
} from "./_wal_record.ts";
import {
  cutSegmentAfter,
  emptySegment,
  parseSegmentName,
  type Segment,
  segmentLastIndex,
} from "./_wal_segment.ts";
import type { HardState, WalRecovery } from "./wal.ts";

/** What every "cannot open" message tells the operator to do. */
export const CORRUPTION_REMEDY = "restore the data dir from a backup or snapshot, " +
  "or remove this server's data dir and let it rejoin the cluster";

/** The log as recovery found it, repaired. */
export interface RecoveredLog {
  segments: Segment[];
  hardState: HardState | undefined;
  report: WalRecovery;
}

/** A segment's frames, judged: those kept, and the torn bytes after them, if any. */
interface ScannedSegment {
  frames: Frame[];
  keptBytes: number;
  bytes: Uint8Array;
  tornReason: string | undefined;
}

/** Replay state carried from one segment to the next. */
interface ReplayState {
  hardState: HardState | undefined;
  /** Index of a truncate or reset record that is its segment's last word on entries. */
  markerIndex: number | undefined;
  /** A reset record was replayed in the current segment: every earlier segment is void. */
  resetSeen: boolean;
}

/**
 * Reads, verifies and repairs the log's segments.
 *
 * @param files where the segments are
 * @param recordBytesMax the largest record payload accepted
 * @returns the live segments, the newest hard state, and the report
 * @throws Error "Cannot open the write-ahead log: ..." when the log is damaged in the middle
 */
export async function recoverLog(files: FileStore, recordBytesMax: number): Promise<RecoveredLog> {
  const names = (await files.list()).filter((name) => parseSegmentName(name) !== undefined);
  const report: WalRecovery = {
    segmentsRead: 0,
    recordsKept: 0,
    bytesDropped: 0,
    tornTails: [],
    segmentsRemoved: [],
  };
  const state: ReplayState = { hardState: undefined, markerIndex: undefined, resetSeen: false };
  const repairs: { name: string; bytes: Uint8Array }[] = [];
  const removals: string[] = [];
  let segments: Segment[] = [];
  for (const [position, name] of names.entries()) {
    const segment = emptySegment(parseSegmentName(name)!);
    const previous = segments[segments.length - 1];
    if (previous !== undefined && state.markerIndex !== undefined) {
      if (segment.firstIndex > state.markerIndex + 1) {
        // truncateAfter() and reset() write their record into an earlier segment, then remove
        // the later ones, newest first: these are what a crash in between left behind.
        const leftovers = names.slice(position).reverse();
        for (const leftover of leftovers) {
          removals.push(leftover);
          report.segmentsRemoved.push({
            segment: leftover,
            reason: `left over from a truncation after index ${state.markerIndex} that a ` +
              "crash interrupted",
          });
        }
        break;
      }
    }
    if (previous !== undefined && segment.firstIndex !== segmentLastIndex(previous) + 1) {
      const torn = report.tornTails.find((tail) => tail.segment === previous.name);
      const cause = torn === undefined
        ? ""
        : ` (its bytes from offset ${torn.offset} are unreadable: ${torn.reason})`;
      throw new Error(
        `Cannot open the write-ahead log: ${files.dir}/${name} starts at index ` +
          `${segment.firstIndex} but the segment before it ends at index ` +
          `${segmentLastIndex(previous)}${cause}, so entries are missing; ${CORRUPTION_REMEDY}`,
      );
    }
    const bytes = await files.read(name);
    if (bytes === undefined) {
      throw new Error(`Cannot open the write-ahead log: ${files.dir}/${name} vanished while read`);
    }
    report.segmentsRead += 1;
    const scanned = scanSegment(files.dir, name, bytes, recordBytesMax);
    if (scanned.tornReason !== undefined) {
      repairs.push({ name, bytes: bytes.subarray(0, scanned.keptBytes) });
      report.bytesDropped += bytes.byteLength - scanned.keptBytes;
      report.tornTails.push({
        segment: name,
        offset: scanned.keptBytes,
        bytesDropped: bytes.byteLength - scanned.keptBytes,
        reason: scanned.tornReason,
      });
    }
    segment.sizeBytes = scanned.keptBytes;
    state.resetSeen = false;
    replaySegment(files.dir, segment, scanned.frames, state);
    report.recordsKept += scanned.frames.length;
    if (state.resetSeen) {
      // The reset record voids every earlier segment; finish what reset() started.
      for (const obsolete of segments) {
        removals.push(obsolete.name);
        report.segmentsRemoved.push({ segment: obsolete.name, reason: "voided by a reset" });
      }
      segments = [];
    }
    segments.push(segment);
  }
  for (const repair of repairs) await files.replace(repair.name, repair.bytes);
  for (const name of removals) await files.remove(name);
  return { segments, hardState: state.hardState, report };
}

/**
 * Reads a segment's frames and judges any damage: a torn final batch is cut (and reported);
 * damage that whole later batches follow throws.
 */
function scanSegment(
  dir: string,
  name: string,
  bytes: Uint8Array,
  recordBytesMax: number,
): ScannedSegment {
  const frames: Frame[] = [];
  let offset = 0;
  let fault: string | undefined;
  while (offset < bytes.byteLength) {
    const frame = readFrame(bytes, offset, recordBytesMax);
    if (typeof frame === "string") {
      fault = frame;
      break;
    }
    frames.push(frame);
    offset = frame.end;
  }
  if (fault !== undefined) {
    // A batch that starts after the damage was written, and fsynced, after the damaged bytes
    // were: the damage is not a write torn by a crash but corruption of acknowledged data.
    const later = findFramesAfter(bytes, offset + 1, recordBytesMax);
    const laterStart = later.find((frame) => frame.batchStart);
    if (laterStart !== undefined) {
      throw new Error(
        `Cannot open the write-ahead log: record at ${dir}/${name} offset ${offset} has a ` +
          `${fault}, and valid records follow it (a batch starts at offset ` +
          `${laterStart.offset}), so this is not a torn write; ${CORRUPTION_REMEDY}`,
      );
    }
  }
  // Keep whole batches only: a batch is written with one fsync and acknowledged after it.
  let kept = frames.length;
  while (kept > 0 && !frames[kept - 1].batchEnd) kept -= 1;
  const keptBytes = kept === 0 ? 0 : frames[kept - 1].end;
  const tornReason = fault !== undefined
    ? `${fault} at offset ${offset}`
    : kept < frames.length
    ? "the final batch is incomplete"
    : undefined;
  return { frames: frames.slice(0, kept), keptBytes, bytes, tornReason };
}

/** Applies a segment's frames to its in-memory index and to the replay state. */
function replaySegment(dir: string, segment: Segment, frames: Frame[], state: ReplayState): void {
  const fail = (frame: Frame, problem: string): never => {
    throw new Error(
      `Cannot open the write-ahead log: record at ${dir}/${segment.name} offset ` +
        `${frame.offset} passes its checksum but ${problem}; ${CORRUPTION_REMEDY}`,
    );
  };
  for (const frame of frames) {
    if (frame.type === RecordType.entry) {
      const entry = decodeEntry(frame.payload) ?? fail(frame, "is not a valid entry");
      const expected = segmentLastIndex(segment) + 1;
      if (entry.index !== expected) {
        fail(frame, `holds entry ${entry.index} where entry ${expected} belongs`);
      }
      segment.positions.push(frame.offset);
      segment.ends.push(frame.end);
      segment.terms.push(entry.term);
      state.markerIndex = undefined;
    } else if (frame.type === RecordType.hardState) {
      state.hardState = decodeHardState(frame.payload) ?? fail(frame, "is not a valid hard state");
      segment.hasHardState = true;
    } else if (frame.type === RecordType.truncate) {
      const index = decodeIndex(frame.payload) ?? fail(frame, "is not a valid truncation");
      if (index < segment.startIndex - 1 || index > segmentLastIndex(segment)) {
        fail(frame, `truncates after index ${index}, outside this segment's entries`);
      }
      cutSegmentAfter(segment, index);
      state.markerIndex = index;
    } else {
      const index = decodeIndex(frame.payload) ?? fail(frame, "is not a valid reset");
      if (index + 1 < segment.firstIndex) {
        fail(frame, `resets to after index ${index}, below the segment's first index`);
      }
      segment.startIndex = index + 1;
      cutSegmentAfter(segment, index);
      state.markerIndex = index;
      state.resetSeen = true;
    }
  }
}
