/**
 * Raft messages on the server RPC, private to `src/server`: what travels in a `raft` one-way
 * message and how a received one is checked before it reaches the core. The core asserts on
 * impossible input (a programmer error), so every field a peer sends is checked here first: a
 * malformed message is dropped and counted, never stepped.
 *
 * A message travels as `{ sender, message }`, where `sender` names the server (id, node name,
 * RPC address) so the receiver learns where to answer. An InstallSnapshot travels chunked: the
 * header is `{ sender, message }` without the snapshot's data, the chunked bytes are the data.
 *
 * @module
 */

import type { Entry, Membership, Message, Snapshot } from "../core/raft/messages.ts";

/** A server as other servers know it. */
export interface ServerInfo {
  /** The Raft id (the node ID). */
  readonly id: string;
  /** The node name. */
  readonly name: string;
  /** "ip:port" of its RPC. */
  readonly address: string;
}

type Fields = Record<string, unknown>;

const isString = (value: unknown): value is string => typeof value === "string";
const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
const isBoolean = (value: unknown): value is boolean => typeof value === "boolean";
const isObject = (value: unknown): value is Fields =>
  typeof value === "object" && value !== null && !Array.isArray(value) &&
  !(value instanceof Uint8Array);

/** Returns `value` as a server description, or `undefined` when it is not one. */
export function decodeServerInfo(value: unknown): ServerInfo | undefined {
  if (!isObject(value)) return undefined;
  const { id, name, address } = value;
  if (!isString(id) || id === "" || !isString(name) || !isString(address)) return undefined;
  return { id, name, address };
}

function isIds(value: unknown): value is string[] {
  return Array.isArray(value) && value.every(isString);
}

function decodeMembershipValue(value: unknown): Membership | undefined {
  if (!isObject(value) || !isIds(value.voters) || !isIds(value.nonVoters)) return undefined;
  return { voters: value.voters, nonVoters: value.nonVoters };
}

function decodeEntry(value: unknown): Entry | undefined {
  if (!isObject(value) || !isCount(value.index) || !isCount(value.term)) return undefined;
  const { index, term } = value;
  if (value.type === "normal") {
    return value.data instanceof Uint8Array
      ? { type: "normal", index, term, data: value.data }
      : undefined;
  }
  if (value.type === "noop") return { type: "noop", index, term };
  if (value.type === "membership") {
    const membership = decodeMembershipValue(value.membership);
    return membership === undefined ? undefined : { type: "membership", index, term, membership };
  }
  return undefined;
}

function decodeEntries(value: unknown): Entry[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const entries: Entry[] = [];
  for (const item of value) {
    const entry = decodeEntry(item);
    if (entry === undefined) return undefined;
    entries.push(entry);
  }
  return entries;
}

function allCounts(value: Fields, names: readonly string[]): boolean {
  return names.every((name) => isCount(value[name]));
}

/**
 * Checks a received Raft message field by field.
 *
 * @param value the decoded msgpack
 * @param snapshotData the reassembled snapshot data, for an InstallSnapshot
 * @returns the message, or `undefined` when any field is malformed
 */
export function decodeRaftMessage(
  value: unknown,
  snapshotData?: Uint8Array,
): Message | undefined {
  if (!isObject(value) || !isString(value.from) || !isString(value.to)) return undefined;
  if (!isCount(value.term)) return undefined;
  const envelope = { from: value.from, to: value.to, term: value.term };
  switch (value.type) {
    case "appendEntries": {
      const entries = decodeEntries(value.entries);
      if (entries === undefined || !allCounts(value, ["prevIndex", "prevTerm", "commit"])) {
        return undefined;
      }
      const { prevIndex, prevTerm, commit } = value as Record<string, number>;
      return { type: "appendEntries", ...envelope, prevIndex, prevTerm, commit, entries };
    }
    case "appendEntriesResponse": {
      if (!allCounts(value, ["index", "hintIndex", "hintTerm"]) || !isBoolean(value.reject)) {
        return undefined;
      }
      const { index, hintIndex, hintTerm } = value as Record<string, number>;
      return {
        type: "appendEntriesResponse",
        ...envelope,
        index,
        hintIndex,
        hintTerm,
        reject: value.reject,
      };
    }
    case "heartbeat":
      if (!allCounts(value, ["commit", "round"])) return undefined;
      return {
        type: "heartbeat",
        ...envelope,
        commit: value.commit as number,
        round: value.round as number,
      };
    case "heartbeatResponse":
      if (!isCount(value.round)) return undefined;
      return { type: "heartbeatResponse", ...envelope, round: value.round };
    case "requestVote":
      if (!allCounts(value, ["lastIndex", "lastTerm"])) return undefined;
      if (!isBoolean(value.preVote) || !isBoolean(value.force)) return undefined;
      return {
        type: "requestVote",
        ...envelope,
        preVote: value.preVote,
        force: value.force,
        lastIndex: value.lastIndex as number,
        lastTerm: value.lastTerm as number,
      };
    case "requestVoteResponse":
      if (!isBoolean(value.preVote) || !isBoolean(value.granted)) return undefined;
      return {
        type: "requestVoteResponse",
        ...envelope,
        preVote: value.preVote,
        granted: value.granted,
      };
    case "timeoutNow":
      return { type: "timeoutNow", ...envelope };
    case "installSnapshot":
      return decodeInstallSnapshot(envelope, value.meta, snapshotData);
    default:
      return undefined;
  }
}

function decodeInstallSnapshot(
  envelope: { from: string; to: string; term: number },
  meta: unknown,
  data: Uint8Array | undefined,
): Message | undefined {
  if (data === undefined || !isObject(meta) || !isCount(meta.index) || !isCount(meta.term)) {
    return undefined;
  }
  const membership = decodeMembershipValue(meta.membership);
  if (membership === undefined) return undefined;
  const snapshot: Snapshot = { meta: { index: meta.index, term: meta.term, membership }, data };
  return { type: "installSnapshot", ...envelope, snapshot };
}

/** The InstallSnapshot header: the message with `meta` in place of the snapshot. */
export function snapshotHeader(message: Extract<Message, { type: "installSnapshot" }>): Fields {
  const { snapshot, ...rest } = message;
  return {
    ...rest,
    meta: {
      index: snapshot.meta.index,
      term: snapshot.meta.term,
      membership: {
        voters: [...snapshot.meta.membership.voters],
        nonVoters: [...snapshot.meta.membership.nonVoters],
      },
    },
  };
}
