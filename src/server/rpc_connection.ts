/**
 * One server RPC connection over a {@link Stream}: it writes frames through a bounded queue,
 * matches responses to calls by request id (so calls multiplex), hands requests, one-way
 * messages and reassembled chunked payloads to its owner, and never throws out of a socket
 * callback: a malformed frame closes the connection and is counted.
 *
 * @module
 */

import type { Stream, TimerHandle, Timers } from "../runtime.ts";
import { concatBytes } from "../core/wire/codec.ts";
import { decodeFrameBody, encodeFrame, type Frame, FrameReader } from "./_rpc_frame.ts";

/** Bounds of one connection; every one is a `...Max`. */
export interface RpcConnectionLimits {
  /** Largest frame body read or written. @default {4_194_304} */
  rpcFrameBytesMax: number;
  /** Bytes queued for writing; past it one-way messages drop and calls fail. @default {16_777_216} */
  writeQueueBytesMax: number;
  /** Frames queued for writing. @default {8_192} */
  writeQueueFramesMax: number;
  /** Calls waiting for their response. @default {4_096} */
  pendingCallsMax: number;
  /** Bytes of one chunk of a large payload (a frame stays under 1 MiB). @default {786_432} */
  chunkBytesMax: number;
  /** Large payloads queued to send at once. @default {2} */
  chunkedSendsMax: number;
  /** Bytes of one reassembled payload received. @default {536_870_912} */
  chunkedPayloadBytesMax: number;
}

/** What a connection hands its owner. */
export interface RpcConnectionHandlers {
  /** A request: answer with the result, or throw an `Error` whose message is sent back. */
  request(method: string, payload: unknown): Promise<unknown>;
  /** A one-way message, or a reassembled chunked one (`bytes` set). */
  message(method: string, payload: unknown, bytes: Uint8Array | undefined): void;
  /** A frame that could not be read; the connection closes after it. */
  protocolError(error: Error): void;
  /** The connection closed (either side, or an error). */
  closed(connection: RpcConnection): void;
}

/** Counters of one connection. */
export interface RpcConnectionStats {
  framesSent: number;
  framesReceived: number;
  /** One-way messages dropped because the write queue was full. */
  droppedMessages: number;
}

/** Frames joined into one socket write at most (a bigger frame goes alone). */
const COALESCE_BYTES_MAX = 262_144;

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: TimerHandle;
}

interface ChunkedSend {
  readonly id: number;
  readonly method: string;
  readonly header: unknown;
  readonly bytes: Uint8Array;
  offset: number;
}

interface ChunkedReceive {
  readonly method: string;
  readonly header: unknown;
  readonly bytes: Uint8Array;
  received: number;
}

/** One multiplexed RPC connection. */
export class RpcConnection {
  readonly #stream: Stream;
  readonly #timers: Timers;
  readonly #limits: RpcConnectionLimits;
  readonly #handlers: RpcConnectionHandlers;
  readonly #reader: FrameReader;
  readonly #queue: Uint8Array[] = [];
  readonly #pending = new Map<number, PendingCall>();
  readonly #sends: ChunkedSend[] = [];
  readonly #receives = new Map<number, ChunkedReceive>();
  readonly #stats: RpcConnectionStats = { framesSent: 0, framesReceived: 0, droppedMessages: 0 };
  #queuedBytes = 0;
  #blocked = false;
  #flushScheduled = false;
  #nextId = 1;
  #closed = false;

  /**
   * Takes over `stream`: reads start at once.
   *
   * @param stream a connected stream
   * @param options timers (call timeouts), limits, and where frames go
   */
  constructor(
    stream: Stream,
    options: { timers: Timers; limits: RpcConnectionLimits; handlers: RpcConnectionHandlers },
  ) {
    this.#stream = stream;
    this.#timers = options.timers;
    this.#limits = options.limits;
    this.#handlers = options.handlers;
    this.#reader = new FrameReader(options.limits.rpcFrameBytesMax);
    stream.onData((bytes) => this.#receive(bytes));
    stream.onDrain(() => {
      this.#blocked = false;
      this.#flush();
    });
    stream.onClose(() => this.#onClosed());
  }

  /** True once closed; a closed connection is never reused. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes waiting in the write queue (the pool picks the least loaded connection). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Calls waiting for their response. */
  get pendingCalls(): number {
    return this.#pending.size;
  }

  /** Counters (a copy). */
  get stats(): RpcConnectionStats {
    return { ...this.#stats };
  }

  /**
   * Sends a one-way message. Best effort: returns false (and counts a drop) when the write
   * queue is full or the connection closed; the sender's protocol retries (Raft does).
   */
  send(method: string, payload: unknown): boolean {
    const frame = this.#encode({ kind: 2, id: 0, method, payload });
    if (frame === undefined || !this.#enqueue(frame)) {
      this.#stats.droppedMessages += 1;
      return false;
    }
    return true;
  }

  /**
   * Sends a one-way message whose `bytes` may be far larger than a frame: they travel in
   * chunks of `chunkBytesMax`, produced as the write queue empties, and the receiver hands
   * `header` and the whole `bytes` over once they are complete.
   */
  sendChunked(method: string, header: unknown, bytes: Uint8Array): boolean {
    if (this.#closed || this.#sends.length >= this.#limits.chunkedSendsMax) {
      this.#stats.droppedMessages += 1;
      return false;
    }
    this.#sends.push({ id: this.#nextId++, method, header, bytes, offset: 0 });
    this.#flush();
    return true;
  }

  /**
   * Calls `method` on the other side and resolves with its answer.
   *
   * @throws Error "Cannot call ...: ..." when the queue is full, the connection closes, the
   *   other side fails the call, or `timeoutMs` passes
   */
  call(method: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(new Error(`Cannot call "${method}": the connection is closed`));
    }
    if (this.#pending.size >= this.#limits.pendingCallsMax) {
      return Promise.reject(
        new Error(`Cannot call "${method}": ${this.#pending.size} calls are pending`),
      );
    }
    const id = this.#nextId++;
    const frame = this.#encode({ kind: 0, id, method, payload });
    if (frame === undefined) {
      return Promise.reject(
        new Error(`Cannot call "${method}": the request passes the frame size`),
      );
    }
    if (!this.#enqueue(frame)) {
      return Promise.reject(new Error(`Cannot call "${method}": the write queue is full`));
    }
    return new Promise((resolve, reject) => {
      // Kept alive, as a dial is: an awaited call is not cut short by the program exiting.
      const timer = this.#timers.after(timeoutMs, () => {
        if (!this.#pending.delete(id)) return;
        reject(new Error(`Cannot call "${method}": no answer within ${timeoutMs} ms`));
      }, { keepAlive: true });
      this.#pending.set(id, { resolve, reject, timer });
    });
  }

  /** Closes at once; pending calls fail. */
  close(): void {
    if (this.#closed) return;
    this.#stream.destroy();
    this.#onClosed();
  }

  #encode(frame: Frame): Uint8Array | undefined {
    const bytes = encodeFrame(frame);
    return bytes.byteLength - 4 > this.#limits.rpcFrameBytesMax ? undefined : bytes;
  }

  #enqueue(frame: Uint8Array): boolean {
    if (this.#closed) return false;
    if (
      this.#queue.length >= this.#limits.writeQueueFramesMax ||
      this.#queuedBytes + frame.byteLength > this.#limits.writeQueueBytesMax
    ) {
      return false;
    }
    this.#queue.push(frame);
    this.#queuedBytes += frame.byteLength;
    this.#scheduleFlush();
    return true;
  }

  /**
   * Flushes once the caller's synchronous work is done, so the frames it queued (a leader's
   * appends and heartbeats of one Ready, many answers) leave in one write, not one each.
   */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (!this.#closed && !this.#blocked) {
      if (this.#queue.length === 0 && !this.#produceChunk()) return;
      const bytes = this.#takeCoalesced();
      // false: the kernel buffer is full; the bytes are taken, wait for drain before the next.
      if (!this.#stream.write(bytes)) this.#blocked = true;
    }
  }

  /** The queued frames from the head, joined up to `COALESCE_BYTES_MAX` (at least one). */
  #takeCoalesced(): Uint8Array {
    let count = 1;
    let bytes = this.#queue[0].byteLength;
    while (
      count < this.#queue.length && bytes + this.#queue[count].byteLength <= COALESCE_BYTES_MAX
    ) {
      bytes += this.#queue[count].byteLength;
      count += 1;
    }
    const frames = this.#queue.splice(0, count);
    this.#queuedBytes -= bytes;
    this.#stats.framesSent += count;
    return count === 1 ? frames[0] : concatBytes(frames);
  }

  /** Queues the next chunk of the oldest large send; false when there is none. */
  #produceChunk(): boolean {
    const send = this.#sends[0];
    if (send === undefined) return false;
    const end = Math.min(send.offset + this.#limits.chunkBytesMax, send.bytes.byteLength);
    const frame = encodeFrame({
      kind: 3,
      id: send.id,
      method: send.method,
      header: send.offset === 0 ? send.header : null,
      offset: send.offset,
      totalBytes: send.bytes.byteLength,
      bytes: send.bytes.subarray(send.offset, end),
    });
    send.offset = end;
    if (end >= send.bytes.byteLength) this.#sends.shift();
    this.#queue.push(frame);
    this.#queuedBytes += frame.byteLength;
    return true;
  }

  #receive(bytes: Uint8Array): void {
    if (this.#closed) return;
    try {
      for (const body of this.#reader.push(bytes)) {
        this.#stats.framesReceived += 1;
        this.#dispatch(decodeFrameBody(body));
      }
    } catch (error) {
      this.#handlers.protocolError(error instanceof Error ? error : new Error(String(error)));
      this.close();
    }
  }

  #dispatch(frame: Frame): void {
    switch (frame.kind) {
      case 0:
        void this.#answer(frame.id, frame.method, frame.payload);
        return;
      case 1: {
        const pending = this.#pending.get(frame.id);
        if (pending === undefined) return; // Timed out already.
        this.#pending.delete(frame.id);
        pending.timer.cancel();
        if (frame.failed) pending.reject(new Error(String(frame.result)));
        else pending.resolve(frame.result);
        return;
      }
      case 2:
        this.#handlers.message(frame.method, frame.payload, undefined);
        return;
      case 3:
        this.#receiveChunk(frame);
        return;
    }
  }

  async #answer(id: number, method: string, payload: unknown): Promise<void> {
    let frame: Frame;
    try {
      const result = await this.#handlers.request(method, payload);
      frame = { kind: 1, id, failed: false, result };
    } catch (error) {
      frame = { kind: 1, id, failed: true, result: (error as Error).message ?? String(error) };
    }
    let bytes = this.#encode(frame);
    bytes ??= this.#encode({
      kind: 1,
      id,
      failed: true,
      result: `Cannot answer "${method}": the answer passes rpcFrameBytesMax`,
    });
    // A full queue loses the answer; the caller's timeout reports it.
    if (bytes !== undefined) this.#enqueue(bytes);
  }

  #receiveChunk(frame: Extract<Frame, { kind: 3 }>): void {
    let receive = this.#receives.get(frame.id);
    if (frame.offset === 0) {
      if (
        frame.totalBytes > this.#limits.chunkedPayloadBytesMax ||
        this.#receives.size >= this.#limits.chunkedSendsMax
      ) {
        throw new RangeError(
          `Cannot receive a chunked payload of ${frame.totalBytes} bytes: the bound is ` +
            `${this.#limits.chunkedPayloadBytesMax} bytes and ${this.#limits.chunkedSendsMax} at once`,
        );
      }
      receive = {
        method: frame.method,
        header: frame.header,
        bytes: new Uint8Array(frame.totalBytes),
        received: 0,
      };
      this.#receives.set(frame.id, receive);
    }
    if (
      receive === undefined || frame.offset !== receive.received ||
      frame.totalBytes !== receive.bytes.byteLength
    ) {
      throw new SyntaxError(`Cannot receive chunk ${frame.id} at ${frame.offset}: out of order`);
    }
    receive.bytes.set(frame.bytes, frame.offset);
    receive.received += frame.bytes.byteLength;
    if (receive.received < receive.bytes.byteLength) return;
    this.#receives.delete(frame.id);
    this.#handlers.message(receive.method, receive.header, receive.bytes);
  }

  #onClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#sends.length = 0;
    this.#receives.clear();
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.timer.cancel();
      pending.reject(new Error("Cannot finish the call: the connection closed"));
    }
    this.#handlers.closed(this);
  }
}
