/**
 * How the Raft server turns the core's values into bytes and back, private to `src/server`:
 * state-store commands as msgpack (a `normal` entry's data), whole log entries for the
 * write-ahead log (which only knows index, term and opaque data), and memberships for snapshot
 * files.
 *
 * ## WAL entry data
 *
 * | first byte | entry | rest |
 * | --- | --- | --- |
 * | 0 | normal | the command, msgpack |
 * | 1 | noop | nothing |
 * | 2 | membership | `{ voters, nonVoters }`, msgpack |
 *
 * Commands carry KV flags as exact uint64 (`bigint` past 2^53); msgpack has no such type here,
 * so a `bigint` travels as extension type 1 holding its decimal text.
 *
 * @module
 */

import { decode, Decoder, encode, Encoder, ExtensionCodec } from "@msgpack/msgpack";
import type { Entry, Membership } from "../core/raft/messages.ts";
import type { Command } from "../core/state/commands.ts";
import type { LogEntry } from "../storage/wal.ts";

const BIGINT_EXTENSION = 1;
const TAG_NORMAL = 0;
const TAG_NOOP = 1;
const TAG_MEMBERSHIP = 2;

const extensionCodec = new ExtensionCodec();
extensionCodec.register({
  type: BIGINT_EXTENSION,
  encode: (input: unknown) =>
    typeof input === "bigint" ? new TextEncoder().encode(input.toString()) : null,
  decode: (data: Uint8Array) => BigInt(new TextDecoder().decode(data)),
});

// Reused for every command (one per write, and one decode per apply on every server):
// `encode()`/`decode()` would build a new coder and buffer per call.
// Absent optional fields stay absent (nil would come back as null).
const commandEncoder = new Encoder({ extensionCodec, ignoreUndefined: true });
const commandDecoder = new Decoder({ extensionCodec });

/** Encodes a command for a `normal` entry. */
export function encodeCommand(command: Command): Uint8Array {
  return commandEncoder.encode(command); // A copy: the entry keeps it.
}

/** Decodes a command; throws `SyntaxError` when the bytes are not one. */
export function decodeCommand(bytes: Uint8Array): Command {
  let decoded: unknown;
  try {
    decoded = commandDecoder.decode(bytes);
  } catch (error) {
    throw new SyntaxError(`Cannot decode a command: ${(error as Error).message}`);
  }
  const command = decoded as Partial<Command> | null;
  if (typeof command?.type !== "string" || typeof command.atMs !== "number") {
    throw new SyntaxError("Cannot decode a command: it has no type or atMs");
  }
  return command as Command;
}

/** Encodes a membership (a snapshot's configuration, a membership entry's body). */
export function encodeMembership(membership: Membership): Uint8Array {
  return encode({ voters: [...membership.voters], nonVoters: [...membership.nonVoters] });
}

/** Decodes a membership; throws `SyntaxError` when the bytes are not one. */
export function decodeMembership(bytes: Uint8Array): Membership {
  const decoded = decode(bytes) as Partial<Membership> | null;
  const isIds = (value: unknown) =>
    Array.isArray(value) && value.every((id) => typeof id === "string");
  if (!isIds(decoded?.voters) || !isIds(decoded?.nonVoters)) {
    throw new SyntaxError("Cannot decode a membership: voters or nonVoters are not id lists");
  }
  return { voters: decoded!.voters!, nonVoters: decoded!.nonVoters! };
}

/** Turns a core entry into a WAL entry. */
export function toLogEntry(entry: Entry): LogEntry {
  let data: Uint8Array;
  switch (entry.type) {
    case "normal":
      data = new Uint8Array(entry.data.byteLength + 1);
      data[0] = TAG_NORMAL;
      data.set(entry.data, 1);
      break;
    case "noop":
      data = new Uint8Array([TAG_NOOP]);
      break;
    case "membership": {
      const body = encodeMembership(entry.membership);
      data = new Uint8Array(body.byteLength + 1);
      data[0] = TAG_MEMBERSHIP;
      data.set(body, 1);
      break;
    }
  }
  return { index: entry.index, term: entry.term, data };
}

/** Turns a WAL entry back into a core entry; throws `SyntaxError` on an unknown tag. */
export function fromLogEntry(logEntry: LogEntry): Entry {
  const { index, term, data } = logEntry;
  switch (data[0]) {
    case TAG_NORMAL:
      return { type: "normal", index, term, data: data.subarray(1) };
    case TAG_NOOP:
      return { type: "noop", index, term };
    case TAG_MEMBERSHIP:
      return { type: "membership", index, term, membership: decodeMembership(data.subarray(1)) };
    default:
      throw new SyntaxError(
        `Cannot decode log entry ${index}: its tag ${data[0]} is not 0, 1 or 2`,
      );
  }
}
