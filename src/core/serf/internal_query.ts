/**
 * Serf's internal queries (v0.9.4 `serf/internal_query.go`, `serf/keymanager.go`,
 * gossip-wire.md §11.9): names under the `_serf_` prefix, the keyring request and response
 * payloads, and the name-conflict vote. The Serf core answers these itself; the application
 * never sees them as `queryReceived`.
 *
 * @module
 */

import { encodeBase64 } from "../base64.ts";
import { decodeSerfMessage, encodeSerfMessage, type SerfKeyResponse } from "../wire/mod.ts";
import { bytesEqual } from "./events.ts";
import type { KeyringOperation, KeyringResult, SerfAddress } from "./messages.ts";

/** Names starting with this are Serf's own queries (`InternalQueryPrefix`). */
export const internalQueryPrefix = "_serf_";

/** The internal query names. */
export const InternalQueryName = {
  /** Only acks: a cluster-wide reachability check. */
  ping: "_serf_ping",
  /** Who owns this name? Answered with the member each node knows under it. */
  conflict: "_serf_conflict",
  /** Add a key to every keyring. */
  install: "_serf_install-key",
  /** Make a key primary everywhere. */
  use: "_serf_use-key",
  /** Remove a key everywhere. */
  remove: "_serf_remove-key",
  /** List every member's keys. */
  list: "_serf_list-keys",
} as const;

/** Returns the keyring operation an internal query name stands for, if any. */
export function keyringOperationOf(name: string): KeyringOperation | undefined {
  for (const operation of ["install", "use", "remove", "list"] as const) {
    if (InternalQueryName[operation] === name) return operation;
  }
  return undefined;
}

/** Encodes a keyring query payload: `0x07` + `{Key}` (empty key for list). */
export function encodeKeyRequestPayload(key: Uint8Array): Uint8Array {
  return encodeSerfMessage({ type: "keyRequest", key });
}

/** Decodes a keyring query payload; `undefined` when it is not a key request. */
export function decodeKeyRequestPayload(payload: Uint8Array | undefined): Uint8Array | undefined {
  if (payload === undefined || payload.length === 0) return undefined;
  try {
    const message = decodeSerfMessage(payload);
    return message.type === "keyRequest" ? message.key : undefined;
  } catch {
    return undefined;
  }
}

/** Serf's answer when a member has no keyring (`errNoKeyring`). */
export const noKeyringMessage = "No keyring to modify (encryption not enabled)";

/**
 * Encodes a keyring answer (`0x08` + `nodeKeyResponse`). A key list that does not `fit` loses
 * keys from the end, with Serf's "truncated key list response" message, until it fits.
 *
 * @param result what the keyring did
 * @param fits whether an encoded payload fits the response size limit
 * @returns the payload, or `undefined` when even an empty list does not fit
 */
export function encodeKeyResponsePayload(
  result: KeyringResult,
  fits: (payload: Uint8Array) => boolean,
): Uint8Array | undefined {
  const keys = result.keys.map(encodeBase64);
  const response: SerfKeyResponse = {
    result: result.ok,
    message: result.ok ? "" : result.message,
    keys,
    primaryKey: result.primaryKey === undefined ? "" : encodeBase64(result.primaryKey),
  };
  for (let count = keys.length; count >= 0; count -= 1) {
    if (count < keys.length) {
      response.keys = keys.slice(0, count);
      response.message =
        `truncated key list response, showing first ${count} of ${keys.length} keys`;
    }
    const payload = encodeSerfMessage({ type: "keyResponse", ...response });
    if (fits(payload)) return payload;
  }
  return undefined;
}

/** Decodes a keyring answer payload; `undefined` when it is not one. */
export function decodeKeyResponsePayload(
  payload: Uint8Array | undefined,
): SerfKeyResponse | undefined {
  if (payload === undefined || payload.length === 0) return undefined;
  try {
    const message = decodeSerfMessage(payload);
    return message.type === "keyResponse" ? message : undefined;
  } catch {
    return undefined;
  }
}

/** The outcome of a `_serf_conflict` vote. */
export interface ConflictVote {
  /** Valid conflict answers. */
  responses: number;
  /** Answers that name our address and port. */
  matching: number;
  /** Whether we keep the name: `matching >= floor(responses / 2) + 1`. */
  won: boolean;
}

/**
 * Counts `_serf_conflict` answers as Serf's `resolveNodeConflict`: answers that are not a
 * conflict response are skipped; "unknown" (nil) answers count as votes against.
 *
 * @param payloads the response payloads
 * @param local our own address and port
 */
export function tallyConflictVote(
  payloads: Iterable<Uint8Array | undefined>,
  local: SerfAddress,
): ConflictVote {
  let responses = 0;
  let matching = 0;
  for (const payload of payloads) {
    if (payload === undefined || payload.length === 0) continue;
    let message;
    try {
      message = decodeSerfMessage(payload);
    } catch {
      continue;
    }
    if (message.type !== "conflictResponse") continue;
    // Serf decodes a nil answer into a zero Member: it counts, and matches nothing.
    responses += 1;
    const member = message.member;
    if (member === undefined) continue;
    if (bytesEqual(member.address, local.address) && member.port === local.port) matching += 1;
  }
  const majority = Math.floor(responses / 2) + 1;
  return { responses, matching, won: matching >= majority };
}

/** What a keyring query gathered from the cluster (Serf's `KeyResponse`). */
export interface KeyringTallyResult {
  /** Members asked: the alive members when the query left (memberlist `NumMembers`). */
  numNodes: number;
  /** Answers received. */
  numResp: number;
  /** Answers that reported a failure or could not be read. */
  numErr: number;
  /** Per member name: its error, or a warning it sent with success. */
  messages: Record<string, string>;
  /** Per installed key (base64): how many members listed it (list only). */
  keys: Record<string, number>;
  /** Per primary key (base64): how many members use it (list only). */
  primaryKeys: Record<string, number>;
  /**
   * Serf's verdict: "" when every member answered with success, else "N/M nodes reported
   * failure" or "N/M nodes reported success" (`KeyManager.handleKeyRequest`).
   */
  error: string;
}

/** Members' answers kept per keyring query; answers past this are counted as errors. */
export const keyringAnswersMax = 65_536;

/**
 * Adds up the answers to one keyring query as Serf's `KeyManager.streamKeyResp`: each answer
 * counts once per member, failures and unreadable answers count as errors with their message,
 * and listed keys are counted per key.
 *
 * @example
 * ```ts
 * const tally = new KeyringTally(2);
 * tally.add("a", payloadFromA);
 * tally.complete; // false until 2 answered
 * tally.result().error; // "1/2 nodes reported success" if b never answers
 * ```
 */
export class KeyringTally {
  readonly #numNodes: number;
  readonly #seen = new Set<string>();
  readonly #result: Omit<KeyringTallyResult, "error">;

  /** @param numNodes alive members when the query left, ourselves included */
  constructor(numNodes: number) {
    this.#numNodes = numNodes;
    this.#result = { numNodes, numResp: 0, numErr: 0, messages: {}, keys: {}, primaryKeys: {} };
  }

  /** Whether every member answered (Serf then stops waiting). */
  get complete(): boolean {
    return this.#result.numResp >= this.#numNodes;
  }

  /** Counts the answer of `from`; a second answer from the same member is ignored. */
  add(from: string, payload: Uint8Array | undefined): void {
    if (this.#seen.has(from) || this.#seen.size >= keyringAnswersMax) return;
    this.#seen.add(from);
    const result = this.#result;
    result.numResp += 1;
    const response = decodeKeyResponsePayload(payload);
    if (response === undefined) {
      result.messages[from] = "Failed to decode key query response";
      result.numErr += 1;
      return;
    }
    if (!response.result) result.numErr += 1;
    if (response.message.length > 0) result.messages[from] = response.message;
    for (const key of response.keys) result.keys[key] = (result.keys[key] ?? 0) + 1;
    if (response.primaryKey !== "") {
      result.primaryKeys[response.primaryKey] = (result.primaryKeys[response.primaryKey] ?? 0) + 1;
    }
  }

  /** The totals so far, with Serf's verdict. */
  result(): KeyringTallyResult {
    const { numNodes, numResp, numErr } = this.#result;
    let error = "";
    if (numErr > 0) error = `${numErr}/${numNodes} nodes reported failure`;
    else if (numResp !== numNodes) error = `${numResp - numErr}/${numNodes} nodes reported success`;
    return {
      ...this.#result,
      messages: { ...this.#result.messages },
      keys: { ...this.#result.keys },
      primaryKeys: { ...this.#result.primaryKeys },
      error,
    };
  }
}
