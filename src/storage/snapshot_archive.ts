/**
 * The file `GET /v1/snapshot` answers, `PUT /v1/snapshot` takes and `cairn snapshot save`
 * writes: a state-store snapshot (the msgpack of `encodeSnapshot`) in a small self-describing
 * envelope with a checksum, so a restore refuses a truncated or damaged file before it reaches
 * Raft. Consul's own format (a gzip tar) is internal to Consul; cairn has its own.
 *
 * ## Format
 *
 * Integers little-endian, as in the Raft snapshot files (`snapshot_store.ts`):
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 8 | magic `CAIRNBAK` |
 * | 8 | 4 | format version, u32 = 1 |
 * | 12 | 4 | CRC-32C of the body |
 * | 16 | 8 | body length u64 |
 * | 24 | … | body: the state snapshot, msgpack |
 *
 * @example
 * ```ts ignore
 * const file = encodeSnapshotArchive(encodeSnapshot(store));
 * const body = decodeSnapshotArchive(file); // throws SyntaxError when damaged
 * ```
 *
 * @module
 */

import { crc32c } from "./crc32c.ts";

const magic = new TextEncoder().encode("CAIRNBAK");
const archiveVersion = 1;

/** Bytes before the body. */
export const SNAPSHOT_ARCHIVE_HEADER_BYTES = 24;

/** The largest archive read or restored: 1 GiB. */
export const SNAPSHOT_ARCHIVE_BYTES_MAX = 1024 * 1024 * 1024;

/**
 * Wraps a state snapshot body in the archive envelope.
 *
 * @param body the msgpack of `encodeSnapshot`
 * @returns the archive bytes
 */
export function encodeSnapshotArchive(body: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(SNAPSHOT_ARCHIVE_HEADER_BYTES + body.length);
  const view = new DataView(bytes.buffer);
  bytes.set(magic, 0);
  view.setUint32(8, archiveVersion, true);
  view.setUint32(12, crc32c(body), true);
  view.setBigUint64(16, BigInt(body.length), true);
  bytes.set(body, SNAPSHOT_ARCHIVE_HEADER_BYTES);
  return bytes;
}

/**
 * Checks an archive and returns its body (a view into `bytes`).
 *
 * @param bytes a whole archive
 * @returns the state snapshot body
 * @throws {SyntaxError} "Cannot read the snapshot archive: <why>" when it is not one, is of
 * another version, is truncated or longer than its header says, or fails its checksum
 */
export function decodeSnapshotArchive(bytes: Uint8Array): Uint8Array {
  const fail = (reason: string) => new SyntaxError(`Cannot read the snapshot archive: ${reason}`);
  if (bytes.length > SNAPSHOT_ARCHIVE_BYTES_MAX) {
    throw fail(`${bytes.length} bytes is above the ${SNAPSHOT_ARCHIVE_BYTES_MAX} byte limit`);
  }
  if (bytes.length < SNAPSHOT_ARCHIVE_HEADER_BYTES) {
    throw fail(`${bytes.length} bytes is shorter than its header`);
  }
  if (!magic.every((byte, at) => bytes[at] === byte)) throw fail("it is not a cairn snapshot");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== archiveVersion) throw fail(`format version ${version} is not supported`);
  const length = view.getBigUint64(16, true);
  const actual = BigInt(bytes.length - SNAPSHOT_ARCHIVE_HEADER_BYTES);
  if (length !== actual) throw fail(`the header says ${length} body bytes, the file has ${actual}`);
  const body = bytes.subarray(SNAPSHOT_ARCHIVE_HEADER_BYTES);
  if (crc32c(body) !== view.getUint32(12, true)) throw fail("its checksum does not match");
  return body;
}
