/**
 * TCP on Bun's own sockets (`Bun.listen`, `Bun.connect`) instead of `node:net`, which costs ~6 MiB
 * of idle memory on Bun (docs/benchmarks.md, edge footprint). The streams behave as the
 * `node:net` ones of the other adapters (runtimes/_node_net.ts) do under the {@link Stream}
 * contract:
 *
 * - Bun writes what the kernel takes and returns the count; the rest waits in a queue here, sent
 *   on Bun's `drain`, and `write` returns false until it is gone (then `onDrain`). The queue is
 *   bounded by {@link STREAM_QUEUED_BYTES_MAX}: a writer that ignores `false` past it gets the
 *   stream closed with an error, not unbounded memory.
 * - `end()` half-closes (a FIN) once the queue is flushed and keeps reading; the peer's FIN ends
 *   this side too, after its queued writes, and then the stream closes (`node:net` without
 *   `allowHalfOpen`). `destroy()` closes at once, dropping the queue.
 * - Bytes that arrive before `onData` is first set are held, up to {@link EARLY_BYTES_MAX}; past
 *   that, reading pauses and the rest waits in the kernel. A FIN with nothing held closes the
 *   stream even when nobody reads (as `node:net` does); one behind held bytes waits for them.
 * - `onClose` reports once, never synchronously inside `destroy()`, with the first error seen;
 *   errors are reported there, never thrown. Sockets and listeners are unref'd.
 *
 * One difference remains: Bun cannot cancel a connection attempt, so a `dial` that timed out
 * leaves its attempt to the kernel (until it connects, then it is closed, or fails);
 * {@link DIALS_ABANDONED_MAX} bounds how many may be pending at once.
 *
 * @module
 */

import type { Address, Stream, StreamListener } from "../src/runtime.ts";
import { ipVersionOf } from "./_ip_version.ts";
import { errorCode, formatAddress, operationError } from "./_errors.ts";

/** Bytes a stream holds beyond what the kernel took; past this it closes with an error. */
export const STREAM_QUEUED_BYTES_MAX = 64 * 1024 * 1024;

/** Bytes held for a stream whose `onData` is not set yet; past this, reading pauses. */
export const EARLY_BYTES_MAX = 65_536;

/** Timed-out connection attempts still pending in the kernel; past this, `dial` fails at once. */
export const DIALS_ABANDONED_MAX = 256;

/** The slice of the `Bun` namespace used here, typed structurally so tsc needs no Bun types. */
interface BunTcpNamespace {
  listen(options: BunSocketOptions & { hostname: string; port: number }): BunListener;
  connect(options: BunSocketOptions & { hostname: string; port: number }): Promise<BunSocket>;
}

interface BunSocketOptions {
  /** True: a FIN from the peer leaves this side open (here, until its queue is flushed). */
  allowHalfOpen: boolean;
  socket: BunSocketHandlers;
}

/** Handlers Bun calls for every socket of a listener or a connect. */
interface BunSocketHandlers {
  binaryType: "uint8array";
  open(socket: BunSocket): void;
  data(socket: BunSocket, bytes: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  error(socket: BunSocket, error: Error): void;
  close(socket: BunSocket, error?: Error): void;
}

/** The slice of Bun's TCP `Socket` used here. */
interface BunSocket {
  /** Ours: the stream this socket belongs to, once opened. */
  data: BunStream | undefined;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Writes what the kernel takes now; returns that count, or -1 when closed. */
  write(bytes: Uint8Array): number;
  /** Sends a FIN; reading goes on. */
  shutdown(): void;
  /** Closes both directions (FIN, or RST when unread input remains, as `close(2)`). */
  end(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay: boolean): boolean;
  unref(): void;
}

/** The slice of Bun's `TCPSocketListener` used here. */
interface BunListener {
  readonly port: number;
  getsockname(out: { address?: string; port?: number }): void;
  unref(): void;
  stop(closeActiveConnections?: boolean): void;
}

function bun(): BunTcpNamespace {
  return (globalThis as unknown as { Bun: BunTcpNamespace }).Bun;
}

/** Handlers shared by every socket: each socket's `data` field carries its stream. */
const streamHandlers: Omit<BunSocketHandlers, "open"> = {
  binaryType: "uint8array",
  data(socket, bytes) {
    socket.data?.receive(bytes);
  },
  drain(socket) {
    socket.data?.flush();
  },
  end(socket) {
    socket.data?.peerEnded();
  },
  error(socket, error) {
    socket.data?.fail(error);
  },
  close(socket, error) {
    socket.data?.socketClosed(error);
  },
};

/** Handlers of dialled sockets: the stream exists (paused) before `connect` resolves. */
const dialHandlers: BunSocketHandlers = {
  ...streamHandlers,
  open(socket) {
    socket.data = new BunStream(socket);
  },
};

/** Connection attempts that timed out and are still pending (see the module comment). */
let dialsAbandoned = 0;

/**
 * Listens for TCP connections with `Bun.listen`. Closing the listener stops accepting; streams it
 * accepted stay open until their owner ends them (as Go's `net.Listener.Close`).
 *
 * @param at where to listen (an IP literal); port 0 picks a free port
 * @param accept called with each accepted stream, already unref'd and with Nagle off
 * @returns the listener, already unref'd
 */
export function listenBunStreams(
  at: Address,
  accept: (stream: Stream) => void,
): Promise<StreamListener> {
  let listener: BunListener;
  try {
    ipVersionOf(at, "listen on");
    listener = bun().listen({
      hostname: at.host,
      port: at.port,
      allowHalfOpen: true,
      socket: {
        ...streamHandlers,
        open(socket) {
          // A connection reset before this ran has no remote address left to report.
          if (socket.remoteAddress === undefined) return socket.end();
          const stream = new BunStream(socket);
          socket.data = stream;
          callOutside(() => accept(stream));
        },
      },
    });
  } catch (error) {
    return Promise.reject(nativeError(`listen on ${formatAddress(at)}`, error));
  }
  listener.unref();
  return Promise.resolve(new BunStreamListener(listener, at));
}

/** A `Bun.listen` listener as a {@link StreamListener}. */
class BunStreamListener implements StreamListener {
  readonly address: Address;
  readonly #listener: BunListener;
  #closed: Promise<void> | undefined;

  constructor(listener: BunListener, at: Address) {
    this.#listener = listener;
    // The kernel's view: canonical text for an IPv6 host (`::1` for `0:0:0:0:0:0:0:1`).
    const bound: { address?: string; port?: number } = {};
    listener.getsockname(bound);
    this.address = { host: bound.address ?? at.host, port: bound.port ?? listener.port };
  }

  close(): Promise<void> {
    if (this.#closed === undefined) {
      // stop(false) frees the port at once and leaves accepted streams to their owners.
      this.#listener.stop(false);
      this.#closed = Promise.resolve();
    }
    return this.#closed;
  }
}

/**
 * Connects over TCP with `Bun.connect`. The attempt keeps the process alive while connecting, so
 * an awaited dial is never cut short by the program exiting; once connected it is unref'd.
 *
 * @param to the address to connect to (an IP literal)
 * @param options `timeoutMs`: reject after this long
 * @returns the connected stream, with Nagle off
 */
export function dialBun(to: Address, options: { timeoutMs: number }): Promise<Stream> {
  const action = `connect to ${formatAddress(to)}`;
  let connecting: Promise<BunSocket>;
  try {
    ipVersionOf(to, "connect to");
    if (dialsAbandoned >= DIALS_ABANDONED_MAX) {
      throw new Error(
        `${dialsAbandoned} earlier attempts that timed out are still pending; retry later`,
      );
    }
    connecting = bun().connect({
      hostname: to.host,
      port: to.port,
      allowHalfOpen: true,
      socket: dialHandlers,
    });
  } catch (error) {
    return Promise.reject(nativeError(action, error));
  }
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      dialsAbandoned += 1;
      reject(new Error(`Cannot ${action}: timed out after ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    connecting.then((socket) => {
      if (timedOut) {
        dialsAbandoned -= 1;
        return socket.data?.destroy();
      }
      clearTimeout(timer);
      resolve(socket.data!);
    }, (error: unknown) => {
      if (timedOut) {
        dialsAbandoned -= 1;
        return;
      }
      clearTimeout(timer);
      reject(nativeError(action, error));
    });
  });
}

/**
 * A connected Bun socket as a {@link Stream}: the write queue, half-close and close reporting
 * described in the module comment.
 */
class BunStream implements Stream {
  readonly remote: Address;
  readonly local: Address;
  readonly #socket: BunSocket;
  /** Bytes the kernel has not taken yet, oldest first. */
  readonly #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  /** `write` returned false since the queue was last empty: report the drain. */
  #drainOwed = false;
  /** `end()` was called (by the owner, or for the peer's FIN): no more writes. */
  #ending = false;
  /** The peer's FIN arrived: nothing more to read. */
  #peerEnded = false;
  #closed = false;
  #error: Error | undefined;
  /** Bytes that arrived before `onData` was set, oldest first. */
  #early: Uint8Array[] = [];
  #earlyBytes = 0;
  /** The peer's FIN came behind held bytes: handle it once they are delivered. */
  #peerEndHeld = false;
  #dataHandle: ((bytes: Uint8Array) => void) | undefined;
  #drainHandle: (() => void) | undefined;
  #closeHandle: ((error?: Error) => void) | undefined;

  constructor(socket: BunSocket) {
    this.#socket = socket;
    this.remote = { host: socket.remoteAddress ?? "", port: socket.remotePort };
    this.local = { host: socket.localAddress, port: socket.localPort };
    socket.setNoDelay(true);
    socket.unref();
  }

  write(bytes: Uint8Array): boolean {
    if (this.#closed || this.#ending) return false;
    if (this.#queue.length > 0) return this.#enqueue(bytes);
    const written = this.#socket.write(bytes);
    if (written === bytes.byteLength) return true;
    // Closed under us: the close handler reports it.
    if (written < 0) return false;
    return this.#enqueue(bytes.subarray(written));
  }

  onData(handle: (bytes: Uint8Array) => void): void {
    const first = this.#dataHandle === undefined;
    this.#dataHandle = handle;
    // Held bytes go out after the caller's call stack, in order, before anything newer.
    if (first && this.#early.length > 0) queueMicrotask(() => this.#deliverEarly());
  }

  onDrain(handle: () => void): void {
    this.#drainHandle = handle;
  }

  onClose(handle: (error?: Error) => void): void {
    if (this.#closed) {
      // Already closed: report it anyway, but never synchronously inside the caller.
      const error = this.#error;
      queueMicrotask(() => handle(error));
      return;
    }
    this.#closeHandle = handle;
  }

  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    if (this.#queue.length === 0) this.#finishEnd();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#dropQueue();
    this.#socket.end();
    // Bun reports the close from inside end(); in case it did not, report it here.
    this.socketClosed(undefined);
  }

  /** Bun's `data`: hands bytes to the owner, or holds them until there is one. */
  receive(bytes: Uint8Array): void {
    if (this.#closed) return;
    const handle = this.#dataHandle;
    if (handle !== undefined && this.#early.length === 0) {
      callOutside(() => handle(bytes));
      return;
    }
    this.#early.push(bytes);
    this.#earlyBytes += bytes.byteLength;
    if (this.#earlyBytes >= EARLY_BYTES_MAX) this.#socket.pause();
  }

  /** Bun's `drain`: the kernel takes bytes again. */
  flush(): void {
    if (this.#closed) return;
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      const written = this.#socket.write(head);
      if (written < 0) return;
      this.#queuedBytes -= written;
      if (written < head.byteLength) {
        this.#queue[0] = head.subarray(written);
        return;
      }
      this.#queue.shift();
    }
    if (this.#ending) return this.#finishEnd();
    if (!this.#drainOwed) return;
    this.#drainOwed = false;
    const handle = this.#drainHandle;
    if (handle !== undefined) callOutside(handle);
  }

  /** Bun's `end`: the peer's FIN. Ends this side too once its queue is flushed. */
  peerEnded(): void {
    if (this.#early.length > 0) {
      this.#peerEndHeld = true;
      return;
    }
    this.#peerEnded = true;
    if (!this.#ending) this.end();
    else if (this.#queue.length === 0) this.#finishEnd();
  }

  /** Bun's `error`: keeps the first error for `onClose` and closes. */
  fail(error: Error): void {
    this.#error ??= error;
    this.destroy();
  }

  /** Bun's `close`: reports the close once, after the current call stack. */
  socketClosed(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    if (error !== undefined) this.#error ??= error;
    this.#dropQueue();
    const handle = this.#closeHandle;
    this.#closeHandle = undefined;
    if (handle === undefined) return;
    const reported = this.#error;
    queueMicrotask(() => handle(reported));
  }

  #deliverEarly(): void {
    while (this.#early.length > 0 && !this.#closed) {
      const bytes = this.#early.shift()!;
      this.#earlyBytes -= bytes.byteLength;
      const handle = this.#dataHandle!;
      callOutside(() => handle(bytes));
    }
    this.#early = [];
    this.#earlyBytes = 0;
    if (this.#closed) return;
    this.#socket.resume();
    if (this.#peerEndHeld) this.peerEnded();
  }

  #enqueue(bytes: Uint8Array): boolean {
    if (this.#queuedBytes + bytes.byteLength > STREAM_QUEUED_BYTES_MAX) {
      this.fail(
        new Error(
          `Cannot write to ${formatAddress(this.remote)}: ${this.#queuedBytes} bytes are ` +
            `queued and ${bytes.byteLength} more would pass ${STREAM_QUEUED_BYTES_MAX}; ` +
            "wait for onDrain when write() returns false",
        ),
      );
      return false;
    }
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.byteLength;
    this.#drainOwed = true;
    return false;
  }

  /** Sends the FIN; closes when the peer's has come too. */
  #finishEnd(): void {
    if (this.#closed) return;
    if (this.#peerEnded) this.#socket.end();
    else this.#socket.shutdown();
  }

  #dropQueue(): void {
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#early = [];
    this.#earlyBytes = 0;
  }
}

/**
 * Runs the owner's callback from inside a Bun socket handler. Bun hands an exception thrown there
 * to the socket's `error` handler, which would close the stream and hide the bug; `node:net`
 * lets it escape as an uncaught exception, and so does this.
 */
function callOutside(callback: () => void): void {
  try {
    callback();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** {@link operationError}, with the native code in the reason when Bun's message lacks it. */
function nativeError(action: string, error: unknown): Error {
  const wrapped = operationError(action, error);
  const code = errorCode(error);
  if (wrapped !== error && code !== undefined && !wrapped.message.includes(code)) {
    wrapped.message += ` (${code})`;
  }
  return wrapped;
}
