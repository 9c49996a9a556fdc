// Goal: shared helpers for the storage tests: real directories in a temp dir, a FileStore
// decorator that counts fsyncs and can simulate a crash at the Nth file operation (with a torn
// append), and byte-level damage to real files through node:fs. Method: plain delegation.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FileStore, Runtime } from "../../src/runtime.ts";
import { detectRuntime } from "../../runtimes/mod.ts";

let runtime: Runtime | undefined;

/** A fresh temp directory and a FileStore on it, with a cleanup. */
export async function tempFiles(
  prefix = "cairn-storage-",
): Promise<{ dir: string; files: FileStore; cleanup(): void }> {
  runtime ??= await detectRuntime();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const files = await runtime.files(dir);
  return { dir, files, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Reopens the store of `dir` (as a restarted process would: no cached descriptors). */
export async function reopenFiles(dir: string): Promise<FileStore> {
  runtime ??= await detectRuntime();
  return await runtime.files(dir);
}

/** Thrown by {@link CountingFileStore} where a crash was simulated. */
export class SimulatedCrash extends Error {
  override name = "SimulatedCrash";
}

/**
 * Counts synced appends (each is one fdatasync) and other operations, and can simulate a
 * crash: the Nth mutating operation fails; an append then writes only `tornBytes` of its bytes.
 */
export class CountingFileStore implements FileStore {
  readonly dir: string;
  readonly #inner: FileStore;
  syncs = 0;
  appends = 0;
  replaces = 0;
  removes = 0;
  /** Mutating operations left before the simulated crash; `undefined` for never. */
  crashAfter: number | undefined;
  /** How many bytes of the crashing append reach the file. */
  tornBytes = 0;
  /** Delay each synced append by this much, to let concurrent calls pile up. */
  syncDelayMs = 0;

  constructor(inner: FileStore) {
    this.#inner = inner;
    this.dir = inner.dir;
  }

  #crashNow(): boolean {
    if (this.crashAfter === undefined) return false;
    if (this.crashAfter === 0) return true;
    this.crashAfter -= 1;
    return false;
  }

  async append(name: string, bytes: Uint8Array, options: { sync: boolean }): Promise<void> {
    if (this.#crashNow()) {
      const torn = Math.min(this.tornBytes, bytes.byteLength);
      if (torn > 0) await this.#inner.append(name, bytes.subarray(0, torn), { sync: false });
      throw new SimulatedCrash(`crash while appending to ${name}`);
    }
    this.appends += 1;
    if (options.sync) this.syncs += 1;
    if (this.syncDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.syncDelayMs));
    await this.#inner.append(name, bytes, options);
  }

  replace(name: string, bytes: Uint8Array): Promise<void> {
    if (this.#crashNow()) throw new SimulatedCrash(`crash while replacing ${name}`);
    this.replaces += 1;
    return this.#inner.replace(name, bytes);
  }

  read(name: string): Promise<Uint8Array | undefined> {
    return this.#inner.read(name);
  }

  readRange(name: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    return this.#inner.readRange!(name, offset, length);
  }

  list(): Promise<string[]> {
    return this.#inner.list();
  }

  remove(name: string): Promise<void> {
    if (this.#crashNow()) throw new SimulatedCrash(`crash while removing ${name}`);
    this.removes += 1;
    return this.#inner.remove(name);
  }
}

/** Flips every bit of the byte at `offset` in a real file. */
export function flipByte(path: string, offset: number): void {
  const bytes = readFileSync(path);
  bytes[offset] ^= 0xff;
  writeFileSync(path, bytes);
}

/** Drops the last `count` bytes of a real file. */
export function dropTail(path: string, count: number): void {
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.byteLength - count));
}

/** Appends raw bytes to a real file. */
export function appendRaw(path: string, bytes: Uint8Array): void {
  const old = readFileSync(path);
  const joined = new Uint8Array(old.byteLength + bytes.byteLength);
  joined.set(old, 0);
  joined.set(bytes, old.byteLength);
  writeFileSync(path, joined);
}

/** `count` entries from `first`, all in `term`, each with `size` bytes of data naming it. */
export function makeEntries(
  first: number,
  count: number,
  term: number,
  size = 32,
): { index: number; term: number; data: Uint8Array }[] {
  return Array.from({ length: count }, (_, at) => {
    const index = first + at;
    const data = new Uint8Array(size);
    const label = new TextEncoder().encode(`e${index}t${term}`);
    data.set(label.subarray(0, size));
    return { index, term, data };
  });
}

/** Reads a real file. */
export function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}
