/**
 * The server RPC's framing, private to `src/server`: every frame is a big-endian u32 length
 * followed by that many bytes of msgpack, an array whose first element says what it is.
 *
 * | kind | body |
 * | --- | --- |
 * | 0 request | `[0, requestId, method, payload]` |
 * | 1 response | `[1, requestId, failed (0 or 1), result or error text]` |
 * | 2 one-way | `[2, 0, method, payload]` |
 * | 3 chunk | `[3, transferId, method, [header, offset, totalBytes, bytes]]` |
 *
 * Request ids let many calls share one connection (multiplexing); a chunk carries part of one
 * large one-way payload (a Raft snapshot), reassembled by the receiver. Codes are append-only.
 *
 * @module
 */

import { Decoder, Encoder, ExtensionCodec } from "@msgpack/msgpack";

/** What a frame is. */
export const FrameKind = { request: 0, response: 1, oneWay: 2, chunk: 3 } as const;

/** One decoded frame. */
export type Frame =
  | { kind: 0; id: number; method: string; payload: unknown }
  | { kind: 1; id: number; failed: boolean; result: unknown }
  | { kind: 2; id: 0; method: string; payload: unknown }
  | {
    kind: 3;
    id: number;
    method: string;
    header: unknown;
    offset: number;
    totalBytes: number;
    bytes: Uint8Array;
  };

const BIGINT_EXTENSION = 1;
const extensionCodec = new ExtensionCodec();
extensionCodec.register({
  // KV flags are exact uint64: a bigint travels as its decimal text, as in the WAL.
  type: BIGINT_EXTENSION,
  encode: (input: unknown) =>
    typeof input === "bigint" ? new TextEncoder().encode(input.toString()) : null,
  decode: (data: Uint8Array) => BigInt(new TextDecoder().decode(data)),
});

// One encoder and one decoder for every frame: `encode()`/`decode()` build a new one (and a
// new 2 KiB buffer) per call, which showed in the CPU profile of a loaded server. Both are
// synchronous and re-entrant (a nested call gets its own instance).
const encoder = new Encoder({ extensionCodec, ignoreUndefined: true });
const decoder = new Decoder({ extensionCodec });

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** Encodes one frame, length prefix included. */
export function encodeFrame(frame: Frame): Uint8Array {
  let body: unknown[];
  switch (frame.kind) {
    case 0:
    case 2:
      body = [frame.kind, frame.id, frame.method, frame.payload];
      break;
    case 1:
      body = [1, frame.id, frame.failed ? 1 : 0, frame.result];
      break;
    case 3:
      body = [3, frame.id, frame.method, [
        frame.header,
        frame.offset,
        frame.totalBytes,
        frame.bytes,
      ]];
      break;
  }
  const encoded = encoder.encodeSharedRef(body); // A view of the shared buffer: copied below.
  const bytes = new Uint8Array(FRAME_HEADER_BYTES + encoded.byteLength);
  new DataView(bytes.buffer).setUint32(0, encoded.byteLength);
  bytes.set(encoded, FRAME_HEADER_BYTES);
  return bytes;
}

/** Decodes one frame body (without its length); throws `SyntaxError` when it is not one. */
export function decodeFrameBody(body: Uint8Array): Frame {
  let decoded: unknown;
  try {
    decoded = decoder.decode(body);
  } catch (error) {
    throw new SyntaxError(`Cannot decode an RPC frame: ${(error as Error).message}`);
  }
  if (!Array.isArray(decoded) || decoded.length !== 4) {
    throw new SyntaxError("Cannot decode an RPC frame: it is not a 4-element array");
  }
  const [kind, id, third, fourth] = decoded as [unknown, unknown, unknown, unknown];
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) {
    throw new SyntaxError(`Cannot decode an RPC frame: its id ${String(id)} is not a uint`);
  }
  if (kind === 0 || kind === 2) {
    if (typeof third !== "string") {
      throw new SyntaxError("Cannot decode an RPC frame: its method is not a string");
    }
    return kind === 0
      ? { kind, id, method: third, payload: fourth }
      : { kind, id: 0, method: third, payload: fourth };
  }
  if (kind === 1) {
    if (third !== 0 && third !== 1) {
      throw new SyntaxError("Cannot decode an RPC response: its failed flag is not 0 or 1");
    }
    return { kind, id, failed: third === 1, result: fourth };
  }
  if (kind === 3) return decodeChunk(id, third, fourth);
  throw new SyntaxError(`Cannot decode an RPC frame: kind ${String(kind)} is not 0 to 3`);
}

function decodeChunk(id: number, method: unknown, parts: unknown): Frame {
  if (typeof method !== "string" || !Array.isArray(parts) || parts.length !== 4) {
    throw new SyntaxError("Cannot decode an RPC chunk: it is not [header, offset, total, bytes]");
  }
  const [header, offset, totalBytes, bytes] = parts as [unknown, unknown, unknown, unknown];
  const isCount = (value: unknown): value is number =>
    typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
  if (!isCount(offset) || !isCount(totalBytes) || !(bytes instanceof Uint8Array)) {
    throw new SyntaxError("Cannot decode an RPC chunk: offset, total or bytes are malformed");
  }
  if (offset + bytes.byteLength > totalBytes) {
    throw new SyntaxError(
      `Cannot decode an RPC chunk: ${offset} + ${bytes.byteLength} bytes pass its total ${totalBytes}`,
    );
  }
  return { kind: 3, id, method, header, offset, totalBytes, bytes };
}

/**
 * Splits a byte stream into frame bodies. Bounded: a length over `frameBytesMax` is a protocol
 * error (the caller closes the connection), so a peer cannot make it buffer without limit.
 */
export class FrameReader {
  readonly #frameBytesMax: number;
  #buffer = new Uint8Array(0);
  #length = 0;

  /** @param frameBytesMax the largest frame body accepted */
  constructor(frameBytesMax: number) {
    this.#frameBytesMax = frameBytesMax;
  }

  /**
   * Adds received bytes and returns the complete frame bodies they finish.
   *
   * @throws RangeError "Cannot read an RPC frame: ..." when a length passes `frameBytesMax`
   */
  push(bytes: Uint8Array): Uint8Array[] {
    this.#append(bytes);
    const bodies: Uint8Array[] = [];
    let at = 0;
    while (this.#length - at >= FRAME_HEADER_BYTES) {
      const view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset + at, 4);
      const length = view.getUint32(0);
      if (length > this.#frameBytesMax) {
        throw new RangeError(
          `Cannot read an RPC frame: its length ${length} passes rpcFrameBytesMax ` +
            `(${this.#frameBytesMax})`,
        );
      }
      if (this.#length - at - FRAME_HEADER_BYTES < length) break;
      const start = at + FRAME_HEADER_BYTES;
      bodies.push(this.#buffer.slice(start, start + length));
      at = start + length;
    }
    if (at > 0) {
      this.#buffer.copyWithin(0, at, this.#length);
      this.#length -= at;
    }
    return bodies;
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#length + bytes.byteLength;
    if (needed > this.#buffer.byteLength) {
      const grown = new Uint8Array(Math.max(needed, this.#buffer.byteLength * 2, 4_096));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes, this.#length);
    this.#length = needed;
  }
}
