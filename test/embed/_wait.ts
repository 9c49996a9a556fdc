/**
 * Bounded waiting for the embedding tests: poll a condition until it holds or a deadline passes.
 * Private to test/embed; imports nothing from the source tree (see `_cairn.ts`).
 *
 * @module
 */

/**
 * Resolves once `condition()` is true; rejects after `timeoutMs` with `what` in the message.
 *
 * @param what what is awaited, for the error
 * @param condition checked every 10 ms
 * @param timeoutMs the deadline
 */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) {
      throw new Error(`Cannot finish waiting for ${what}: ${timeoutMs} ms passed`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Resolves after `ms` milliseconds.
 *
 * @param ms how long
 */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
