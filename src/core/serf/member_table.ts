/**
 * Serf's member table (v0.9.4 `serf/serf.go`: `handleNodeJoin`, `handleNodeLeave`,
 * `handleNodeUpdate`, `handleNodeJoinIntent`, `handleNodeLeaveIntent`, `reap`; gossip-wire.md
 * §11.7). memberlist says who is reachable; join and leave intents, ordered by the member
 * clock, say who meant to leave, which is how Serf tells a graceful leave from a failure.
 *
 * @module
 */

import { decodeTags } from "../wire/mod.ts";
import { membersMax } from "./config.ts";
import { RecentIntents } from "./intents.ts";
import type { MemberEventKind, MemberInfo, MemberlistNode } from "./messages.ts";

/** Serf 0.9.4's `Vsn` when memberlist does not tell: memberlist 1..5 (2), Serf 2..5 (5). */
export const defaultVersions: Uint8Array = Uint8Array.of(1, 5, 2, 2, 5, 5);

/** What a leave intent amounts to. */
export type LeaveVerdict = "ignored" | "rebroadcast" | "refute";

/** Receives member events as the table raises them. */
export type MemberEventSink = (event: MemberEventKind, member: MemberInfo) => void;

/**
 * The members one Serf node knows, with their statuses, plus intents about unknown members.
 *
 * @example
 * ```ts
 * const table = new MemberTable((event, member) => console.log(event, member.name));
 * table.leaveIntent("b", 5, 0, { name: "a", running: true }); // "rebroadcast": kept for later
 * table.nodeJoined({ name: "b", address, port: 7946, meta }, 0); // b arrives "leaving"
 * ```
 */
export class MemberTable {
  readonly #members = new Map<string, MemberInfo>();
  readonly #intents = new RecentIntents();
  readonly #emit: MemberEventSink;
  #dropped = 0;

  /** @param emit called for every member event, in order */
  constructor(emit: MemberEventSink) {
    this.#emit = emit;
  }

  /** Returns the member named `name`, or `undefined`. The record is live; do not mutate. */
  get(name: string): MemberInfo | undefined {
    return this.#members.get(name);
  }

  /** Returns all members, tombstones included, in the order they were first seen. */
  all(): MemberInfo[] {
    return [...this.#members.values()];
  }

  /** Members known, tombstones included. */
  get size(): number {
    return this.#members.size;
  }

  /** Members and intents dropped at their bounds. */
  get dropped(): number {
    return this.#dropped + this.#intents.dropped;
  }

  /** memberlist reports `node` alive (`handleNodeJoin`). */
  nodeJoined(node: MemberlistNode, nowMs: number): void {
    const existing = this.#members.get(node.name);
    if (existing === undefined) return this.#addMember(node, nowMs);
    const previous = existing.status;
    const changed = updateAddressAndTags(existing, node);
    existing.status = "alive";
    existing.leftAtMs = undefined;
    // memberlist reports an alive member again only when it changed; a repeat is an update.
    if (previous !== "alive") this.#emit("join", existing);
    else if (changed) this.#emit("update", existing);
  }

  #addMember(node: MemberlistNode, _nowMs: number): void {
    if (this.#members.size >= membersMax) {
      this.#dropped += 1;
      return;
    }
    const member: MemberInfo = {
      name: node.name,
      address: node.address,
      port: node.port,
      tags: tagsOf(node.meta),
      status: "alive",
      statusLamportTime: 0,
      versions: node.versions ?? defaultVersions,
      leftAtMs: undefined,
    };
    // An intent that overtook memberlist's news applies now (join: its clock; leave: leaving).
    const intent = this.#intents.take(node.name);
    if (intent !== undefined) {
      member.statusLamportTime = intent.lamportTime;
      if (intent.kind === "leave") member.status = "leaving";
    }
    this.#members.set(node.name, member);
    this.#emit("join", member);
  }

  /** memberlist reports new meta or address for `node` (`handleNodeUpdate`). */
  nodeUpdated(node: MemberlistNode): void {
    const member = this.#members.get(node.name);
    if (member === undefined) return;
    if (updateAddressAndTags(member, node)) this.#emit("update", member);
  }

  /** memberlist reports `name` dead or left (`handleNodeLeave`). */
  nodeLeft(name: string, nowMs: number): void {
    const member = this.#members.get(name);
    if (member === undefined) return;
    if (member.status === "leaving") {
      member.status = "left";
      member.leftAtMs = nowMs;
      this.#emit("leave", member);
    } else if (member.status === "alive") {
      // Gone without announcing it: a failure, even if memberlist saw a graceful leave.
      member.status = "failed";
      member.leftAtMs = nowMs;
      this.#emit("failed", member);
    }
  }

  /**
   * Applies a join intent (`handleNodeJoinIntent`; the caller witnessed the clock).
   *
   * @returns whether the intent was new, which is whether to re-gossip it
   */
  joinIntent(name: string, lamportTime: number, nowMs: number): boolean {
    const member = this.#members.get(name);
    if (member === undefined) return this.#intents.upsert(name, "join", lamportTime, nowMs);
    if (lamportTime <= member.statusLamportTime) return false;
    member.statusLamportTime = lamportTime;
    // A leave older than this join no longer holds.
    if (member.status === "leaving") member.status = "alive";
    return true;
  }

  /**
   * Applies a leave intent (`handleNodeLeaveIntent`; the caller witnessed the clock). A leave
   * about ourselves while we run is `"refute"`: the caller answers with a fresh join intent.
   *
   * @param self our name and whether we are running (not leaving)
   * @returns what to do: re-gossip, refute, or nothing
   */
  leaveIntent(
    name: string,
    lamportTime: number,
    nowMs: number,
    self: { name: string; running: boolean },
  ): LeaveVerdict {
    const member = this.#members.get(name);
    if (member === undefined) {
      return this.#intents.upsert(name, "leave", lamportTime, nowMs) ? "rebroadcast" : "ignored";
    }
    if (lamportTime <= member.statusLamportTime) return "ignored";
    if (name === self.name && self.running) return "refute";
    // Recorded even when the status stays, so a repeat of this intent is not re-gossiped.
    member.statusLamportTime = lamportTime;
    switch (member.status) {
      case "alive":
        member.status = "leaving";
        return "rebroadcast";
      case "failed":
        // Forced leave of a failed member: it becomes a tombstone at once.
        member.status = "left";
        this.#emit("leave", member);
        return "rebroadcast";
      default:
        return "rebroadcast";
    }
  }

  /** Erases `name` (a reap or a prune) and raises `reap`. */
  erase(name: string): void {
    const member = this.#members.get(name);
    if (member === undefined) return;
    this.#members.delete(name);
    this.#emit("reap", member);
  }

  /**
   * Erases failed members older than `reconnectTimeoutMs` and left ones older than
   * `tombstoneTimeoutMs`; forgets intents older than `intentTimeoutMs` (Serf's `handleReap`).
   */
  reap(
    nowMs: number,
    timeouts: { reconnectTimeoutMs: number; tombstoneTimeoutMs: number; intentTimeoutMs: number },
  ): void {
    for (const member of [...this.#members.values()]) {
      if (member.leftAtMs === undefined) continue;
      const timeoutMs = member.status === "failed"
        ? timeouts.reconnectTimeoutMs
        : timeouts.tombstoneTimeoutMs;
      if (member.status !== "failed" && member.status !== "left") continue;
      if (nowMs - member.leftAtMs > timeoutMs) this.erase(member.name);
    }
    this.#intents.expire(nowMs, timeouts.intentTimeoutMs);
  }
}

function tagsOf(meta: Uint8Array): Map<string, string> {
  try {
    return decodeTags(meta);
  } catch {
    // Serf logs a bad tag map and carries on with no tags.
    return new Map();
  }
}

function updateAddressAndTags(member: MemberInfo, node: MemberlistNode): boolean {
  const tags = tagsOf(node.meta);
  const changed = member.port !== node.port || !sameBytes(member.address, node.address) ||
    !sameTags(member.tags, tags);
  member.address = node.address;
  member.port = node.port;
  member.tags = tags;
  if (node.versions !== undefined) member.versions = node.versions;
  return changed;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function sameTags(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}
