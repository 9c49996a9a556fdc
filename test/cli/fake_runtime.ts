// A Runtime for running the CLI in-process in tests.
//
// Goal: let tests call `runCli` and `buildAgentConfig` and see exactly what they print, read and
// fetch. Method: stdout and stderr are captured as strings; env and stdin are given; files are real
// (node:fs, in a temporary directory), fetch is the global one (the tests serve a fake agent on
// loopback); signals are raised by the test; `exit` records the code and throws. Sockets, child
// processes and the rest throw: the CLI must not use them.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type {
  Clock,
  FileStore,
  HttpServer,
  PacketSocket,
  ProcessResult,
  Runtime,
  SignalName,
  Stream,
  StreamListener,
  TimerHandle,
  Timers,
} from "../../src/runtime.ts";

/** Thrown by {@link FakeRuntime.exit} so that code after `exit` does not run. */
export class FakeExit extends Error {
  readonly code: number;

  constructor(code: number) {
    super(`exit(${code})`);
    this.code = code;
  }
}

/** What a fake runtime starts with. */
export interface FakeRuntimeOptions {
  env?: Record<string, string>;
  stdin?: string;
}

/** A runtime whose terminal, environment and signals belong to the test. */
export class FakeRuntime implements Runtime {
  readonly name = "fake";
  stdout = "";
  stderr = "";
  exitCode: number | undefined;
  readonly #env: Record<string, string>;
  readonly #stdin: string;
  readonly #signalHandlers = new Map<SignalName, Set<() => void>>();
  readonly clock: Clock = { monotonicMs: () => performance.now(), wallMs: () => Date.now() };
  readonly timers: Timers = {
    after: (delayMs, fire, options) => {
      const handle = setTimeout(fire, delayMs);
      return timer(handle, () => clearTimeout(handle), options?.keepAlive);
    },
    every: (intervalMs, fire, options) => {
      const handle = setInterval(fire, intervalMs);
      return timer(handle, () => clearInterval(handle), options?.keepAlive);
    },
  };

  constructor(options: FakeRuntimeOptions = {}) {
    this.#env = options.env ?? {};
    this.#stdin = options.stdin ?? "";
  }

  /** Raises `signal` as the OS would. */
  raise(signal: SignalName): void {
    for (const handle of [...(this.#signalHandlers.get(signal) ?? [])]) handle();
  }

  /** How many handlers are listening for `signal`. */
  listenerCount(signal: SignalName): number {
    return this.#signalHandlers.get(signal)?.size ?? 0;
  }

  randomBytes(bytes: Uint8Array): Uint8Array {
    return crypto.getRandomValues(bytes);
  }

  bindPackets(): Promise<PacketSocket> {
    return Promise.reject(new Error("Cannot bind packets: not in the fake runtime"));
  }

  listenStreams(): Promise<StreamListener> {
    return Promise.reject(new Error("Cannot listen: not in the fake runtime"));
  }

  dial(): Promise<Stream> {
    return Promise.reject(new Error("Cannot dial: not in the fake runtime"));
  }

  serveHttp(): Promise<HttpServer> {
    return Promise.reject(new Error("Cannot serve HTTP: not in the fake runtime"));
  }

  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    return globalThis.fetch(input, init);
  }

  files(dir: string): Promise<FileStore> {
    // As the real adapters do: open the directory, creating it.
    mkdirSync(dir, { recursive: true });
    const store: FileStore = {
      dir,
      append: () => Promise.reject(new Error("Cannot append: not in the fake runtime")),
      replace: (name, bytes) => Promise.resolve(writeFileSync(join(dir, name), bytes)),
      read: (name) => {
        try {
          return Promise.resolve(new Uint8Array(readFileSync(join(dir, name))));
        } catch (error) {
          if ((error as { code?: string }).code === "ENOENT") return Promise.resolve(undefined);
          return Promise.reject(error);
        }
      },
      list: () =>
        Promise.resolve(
          readdirSync(dir, { withFileTypes: true })
            .filter((entry) => entry.isFile() && !entry.name.startsWith("."))
            .map((entry) => entry.name)
            .sort(),
        ),
      remove: (name) => Promise.resolve(rmSync(join(dir, name), { force: true })),
    };
    return Promise.resolve(store);
  }

  run(): Promise<ProcessResult> {
    return Promise.reject(new Error("Cannot run a process: not in the fake runtime"));
  }

  onSignal(signal: SignalName, handle: () => void): () => void {
    const handlers = this.#signalHandlers.get(signal) ?? new Set();
    handlers.add(handle);
    this.#signalHandlers.set(signal, handlers);
    return () => handlers.delete(handle);
  }

  args(): string[] {
    return [];
  }

  env(name: string): string | undefined {
    return this.#env[name];
  }

  writeStdout(text: string): void {
    this.stdout += text;
  }

  writeStderr(text: string): void {
    this.stderr += text;
  }

  readStdin(): Promise<Uint8Array> {
    return Promise.resolve(new TextEncoder().encode(this.#stdin));
  }

  exit(code: number): never {
    this.exitCode = code;
    throw new FakeExit(code);
  }
}

function timer(handle: unknown, cancel: () => void, keepAlive = false): TimerHandle {
  if (!keepAlive) (handle as { unref?: () => void }).unref?.();
  return { cancel };
}
