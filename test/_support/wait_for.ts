/**
 * Bounded polling for the process and compatibility suites: call an async probe every 200 ms
 * until it returns a value, or fail the test with what was awaited.
 */

import assert from "node:assert/strict";

/**
 * Resolves with the first value `probe` returns (anything but `undefined`).
 *
 * @param what what is awaited, for the failure message
 * @param probe one attempt; `undefined` means "not yet"
 * @param timeoutMs how long to keep trying
 * @param describeLast extra text for the failure message (e.g. the last state seen)
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  describeLast: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      assert.fail(`Cannot wait longer for ${what} (${timeoutMs} ms)${describeLast()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
