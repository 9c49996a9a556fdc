// Goal: a tiny synchronous network of Raft cores for unit tests. Method: every `ready()` is
// handled at once (persist is a no-op here: these tests do not crash), its messages are queued
// and delivered in order unless a link is cut; `settle()` runs until nothing moves.

import { Raft } from "../../../src/core/raft/raft.ts";
import type { RaftConfig } from "../../../src/core/raft/config.ts";
import { defaultRaftConfig } from "../../../src/core/raft/config.ts";
import type { Entry, Message } from "../../../src/core/raft/messages.ts";
import type { ReadState } from "../../../src/core/raft/ready.ts";
import { SeededRandom } from "../../../src/core/random.ts";

/** A synchronous test network of Raft servers. */
export class Harness {
  readonly servers = new Map<string, Raft>();
  readonly applied = new Map<string, Entry[]>();
  readonly readStates = new Map<string, ReadState[]>();
  readonly cut = new Set<string>();
  readonly #queue: Message[] = [];
  /** Messages of these types are dropped (to test one rule at a time). */
  readonly dropTypes = new Set<Message["type"]>();

  constructor(ids: string[], config: Partial<RaftConfig> = {}, seed = 1) {
    const random = new SeededRandom(seed);
    for (const id of ids) this.add(id, ids, config, random.fork().nextUint32());
  }

  /** Adds a server; `voters` bootstraps it, an empty list makes it a joiner. */
  add(id: string, voters: string[], config: Partial<RaftConfig> = {}, seed = 7): Raft {
    const raft = new Raft({
      id,
      random: new SeededRandom(seed),
      config: { ...defaultRaftConfig(), ...config },
      bootstrapVoters: voters.length > 0 ? voters : undefined,
    });
    this.servers.set(id, raft);
    this.applied.set(id, []);
    this.readStates.set(id, []);
    return raft;
  }

  get(id: string): Raft {
    return this.servers.get(id)!;
  }

  /** Cuts both directions between `a` and `b`. */
  isolate(id: string): void {
    for (const other of this.servers.keys()) {
      if (other !== id) this.cut.add(`${id}>${other}`).add(`${other}>${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Handles every server's Ready and delivers messages until quiet. */
  settle(stepMax = 10_000): void {
    for (let step = 0; step < stepMax; step += 1) {
      let moved = false;
      for (const [id, raft] of this.servers) {
        if (!raft.hasReady()) continue;
        moved = true;
        const ready = raft.ready();
        this.#queue.push(...ready.messagesToSend);
        this.applied.get(id)!.push(...ready.committedEntries);
        this.readStates.get(id)!.push(...ready.readStates);
        raft.advance();
      }
      const message = this.#queue.shift();
      if (message !== undefined) {
        moved = true;
        const to = this.servers.get(message.to);
        const blocked = this.cut.has(`${message.from}>${message.to}`) ||
          this.dropTypes.has(message.type);
        if (to !== undefined && !blocked) to.step(message);
      }
      if (!moved) return;
    }
    throw new Error("Cannot settle the harness: still busy after stepMax steps");
  }

  /** Ticks every server `count` times, settling after each tick. */
  tick(count: number, only?: string[]): void {
    for (let i = 0; i < count; i += 1) {
      for (const [id, raft] of this.servers) {
        if (only === undefined || only.includes(id)) raft.tick();
      }
      this.settle();
    }
  }

  /** The servers that think they lead. */
  leaders(): string[] {
    return [...this.servers].filter(([, raft]) => raft.role === "leader").map(([id]) => id);
  }

  /** Ticks until a leader exists; returns it. */
  elect(tickMax = 200): string {
    for (let i = 0; i < tickMax; i += 1) {
      const leaders = this.leaders();
      if (
        leaders.length === 1 && this.get(leaders[0]).commitIndex === this.get(leaders[0]).lastIndex
      ) {
        return leaders[0];
      }
      this.tick(1);
    }
    throw new Error("Cannot elect a leader: none after tickMax ticks");
  }
}

/** Encodes text as entry data. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
