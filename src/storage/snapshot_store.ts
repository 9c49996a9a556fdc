/**
 * Raft snapshots as files: each written whole with the FileStore's atomic replace (temporary
 * file, fsync, rename, directory fsync), so a crash leaves either the old set or the new one.
 *
 * ## On-disk format
 *
 * `snapshot-<term>-<index>.snap`, both numbers in 20 decimal digits. Integers little-endian:
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 8 | magic `CAIRNSNP` |
 * | 8 | 4 | format version, u32 = 1 |
 * | 12 | 4 | CRC-32C of every byte from offset 16 to the end |
 * | 16 | 8 | term u64 |
 * | 24 | 8 | index u64 |
 * | 32 | 4 | configuration length u32 |
 * | 36 | 8 | data length u64 |
 * | 44 | … | configuration, then data (both opaque) |
 *
 * Save the snapshot before compacting the write-ahead log through its index.
 *
 * @example
 * ```ts ignore
 * const snapshots = new SnapshotStore(await runtime.files(`${dataDir}/raft`));
 * await snapshots.save({ index: 100, term: 3, configuration, data });
 * const { snapshot, skipped } = await snapshots.load();
 * ```
 *
 * @module
 */

import type { FileStore } from "../runtime.ts";
import { crc32c } from "./crc32c.ts";

/** A Raft snapshot; `configuration` and `data` are opaque to storage. */
export interface Snapshot {
  /** The last log index the snapshot covers. */
  index: number;
  /** The term of that entry. */
  term: number;
  /** The cluster configuration as of `index`, encoded by the caller. */
  configuration: Uint8Array;
  /** The state machine's state as of `index`, encoded by the caller. */
  data: Uint8Array;
}

/** What `load` found: the newest valid snapshot, and the newer ones it had to skip. */
export interface SnapshotLoad {
  snapshot: Snapshot | undefined;
  /** The file it came from. */
  name: string | undefined;
  /** Snapshot files newer than the one loaded that failed verification, and why. */
  skipped: { name: string; reason: string }[];
}

/** Snapshots kept after a save: the newest 2, so a corrupt newest one leaves a fallback. */
export const SNAPSHOTS_RETAINED_MAX = 2;
/** The largest snapshot file saved or loaded: 1 GiB. */
export const SNAPSHOT_BYTES_MAX = 1024 * 1024 * 1024;

/** Tuning for {@link SnapshotStore}. */
export interface SnapshotStoreOptions {
  /** Snapshots kept; older ones are removed after each save. @default {SNAPSHOTS_RETAINED_MAX} */
  retainedMax?: number;
  /** The largest snapshot file, header included. @default {SNAPSHOT_BYTES_MAX} */
  snapshotBytesMax?: number;
}

const MAGIC = new TextEncoder().encode("CAIRNSNP");
const VERSION = 1;
const HEADER_BYTES = 44;
const TWO_POW_32 = 0x1_0000_0000;
const SNAPSHOT_NAME = /^snapshot-(\d{20})-(\d{20})\.snap$/;

/**
 * Names the file of a snapshot.
 *
 * @param term the snapshot's term
 * @param index the snapshot's index
 * @returns e.g. `snapshot-00000000000000000003-00000000000000000100.snap`
 */
export function snapshotName(term: number, index: number): string {
  return `snapshot-${String(term).padStart(20, "0")}-${String(index).padStart(20, "0")}.snap`;
}

/**
 * Encodes a snapshot file.
 *
 * @param snapshot the snapshot
 * @returns the file's bytes
 */
export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const bytes = new Uint8Array(
    HEADER_BYTES + snapshot.configuration.byteLength + snapshot.data.byteLength,
  );
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(8, VERSION, true);
  setUint64(view, 16, snapshot.term);
  setUint64(view, 24, snapshot.index);
  view.setUint32(32, snapshot.configuration.byteLength, true);
  setUint64(view, 36, snapshot.data.byteLength);
  bytes.set(snapshot.configuration, HEADER_BYTES);
  bytes.set(snapshot.data, HEADER_BYTES + snapshot.configuration.byteLength);
  view.setUint32(12, crc32c(bytes.subarray(16)), true);
  return bytes;
}

/**
 * Decodes and verifies a snapshot file.
 *
 * @param bytes the file's bytes
 * @returns the snapshot (its fields are views into `bytes`), or why the file is not valid
 */
export function decodeSnapshot(bytes: Uint8Array): Snapshot | string {
  if (bytes.byteLength < HEADER_BYTES) return `it is ${bytes.byteLength} bytes, under a header`;
  if (MAGIC.some((byte, at) => bytes[at] !== byte)) return "it does not start with CAIRNSNP";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== VERSION) return `its format version is ${version}, not ${VERSION}`;
  const configurationBytes = view.getUint32(32, true);
  const dataBytes = getUint64(view, 36);
  if (HEADER_BYTES + configurationBytes + dataBytes !== bytes.byteLength) {
    return `its header says ${HEADER_BYTES + configurationBytes + dataBytes} bytes, but it ` +
      `has ${bytes.byteLength}`;
  }
  if (view.getUint32(12, true) !== crc32c(bytes.subarray(16))) return "its checksum fails";
  const configuration = bytes.subarray(HEADER_BYTES, HEADER_BYTES + configurationBytes);
  const data = bytes.subarray(HEADER_BYTES + configurationBytes);
  return { term: getUint64(view, 16), index: getUint64(view, 24), configuration, data };
}

/** Saves, finds and loads snapshot files in one directory (which may hold other files). */
export class SnapshotStore {
  readonly #files: FileStore;
  readonly #retainedMax: number;
  readonly #snapshotBytesMax: number;

  /**
   * @param files the directory of the snapshots
   * @param options bounds
   */
  constructor(files: FileStore, options: SnapshotStoreOptions = {}) {
    this.#files = files;
    this.#retainedMax = options.retainedMax ?? SNAPSHOTS_RETAINED_MAX;
    this.#snapshotBytesMax = options.snapshotBytesMax ?? SNAPSHOT_BYTES_MAX;
    for (const [name, value] of Object.entries(options)) {
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
        throw new RangeError(
          `Cannot use snapshot store options: ${name} must be a positive integer, not ${value}`,
        );
      }
    }
  }

  /**
   * Writes a snapshot durably (atomic replace), then removes all but the newest `retainedMax`.
   *
   * @param snapshot the snapshot
   * @returns the file's name
   */
  async save(snapshot: Snapshot): Promise<string> {
    for (const [field, value] of [["index", snapshot.index], ["term", snapshot.term]] as const) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(`Cannot save a snapshot: its ${field} is ${value}`);
      }
    }
    const size = HEADER_BYTES + snapshot.configuration.byteLength + snapshot.data.byteLength;
    if (size > this.#snapshotBytesMax || snapshot.configuration.byteLength > 0xffff_ffff) {
      throw new RangeError(
        `Cannot save a snapshot of ${size} bytes: over snapshotBytesMax ` +
          `(${this.#snapshotBytesMax})`,
      );
    }
    const name = snapshotName(snapshot.term, snapshot.index);
    await this.#files.replace(name, encodeSnapshot(snapshot));
    for (const old of (await this.list()).slice(this.#retainedMax)) {
      await this.#files.remove(old.name);
    }
    return name;
  }

  /**
   * Lists snapshot files, newest (highest index, then term) first, without reading them.
   *
   * @returns their names, terms and indexes
   */
  async list(): Promise<{ name: string; term: number; index: number }[]> {
    const found: { name: string; term: number; index: number }[] = [];
    for (const name of await this.#files.list()) {
      const match = SNAPSHOT_NAME.exec(name);
      if (match === null) continue;
      found.push({ name, term: Number(match[1]), index: Number(match[2]) });
    }
    return found.sort((a, b) => b.index - a.index || b.term - a.term);
  }

  /**
   * Loads the newest snapshot that verifies, skipping (and reporting) newer damaged ones.
   * Skipped files are left in place for the operator.
   *
   * @returns the snapshot, if any, and what was skipped
   */
  async load(): Promise<SnapshotLoad> {
    const skipped: { name: string; reason: string }[] = [];
    for (const { name, term, index } of await this.list()) {
      const bytes = await this.#files.read(name);
      let result: Snapshot | string;
      if (bytes === undefined) result = "it vanished";
      else if (bytes.byteLength > this.#snapshotBytesMax) result = "it is over snapshotBytesMax";
      else result = decodeSnapshot(bytes);
      if (typeof result !== "string" && (result.term !== term || result.index !== index)) {
        result = `its header says term ${result.term} and index ${result.index}, unlike its name`;
      }
      if (typeof result === "string") {
        skipped.push({ name, reason: result });
        continue;
      }
      return { snapshot: result, name, skipped };
    }
    return { snapshot: undefined, name: undefined, skipped };
  }
}

function setUint64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % TWO_POW_32, true);
  view.setUint32(at + 4, Math.floor(value / TWO_POW_32), true);
}

function getUint64(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * TWO_POW_32 + view.getUint32(at, true);
}
