/**
 * The time-driven work only the leader does, as on Consul's leader: expire sessions at
 * `sessionTtlMultiplier` × their TTL (proposing `sessionDestroy`), and reap tombstones once
 * they are older than `tombstoneTtlMs` (proposing `tombstoneReap`). It reads the state store,
 * and writes only by proposing, so every replica applies the same commands.
 *
 * The Raft server calls `start()` when it becomes leader (arming a fresh TTL for every session,
 * as Consul's `initializeSessionTimers` does), `afterApply()` for each applied command while it
 * leads, and `stop()` when it loses leadership or shuts down.
 *
 * @module
 */

import type { ApplyResult, Command } from "../core/state/commands.ts";
import type { StateStore } from "../core/state/state_store.ts";
import type { Runtime, TimerHandle } from "../runtime.ts";
import type { Proposal } from "./proposal.ts";

/** Tuning of leader duties. Durations are milliseconds. */
export interface LeaderDutiesConfig {
  /** Sessions expire at this many times their TTL (Consul's SessionTTLMultiplier). @default {2} */
  sessionTtlMultiplier: number;
  /** Deleted keys keep a tombstone this long. @default {15 min} (Consul's TombstoneTTL) */
  tombstoneTtlMs: number;
  /** How often tombstones are reaped. @default {30 s} (Consul's granularity) */
  tombstoneReapIntervalMs: number;
  /** Tombstone marks kept while waiting for their TTL; older marks merge. @default {64} */
  tombstoneMarksMax: number;
}

/** Consul's defaults. */
export function defaultLeaderDutiesConfig(): LeaderDutiesConfig {
  return {
    sessionTtlMultiplier: 2,
    tombstoneTtlMs: 15 * 60_000,
    tombstoneReapIntervalMs: 30_000,
    tombstoneMarksMax: 64,
  };
}

/** Session TTL timers and tombstone reaping for the leader. */
export class LeaderDuties {
  readonly #runtime: Runtime;
  readonly #store: StateStore;
  readonly #propose: (proposal: Proposal) => Promise<ApplyResult>;
  readonly #config: LeaderDutiesConfig;
  readonly #sessionTimers = new Map<string, TimerHandle>();
  readonly #tombstoneMarks: { index: number; atMs: number }[] = [];
  #reapTimer: TimerHandle | undefined;

  /**
   * @param runtime clock and timers
   * @param options the store to watch, how to propose, and the tuning
   */
  constructor(
    runtime: Runtime,
    options: {
      store: StateStore;
      propose: (proposal: Proposal) => Promise<ApplyResult>;
      config: LeaderDutiesConfig;
    },
  ) {
    this.#runtime = runtime;
    this.#store = options.store;
    this.#propose = options.propose;
    this.#config = options.config;
  }

  /** True between `start()` and `stop()`. */
  get active(): boolean {
    return this.#reapTimer !== undefined;
  }

  /**
   * Takes up the duties: every session with a TTL gets a full TTL from now (a new leader does
   * not know when the old one last saw a renewal), and tombstones already present start their
   * TTL now.
   */
  start(): void {
    if (this.active) return;
    this.#reapTimer = this.#runtime.timers.every(
      this.#config.tombstoneReapIntervalMs,
      () => this.#reap(),
    );
    for (const session of this.#store.sessionList().value) {
      this.#armSessionTimer(session.id, session.ttlMs);
    }
    if (this.#store.indexOf("tombstones") > 0) this.#markTombstones();
  }

  /** Drops every timer and mark; `start()` may follow. */
  stop(): void {
    this.#reapTimer?.cancel();
    this.#reapTimer = undefined;
    for (const timer of this.#sessionTimers.values()) timer.cancel();
    this.#sessionTimers.clear();
    this.#tombstoneMarks.length = 0;
  }

  /**
   * Follows one applied command: arms a created session's timer, drops the timers of sessions
   * that are gone, and marks new tombstones.
   *
   * @param command the command applied
   * @param result its result
   */
  afterApply(command: Command, result: ApplyResult): void {
    if (!this.active) return;
    if (command.type === "sessionCreate" && result.ok) {
      this.#armSessionTimer(command.session.id, command.session.ttlMs);
    }
    // A restore brings its own sessions: each gets a fresh TTL countdown, as at election.
    if (command.type === "restore" && result.ok) {
      for (const session of this.#store.sessionList().value) {
        if (!this.#sessionTimers.has(session.id)) this.#armSessionTimer(session.id, session.ttlMs);
      }
    }
    // Any session may be gone now (destroyed, or invalidated by a check or node change).
    for (const id of [...this.#sessionTimers.keys()]) {
      if (this.#store.session(id).value.length === 0) {
        this.#sessionTimers.get(id)?.cancel();
        this.#sessionTimers.delete(id);
      }
    }
    if (this.#store.indexOf("tombstones") === this.#store.lastIndex) this.#markTombstones();
  }

  /**
   * Restarts a session's TTL countdown.
   *
   * @param id the session
   * @returns false when the session does not exist
   */
  renewSession(id: string): boolean {
    const session = this.#store.session(id).value[0];
    if (session === undefined) return false;
    if (this.active) this.#armSessionTimer(id, session.ttlMs);
    return true;
  }

  #armSessionTimer(id: string, ttlMs: number): void {
    this.#sessionTimers.get(id)?.cancel();
    this.#sessionTimers.delete(id);
    if (ttlMs <= 0) return;
    const timer = this.#runtime.timers.after(ttlMs * this.#config.sessionTtlMultiplier, () => {
      this.#sessionTimers.delete(id);
      void this.#propose({ type: "sessionDestroy", id });
    });
    this.#sessionTimers.set(id, timer);
  }

  #markTombstones(): void {
    const marks = this.#tombstoneMarks;
    const mark = { index: this.#store.lastIndex, atMs: this.#runtime.clock.monotonicMs() };
    const last = marks.at(-1);
    // Marks within one reap interval merge: reaping is that coarse anyway.
    if (last !== undefined && mark.atMs - last.atMs < this.#config.tombstoneReapIntervalMs) {
      last.index = mark.index;
      return;
    }
    if (marks.length >= this.#config.tombstoneMarksMax) marks.shift();
    marks.push(mark);
  }

  #reap(): void {
    const cutoffMs = this.#runtime.clock.monotonicMs() - this.#config.tombstoneTtlMs;
    let throughIndex = 0;
    while (this.#tombstoneMarks.length > 0 && this.#tombstoneMarks[0].atMs <= cutoffMs) {
      throughIndex = (this.#tombstoneMarks.shift() as { index: number }).index;
    }
    if (throughIndex > 0) void this.#propose({ type: "tombstoneReap", throughIndex });
  }
}
