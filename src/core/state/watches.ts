/**
 * Watch sets that wake blocking queries. A query registers the topics its answer depends on;
 * after a command is applied, the store fires the topics it touched and every waiter on one of
 * them is called once and forgotten (memdb WatchSet semantics: a wake-up means "look again").
 *
 * Topics are strings: a table ("nodes"), a service ("service:web"), a node ("node:n1"), a session
 * ("session:<id>"), an exact KV key ("kv:<key>"). KV prefixes are their own kind: a waiter on a
 * prefix wakes when any key under it changes.
 *
 * @module
 */

/** A registered waiter; cancel it when the query ends for another reason (timeout). */
export interface WatchHandle {
  cancel(): void;
}

interface Waiter {
  fire: () => void;
  done: boolean;
  topics: string[];
  prefixes: string[];
}

/** Watchers keyed by topic and by KV prefix. */
export class WatchHub {
  readonly #byTopic = new Map<string, Set<Waiter>>();
  readonly #byPrefix = new Map<string, Set<Waiter>>();
  #waiterCount = 0;

  /** How many waiters are registered now. */
  get size(): number {
    return this.#waiterCount;
  }

  /**
   * Calls `fire` once, at the first change of any topic or any key under a prefix.
   *
   * @param topics exact topics
   * @param prefixes KV key prefixes ("" is the whole store)
   * @param fire the wake-up
   */
  watch(topics: string[], prefixes: string[], fire: () => void): WatchHandle {
    const waiter: Waiter = { fire, done: false, topics, prefixes };
    for (const topic of topics) addTo(this.#byTopic, topic, waiter);
    for (const prefix of prefixes) addTo(this.#byPrefix, prefix, waiter);
    this.#waiterCount += 1;
    return { cancel: () => this.#finish(waiter) };
  }

  /** Wakes the waiters of `topics` and of prefixes of `kvKeys`. */
  fire(topics: Iterable<string>, kvKeys: Iterable<string>): void {
    const woken: Waiter[] = [];
    for (const topic of topics) collect(this.#byTopic.get(topic), woken);
    if (this.#byPrefix.size > 0) {
      for (const key of kvKeys) this.#collectPrefixes(key, woken);
    }
    for (const waiter of woken) {
      if (waiter.done) continue;
      this.#finish(waiter);
      waiter.fire();
    }
  }

  /** Wakes everyone: used after a snapshot restore, when every answer may have changed. */
  fireAll(): void {
    const woken: Waiter[] = [];
    for (const set of this.#byTopic.values()) collect(set, woken);
    for (const set of this.#byPrefix.values()) collect(set, woken);
    for (const waiter of woken) {
      if (waiter.done) continue;
      this.#finish(waiter);
      waiter.fire();
    }
  }

  #collectPrefixes(key: string, woken: Waiter[]): void {
    // Walk whichever is smaller: the prefixes of the key, or the registered prefixes.
    if (key.length + 1 <= this.#byPrefix.size) {
      for (let end = 0; end <= key.length; end += 1) {
        collect(this.#byPrefix.get(key.slice(0, end)), woken);
      }
      return;
    }
    for (const [prefix, set] of this.#byPrefix) {
      if (key.startsWith(prefix)) collect(set, woken);
    }
  }

  #finish(waiter: Waiter): void {
    if (waiter.done) return;
    waiter.done = true;
    this.#waiterCount -= 1;
    for (const topic of waiter.topics) removeFrom(this.#byTopic, topic, waiter);
    for (const prefix of waiter.prefixes) removeFrom(this.#byPrefix, prefix, waiter);
  }
}

function addTo(map: Map<string, Set<Waiter>>, key: string, waiter: Waiter): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(waiter);
}

function removeFrom(map: Map<string, Set<Waiter>>, key: string, waiter: Waiter): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(waiter);
  if (set.size === 0) map.delete(key);
}

function collect(set: Set<Waiter> | undefined, into: Waiter[]): void {
  if (set === undefined) return;
  for (const waiter of set) into.push(waiter);
}
