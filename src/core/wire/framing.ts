/**
 * Memberlist framing around messages (v0.2.2 `net.go`, `util.go`; labels from v0.3 `label.go`):
 * compound packets, the CRC32 wrapper, LZW compression, label headers, the UDP unwrapping
 * pipeline, and TCP streams (push/pull, user messages, pings, errors). Encryption's envelope is
 * in `keyring.ts`. See gossip-wire.md §1, §5 and §7.
 *
 * Receiving a UDP packet: `removeLabel` → decrypt (shell, `keyring.ts`) → `unwrapPacket` →
 * `decodeMessage` on each part. Sending: `encodeMessage` → `encodeCompound` → `compressMessage`
 * (if smaller) → `addCrc` (peers with protocol >= 5) → encrypt (shell) → `addLabel`.
 *
 * @module
 */

import { assert } from "../assert.ts";
import {
  type Ack,
  ackCodec,
  compressedCodec,
  concatBytes,
  encodeWithType,
  type ErrorResponse,
  errorResponseCodec,
  type Ping,
  pingCodec,
  type PushNodeState,
  pushNodeStateCodec,
  pushPullHeaderCodec,
  userMessageHeaderCodec,
} from "./codec.ts";
import { crc32 } from "./crc32.ts";
import { decompressedBytesMax, lzwCompress, lzwDecompress } from "./lzw.ts";
import { CompressionAlgorithm, MessageType } from "./message_type.ts";
import { MsgpackReader, TruncatedInputError } from "./msgpack_reader.ts";
import { MsgpackWriter } from "./msgpack_writer.ts";
import { readOrZero } from "./struct_codec.ts";

/** Parts in one compound message (its count is one byte; memberlist's `maxMsgs`). */
export const compoundPartsMax = 255;
/** Bytes in one compound part (its length is a uint16). */
export const compoundPartBytesMax = 0xffff;
/** Bytes in a label (its length is one byte; memberlist's `LabelMaxSize`). */
export const labelBytesMax = 255;
/** Nesting of compress and compound wrappers a packet may have (serf nests two). */
export const packetNestingMax = 8;
/** Bytes of the `hasCrc` header: type byte and big-endian CRC32. */
export const crcHeaderBytes = 5;

/** What `unwrapPacket` found: single messages to decode, and parts lost to truncation. */
export interface UnwrappedPacket {
  /** Each part starts with its type byte; decode them one by one (`decodeMessage`). */
  parts: Uint8Array[];
  /** Compound parts whose declared length ran past the packet (memberlist logs and drops). */
  truncatedPartCount: number;
  /** Whether the packet carried a valid `hasCrc` wrapper. */
  checkedCrc: boolean;
}

/**
 * Makes one compound message (`makeCompoundMessage`): `0x07`, a count byte, uint16 BE lengths,
 * then the parts.
 *
 * @param parts whole messages (type byte first), at most {@link compoundPartsMax}
 */
export function encodeCompound(parts: readonly Uint8Array[]): Uint8Array {
  assert(parts.length <= compoundPartsMax, `Cannot make compound: ${parts.length} parts > 255`);
  const header = new Uint8Array(2 + 2 * parts.length);
  const view = new DataView(header.buffer);
  header[0] = MessageType.compound;
  header[1] = parts.length;
  parts.forEach((part, i) => {
    assert(part.length <= compoundPartBytesMax, "Cannot make compound: a part exceeds 65535 bytes");
    view.setUint16(2 + 2 * i, part.length);
  });
  return concatBytes([header, ...parts]);
}

/** Makes as many compound messages as needed, 255 parts each (`makeCompoundMessages`). */
export function encodeCompounds(parts: readonly Uint8Array[]): Uint8Array[] {
  const compounds: Uint8Array[] = [];
  for (let start = 0; start < parts.length; start += compoundPartsMax) {
    compounds.push(encodeCompound(parts.slice(start, start + compoundPartsMax)));
  }
  return compounds;
}

/**
 * Splits a compound message (`decodeCompoundMessage`); `bytes` starts with `0x07`. A length
 * that runs past the end makes that part and the rest truncated, not an error.
 *
 * @throws SyntaxError when the count or the length table is missing
 */
export function decodeCompound(
  bytes: Uint8Array,
): { parts: Uint8Array[]; truncatedPartCount: number } {
  if (bytes.length < 2) throw new SyntaxError("Cannot split compound: missing part count");
  const count = bytes[1];
  let offset = 2 + 2 * count;
  if (bytes.length < offset) throw new SyntaxError("Cannot split compound: truncated lengths");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i += 1) {
    const length = view.getUint16(2 + 2 * i);
    if (offset + length > bytes.length) return { parts, truncatedPartCount: count - i };
    parts.push(bytes.slice(offset, offset + length));
    offset += length;
  }
  return { parts, truncatedPartCount: 0 };
}

/** Wraps a packet in `hasCrc`: `0x0c`, CRC-32/IEEE of `packet` (big-endian), `packet`. */
export function addCrc(packet: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(crcHeaderBytes + packet.length);
  bytes[0] = MessageType.hasCrc;
  new DataView(bytes.buffer).setUint32(1, crc32(packet));
  bytes.set(packet, crcHeaderBytes);
  return bytes;
}

/**
 * Checks and removes a `hasCrc` wrapper; `bytes` starts with `0x0c` and has at least 5 bytes.
 *
 * @throws SyntaxError when the CRC does not match
 */
export function removeCrc(bytes: Uint8Array): Uint8Array {
  if (bytes.length < crcHeaderBytes || bytes[0] !== MessageType.hasCrc) {
    throw new SyntaxError("Cannot check CRC: the packet has no hasCrc header");
  }
  const expected = new DataView(bytes.buffer, bytes.byteOffset).getUint32(1);
  const inner = bytes.subarray(crcHeaderBytes);
  const actual = crc32(inner);
  if (actual !== expected) {
    throw new SyntaxError(
      `Cannot check CRC: computed ${hex32(actual)}, the packet says ${hex32(expected)}`,
    );
  }
  return inner.slice();
}

/**
 * Compresses a message as memberlist's `compressPayload`: `0x09` + msgpack `{Algo: 0, Buf}`.
 * On UDP memberlist keeps the result only when it is shorter than the input.
 */
export function compressMessage(message: Uint8Array): Uint8Array {
  return encodeWithType(MessageType.compress, compressedCodec, {
    algorithm: CompressionAlgorithm.lzw,
    buffer: lzwCompress(message),
  });
}

/**
 * Decompresses a `compress` message (`0x09` + `{Algo, Buf}`) into the message it holds.
 *
 * @param bytes the message, type byte first
 * @param outputBytesMax the largest result accepted
 * @returns the inner message, type byte first
 * @throws SyntaxError on an unknown algorithm, bad LZW or too large a result
 */
export function decompressMessage(
  bytes: Uint8Array,
  outputBytesMax: number = decompressedBytesMax,
): Uint8Array {
  const reader = new MsgpackReader(bytes, 1);
  return decompressBody(readOrZero(reader, compressedCodec), outputBytesMax);
}

function decompressBody(
  body: { algorithm: number; buffer: Uint8Array },
  outputBytesMax: number,
): Uint8Array {
  if (body.algorithm !== CompressionAlgorithm.lzw) {
    throw new SyntaxError(`Cannot decompress: algorithm "${body.algorithm}" is unknown`);
  }
  return lzwDecompress(body.buffer, outputBytesMax);
}

/**
 * Prefixes a packet or stream with a label header (memberlist >= 0.3 `AddLabelHeaderToPacket`):
 * `0xf4`, length, label. An empty label adds nothing. Serf 0.9.4 drops labelled packets.
 */
export function addLabel(bytes: Uint8Array, label: Uint8Array): Uint8Array {
  if (label.length === 0) return bytes;
  assert(label.length <= labelBytesMax, `Cannot add label: ${label.length} bytes > 255`);
  return concatBytes([Uint8Array.of(MessageType.hasLabel, label.length), label, bytes]);
}

/**
 * Removes a label header if there is one (`RemoveLabelHeaderFromPacket`).
 *
 * @returns the label (empty when absent) and the bytes after it
 * @throws SyntaxError when the header is empty or truncated
 */
export function removeLabel(bytes: Uint8Array): { label: Uint8Array; rest: Uint8Array } {
  if (bytes.length === 0 || bytes[0] !== MessageType.hasLabel) {
    return { label: new Uint8Array(0), rest: bytes };
  }
  if (bytes.length < 2) throw new TruncatedInputError("Cannot remove label: truncated header");
  const size = bytes[1];
  if (size < 1) throw new SyntaxError("Cannot remove label: the label is empty");
  if (bytes.length < 2 + size) throw new TruncatedInputError("Cannot remove label: truncated");
  return { label: bytes.slice(2, 2 + size), rest: bytes.subarray(2 + size) };
}

/**
 * Unwraps a decrypted UDP packet as memberlist's `ingestPacket` and `handleCommand` do: checks a
 * `hasCrc` wrapper at the top if present, then opens `compress` and `compound` wrappers at any
 * depth (up to {@link packetNestingMax}), and returns the single messages inside.
 *
 * @param packet the packet after label removal and decryption
 * @param options `decompressedBytesMax`: the largest decompressed wrapper accepted
 * @throws SyntaxError on a bad CRC, a bad compression, or nesting too deep
 */
export function unwrapPacket(
  packet: Uint8Array,
  options: { decompressedBytesMax?: number } = {},
): UnwrappedPacket {
  const outputBytesMax = options.decompressedBytesMax ?? decompressedBytesMax;
  const checkedCrc = packet.length >= crcHeaderBytes && packet[0] === MessageType.hasCrc;
  const body = checkedCrc ? removeCrc(packet) : packet;
  const result: UnwrappedPacket = { parts: [], truncatedPartCount: 0, checkedCrc };
  unwrapInto(result, body, 0, outputBytesMax);
  return result;
}

function unwrapInto(
  result: UnwrappedPacket,
  bytes: Uint8Array,
  depth: number,
  outputBytesMax: number,
): void {
  if (depth > packetNestingMax) throw new SyntaxError("Cannot unwrap packet: nested too deep");
  if (bytes[0] === MessageType.compress) {
    unwrapInto(result, decompressMessage(bytes, outputBytesMax), depth + 1, outputBytesMax);
  } else if (bytes[0] === MessageType.compound) {
    const compound = decodeCompound(bytes);
    result.truncatedPartCount += compound.truncatedPartCount;
    for (const part of compound.parts) unwrapInto(result, part, depth + 1, outputBytesMax);
  } else {
    result.parts.push(bytes);
  }
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

/** A push/pull exchange: the sender's members and its delegate's (Serf's) state. */
export interface PushPull {
  /** Whether this exchange is a join. */
  join: boolean;
  /** Every member the sender knows, itself included. */
  nodes: PushNodeState[];
  /** The delegate's state; for Serf a `pushPull` Serf message (`0x02` + body). */
  userState: Uint8Array;
}

/** A message read from a TCP stream, discriminated on `type`. */
export type StreamMessage =
  | ({ type: "pushPull" } & PushPull)
  | { type: "user"; payload: Uint8Array }
  | ({ type: "ping" } & Ping)
  | ({ type: "ack" } & Ack)
  | ({ type: "err" } & ErrorResponse);

/** A stream message and how many stream bytes it took. */
export interface StreamRead {
  /** The message. */
  message: StreamMessage;
  /** Bytes consumed from the start of the input. */
  byteLength: number;
}

/**
 * Encodes a push/pull stream message: `0x06`, header, node states, user state
 * (`sendLocalState`). Compress and encrypt it as the stream send path does.
 */
export function encodePushPull(pushPull: PushPull): Uint8Array {
  const writer = new MsgpackWriter();
  writer.writeByte(MessageType.pushPull);
  pushPullHeaderCodec.write(writer, {
    nodeCount: pushPull.nodes.length,
    userStateBytes: pushPull.userState.length,
    join: pushPull.join,
  });
  for (const node of pushPull.nodes) pushNodeStateCodec.write(writer, node);
  writer.writeVerbatim(pushPull.userState);
  return writer.finish();
}

/** Encodes a TCP user message: `0x08`, `{UserMsgLen}`, then the raw bytes (`sendUserMsg`). */
export function encodeUserStream(payload: Uint8Array): Uint8Array {
  const writer = new MsgpackWriter();
  writer.writeByte(MessageType.user);
  userMessageHeaderCodec.write(writer, { userMessageBytes: payload.length });
  writer.writeVerbatim(payload);
  return writer.finish();
}

/**
 * Reads one message from the start of a decrypted TCP stream (`readStream` and its callers):
 * an optional `compress` wrapper, then a push/pull, user message, ping, ack or error.
 *
 * @param bytes the stream bytes received so far, after label removal and decryption
 * @param options `decompressedBytesMax`: the largest decompressed wrapper accepted
 * @returns the message, or `undefined` when more bytes are needed to complete it
 * @throws SyntaxError when the bytes cannot begin a valid stream message
 */
export function readStream(
  bytes: Uint8Array,
  options: { decompressedBytesMax?: number } = {},
): StreamRead | undefined {
  if (bytes.length === 0) return undefined;
  try {
    return readStreamOrThrow(bytes, options.decompressedBytesMax ?? decompressedBytesMax);
  } catch (error) {
    if (error instanceof TruncatedInputError) return undefined;
    throw error;
  }
}

function readStreamOrThrow(bytes: Uint8Array, outputBytesMax: number): StreamRead {
  if (bytes[0] === MessageType.encrypt) {
    throw new SyntaxError("Cannot read stream: it is encrypted; decrypt it first");
  }
  if (bytes[0] !== MessageType.compress) {
    const reader = new MsgpackReader(bytes, 1);
    const message = readStreamBody(bytes[0], reader);
    return { message, byteLength: reader.offset };
  }
  const reader = new MsgpackReader(bytes, 1);
  const inner = decompressBody(readOrZero(reader, compressedCodec), outputBytesMax);
  const byteLength = reader.offset;
  try {
    if (inner.length === 0) throw new SyntaxError("Cannot read stream: empty after decompression");
    return { message: readStreamBody(inner[0], new MsgpackReader(inner, 1)), byteLength };
  } catch (error) {
    // The compressed body is complete, so running out of bytes inside it is corruption.
    if (error instanceof TruncatedInputError) throw new SyntaxError(error.message);
    throw error;
  }
}

function readStreamBody(type: number, reader: MsgpackReader): StreamMessage {
  switch (type) {
    case MessageType.pushPull:
      return readPushPull(reader);
    case MessageType.user: {
      const header = readOrZero(reader, userMessageHeaderCodec);
      return { type: "user", payload: reader.readVerbatim(header.userMessageBytes) };
    }
    case MessageType.ping:
      return { type: "ping", ...readOrZero(reader, pingCodec) };
    case MessageType.ack:
      return { type: "ack", ...readOrZero(reader, ackCodec) };
    case MessageType.err:
      return { type: "err", ...readOrZero(reader, errorResponseCodec) };
    default:
      throw new SyntaxError(`Cannot read stream: type "${type}" is not a stream message`);
  }
}

function readPushPull(reader: MsgpackReader): StreamMessage {
  const header = readOrZero(reader, pushPullHeaderCodec);
  const nodes: PushNodeState[] = [];
  // No allocation up front: each state is read before it is kept, so memory follows the input.
  for (let i = 0; i < header.nodeCount; i += 1) nodes.push(readOrZero(reader, pushNodeStateCodec));
  const userState = reader.readVerbatim(header.userStateBytes);
  return { type: "pushPull", join: header.join, nodes, userState };
}
