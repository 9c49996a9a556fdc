/**
 * Wire codes of HashiCorp memberlist (v0.2.2 `net.go`, plus `label.go` from v0.3) and Serf
 * (v0.9.4 `serf/messages.go`). They are append-only: a code, once given, never changes meaning
 * (gossip-wire.md §3 and §11.2).
 *
 * @module
 */

/** The first byte of every memberlist message, packet or stream. */
export const MessageType = {
  /** Direct probe, over UDP or as the TCP fallback ping. */
  ping: 0,
  /** Ask a member to probe another on our behalf (`indirectPingReq`). */
  indirectPing: 1,
  /** Reply to a ping (`ackResp`). */
  ack: 2,
  /** A member is suspected of having failed. */
  suspect: 3,
  /** A member is alive (join, refutation, metadata update). */
  alive: 4,
  /** A member has failed, or left when `From` equals `Node`. */
  dead: 5,
  /** TCP state exchange: header, node states, then the delegate's user state. */
  pushPull: 6,
  /** Several messages in one packet. */
  compound: 7,
  /** A delegate (Serf) message. */
  user: 8,
  /** An LZW-compressed message. */
  compress: 9,
  /** An encrypted TCP stream (UDP encryption carries no type byte). */
  encrypt: 10,
  /** An indirect probe got no ack in time (`nackResp`). */
  nack: 11,
  /** A CRC32 over the rest of the packet. */
  hasCrc: 12,
  /** A TCP error reply (`errResp`). */
  err: 13,
  /** A label prefix; memberlist 0.3 and later only, and dropped by serf 0.9.4's memberlist. */
  hasLabel: 244,
} as const;

/** A memberlist message type code. */
export type MessageTypeCode = typeof MessageType[keyof typeof MessageType];

/** A memberlist message type name. */
export type MessageTypeName = keyof typeof MessageType;

/** The first byte of every Serf message, after memberlist's `user` byte. */
export const SerfMessageType = {
  /** A member's intent to leave (`messageLeave`). */
  leave: 0,
  /** A member's intent to join (`messageJoin`). */
  join: 1,
  /** Serf's state inside a memberlist push/pull (`messagePushPull`). */
  pushPull: 2,
  /** A user event (`messageUserEvent`). */
  userEvent: 3,
  /** A query (`messageQuery`). */
  query: 4,
  /** An ack or response to a query (`messageQueryResponse`). */
  queryResponse: 5,
  /** A `_serf_conflict` answer inside a query response payload (a `Member`). */
  conflictResponse: 6,
  /** A keyring operation inside a query payload (`keyRequest`). */
  keyRequest: 7,
  /** A keyring answer inside a query response payload (`nodeKeyResponse`). */
  keyResponse: 8,
  /** A relayed message: a `relayHeader` followed by the message to forward. */
  relay: 9,
} as const;

/** A Serf message type code. */
export type SerfMessageTypeCode = typeof SerfMessageType[keyof typeof SerfMessageType];

/** A Serf message type name. */
export type SerfMessageTypeName = keyof typeof SerfMessageType;

const messageTypeNames = new Map<number, MessageTypeName>(
  Object.entries(MessageType).map(([name, code]) => [code, name as MessageTypeName]),
);
const serfMessageTypeNames = new Map<number, SerfMessageTypeName>(
  Object.entries(SerfMessageType).map(([name, code]) => [code, name as SerfMessageTypeName]),
);

/**
 * Returns the name of a memberlist type code, or `undefined` for an unknown code.
 *
 * @example
 * ```ts
 * messageTypeName(12); // "hasCrc"
 * ```
 */
export function messageTypeName(code: number): MessageTypeName | undefined {
  return messageTypeNames.get(code);
}

/** Returns the name of a Serf type code, or `undefined` for an unknown code. */
export function serfMessageTypeName(code: number): SerfMessageTypeName | undefined {
  return serfMessageTypeNames.get(code);
}

/** memberlist's `compressionType`: LZW is the only algorithm (`Algo` 0). */
export const CompressionAlgorithm = {
  /** Go `compress/lzw`, LSB order, literal width 8. */
  lzw: 0,
} as const;

/** memberlist's node state in push/pull (`nodeStateType`). */
export const NodeState = {
  /** Alive. */
  alive: 0,
  /** Suspected of failure. */
  suspect: 1,
  /** Failed. */
  dead: 2,
  /** Left gracefully. */
  left: 3,
} as const;

/** Serf's `MemberStatus` (conflict responses; Consul's members API uses the same numbers). */
export const MemberStatus = {
  /** Unknown. */
  none: 0,
  /** Alive. */
  alive: 1,
  /** Leaving. */
  leaving: 2,
  /** Left. */
  left: 3,
  /** Failed. */
  failed: 4,
} as const;

/** Serf query flags (uint32 bits). */
export const QueryFlag = {
  /** The sender wants an ack from every member that accepts the query. */
  ack: 1,
  /** Receivers must not re-broadcast the query. */
  noBroadcast: 2,
} as const;

/** Serf query filter types (the first byte of a filter). */
export const FilterType = {
  /** A list of node names. */
  node: 0,
  /** A tag name and a regular expression for its value. */
  tag: 1,
} as const;
