/**
 * Serf's messages (v0.9.4 `serf/messages.go`, `serf/query.go`, `serf/internal_query.go`,
 * `serf/keymanager.go`, `coordinate/coordinate.go`), their codecs, and the encodings Serf nests
 * inside other fields: tags in memberlist `Meta`, query filters, and the ping-ack coordinate
 * (gossip-wire.md §11 and §12). A Serf message is `[serf type byte][msgpack body]`; memberlist
 * carries it in a `user` message. Decoders throw only `SyntaxError`.
 *
 * @module
 */

import { decodeBody, encodeWithType } from "./codec.ts";
import { keyringKeysMax } from "./keyring.ts";
import { FilterType, SerfMessageType } from "./message_type.ts";
import { MsgpackReader } from "./msgpack_reader.ts";
import { MsgpackWriter } from "./msgpack_writer.ts";
import {
  arrayCodec,
  boolCodec,
  bytesCodec,
  float64Codec,
  intCodec,
  mapCodec,
  optionalBytesCodec,
  optionalCodec,
  stringCodec,
  structCodec,
  uint16Max,
  uint32Max,
  uint64Max,
  uint8Max,
  uintCodec,
  type ValueCodec,
} from "./struct_codec.ts";

/** Filters one query may carry. */
export const queryFiltersMax = 256;
/** Node names one node filter may list. */
export const filterNodesMax = 4_096;
/** Members one push/pull may list in `LeftMembers` or `StatusLTimes`. */
export const pushPullMembersMax = 262_144;
/** Slots in a push/pull `Events` array (Serf's EventBuffer, 512 by default). */
export const eventSlotsMax = 65_536;
/** Events in one slot of a push/pull `Events` array. */
export const slotEventsMax = 4_096;
/** Tags one member may carry (memberlist's 512-byte `Meta` holds far fewer). */
export const tagsMax = 512;
/** Dimensions a coordinate may have (Serf uses 8). */
export const coordinateDimensionsMax = 64;
/** The first byte of Serf's tag encoding in `Meta` (`tagMagicByte`). */
export const tagMagicByte = 0xff;
/** The version byte in front of a coordinate in an ack payload (`PingVersion`). */
export const pingVersion = 1;

/** `messageLeave`: `node` intends to leave, at member clock `lamportTime`. */
export interface SerfLeave {
  /** Member clock (`LTime`). */
  lamportTime: number;
  /** The leaving member. */
  node: string;
  /** Erase the member at once (`force-leave -prune`). */
  prune: boolean;
}

/** `messageJoin`: `node` joined, at member clock `lamportTime`. */
export interface SerfJoin {
  /** Member clock (`LTime`). */
  lamportTime: number;
  /** The joining member. */
  node: string;
}

/** `messageUserEvent`: a user event. */
export interface SerfUserEvent {
  /** Event clock (`LTime`). */
  lamportTime: number;
  /** Event name. */
  name: string;
  /** Event payload; `undefined` is Go's nil. */
  payload: Uint8Array | undefined;
  /** Whether the receiver may coalesce it (`CC`). */
  coalesce: boolean;
}

/** `messageQuery`: a query, answered at `address:port`. */
export interface SerfQuery {
  /** Query clock (`LTime`). */
  lamportTime: number;
  /** Random query id (`ID`). */
  id: number;
  /** Where acks and responses go (`Addr`), 4 or 16 bytes. */
  address: Uint8Array;
  /** Port for acks and responses. */
  port: number;
  /** The origin's name. */
  sourceNode: string;
  /** Encoded filters (see {@link decodeFilter}); `undefined` is Go's nil. */
  filters: Uint8Array[] | undefined;
  /** `QueryFlag` bits. */
  flags: number;
  /** Members each responder relays its answer through. */
  relayFactor: number;
  /** How long the origin waits, in nanoseconds (`Timeout`, a Go `time.Duration`). */
  timeoutNs: number;
  /** Query name. */
  name: string;
  /** Query payload; `undefined` is Go's nil. */
  payload: Uint8Array | undefined;
}

/** `messageQueryResponse`: an ack (flag 1) or a response to a query. */
export interface SerfQueryResponse {
  /** The query's clock (`LTime`). */
  lamportTime: number;
  /** The query's id (`ID`). */
  id: number;
  /** The responder. */
  from: string;
  /** `QueryFlag` bits; `ack` marks an ack. */
  flags: number;
  /** Response payload; `undefined` is Go's nil (acks). */
  payload: Uint8Array | undefined;
}

/** One event inside a push/pull event slot (`userEvent`). */
export interface SerfBufferedEvent {
  /** Event name. */
  name: string;
  /** Event payload; `undefined` is Go's nil. */
  payload: Uint8Array | undefined;
}

/** One slot of a push/pull `Events` array (`userEvents`): the events at one event clock. */
export interface SerfEventSlot {
  /** Event clock of these events (`LTime`). */
  lamportTime: number;
  /** The events. */
  events: SerfBufferedEvent[];
}

/** `messagePushPull`: Serf's state in a memberlist push/pull. */
export interface SerfPushPull {
  /** Member clock (`LTime`). */
  lamportTime: number;
  /** Last intent clock of each known member (`StatusLTimes`), in wire order. */
  statusLamportTimes: Map<string, number>;
  /** Members that left (`LeftMembers`). */
  leftMembers: string[];
  /** Event clock (`EventLTime`). */
  eventLamportTime: number;
  /** Recent events by slot (clock mod buffer size); `undefined` is an empty (nil) slot. */
  events: Array<SerfEventSlot | undefined>;
  /** Query clock (`QueryLTime`). */
  queryLamportTime: number;
}

/** `relayHeader`: forward the message after it to `destAddress` (`DestAddr`, a `net.UDPAddr`). */
export interface SerfRelayHeader {
  /** Where to forward. */
  destAddress: { ip: Uint8Array; port: number; zone: string };
  /** The destination's name. */
  destName: string;
}

/** Serf's `Member`, the answer to a `_serf_conflict` query. */
export interface SerfMember {
  /** Member name. */
  name: string;
  /** Address, 4 or 16 bytes. */
  address: Uint8Array;
  /** Gossip port. */
  port: number;
  /** Tags, in wire order. */
  tags: Map<string, string>;
  /** A `MemberStatus` code. */
  status: number;
  /** Lowest memberlist protocol understood. */
  protocolMin: number;
  /** Highest memberlist protocol understood. */
  protocolMax: number;
  /** Memberlist protocol spoken. */
  protocolCur: number;
  /** Lowest Serf protocol understood. */
  delegateMin: number;
  /** Highest Serf protocol understood. */
  delegateMax: number;
  /** Serf protocol spoken. */
  delegateCur: number;
}

/** `keyRequest`: the key of a keyring operation (empty for list). */
export interface SerfKeyRequest {
  /** Raw key bytes (`Key`). */
  key: Uint8Array;
}

/** `nodeKeyResponse`: one member's answer to a keyring operation. */
export interface SerfKeyResponse {
  /** Whether the operation succeeded. */
  result: boolean;
  /** Error text, empty on success. */
  message: string;
  /** Installed keys, base64. */
  keys: string[];
  /** The primary key, base64. */
  primaryKey: string;
}

/** A Vivaldi network coordinate (`coordinate.Coordinate`); units are seconds. */
export interface Coordinate {
  /** Euclidean part (`Vec`), 8 entries in Serf. */
  vec: number[];
  /** Confidence (`Error`). */
  error: number;
  /** Adjustment term (`Adjustment`). */
  adjustment: number;
  /** Height above the plane (`Height`). */
  height: number;
}

/** A query filter: node names, or a tag whose value must match a regular expression. */
export type SerfFilter =
  | { type: "node"; nodes: string[] }
  | { type: "tag"; tag: string; expression: string };

/** A decoded Serf message, discriminated on `type`. */
export type SerfMessage =
  | ({ type: "leave" } & SerfLeave)
  | ({ type: "join" } & SerfJoin)
  | ({ type: "pushPull" } & SerfPushPull)
  | ({ type: "userEvent" } & SerfUserEvent)
  | ({ type: "query" } & SerfQuery)
  | ({ type: "queryResponse" } & SerfQueryResponse)
  | { type: "conflictResponse"; member: SerfMember | undefined }
  | ({ type: "keyRequest" } & SerfKeyRequest)
  | ({ type: "keyResponse" } & SerfKeyResponse)
  | { type: "relay"; header: SerfRelayHeader; message: Uint8Array };

const lamportTime = uintCodec(uint64Max);
const uint8 = uintCodec(uint8Max);
const uint16 = uintCodec(uint16Max);
const uint32 = uintCodec(uint32Max);
const smallInt = intCodec(0, uint8Max);
const stringMap = mapCodec(stringCodec, tagsMax);

/** Codec of `messageLeave`. */
export const serfLeaveCodec: ValueCodec<SerfLeave> = structCodec<SerfLeave>({
  lamportTime: { go: "LTime", codec: lamportTime },
  node: { go: "Node", codec: stringCodec },
  prune: { go: "Prune", codec: boolCodec },
});

/** Codec of `messageJoin`. */
export const serfJoinCodec: ValueCodec<SerfJoin> = structCodec<SerfJoin>({
  lamportTime: { go: "LTime", codec: lamportTime },
  node: { go: "Node", codec: stringCodec },
});

/** Codec of `messageUserEvent`. */
export const serfUserEventCodec: ValueCodec<SerfUserEvent> = structCodec<SerfUserEvent>({
  lamportTime: { go: "LTime", codec: lamportTime },
  name: { go: "Name", codec: stringCodec },
  payload: { go: "Payload", codec: optionalBytesCodec },
  coalesce: { go: "CC", codec: boolCodec },
});

/** Codec of `messageQuery`. */
export const serfQueryCodec: ValueCodec<SerfQuery> = structCodec<SerfQuery>({
  lamportTime: { go: "LTime", codec: lamportTime },
  id: { go: "ID", codec: uint32 },
  address: { go: "Addr", codec: bytesCodec },
  port: { go: "Port", codec: uint16 },
  sourceNode: { go: "SourceNode", codec: stringCodec },
  filters: { go: "Filters", codec: optionalCodec(arrayCodec(bytesCodec, queryFiltersMax)) },
  flags: { go: "Flags", codec: uint32 },
  relayFactor: { go: "RelayFactor", codec: uint8 },
  timeoutNs: { go: "Timeout", codec: intCodec(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) },
  name: { go: "Name", codec: stringCodec },
  payload: { go: "Payload", codec: optionalBytesCodec },
});

/** Codec of `messageQueryResponse`. */
export const serfQueryResponseCodec: ValueCodec<SerfQueryResponse> = structCodec<
  SerfQueryResponse
>({
  lamportTime: { go: "LTime", codec: lamportTime },
  id: { go: "ID", codec: uint32 },
  from: { go: "From", codec: stringCodec },
  flags: { go: "Flags", codec: uint32 },
  payload: { go: "Payload", codec: optionalBytesCodec },
});

const bufferedEventCodec = structCodec<SerfBufferedEvent>({
  name: { go: "Name", codec: stringCodec },
  payload: { go: "Payload", codec: optionalBytesCodec },
});

const eventSlotCodec = structCodec<SerfEventSlot>({
  lamportTime: { go: "LTime", codec: lamportTime },
  events: { go: "Events", codec: arrayCodec(bufferedEventCodec, slotEventsMax) },
});

/** Codec of `messagePushPull`. */
export const serfPushPullCodec: ValueCodec<SerfPushPull> = structCodec<SerfPushPull>({
  lamportTime: { go: "LTime", codec: lamportTime },
  statusLamportTimes: { go: "StatusLTimes", codec: mapCodec(lamportTime, pushPullMembersMax) },
  leftMembers: { go: "LeftMembers", codec: arrayCodec(stringCodec, pushPullMembersMax) },
  eventLamportTime: { go: "EventLTime", codec: lamportTime },
  events: { go: "Events", codec: arrayCodec(optionalCodec(eventSlotCodec), eventSlotsMax) },
  queryLamportTime: { go: "QueryLTime", codec: lamportTime },
});

/** Codec of `relayHeader`. */
export const serfRelayHeaderCodec: ValueCodec<SerfRelayHeader> = structCodec<SerfRelayHeader>({
  destAddress: {
    go: "DestAddr",
    codec: structCodec<SerfRelayHeader["destAddress"]>({
      ip: { go: "IP", codec: bytesCodec },
      port: { go: "Port", codec: intCodec(0, uint16Max) },
      zone: { go: "Zone", codec: stringCodec },
    }),
  },
  destName: { go: "DestName", codec: stringCodec },
});

/** Codec of Serf's `Member`. */
export const serfMemberCodec: ValueCodec<SerfMember> = structCodec<SerfMember>({
  name: { go: "Name", codec: stringCodec },
  address: { go: "Addr", codec: bytesCodec },
  port: { go: "Port", codec: uint16 },
  tags: { go: "Tags", codec: stringMap },
  status: { go: "Status", codec: smallInt },
  protocolMin: { go: "ProtocolMin", codec: uint8 },
  protocolMax: { go: "ProtocolMax", codec: uint8 },
  protocolCur: { go: "ProtocolCur", codec: uint8 },
  delegateMin: { go: "DelegateMin", codec: uint8 },
  delegateMax: { go: "DelegateMax", codec: uint8 },
  delegateCur: { go: "DelegateCur", codec: uint8 },
});

/** Codec of `keyRequest`. */
export const serfKeyRequestCodec: ValueCodec<SerfKeyRequest> = structCodec<SerfKeyRequest>({
  key: { go: "Key", codec: bytesCodec },
});

/** Codec of `nodeKeyResponse`. */
export const serfKeyResponseCodec: ValueCodec<SerfKeyResponse> = structCodec<SerfKeyResponse>({
  result: { go: "Result", codec: boolCodec },
  message: { go: "Message", codec: stringCodec },
  keys: { go: "Keys", codec: arrayCodec(stringCodec, keyringKeysMax) },
  primaryKey: { go: "PrimaryKey", codec: stringCodec },
});

/** Codec of `coordinate.Coordinate`. */
export const coordinateCodec: ValueCodec<Coordinate> = structCodec<Coordinate>({
  vec: { go: "Vec", codec: arrayCodec(float64Codec, coordinateDimensionsMax) },
  error: { go: "Error", codec: float64Codec },
  adjustment: { go: "Adjustment", codec: float64Codec },
  height: { go: "Height", codec: float64Codec },
});

const tagFilterCodec = structCodec<{ tag: string; expression: string }>({
  tag: { go: "Tag", codec: stringCodec },
  expression: { go: "Expr", codec: stringCodec },
});

const filterNodesCodec = arrayCodec(stringCodec, filterNodesMax);

/**
 * Encodes a Serf message as `[serf type byte][body]` (wrap it in a memberlist `user` message
 * to gossip it; push/pull user state and query payloads use it as is).
 *
 * @example
 * ```ts
 * encodeSerfMessage({ type: "join", lamportTime: 1, node: "b" });
 * // 01 82 a5 "LTime" 01 a4 "Node" a1 "b"
 * ```
 */
export function encodeSerfMessage(message: SerfMessage): Uint8Array {
  switch (message.type) {
    case "leave":
      return encodeWithType(SerfMessageType.leave, serfLeaveCodec, message);
    case "join":
      return encodeWithType(SerfMessageType.join, serfJoinCodec, message);
    case "pushPull":
      return encodeWithType(SerfMessageType.pushPull, serfPushPullCodec, message);
    case "userEvent":
      return encodeWithType(SerfMessageType.userEvent, serfUserEventCodec, message);
    case "query":
      return encodeWithType(SerfMessageType.query, serfQueryCodec, message);
    case "queryResponse":
      return encodeWithType(SerfMessageType.queryResponse, serfQueryResponseCodec, message);
    case "conflictResponse":
      return encodeWithType(
        SerfMessageType.conflictResponse,
        optionalCodec(serfMemberCodec),
        message.member,
      );
    case "keyRequest":
      return encodeWithType(SerfMessageType.keyRequest, serfKeyRequestCodec, message);
    case "keyResponse":
      return encodeWithType(SerfMessageType.keyResponse, serfKeyResponseCodec, message);
    case "relay":
      return encodeRelay(message.header, message.message);
  }
}

function encodeRelay(header: SerfRelayHeader, message: Uint8Array): Uint8Array {
  const writer = new MsgpackWriter();
  writer.writeByte(SerfMessageType.relay);
  serfRelayHeaderCodec.write(writer, header);
  writer.writeVerbatim(message);
  return writer.finish();
}

/**
 * Decodes a Serf message `[serf type byte][body]`. A relay keeps the inner message's bytes
 * undecoded: the relaying member forwards them as they are.
 *
 * @throws SyntaxError on anything malformed, never another error
 */
export function decodeSerfMessage(bytes: Uint8Array): SerfMessage {
  if (bytes.length === 0) throw new SyntaxError("Cannot decode Serf message: missing type byte");
  const type = bytes[0];
  switch (type) {
    case SerfMessageType.leave:
      return { type: "leave", ...decodeBody(serfLeaveCodec, bytes, 1) };
    case SerfMessageType.join:
      return { type: "join", ...decodeBody(serfJoinCodec, bytes, 1) };
    case SerfMessageType.pushPull:
      return { type: "pushPull", ...decodeBody(serfPushPullCodec, bytes, 1) };
    case SerfMessageType.userEvent:
      return { type: "userEvent", ...decodeBody(serfUserEventCodec, bytes, 1) };
    case SerfMessageType.query:
      return { type: "query", ...decodeBody(serfQueryCodec, bytes, 1) };
    case SerfMessageType.queryResponse:
      return { type: "queryResponse", ...decodeBody(serfQueryResponseCodec, bytes, 1) };
    case SerfMessageType.conflictResponse:
      return { type: "conflictResponse", member: decodeBody(serfMemberOrNil, bytes, 1) };
    case SerfMessageType.keyRequest:
      return { type: "keyRequest", ...decodeBody(serfKeyRequestCodec, bytes, 1) };
    case SerfMessageType.keyResponse:
      return { type: "keyResponse", ...decodeBody(serfKeyResponseCodec, bytes, 1) };
    case SerfMessageType.relay:
      return decodeRelay(bytes);
    default:
      throw new SyntaxError(`Cannot decode Serf message: type "${type}" is unknown`);
  }
}

const serfMemberOrNil = optionalCodec(serfMemberCodec);

function decodeRelay(bytes: Uint8Array): SerfMessage {
  const reader = new MsgpackReader(bytes, 1);
  const header = reader.readNil() ? serfRelayHeaderCodec.zero() : serfRelayHeaderCodec.read(reader);
  return { type: "relay", header, message: bytes.slice(reader.offset) };
}

/**
 * Encodes a query filter: its type byte, then a msgpack array of names or a `{Expr, Tag}` map.
 *
 * @example
 * ```ts
 * encodeFilter({ type: "node", nodes: ["b", "c"] }); // 00 92 a1 "b" a1 "c"
 * ```
 */
export function encodeFilter(filter: SerfFilter): Uint8Array {
  if (filter.type === "node") {
    return encodeWithType(FilterType.node, filterNodesCodec, filter.nodes);
  }
  return encodeWithType(FilterType.tag, tagFilterCodec, filter);
}

/**
 * Decodes a query filter.
 *
 * @throws SyntaxError on an unknown filter type or a malformed body
 */
export function decodeFilter(bytes: Uint8Array): SerfFilter {
  if (bytes.length === 0) throw new SyntaxError("Cannot decode filter: missing type byte");
  if (bytes[0] === FilterType.node) {
    return { type: "node", nodes: decodeBody(filterNodesCodec, bytes, 1) };
  }
  if (bytes[0] === FilterType.tag) return { type: "tag", ...decodeBody(tagFilterCodec, bytes, 1) };
  throw new SyntaxError(`Cannot decode filter: type "${bytes[0]}" is unknown`);
}

/**
 * Encodes tags for memberlist `Meta` as Serf protocol >= 3 does: `0xff` + msgpack map, in the
 * map's iteration order. Callers keep the result within memberlist's 512-byte `Meta` limit.
 *
 * @example
 * ```ts
 * encodeTags(new Map([["role", "web"]])); // ff 81 a4 "role" a3 "web"
 * ```
 */
export function encodeTags(tags: ReadonlyMap<string, string>): Uint8Array {
  const writer = new MsgpackWriter();
  writer.writeByte(tagMagicByte);
  stringMap.write(writer, new Map(tags));
  return writer.finish();
}

/**
 * Decodes memberlist `Meta` into tags as Serf's `decodeTags` does: without the `0xff` magic byte
 * (or when empty) the whole `Meta` is the value of tag `role` (Serf protocol < 3).
 *
 * @throws SyntaxError when the map after the magic byte is malformed
 */
export function decodeTags(meta: Uint8Array): Map<string, string> {
  if (meta.length === 0 || meta[0] !== tagMagicByte) {
    const role = new TextDecoder().decode(meta);
    return new Map([["role", role]]);
  }
  return decodeBody(stringMap, meta, 1);
}

/** Encodes an ack payload as Serf's ping delegate does: `PingVersion` (1) + coordinate. */
export function encodePingPayload(coordinate: Coordinate): Uint8Array {
  return encodeWithType(pingVersion, coordinateCodec, coordinate);
}

/**
 * Decodes an ack payload from Serf's ping delegate; `undefined` when empty (Serf ignores those).
 *
 * @throws SyntaxError on another version byte or a malformed coordinate
 */
export function decodePingPayload(payload: Uint8Array | undefined): Coordinate | undefined {
  if (payload === undefined || payload.length === 0) return undefined;
  if (payload[0] !== pingVersion) {
    throw new SyntaxError(`Cannot decode ping payload: version "${payload[0]}" is not 1`);
  }
  return decodeBody(coordinateCodec, payload, 1);
}
