/**
 * The simulations' event queue: a binary min-heap ordered by virtual time, ties broken by
 * insertion order so every run of one seed replays in exactly the same order.
 */

/** An event with the virtual time it is due. */
export interface Timed<E> {
  at: number;
  seq: number;
  event: E;
}

/** A min-heap of events by (time, insertion order). */
export class EventQueue<E> {
  readonly #heap: Timed<E>[] = [];
  #seq = 0;

  /** Number of queued events. */
  get size(): number {
    return this.#heap.length;
  }

  /** Queues `event` at virtual time `at`. */
  push(at: number, event: E): void {
    const heap = this.#heap;
    heap.push({ at, seq: this.#seq++, event });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  /** The earliest due time, or Infinity when empty. */
  peekAt(): number {
    return this.#heap.length === 0 ? Infinity : this.#heap[0].at;
  }

  /** The earliest event without removing it. */
  peek(): E | undefined {
    return this.#heap[0]?.event;
  }

  /** Removes and returns the earliest event. */
  pop(): Timed<E> | undefined {
    const heap = this.#heap;
    if (heap.length === 0) return undefined;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && less(heap[left], heap[smallest])) smallest = left;
        if (right < heap.length && less(heap[right], heap[smallest])) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
        i = smallest;
      }
    }
    return top;
  }
}

function less<E>(a: Timed<E>, b: Timed<E>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
