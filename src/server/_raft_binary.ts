/**
 * The hot Raft messages in a packed binary form, private to `src/server`: AppendEntries, its
 * response, heartbeats and their responses travel as one byte array (a msgpack `bin` in the
 * `raft` one-way message) instead of a msgpack map per message and per entry. The CPU profile of
 * a loaded leader showed encoding those maps for each follower as its largest single cost; a
 * packed message is a few `DataView` writes and one copy of each entry's bytes, and the entries
 * of one range are packed once for every follower they go to. Other messages (votes, timeouts,
 * snapshots) keep the map form of `_raft_wire.ts`.
 *
 * Layout, little-endian; a count is a float64 holding a safe non-negative integer; a string is a
 * u16 length and UTF-8:
 *
 * | field | bytes |
 * | --- | --- |
 * | magic | u8 `0xa1` |
 * | type | u8: 0 appendEntries, 1 appendEntriesResponse, 2 heartbeat, 3 heartbeatResponse |
 * | sender id, name, address, then `to` | 4 strings (`from` is the sender id) |
 * | term | count |
 * | appendEntries | prevIndex, prevTerm, commit (counts); u32 entry count; per entry: index, term (counts), u32 length, the WAL form of the entry (`toLogEntry`: tag byte + body) |
 * | appendEntriesResponse | index, hintIndex, hintTerm (counts); u8 reject (0 or 1) |
 * | heartbeat | commit, round (counts) |
 * | heartbeatResponse | round (count) |
 *
 * Decoding checks every length against the bytes left and every count as `_raft_wire.ts` does:
 * malformed input yields `undefined`, never an exception or a bad message for the core.
 *
 * @module
 */

import type { Entry, Message } from "../core/raft/messages.ts";
import { fromLogEntry, toLogEntry } from "./_entry_codec.ts";
import type { ServerInfo } from "./_raft_wire.ts";

const MAGIC = 0xa1;
const TYPES = ["appendEntries", "appendEntriesResponse", "heartbeat", "heartbeatResponse"] as const;
type PackedType = typeof TYPES[number];
/** The messages this form carries. */
export type PackedMessage = Extract<Message, { type: PackedType }>;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });
/** Encoded ids, names and addresses: a handful per cluster, each sent with every message. */
const encodedStrings = new Map<string, Uint8Array>();
const ENCODED_STRINGS_MAX = 1_024;

function encodeString(text: string): Uint8Array {
  let bytes = encodedStrings.get(text);
  if (bytes !== undefined) return bytes;
  bytes = textEncoder.encode(text);
  if (encodedStrings.size >= ENCODED_STRINGS_MAX) encodedStrings.clear();
  encodedStrings.set(text, bytes);
  return bytes;
}

/** Short ASCII (ids, addresses) without a native call; anything else through the decoder. */
function decodeString(bytes: Uint8Array): string {
  if (bytes.byteLength > 64) return textDecoder.decode(bytes);
  let text = "";
  for (let i = 0; i < bytes.byteLength; i++) {
    const byte = bytes[i];
    if (byte >= 0x80) return textDecoder.decode(bytes);
    text += String.fromCharCode(byte);
  }
  return text;
}

/** True when `message` travels packed. */
export function isPackable(message: Message): message is PackedMessage {
  return TYPES.includes(message.type as PackedType);
}

/**
 * Packs entries once, for every follower that is sent the same range. The cache holds only the
 * ranges of one batch of sends: call `clear()` after each.
 */
export class EntryPacker {
  readonly #cache = new Map<string, Uint8Array>();

  /** The packed entries (u32 count, then each entry); the same bytes for the same range. */
  pack(entries: readonly Entry[]): Uint8Array {
    const first = entries[0];
    const key = first === undefined
      ? ""
      : `${first.index}:${first.term}:${entries.length}:${entries[entries.length - 1].term}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const logEntries = entries.map(toLogEntry);
    let size = 4;
    for (const entry of logEntries) size += 20 + entry.data.byteLength;
    const bytes = new Uint8Array(size);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, logEntries.length, true);
    let at = 4;
    for (const entry of logEntries) {
      view.setFloat64(at, entry.index, true);
      view.setFloat64(at + 8, entry.term, true);
      view.setUint32(at + 16, entry.data.byteLength, true);
      bytes.set(entry.data, at + 20);
      at += 20 + entry.data.byteLength;
    }
    this.#cache.set(key, bytes);
    return bytes;
  }

  /** Forgets the packed ranges (the log may change before the next batch). */
  clear(): void {
    this.#cache.clear();
  }
}

/**
 * Packs one message with its sender.
 *
 * @param sender this server
 * @param message a message for which {@link isPackable} holds, from `sender.id`
 * @param packer shares packed entries between followers
 */
export function encodePacked(
  sender: ServerInfo,
  message: PackedMessage,
  packer: EntryPacker,
): Uint8Array {
  const strings = [sender.id, sender.name, sender.address, message.to].map(encodeString);
  const entries = message.type === "appendEntries" ? packer.pack(message.entries) : undefined;
  let size = 2 + 8 + 25 + (entries?.byteLength ?? 0);
  for (const text of strings) size += 2 + text.byteLength;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes[0] = MAGIC;
  bytes[1] = TYPES.indexOf(message.type);
  let at = 2;
  for (const text of strings) {
    view.setUint16(at, text.byteLength, true);
    bytes.set(text, at + 2);
    at += 2 + text.byteLength;
  }
  const counts = (...values: number[]) => {
    for (const value of values) {
      view.setFloat64(at, value, true);
      at += 8;
    }
  };
  counts(message.term);
  switch (message.type) {
    case "appendEntries":
      counts(message.prevIndex, message.prevTerm, message.commit);
      bytes.set(entries!, at);
      at += entries!.byteLength;
      break;
    case "appendEntriesResponse":
      counts(message.index, message.hintIndex, message.hintTerm);
      bytes[at++] = message.reject ? 1 : 0;
      break;
    case "heartbeat":
      counts(message.commit, message.round);
      break;
    case "heartbeatResponse":
      counts(message.round);
      break;
  }
  return bytes.subarray(0, at);
}

/** Reads a packed message; `undefined` when it is not one or anything in it is malformed. */
export function decodePacked(
  bytes: Uint8Array,
): { sender: ServerInfo; message: PackedMessage } | undefined {
  try {
    return new PackedReader(bytes).message();
  } catch {
    return undefined; // A length or count out of bounds, bad UTF-8, a bad membership body.
  }
}

class PackedReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  message(): { sender: ServerInfo; message: PackedMessage } | undefined {
    if (this.#u8() !== MAGIC) return undefined;
    const type = TYPES[this.#u8()];
    if (type === undefined) return undefined;
    const [id, name, address, to] = [
      this.#string(),
      this.#string(),
      this.#string(),
      this.#string(),
    ];
    if (id === "") return undefined;
    const envelope = { from: id, to, term: this.#count() };
    let message: PackedMessage;
    switch (type) {
      case "appendEntries": {
        const [prevIndex, prevTerm, commit] = [this.#count(), this.#count(), this.#count()];
        const entries = this.#entries();
        message = { type, ...envelope, prevIndex, prevTerm, commit, entries };
        break;
      }
      case "appendEntriesResponse": {
        const [index, hintIndex, hintTerm] = [this.#count(), this.#count(), this.#count()];
        const flag = this.#u8();
        if (flag > 1) return undefined;
        message = { type, ...envelope, index, hintIndex, hintTerm, reject: flag === 1 };
        break;
      }
      case "heartbeat":
        message = { type, ...envelope, commit: this.#count(), round: this.#count() };
        break;
      case "heartbeatResponse":
        message = { type, ...envelope, round: this.#count() };
        break;
    }
    if (this.#at !== this.#bytes.byteLength) return undefined;
    return { sender: { id, name, address }, message };
  }

  #entries(): Entry[] {
    const count = this.#u32();
    const entries: Entry[] = [];
    for (let i = 0; i < count; i++) {
      const index = this.#count();
      const term = this.#count();
      const data = this.#take(this.#u32());
      if (data.byteLength === 0) throw new RangeError("an entry without a tag");
      entries.push(fromLogEntry({ index, term, data }));
    }
    return entries;
  }

  #take(length: number): Uint8Array {
    if (this.#at + length > this.#bytes.byteLength) throw new RangeError("past the end");
    const taken = this.#bytes.subarray(this.#at, this.#at + length);
    this.#at += length;
    return taken;
  }

  #u8(): number {
    return this.#take(1)[0];
  }

  #u32(): number {
    this.#take(4);
    return this.#view.getUint32(this.#at - 4, true);
  }

  #count(): number {
    this.#take(8);
    const value = this.#view.getFloat64(this.#at - 8, true);
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError("not a count");
    return value;
  }

  #string(): string {
    this.#take(2);
    const length = this.#view.getUint16(this.#at - 2, true);
    return decodeString(this.#take(length));
  }
}
