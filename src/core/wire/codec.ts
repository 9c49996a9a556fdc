/**
 * Bodies of memberlist messages (v0.2.2 `net.go`), their msgpack codecs, and the one-message
 * form `[type byte][msgpack body]` (gossip-wire.md §4). Encoding is byte-for-byte what serf's
 * memberlist writes; decoding accepts what it accepts and throws only `SyntaxError`.
 *
 * @module
 */

import { MessageType } from "./message_type.ts";
import { MsgpackReader } from "./msgpack_reader.ts";
import { MsgpackWriter } from "./msgpack_writer.ts";
import {
  boolCodec,
  bytesCodec,
  intCodec,
  optionalBytesCodec,
  stringCodec,
  structCodec,
  uint16Max,
  uint32Max,
  uint8Max,
  uintCodec,
  type ValueCodec,
} from "./struct_codec.ts";

/** Node states, user-state bytes or user-message bytes one header may announce (memberlist's 20 MiB). */
export const streamBytesMax = 20 * 1024 * 1024;

/** `ping`: a probe; the ack goes to `sourceAddress:sourcePort` when both are set. */
export interface Ping {
  /** Per-sender probe counter (`SeqNo`). */
  sequence: number;
  /** Name of the member probed; a receiver with another name ignores the ping (`Node`). */
  node: string;
  /** Where the ack should go, 4 or 16 bytes; empty to reply to the packet's source. */
  sourceAddress: Uint8Array;
  /** Port for the ack, 0 when absent. */
  sourcePort: number;
  /** The sender's name, empty when absent. */
  sourceNode: string;
}

/** `indirectPingReq`: probe `node` at `target:port` for us. */
export interface IndirectPing {
  /** The original probe's counter (`SeqNo`). */
  sequence: number;
  /** The target's address, 4 or 16 bytes (`Target`). */
  target: Uint8Array;
  /** The target's port. */
  port: number;
  /** The target's name. */
  node: string;
  /** Whether a nack is wanted if the target does not answer. */
  nack: boolean;
  /** The requester's address, empty when absent. */
  sourceAddress: Uint8Array;
  /** The requester's port, 0 when absent. */
  sourcePort: number;
  /** The requester's name, empty when absent. */
  sourceNode: string;
}

/** `ackResp`: a probe succeeded; `payload` carries Serf's coordinate on direct UDP acks. */
export interface Ack {
  /** The probe's counter (`SeqNo`). */
  sequence: number;
  /** The ping delegate's bytes; `undefined` is Go's nil. */
  payload: Uint8Array | undefined;
}

/** `nackResp`: an indirect probe got no ack in time. */
export interface Nack {
  /** The original probe's counter (`SeqNo`). */
  sequence: number;
}

/** `suspect` and `dead`: `from` accuses `node` at `incarnation`; dead with from = node is a leave. */
export interface Accusation {
  /** The accused member's incarnation. */
  incarnation: number;
  /** The accused member. */
  node: string;
  /** The accuser. */
  from: string;
}

/** `alive`: `node` is alive at `incarnation`, with its address, tags and versions. */
export interface Alive {
  /** Incarnation; higher wins. */
  incarnation: number;
  /** Member name. */
  node: string;
  /** Advertised address, 4 or 16 bytes (`Addr`). */
  address: Uint8Array;
  /** Advertised gossip port. */
  port: number;
  /** Delegate metadata, Serf's tags (see `encodeTags`), at most 512 bytes by memberlist's rule. */
  meta: Uint8Array;
  /** `Vsn`: protocol versions, 6 bytes (see {@link decodeProtocolVersions}). */
  versions: Uint8Array;
}

/** `pushPullHeader`: what follows in a push/pull stream. */
export interface PushPullHeader {
  /** Node states that follow (`Nodes`). */
  nodeCount: number;
  /** Bytes of delegate user state after them (`UserStateLen`). */
  userStateBytes: number;
  /** Whether this exchange is a join. */
  join: boolean;
}

/** `pushNodeState`: one member as the sender knows it. */
export interface PushNodeState {
  /** Member name (`Name`). */
  name: string;
  /** Address, 4 or 16 bytes. */
  address: Uint8Array;
  /** Gossip port. */
  port: number;
  /** Delegate metadata (tags). */
  meta: Uint8Array;
  /** Incarnation. */
  incarnation: number;
  /** A `NodeState` code: 0 alive, 1 suspect, 2 dead, 3 left. */
  state: number;
  /** `Vsn`, 6 bytes. */
  versions: Uint8Array;
}

/** `userMsgHeader`: a TCP user message of `userMessageBytes` raw bytes follows. */
export interface UserMessageHeader {
  /** Raw bytes that follow (`UserMsgLen`). */
  userMessageBytes: number;
}

/** `compress`: `buffer` holds a whole message compressed with `algorithm` (0 = LZW). */
export interface Compressed {
  /** `Algo`; only 0 (LZW) exists. */
  algorithm: number;
  /** `Buf`, the compressed bytes. */
  buffer: Uint8Array;
}

/** `errResp`: the remote failed to read our stream. */
export interface ErrorResponse {
  /** The remote's error text (`Error`). */
  error: string;
}

/** Memberlist protocol versions from `Vsn`: memberlist's, then the delegate's (Serf's). */
export interface ProtocolVersions {
  /** Lowest memberlist protocol understood. */
  protocolMin: number;
  /** Highest memberlist protocol understood. */
  protocolMax: number;
  /** Memberlist protocol spoken. */
  protocolCur: number;
  /** Lowest delegate protocol understood. */
  delegateMin: number;
  /** Highest delegate protocol understood. */
  delegateMax: number;
  /** Delegate protocol spoken. */
  delegateCur: number;
}

/** A decoded single (non-framing) memberlist message, discriminated on `type`. */
export type MemberlistMessage =
  | ({ type: "ping" } & Ping)
  | ({ type: "indirectPing" } & IndirectPing)
  | ({ type: "ack" } & Ack)
  | ({ type: "nack" } & Nack)
  | ({ type: "suspect" } & Accusation)
  | ({ type: "alive" } & Alive)
  | ({ type: "dead" } & Accusation)
  | { type: "user"; payload: Uint8Array }
  | ({ type: "err" } & ErrorResponse);

const uint8 = uintCodec(uint8Max);
const uint16 = uintCodec(uint16Max);
const uint32 = uintCodec(uint32Max);
const streamLength = intCodec(0, streamBytesMax);

/** Codec of `ping` bodies. */
export const pingCodec: ValueCodec<Ping> = structCodec<Ping>({
  sequence: { go: "SeqNo", codec: uint32 },
  node: { go: "Node", codec: stringCodec },
  sourceAddress: { go: "SourceAddr", codec: bytesCodec, omitEmpty: true },
  sourcePort: { go: "SourcePort", codec: uint16, omitEmpty: true },
  sourceNode: { go: "SourceNode", codec: stringCodec, omitEmpty: true },
});

/** Codec of `indirectPingReq` bodies. */
export const indirectPingCodec: ValueCodec<IndirectPing> = structCodec<IndirectPing>({
  sequence: { go: "SeqNo", codec: uint32 },
  target: { go: "Target", codec: bytesCodec },
  port: { go: "Port", codec: uint16 },
  node: { go: "Node", codec: stringCodec },
  nack: { go: "Nack", codec: boolCodec },
  sourceAddress: { go: "SourceAddr", codec: bytesCodec, omitEmpty: true },
  sourcePort: { go: "SourcePort", codec: uint16, omitEmpty: true },
  sourceNode: { go: "SourceNode", codec: stringCodec, omitEmpty: true },
});

/** Codec of `ackResp` bodies. */
export const ackCodec: ValueCodec<Ack> = structCodec<Ack>({
  sequence: { go: "SeqNo", codec: uint32 },
  payload: { go: "Payload", codec: optionalBytesCodec },
});

/** Codec of `nackResp` bodies. */
export const nackCodec: ValueCodec<Nack> = structCodec<Nack>({
  sequence: { go: "SeqNo", codec: uint32 },
});

/** Codec of `suspect` and `dead` bodies. */
export const accusationCodec: ValueCodec<Accusation> = structCodec<Accusation>({
  incarnation: { go: "Incarnation", codec: uint32 },
  node: { go: "Node", codec: stringCodec },
  from: { go: "From", codec: stringCodec },
});

/** Codec of `alive` bodies. */
export const aliveCodec: ValueCodec<Alive> = structCodec<Alive>({
  incarnation: { go: "Incarnation", codec: uint32 },
  node: { go: "Node", codec: stringCodec },
  address: { go: "Addr", codec: bytesCodec },
  port: { go: "Port", codec: uint16 },
  meta: { go: "Meta", codec: bytesCodec },
  versions: { go: "Vsn", codec: bytesCodec },
});

/** Codec of `pushPullHeader`. */
export const pushPullHeaderCodec: ValueCodec<PushPullHeader> = structCodec<PushPullHeader>({
  nodeCount: { go: "Nodes", codec: streamLength },
  userStateBytes: { go: "UserStateLen", codec: streamLength },
  join: { go: "Join", codec: boolCodec },
});

/** Codec of `pushNodeState`. */
export const pushNodeStateCodec: ValueCodec<PushNodeState> = structCodec<PushNodeState>({
  name: { go: "Name", codec: stringCodec },
  address: { go: "Addr", codec: bytesCodec },
  port: { go: "Port", codec: uint16 },
  meta: { go: "Meta", codec: bytesCodec },
  incarnation: { go: "Incarnation", codec: uint32 },
  state: { go: "State", codec: intCodec(0, uint8Max) },
  versions: { go: "Vsn", codec: bytesCodec },
});

/** Codec of `userMsgHeader`. */
export const userMessageHeaderCodec: ValueCodec<UserMessageHeader> = structCodec<
  UserMessageHeader
>({
  userMessageBytes: { go: "UserMsgLen", codec: streamLength },
});

/** Codec of `compress` bodies. */
export const compressedCodec: ValueCodec<Compressed> = structCodec<Compressed>({
  algorithm: { go: "Algo", codec: uint8 },
  buffer: { go: "Buf", codec: bytesCodec },
});

/** Codec of `errResp` bodies. */
export const errorResponseCodec: ValueCodec<ErrorResponse> = structCodec<ErrorResponse>({
  error: { go: "Error", codec: stringCodec },
});

/**
 * Encodes `[type byte][msgpack body]` with `codec`: the form of every memberlist message.
 *
 * @param type a `MessageType` code
 * @param codec the body's codec
 * @param body the body
 * @returns the message bytes
 */
export function encodeWithType<T>(type: number, codec: ValueCodec<T>, body: T): Uint8Array {
  const writer = new MsgpackWriter();
  writer.writeByte(type);
  codec.write(writer, body);
  return writer.finish();
}

/**
 * Decodes one msgpack body with `codec` from `offset`. Bytes after it are ignored, as
 * memberlist's and Serf's `decode` (one `Decoder.Decode` over a reader) ignore them.
 *
 * @throws SyntaxError when the bytes do not start with such a value
 */
export function decodeBody<T>(codec: ValueCodec<T>, bytes: Uint8Array, offset: number): T {
  const reader = new MsgpackReader(bytes, offset);
  return reader.readNil() ? codec.zero() : codec.read(reader);
}

/**
 * Encodes one non-framing memberlist message as `[type byte][body]`.
 *
 * @example
 * ```ts
 * const bytes = encodeMessage({ type: "nack", sequence: 18 });
 * // 0b 81 a5 "SeqNo" 12
 * ```
 */
export function encodeMessage(message: MemberlistMessage): Uint8Array {
  switch (message.type) {
    case "ping":
      return encodeWithType(MessageType.ping, pingCodec, message);
    case "indirectPing":
      return encodeWithType(MessageType.indirectPing, indirectPingCodec, message);
    case "ack":
      return encodeWithType(MessageType.ack, ackCodec, message);
    case "nack":
      return encodeWithType(MessageType.nack, nackCodec, message);
    case "suspect":
      return encodeWithType(MessageType.suspect, accusationCodec, message);
    case "alive":
      return encodeWithType(MessageType.alive, aliveCodec, message);
    case "dead":
      return encodeWithType(MessageType.dead, accusationCodec, message);
    case "user":
      return concatBytes([Uint8Array.of(MessageType.user), message.payload]);
    case "err":
      return encodeWithType(MessageType.err, errorResponseCodec, message);
  }
}

/**
 * Decodes one non-framing memberlist message (`[type byte][body]`). Framing types (compound,
 * compress, hasCrc, encrypt, hasLabel, pushPull) belong to `framing.ts` and are refused here.
 * Like memberlist's `decode`, bytes after the body are ignored.
 *
 * @throws SyntaxError on anything malformed, never another error
 */
export function decodeMessage(bytes: Uint8Array): MemberlistMessage {
  if (bytes.length === 0) throw new SyntaxError("Cannot decode message: missing type byte");
  const type = bytes[0];
  switch (type) {
    case MessageType.ping:
      return { type: "ping", ...decodeBody(pingCodec, bytes, 1) };
    case MessageType.indirectPing:
      return { type: "indirectPing", ...decodeBody(indirectPingCodec, bytes, 1) };
    case MessageType.ack:
      return { type: "ack", ...decodeBody(ackCodec, bytes, 1) };
    case MessageType.nack:
      return { type: "nack", ...decodeBody(nackCodec, bytes, 1) };
    case MessageType.suspect:
      return { type: "suspect", ...decodeBody(accusationCodec, bytes, 1) };
    case MessageType.alive:
      return { type: "alive", ...decodeBody(aliveCodec, bytes, 1) };
    case MessageType.dead:
      return { type: "dead", ...decodeBody(accusationCodec, bytes, 1) };
    case MessageType.user:
      return { type: "user", payload: bytes.slice(1) };
    case MessageType.err:
      return { type: "err", ...decodeBody(errorResponseCodec, bytes, 1) };
    default:
      throw new SyntaxError(`Cannot decode message: type "${type}" is not a single message`);
  }
}

/** Bytes in a `Vsn` field. */
export const protocolVersionsBytes = 6;

/** Returns `Vsn` as named versions, or `undefined` unless it has exactly 6 bytes. */
export function decodeProtocolVersions(versions: Uint8Array): ProtocolVersions | undefined {
  if (versions.length !== protocolVersionsBytes) return undefined;
  const [protocolMin, protocolMax, protocolCur, delegateMin, delegateMax, delegateCur] = versions;
  return { protocolMin, protocolMax, protocolCur, delegateMin, delegateMax, delegateCur };
}

/** Returns the 6-byte `Vsn` for `versions` (each 0..255). */
export function encodeProtocolVersions(versions: ProtocolVersions): Uint8Array {
  return Uint8Array.of(
    versions.protocolMin,
    versions.protocolMax,
    versions.protocolCur,
    versions.delegateMin,
    versions.delegateMax,
    versions.delegateCur,
  );
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}
