/**
 * The write-ahead log's cache of its newest entries, private to `src/storage`: the leader sends
 * what it just appended to its followers, so those reads should not touch the disk.
 *
 * @module
 */

/** An entry as the cache holds it (the WAL's `LogEntry`). */
interface CachedEntry {
  index: number;
  term: number;
  data: Uint8Array;
}

/** Bytes charged per cached entry on top of its data: the object, its array slot. */
export const CACHED_ENTRY_OVERHEAD_BYTES = 64;

/**
 * A contiguous run of the newest entries, at most `bytesMax` bytes (data plus overhead); the
 * oldest are evicted first. Always holds at least the newest entry appended.
 */
export class EntryCache {
  readonly #bytesMax: number;
  #entries: CachedEntry[] = [];
  /** Position in `#entries` of the oldest live entry: eviction advances it, O(1). */
  #head = 0;
  #bytes = 0;

  constructor(bytesMax: number) {
    this.#bytesMax = bytesMax;
  }

  /** Bytes the cache holds, data plus overhead. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds entries that follow the newest cached one; otherwise starts the run afresh. */
  append(entries: readonly CachedEntry[]): void {
    if (entries.length === 0) return;
    const newest = this.#entries[this.#entries.length - 1];
    if (this.#head === this.#entries.length || newest.index + 1 !== entries[0].index) {
      this.clear();
    }
    for (const entry of entries) {
      this.#entries.push(entry);
      this.#bytes += entry.data.byteLength + CACHED_ENTRY_OVERHEAD_BYTES;
    }
    this.#evict();
  }

  /** Returns the cached entry at `index`, if any. */
  get(index: number): CachedEntry | undefined {
    if (this.#head === this.#entries.length) return undefined;
    const position = this.#head + index - this.#entries[this.#head].index;
    if (position < this.#head || position >= this.#entries.length) return undefined;
    return this.#entries[position];
  }

  /** Drops cached entries after `index`. */
  truncateAfter(index: number): void {
    while (this.#entries.length > this.#head) {
      const newest = this.#entries[this.#entries.length - 1];
      if (newest.index <= index) break;
      this.#entries.pop();
      this.#bytes -= newest.data.byteLength + CACHED_ENTRY_OVERHEAD_BYTES;
    }
    if (this.#head === this.#entries.length) this.clear();
  }

  /** Drops everything. */
  clear(): void {
    this.#entries = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #evict(): void {
    while (this.#bytes > this.#bytesMax && this.#entries.length - this.#head > 1) {
      const oldest = this.#entries[this.#head];
      this.#entries[this.#head] = undefined as unknown as CachedEntry;
      this.#head += 1;
      this.#bytes -= oldest.data.byteLength + CACHED_ENTRY_OVERHEAD_BYTES;
    }
    // Reclaim the evicted slots once they are half the array, so the array stays bounded.
    if (this.#head > 1_024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }
}
