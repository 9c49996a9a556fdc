/**
 * The one door to the outside world. Everything outside `src/core` that needs a socket, a file, a
 * clock, a timer, a process or the terminal receives a {@link Runtime}; only `runtimes/*.ts`
 * implement it, each on its runtime's fastest native API. Types only: no code lives here.
 *
 * @module
 */

/** A host and port. `host` is an IP literal (IPv4 dotted or IPv6 without brackets). */
export interface Address {
  host: string;
  port: number;
}

/** Time sources. Monotonic time is for durations; wall time only for display and stamps. */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never goes backwards. */
  monotonicMs(): number;
  /** Milliseconds since the Unix epoch. */
  wallMs(): number;
}

/** A scheduled callback that can be cancelled. */
export interface TimerHandle {
  cancel(): void;
}

/** Options for timers. */
export interface TimerOptions {
  /** Keep the process alive while the timer is pending. @default {false} */
  keepAlive?: boolean;
}

/** Timers. By default a pending timer never keeps a finished program alive (it is unref'd). */
export interface Timers {
  /** Calls `fire` once after `delayMs`. */
  after(delayMs: number, fire: () => void, options?: TimerOptions): TimerHandle;
  /** Calls `fire` every `intervalMs` until cancelled. */
  every(intervalMs: number, fire: () => void, options?: TimerOptions): TimerHandle;
}

/** A bound UDP socket. Best effort: sends never throw for a lost datagram. */
export interface PacketSocket {
  /** The address actually bound (port 0 resolves to the chosen port). */
  readonly address: Address;
  send(bytes: Uint8Array, to: Address): void;
  /** Sets the one handler for received datagrams. */
  onPacket(handle: (bytes: Uint8Array, from: Address) => void): void;
  close(): Promise<void>;
}

/** A connected TCP stream. */
export interface Stream {
  readonly remote: Address;
  readonly local: Address;
  /** Queues bytes; returns false when the kernel buffer is full (wait for `onDrain`). */
  write(bytes: Uint8Array): boolean;
  /** Sets the one handler for received bytes. */
  onData(handle: (bytes: Uint8Array) => void): void;
  /** Called once when the stream can take more writes after `write` returned false. */
  onDrain(handle: () => void): void;
  /** Sets the one handler called once when the stream is closed, by either side or by error. */
  onClose(handle: (error?: Error) => void): void;
  /** Half-closes after queued writes are flushed. */
  end(): void;
  /** Closes at once, dropping queued writes. */
  destroy(): void;
}

/** A listening TCP socket. */
export interface StreamListener {
  readonly address: Address;
  close(): Promise<void>;
}

/** A handler of HTTP requests, as hono's `app.fetch`. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** A running HTTP server. */
export interface HttpServer {
  readonly address: Address;
  /** Which native server serves it, e.g. "Deno.serve". */
  readonly kind: string;
  close(): Promise<void>;
}

/** Files in one directory, by plain name (no path separators). */
export interface FileStore {
  /** The directory's path. */
  readonly dir: string;
  /** Appends bytes to `name`, creating it; with `sync`, fdatasyncs before resolving. */
  append(name: string, bytes: Uint8Array, options: { sync: boolean }): Promise<void>;
  /** Replaces `name` atomically: write a temp file, fsync, rename, fsync the directory. */
  replace(name: string, bytes: Uint8Array): Promise<void>;
  /** Reads the whole of `name`, or `undefined` when it does not exist. */
  read(name: string): Promise<Uint8Array | undefined>;
  /**
   * Reads up to `length` bytes of `name` from byte `offset` (fewer at the end of the file), or
   * `undefined` when it does not exist. Optional: the write-ahead log reads single records from
   * large segments with it, and falls back to `read` on stores without it.
   */
  readRange?(name: string, offset: number, length: number): Promise<Uint8Array | undefined>;
  /** Names of the regular files in the directory, sorted. */
  list(): Promise<string[]>;
  /** Removes `name`; a missing file is not an error. */
  remove(name: string): Promise<void>;
}

/** What a finished child process reported. */
export interface ProcessResult {
  /** The exit code, or `undefined` when it was killed (e.g. on timeout). */
  exitCode: number | undefined;
  /** stdout and stderr interleaved, cut at `outputBytesMax`. */
  output: Uint8Array;
  /** True when the process was killed for running past `timeoutMs`. */
  timedOut: boolean;
}

/** Options for running a child process. */
export interface RunOptions {
  timeoutMs: number;
  outputBytesMax: number;
}

/** Signals an agent listens for. */
export type SignalName = "SIGINT" | "SIGTERM" | "SIGHUP";

/** The outside world, as one runtime provides it. */
export interface Runtime {
  /** "deno", "bun" or "node". */
  readonly name: string;
  readonly clock: Clock;
  readonly timers: Timers;
  /** Fills `bytes` with cryptographically strong random values and returns it. */
  randomBytes(bytes: Uint8Array): Uint8Array;
  bindPackets(at: Address): Promise<PacketSocket>;
  /** Listens for TCP connections and calls `accept` for each. */
  listenStreams(at: Address, accept: (stream: Stream) => void): Promise<StreamListener>;
  /** Connects over TCP, rejecting after `timeoutMs`. */
  dial(to: Address, options: { timeoutMs: number }): Promise<Stream>;
  serveHttp(fetch: FetchHandler, at: Address): Promise<HttpServer>;
  /** The global `fetch`, for HTTP health checks and the CLI's client. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Opens (creating it and its parents) a directory of files. */
  files(dir: string): Promise<FileStore>;
  /** Runs `args[0]` with the rest as arguments, without a shell. */
  run(args: string[], options: RunOptions): Promise<ProcessResult>;
  /** Calls `handle` on the signal; returns a function that removes the handler. */
  onSignal(signal: SignalName, handle: () => void): () => void;
  /** The command-line arguments after the program and script. */
  args(): string[];
  env(name: string): string | undefined;
  writeStdout(text: string): void;
  writeStderr(text: string): void;
  readStdin(): Promise<Uint8Array>;
  exit(code: number): never;
}
