/**
 * A single server fed by a local command log: the dev-mode stand-in for Raft. Every write is a
 * {@link Command} stamped with the proposer's wall time, given the next log index, and applied
 * through `StateStore.apply`, the same path Raft will feed. Leader duties that depend on time
 * (session TTLs, tombstone reaping) live here, as on Consul's leader.
 *
 * @module
 */

import type { ApplyResult, Command } from "../core/state/commands.ts";
import { StateStore } from "../core/state/state_store.ts";
import type { Runtime, TimerHandle } from "../runtime.ts";

/** A command before the server stamps it with the time. */
export type Proposal = Command extends infer C ? C extends Command ? Omit<C, "atMs"> : never
  : never;

/** Tuning of leader duties. Durations are milliseconds. */
export interface LocalServerConfig {
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
export function defaultLocalServerConfig(): LocalServerConfig {
  return {
    sessionTtlMultiplier: 2,
    tombstoneTtlMs: 15 * 60_000,
    tombstoneReapIntervalMs: 30_000,
    tombstoneMarksMax: 64,
  };
}

/** The one server of a dev agent: always the leader. */
export class LocalServer {
  readonly store: StateStore = new StateStore();
  readonly #runtime: Runtime;
  readonly #config: LocalServerConfig;
  readonly #sessionTimers = new Map<string, TimerHandle>();
  readonly #tombstoneMarks: { index: number; atMs: number }[] = [];
  #reapTimer: TimerHandle | undefined;
  #stopped = false;

  constructor(runtime: Runtime, config: LocalServerConfig = defaultLocalServerConfig()) {
    this.#runtime = runtime;
    this.#config = config;
    this.#reapTimer = runtime.timers.every(config.tombstoneReapIntervalMs, () => this.#reap());
  }

  /** True: a local server always leads itself. */
  get isLeader(): boolean {
    return true;
  }

  /** Applies `proposal` at the next index and returns its result. */
  propose(proposal: Proposal): Promise<ApplyResult> {
    if (this.#stopped) {
      return Promise.resolve({ ok: false, error: "No cluster leader", status: 500 });
    }
    const command = { ...proposal, atMs: this.#runtime.clock.wallMs() } as Command;
    const index = this.store.lastIndex + 1;
    const result = this.store.apply(index, command);
    this.#afterApply(command, result);
    return Promise.resolve(result);
  }

  /** Resets the TTL timer of a session; false when the session does not exist. */
  renewSession(id: string): boolean {
    const session = this.store.session(id).value[0];
    if (session === undefined) return false;
    this.#armSessionTimer(id, session.ttlMs);
    return true;
  }

  /** Stops timers; later proposals fail. */
  stop(): void {
    this.#stopped = true;
    this.#reapTimer?.cancel();
    for (const timer of this.#sessionTimers.values()) timer.cancel();
    this.#sessionTimers.clear();
  }

  #afterApply(command: Command, result: ApplyResult): void {
    if (command.type === "sessionCreate" && result.ok) {
      this.#armSessionTimer(command.session.id, command.session.ttlMs);
    }
    // Any session may be gone now (destroyed, or invalidated by a check or node change).
    for (const id of [...this.#sessionTimers.keys()]) {
      if (this.store.session(id).value.length === 0) {
        this.#sessionTimers.get(id)?.cancel();
        this.#sessionTimers.delete(id);
      }
    }
    if (this.store.indexOf("tombstones") === this.store.lastIndex) this.#markTombstones();
  }

  #armSessionTimer(id: string, ttlMs: number): void {
    this.#sessionTimers.get(id)?.cancel();
    this.#sessionTimers.delete(id);
    if (ttlMs <= 0) return;
    const timer = this.#runtime.timers.after(ttlMs * this.#config.sessionTtlMultiplier, () => {
      this.#sessionTimers.delete(id);
      void this.propose({ type: "sessionDestroy", id });
    });
    this.#sessionTimers.set(id, timer);
  }

  #markTombstones(): void {
    const marks = this.#tombstoneMarks;
    const mark = { index: this.store.lastIndex, atMs: this.#runtime.clock.monotonicMs() };
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
    if (throughIndex > 0) void this.propose({ type: "tombstoneReap", throughIndex });
  }
}
