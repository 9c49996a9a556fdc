/**
 * A {@link FileStore} held in memory: what a `-dev` agent's Raft server persists to, so that dev
 * mode runs the very same write-ahead log, snapshot and ready-loop code as a durable server, only
 * without a disk. It follows the interface's contract exactly: names are plain (no path
 * separators), `read` and `readRange` return copies, `list` is sorted, `remove` of a missing
 * file is not an error, and `replace` swaps the whole content at once.
 *
 * @example
 * ```ts
 * import { MemoryFileStore } from "./memory_files.ts";
 *
 * const files = new MemoryFileStore("memory:raft");
 * await files.append("wal-1.seg", new Uint8Array([1, 2]), { sync: true });
 * const bytes = await files.read("wal-1.seg"); // Uint8Array [1, 2]
 * ```
 *
 * @module
 */

import type { FileStore } from "../runtime.ts";

/** Bytes one in-memory file may hold: 1 GiB, as a snapshot file's limit. */
export const MEMORY_FILE_BYTES_MAX = 1024 * 1024 * 1024;
/** Files one in-memory directory may hold. */
export const MEMORY_FILES_MAX = 65_536;

/** One growable file: a buffer with spare capacity, so appends cost amortized O(bytes). */
interface MemoryFile {
  buffer: Uint8Array;
  length: number;
}

/** A directory of files in memory. Every operation resolves asynchronously, as a disk's would. */
export class MemoryFileStore implements FileStore {
  /** The directory's name, for messages only. */
  readonly dir: string;
  readonly #files = new Map<string, MemoryFile>();

  /** @param dir a name for the directory, e.g. "memory:raft" */
  constructor(dir: string) {
    this.dir = dir;
  }

  /** Appends `bytes` to `name`, creating it. `sync` is accepted and has nothing to do. */
  append(name: string, bytes: Uint8Array, _options: { sync: boolean }): Promise<void> {
    try {
      checkName(name);
      let file = this.#files.get(name);
      if (file === undefined) {
        this.#checkRoom(name);
        file = { buffer: new Uint8Array(Math.max(64, bytes.byteLength)), length: 0 };
        this.#files.set(name, file);
      }
      const needed = file.length + bytes.byteLength;
      if (needed > MEMORY_FILE_BYTES_MAX) {
        throw new RangeError(
          `Cannot append to "${name}" in ${this.dir}: it would pass ${MEMORY_FILE_BYTES_MAX} bytes`,
        );
      }
      if (needed > file.buffer.byteLength) {
        const grown = new Uint8Array(Math.min(MEMORY_FILE_BYTES_MAX, Math.max(needed, 2 * needed)));
        grown.set(file.buffer.subarray(0, file.length));
        file.buffer = grown;
      }
      file.buffer.set(bytes, file.length);
      file.length = needed;
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Replaces the whole of `name` at once (the atomic replace of a disk store). */
  replace(name: string, bytes: Uint8Array): Promise<void> {
    try {
      checkName(name);
      if (!this.#files.has(name)) this.#checkRoom(name);
      this.#files.set(name, { buffer: bytes.slice(), length: bytes.byteLength });
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Returns a copy of `name`, or `undefined` when it does not exist. */
  read(name: string): Promise<Uint8Array | undefined> {
    const file = this.#files.get(name);
    return Promise.resolve(file?.buffer.slice(0, file.length));
  }

  /** Returns a copy of up to `length` bytes of `name` from `offset`, or `undefined`. */
  readRange(name: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    const file = this.#files.get(name);
    if (file === undefined) return Promise.resolve(undefined);
    const start = Math.min(Math.max(0, offset), file.length);
    const end = Math.min(file.length, start + Math.max(0, length));
    return Promise.resolve(file.buffer.slice(start, end));
  }

  /** Names of the files, sorted. */
  list(): Promise<string[]> {
    return Promise.resolve([...this.#files.keys()].sort());
  }

  /** Removes `name`; a missing file is not an error. */
  remove(name: string): Promise<void> {
    this.#files.delete(name);
    return Promise.resolve();
  }

  /**
   * Cuts `name` to its first `length` bytes: for tests that tear a file's tail, as a crash in
   * the middle of a write would.
   *
   * @param name the file
   * @param length the bytes to keep
   */
  truncate(name: string, length: number): void {
    const file = this.#files.get(name);
    if (file === undefined) throw new RangeError(`Cannot truncate "${name}": it does not exist`);
    file.length = Math.min(file.length, Math.max(0, length));
  }

  #checkRoom(name: string): void {
    if (this.#files.size >= MEMORY_FILES_MAX) {
      throw new RangeError(
        `Cannot create "${name}" in ${this.dir}: it holds ${MEMORY_FILES_MAX} files already`,
      );
    }
  }
}

function checkName(name: string): void {
  if (name === "" || name === "." || name === ".." || /[/\\\0]/.test(name)) {
    throw new TypeError(`Cannot use file name "${name}": names are plain, without separators`);
  }
}
