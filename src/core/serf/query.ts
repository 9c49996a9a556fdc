/**
 * Serf queries (v0.9.4 `serf/query.go` and `serf.go`, gossip-wire.md §11.8): the query buffer
 * that de-duplicates by (clock, id), filter evaluation, the default timeout, and the origin's
 * bookkeeping of acks and responses until the timeout closes a query.
 *
 * @module
 */

import { assert } from "../assert.ts";
import { decodeFilter, encodeFilter, type SerfFilter } from "../wire/mod.ts";
import { filterExpressionCharsMax, membersMax, type SerfConfig, slotQueriesMax } from "./config.ts";

/** Options of `Serf.query()` (Serf's `QueryParam`). */
export interface QueryOptions {
  /** Only these members process the query (`FilterNodes`). */
  filterNodes?: readonly string[];
  /** Only members whose tag values match these regular expressions (`FilterTags`). */
  filterTags?: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** Wait this long for answers; default from cluster size (`DefaultQueryTimeout`). */
  timeoutMs?: number;
  /** Members each responder also relays its answers through (0..255). @default {0} */
  relayFactor?: number;
  /** Ask every member that processes the query to ack (`RequestAck`). @default {false} */
  requestAck?: boolean;
}

/** Why a query was refused, or `"accepted"`. */
export type QueryVerdict = "accepted" | "belowMinimum" | "tooOld" | "duplicate" | "slotFull";

/**
 * The query buffer: the ids seen at each clock value modulo `size` (Serf's `queryBuffer`).
 *
 * @example
 * ```ts
 * const buffer = new QueryBuffer(512);
 * buffer.accept(2, 77, 3, 0); // "accepted"
 * buffer.accept(2, 77, 3, 0); // "duplicate"
 * ```
 */
export class QueryBuffer {
  readonly #slots: Array<{ lamportTime: number; ids: number[] } | undefined>;

  /** @param size slots (Serf's `QueryBuffer`, 512) */
  constructor(size: number) {
    assert(Number.isInteger(size) && size >= 1, `Cannot create query buffer: size "${size}"`);
    this.#slots = new Array(size).fill(undefined);
  }

  /** Records (clock, id) if new; `clockTime` is the query clock after witnessing. */
  accept(lamportTime: number, id: number, clockTime: number, minimumTime: number): QueryVerdict {
    if (lamportTime < minimumTime) return "belowMinimum";
    const size = this.#slots.length;
    if (clockTime > size && lamportTime < clockTime - size) return "tooOld";
    const index = lamportTime % size;
    let slot = this.#slots[index];
    if (slot !== undefined && slot.lamportTime === lamportTime) {
      if (slot.ids.includes(id)) return "duplicate";
      if (slot.ids.length >= slotQueriesMax) return "slotFull";
    } else {
      slot = { lamportTime, ids: [] };
      this.#slots[index] = slot;
    }
    slot.ids.push(id);
    return "accepted";
  }
}

/** Encodes `options`' filters as Serf's `encodeFilters` (nodes first, then tags). */
export function encodeQueryFilters(options: QueryOptions): Uint8Array[] | undefined {
  const filters: SerfFilter[] = [];
  if (options.filterNodes !== undefined && options.filterNodes.length > 0) {
    filters.push({ type: "node", nodes: [...options.filterNodes] });
  }
  const tags = options.filterTags instanceof Map
    ? [...options.filterTags]
    : Object.entries(options.filterTags ?? {});
  for (const [tag, expression] of tags) filters.push({ type: "tag", tag, expression });
  return filters.length === 0 ? undefined : filters.map(encodeFilter);
}

/**
 * Whether a member named `name` with `tags` processes a query with these encoded filters
 * (Serf's `shouldProcessQuery`): every filter must match; a malformed filter or an invalid
 * regular expression matches nothing. Tag expressions are unanchored, as Go's
 * `regexp.MatchString`, and a missing tag is the empty string.
 */
export function queryFiltersMatch(
  filters: readonly Uint8Array[] | undefined,
  name: string,
  tags: ReadonlyMap<string, string>,
): boolean {
  for (const bytes of filters ?? []) {
    let filter: SerfFilter;
    try {
      filter = decodeFilter(bytes);
    } catch {
      return false;
    }
    if (filter.type === "node") {
      if (!filter.nodes.includes(name)) return false;
    } else if (!tagMatches(filter.expression, tags.get(filter.tag) ?? "")) {
      return false;
    }
  }
  return true;
}

function tagMatches(expression: string, value: string): boolean {
  // Go compiles RE2, which never backtracks; JavaScript's engine can, so long expressions
  // from a peer are refused rather than risk a slow match.
  if (expression.length > filterExpressionCharsMax) return false;
  try {
    return new RegExp(expression).test(value);
  } catch {
    return false;
  }
}

/**
 * Serf's `DefaultQueryTimeout`: gossip interval × `queryTimeoutMult` × ceil(log10(n + 1)),
 * 3.2 s on a LAN of up to 9 members.
 *
 * @param memberCount alive members, ourselves included
 */
export function defaultQueryTimeoutMs(config: SerfConfig, memberCount: number): number {
  const scale = Math.max(1, Math.ceil(Math.log10(memberCount + 1)));
  return config.gossipIntervalMs * config.queryTimeoutMult * scale;
}

/** A query we sent, waiting for acks and responses until `deadlineAtMs`. */
export interface PendingQuery {
  /** Query clock (the key, as Serf's `queryResponse` map). */
  lamportTime: number;
  /** Random id; answers with another id are ignored. */
  id: number;
  /** Query name. */
  name: string;
  /** When the query closes. */
  deadlineAtMs: number;
  /** Members that acked, each counted once. */
  acks: Set<string>;
  /** Members that responded, each counted once, with their payloads. */
  responses: Map<string, Uint8Array | undefined>;
}

/** What an answer to one of our queries amounts to. */
export type AnswerVerdict = "ack" | "response" | "ignored";

/** Records an ack or response in `query` once per member (Serf's `handleQueryResponse`). */
export function recordAnswer(
  query: PendingQuery,
  answer: { from: string; ack: boolean; payload: Uint8Array | undefined },
): AnswerVerdict {
  const seen = answer.ack ? query.acks : query.responses;
  if (seen.has(answer.from) || seen.size >= membersMax) return "ignored";
  if (answer.ack) {
    query.acks.add(answer.from);
    return "ack";
  }
  query.responses.set(answer.from, answer.payload);
  return "response";
}
