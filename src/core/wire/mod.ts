/**
 * The gossip wire format of HashiCorp memberlist 0.2.2 and Serf 0.9.4, byte for byte
 * (see `shared/protocol/gossip-wire.md`): message type codes, msgpack codecs written as Go's
 * go-msgpack writes them, framing (compound, CRC, LZW compression, labels, TCP streams) and the
 * encryption envelope. Pure and synchronous; the AES-GCM call itself is the shell's (see
 * `keyring.ts` for why).
 *
 * Every decoder throws only `SyntaxError` (or its subclass `TruncatedInputError`) on bad input.
 *
 * @example
 * ```ts
 * import { decodeMessage, unwrapPacket } from "./mod.ts";
 * const { parts } = unwrapPacket(packet);
 * const messages = parts.map(decodeMessage);
 * ```
 *
 * @module
 */

export * from "./message_type.ts";
export * from "./msgpack_reader.ts";
export * from "./msgpack_writer.ts";
export * from "./struct_codec.ts";
export * from "./codec.ts";
export * from "./serf_codec.ts";
export * from "./crc32.ts";
export * from "./lzw.ts";
export * from "./framing.ts";
export * from "./keyring.ts";
export * from "./consul_user_event.ts";
