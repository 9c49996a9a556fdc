/**
 * The parts of a {@link Runtime} that are the same on Deno, Bun and Node: clocks, timers and
 * random bytes on web globals, and files and processes on the `node:` modules all three provide.
 * Each runtime's adapter adds what differs (its HTTP server, its sockets, its arguments).
 *
 * @module
 */

import type {
  Address,
  Clock,
  FetchHandler,
  HttpServer,
  PacketSocket,
  Runtime,
  Stream,
  StreamListener,
  TimerHandle,
  TimerOptions,
  Timers,
} from "../src/runtime.ts";
import { openNodeFiles } from "./_node_files.ts";
import {
  exitProcess,
  onProcessSignal,
  processArgs,
  processEnv,
  readStdin,
  runNodeProcess,
  writeStderr,
  writeStdout,
} from "./_node_process.ts";

/** The longest delay `setTimeout` honours; a longer one fires at once on every runtime. */
export const TIMER_DELAY_MS_MAX = 2_147_483_647;

/** The most bytes `crypto.getRandomValues` fills in one call (WebCrypto spec). */
const RANDOM_BYTES_PER_CALL_MAX = 65_536;

/** What differs between runtimes; everything else comes from the `node:` modules. */
export interface NativeParts {
  /** "deno", "bun" or "node". */
  name: string;
  /** Serves HTTP on the runtime's native server. */
  serveHttp(fetch: FetchHandler, at: Address): Promise<HttpServer>;
  /** The arguments after the program and script. @default {process.argv.slice(2)} */
  args?(): string[];
  /** Writes to standard output. @default {process.stdout.write} */
  writeStdout?(text: string): void;
  /** Writes to standard error. @default {process.stderr.write} */
  writeStderr?(text: string): void;
  /**
   * Binds a UDP socket, listens and dials over TCP: `node:dgram` and `node:net`
   * (runtimes/_node_net.ts) on Deno and Node, Bun's own sockets on Bun. Passed in, not imported
   * here, so that Bun never loads `node:net` and `node:dgram` (~9 MiB of its idle memory).
   */
  bindPackets(at: Address): Promise<PacketSocket>;
  listenStreams(at: Address, accept: (stream: Stream) => void): Promise<StreamListener>;
  dial(to: Address, options: { timeoutMs: number }): Promise<Stream>;
}

/**
 * Builds a {@link Runtime} from the shared `node:` parts and the runtime's native ones.
 *
 * @param native what differs on this runtime
 * @returns the runtime
 */
export function createNodeApiRuntime(native: NativeParts): Runtime {
  return Object.freeze({
    name: native.name,
    clock: createClock(),
    timers: createTimers(),
    randomBytes: fillRandomBytes,
    bindPackets: native.bindPackets,
    listenStreams: native.listenStreams,
    dial: native.dial,
    serveHttp: native.serveHttp,
    fetch: (input: string | URL | Request, init?: RequestInit) => globalThis.fetch(input, init),
    files: openNodeFiles,
    run: runNodeProcess,
    onSignal: onProcessSignal,
    args: native.args ?? processArgs,
    env: processEnv,
    writeStdout: native.writeStdout ?? writeStdout,
    writeStderr: native.writeStderr ?? writeStderr,
    readStdin,
    exit: exitProcess,
  });
}

/**
 * A clock on `performance.now()` (monotonic) and `Date.now()` (wall).
 *
 * @returns the clock
 */
export function createClock(): Clock {
  return {
    monotonicMs: () => performance.now(),
    wallMs: () => Date.now(),
  };
}

/**
 * Timers on the global `setTimeout` and `setInterval`, unref'd unless `keepAlive` is set.
 *
 * @returns the timers
 */
export function createTimers(): Timers {
  return { after, every };
}

function after(delayMs: number, fire: () => void, options?: TimerOptions): TimerHandle {
  // A deadline already past is due now: callers compute delays as deadline minus now.
  const timer = setTimeout(fire, checkDelayMs(Math.max(0, delayMs), "delayMs"));
  if (options?.keepAlive !== true) timer.unref();
  return { cancel: () => clearTimeout(timer) };
}

function every(intervalMs: number, fire: () => void, options?: TimerOptions): TimerHandle {
  if (!(intervalMs >= 1)) {
    throw new RangeError(`Cannot schedule timer: intervalMs must be >= 1, got ${intervalMs}`);
  }
  const timer = setInterval(fire, checkDelayMs(intervalMs, "intervalMs"));
  if (options?.keepAlive !== true) timer.unref();
  return { cancel: () => clearInterval(timer) };
}

function checkDelayMs(delayMs: number, label: string): number {
  if (Number.isFinite(delayMs) && delayMs <= TIMER_DELAY_MS_MAX) return delayMs;
  throw new RangeError(
    `Cannot schedule timer: ${label} must be finite and <= ${TIMER_DELAY_MS_MAX}, got ${delayMs}`,
  );
}

/**
 * Fills `bytes` with `crypto.getRandomValues`, in chunks the API accepts.
 *
 * @param bytes the array to fill
 * @returns `bytes`
 */
export function fillRandomBytes(bytes: Uint8Array): Uint8Array {
  for (let offset = 0; offset < bytes.byteLength; offset += RANDOM_BYTES_PER_CALL_MAX) {
    const end = Math.min(bytes.byteLength, offset + RANDOM_BYTES_PER_CALL_MAX);
    crypto.getRandomValues(bytes.subarray(offset, end));
  }
  return bytes;
}
