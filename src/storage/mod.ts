/**
 * Durable storage for Raft on the Runtime's files: the write-ahead log (entries and hard
 * state, group-committed), and snapshot files. Opaque to what the entries mean.
 *
 * @example
 * ```ts ignore
 * import { GroupCommitter, SnapshotStore, WriteAheadLog } from "./mod.ts";
 *
 * const files = await runtime.files(`${dataDir}/raft`);
 * const log = await WriteAheadLog.open(files);
 * if (log.recovery.tornTails.length > 0) logger.warn("cut a torn WAL tail", log.recovery);
 * const committer = new GroupCommitter(log);
 * const snapshots = new SnapshotStore(files);
 * ```
 *
 * @module
 */

export { crc32c, crc32cUpdate } from "./crc32c.ts";
export {
  CACHE_BYTES_MAX,
  type EntriesOptions,
  type HardState,
  type LogEntry,
  RECORD_BYTES_MAX,
  SEGMENT_BYTES_MAX,
  segmentName,
  validateWriteAheadLogOptions,
  type WalRecovery,
  WriteAheadLog,
  type WriteAheadLogOptions,
} from "./wal.ts";
export {
  GroupCommitter,
  type GroupCommitterOptions,
  type GroupCommitterStats,
  PENDING_BYTES_MAX,
  WAITING_CALLS_MAX,
} from "./group_committer.ts";
export {
  decodeSnapshot,
  encodeSnapshot,
  type Snapshot,
  SNAPSHOT_BYTES_MAX,
  type SnapshotLoad,
  snapshotName,
  SNAPSHOTS_RETAINED_MAX,
  SnapshotStore,
  type SnapshotStoreOptions,
} from "./snapshot_store.ts";
export {
  decodeSnapshotArchive,
  encodeSnapshotArchive,
  SNAPSHOT_ARCHIVE_BYTES_MAX,
  SNAPSHOT_ARCHIVE_HEADER_BYTES,
} from "./snapshot_archive.ts";
