/**
 * Child processes, signals, arguments, environment and standard streams on `node:child_process`
 * and `node:process`, which Deno, Bun and Node all provide.
 *
 * @module
 */

import type { ChildProcess } from "node:child_process";
import process from "node:process";
import type { ProcessResult, RunOptions, SignalName } from "../src/runtime.ts";
import { operationError } from "./_errors.ts";

/**
 * Runs `args[0]` with the rest as arguments, without a shell, with stdin from /dev/null.
 *
 * The child leads its own process group, and a timeout kills the whole group with SIGKILL, as
 * Consul does for check scripts (`agent/exec`): a shell's grandchildren holding the output pipe
 * would otherwise keep the run going past its timeout.
 *
 * @param args the program and its arguments
 * @param options `timeoutMs` before the kill; `outputBytesMax` of stdout and stderr kept
 * @returns the exit code, the interleaved output and whether it timed out
 */
export async function runNodeProcess(
  args: string[],
  options: RunOptions,
): Promise<ProcessResult> {
  const [program, ...rest] = args;
  if (program === undefined || program === "") {
    throw new TypeError("Cannot run a process: args must name a program");
  }
  // Loaded on the first run, not at start-up: most agents never run a script check, and the
  // module costs ~2.5 MiB of RSS on Bun (docs/benchmarks.md, edge footprint).
  const { spawn } = await import("node:child_process");
  return await new Promise((resolve, reject) => {
    const output = new OutputBuffer(options.outputBytesMax);
    let timedOut = false;
    let settled = false;
    const child = spawn(program, rest, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, options.timeoutMs);
    // Keep draining past the cap, so a chatty child never blocks on a full pipe.
    child.stdout?.on("data", (chunk: Uint8Array) => output.push(chunk));
    child.stderr?.on("data", (chunk: Uint8Array) => output.push(chunk));
    child.once("error", (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(operationError(`run "${program}"`, error));
    });
    child.once("close", (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const exitCode = timedOut || code === null ? undefined : code;
      resolve({ exitCode, output: output.bytes(), timedOut });
    });
  });
}

/** Sends SIGKILL to the child's process group, or to the child alone if that fails. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

/** Keeps the first `bytesMax` bytes pushed into it, in arrival order. */
class OutputBuffer {
  readonly #bytesMax: number;
  readonly #chunks: Uint8Array[] = [];
  #byteCount = 0;

  constructor(bytesMax: number) {
    this.#bytesMax = Math.max(0, bytesMax);
  }

  push(chunk: Uint8Array): void {
    const room = this.#bytesMax - this.#byteCount;
    if (room <= 0) return;
    const kept = chunk.byteLength <= room ? chunk : chunk.subarray(0, room);
    this.#chunks.push(kept);
    this.#byteCount += kept.byteLength;
  }

  bytes(): Uint8Array {
    const bytes = new Uint8Array(this.#byteCount);
    let offset = 0;
    for (const chunk of this.#chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return bytes;
  }
}

/**
 * Calls `handle` on `signal`.
 *
 * @param signal the signal to listen for
 * @param handle called on each delivery
 * @returns a function that removes the handler
 */
export function onProcessSignal(signal: SignalName, handle: () => void): () => void {
  const listener = () => handle();
  process.on(signal, listener);
  return () => {
    process.off(signal, listener);
  };
}

/**
 * Returns the command-line arguments after the program and the script.
 *
 * @returns the arguments
 */
export function processArgs(): string[] {
  return process.argv.slice(2);
}

/**
 * Reads an environment variable.
 *
 * @param name the variable's name
 * @returns its value, or `undefined` when unset
 */
export function processEnv(name: string): string | undefined {
  return process.env[name];
}

/**
 * Writes text to standard output.
 *
 * @param text the text to write
 */
export function writeStdout(text: string): void {
  process.stdout.write(text);
}

/**
 * Writes text to standard error.
 *
 * @param text the text to write
 */
export function writeStderr(text: string): void {
  process.stderr.write(text);
}

/**
 * Reads standard input to its end.
 *
 * @returns every byte read
 */
export async function readStdin(): Promise<Uint8Array> {
  const output = new OutputBuffer(Number.MAX_SAFE_INTEGER);
  for await (const chunk of process.stdin) {
    output.push(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
  }
  return output.bytes();
}

/**
 * Ends the process.
 *
 * @param code the exit code
 */
export function exitProcess(code: number): never {
  process.exit(code);
}
