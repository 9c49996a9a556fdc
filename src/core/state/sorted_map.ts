/**
 * A string-keyed map that also keeps its keys in sorted order, for prefix scans of the KV store.
 *
 * @module
 */

/** Map with ordered prefix iteration. Insert and delete are O(log n + n) (array splice). */
export class SortedMap<V> {
  readonly #values = new Map<string, V>();
  readonly #keys: string[] = [];

  /** Number of entries. */
  get size(): number {
    return this.#keys.length;
  }

  get(key: string): V | undefined {
    return this.#values.get(key);
  }

  has(key: string): boolean {
    return this.#values.has(key);
  }

  set(key: string, value: V): void {
    if (!this.#values.has(key)) this.#keys.splice(this.#lowerBound(key), 0, key);
    this.#values.set(key, value);
  }

  delete(key: string): boolean {
    if (!this.#values.delete(key)) return false;
    this.#keys.splice(this.#lowerBound(key), 1);
    return true;
  }

  /** Keys starting with `prefix`, in order. */
  *keysWithPrefix(prefix: string): IterableIterator<string> {
    for (let i = this.#lowerBound(prefix); i < this.#keys.length; i += 1) {
      const key = this.#keys[i];
      if (!key.startsWith(prefix)) return;
      yield key;
    }
  }

  /** Entries whose key starts with `prefix`, in key order. */
  *entriesWithPrefix(prefix: string): IterableIterator<[string, V]> {
    for (const key of this.keysWithPrefix(prefix)) yield [key, this.#values.get(key) as V];
  }

  /** Every entry in key order. */
  entries(): IterableIterator<[string, V]> {
    return this.entriesWithPrefix("");
  }

  /** Removes everything. */
  clear(): void {
    this.#values.clear();
    this.#keys.length = 0;
  }

  #lowerBound(key: string): number {
    let low = 0;
    let high = this.#keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#keys[middle] < key) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
