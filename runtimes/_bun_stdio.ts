/**
 * Standard output and error for the Bun adapter, written with `node:fs`'s `writeSync` on file
 * descriptors 1 and 2. On Bun, the first touch of `process.stdout` or `process.stderr` builds
 * Node's stream machinery (`node:stream`, `node:events`, a tty or fs stream): ~6 MiB of an idle
 * agent's memory, for its log lines (docs/benchmarks.md, edge footprint). `node:fs` is loaded
 * anyway for files.
 *
 * A synchronous write keeps the order of lines and loses none at `exit()`, as Node's own stdout
 * does for files and pipes on Linux. Should a write fail (a non-blocking descriptor that is full,
 * a closed pipe), that stream and everything after it on it goes to `process.stdout` or
 * `process.stderr` instead, which then behaves exactly as it would have without this module.
 *
 * @module
 */

import { writeSync } from "node:fs";
import process from "node:process";

const encoder = new TextEncoder();

/** Per descriptor: true once a write failed and the process stream took over. */
const handedOver = { 1: false, 2: false };

/**
 * Writes text to standard output.
 *
 * @param text the text to write
 */
export function writeBunStdout(text: string): void {
  writeText(1, text);
}

/**
 * Writes text to standard error.
 *
 * @param text the text to write
 */
export function writeBunStderr(text: string): void {
  writeText(2, text);
}

function writeText(fd: 1 | 2, text: string): void {
  const stream = () => (fd === 1 ? process.stdout : process.stderr);
  if (handedOver[fd]) {
    stream().write(text);
    return;
  }
  const bytes = encoder.encode(text);
  let offset = 0;
  try {
    while (offset < bytes.byteLength) {
      offset += writeSync(fd, bytes, offset, bytes.byteLength - offset);
    }
  } catch {
    handedOver[fd] = true;
    stream().write(bytes.subarray(offset));
  }
}
