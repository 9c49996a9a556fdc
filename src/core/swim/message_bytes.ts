/**
 * Encoded sizes of memberlist messages without encoding them, for packing broadcasts into
 * packets: the broadcast queue needs each message's size, and at thousands of members encoding
 * every alive message just to measure it dominates the cost. The rules are the wire layer's
 * (gossip-wire.md §2): strings and bytes as fixstr/str16/str32, the smallest unsigned integer.
 *
 * @module
 */

import { encodeMessage, type MemberlistMessage } from "../wire/mod.ts";

/**
 * Returns the length of `encodeMessage(message)`, computed for the gossiped types (alive,
 * suspect, dead, user) and measured by encoding for the others.
 *
 * @example
 * ```ts
 * messageBytes({ type: "suspect", node: "b", incarnation: 1, from: "a" }); // 29
 * ```
 */
export function messageBytes(message: MemberlistMessage): number {
  switch (message.type) {
    case "alive":
      // Type byte, fixmap(6), then keys "Addr", "Incarnation", "Meta", "Node", "Port", "Vsn".
      return 2 + 5 + rawBytes(message.address.length) + 12 + uintBytes(message.incarnation) +
        5 + rawBytes(message.meta.length) + 5 + rawBytes(utf8Bytes(message.node)) +
        5 + uintBytes(message.port) + 4 + rawBytes(message.versions.length);
    case "suspect":
    case "dead":
      // Type byte, fixmap(3), then keys "From", "Incarnation", "Node".
      return 2 + 5 + rawBytes(utf8Bytes(message.from)) + 12 + uintBytes(message.incarnation) +
        5 + rawBytes(utf8Bytes(message.node));
    case "user":
      return 1 + message.payload.length;
    default:
      return encodeMessage(message).length;
  }
}

function rawBytes(length: number): number {
  if (length < 32) return 1 + length;
  return (length <= 0xffff ? 3 : 5) + length;
}

function uintBytes(value: number): number {
  if (value <= 0x7f) return 1;
  if (value <= 0xff) return 2;
  if (value <= 0xffff) return 3;
  return value <= 0xffff_ffff ? 5 : 9;
}

/** UTF-8 length of `text` without encoding it (lone surrogates count 3, as TextEncoder's U+FFFD). */
function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i += 1;
      } else {
        bytes += 3;
      }
    } else bytes += 3;
  }
  return bytes;
}
