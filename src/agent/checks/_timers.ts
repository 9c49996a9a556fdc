/**
 * Timers longer than a runtime's `setTimeout` allows (2^31 - 1 ms, about 24.8 days): a TTL or an
 * interval may be longer. Private to `src/agent/checks`.
 *
 * @module
 */

import type { TimerHandle, Timers } from "../../runtime.ts";

/**
 * The longest delay to hand a Runtime call that takes a timeout (`dial`, `run`): every
 * runtime's `setTimeout` limit. Longer timeouts are clamped to it (about 24.8 days).
 */
export const RUNTIME_TIMEOUT_MS_MAX = 2_147_483_647;

/** The longest single step; below every runtime's `setTimeout` limit. */
const STEP_MS_MAX = 2 ** 30;

/**
 * Calls `fire` once after `delayMs`, in steps of at most {@link STEP_MS_MAX}.
 *
 * @param timers the Runtime's timers (unref'd)
 * @param delayMs any finite delay
 * @param fire the callback
 * @returns a handle that cancels whichever step is pending
 */
export function afterLong(timers: Timers, delayMs: number, fire: () => void): TimerHandle {
  let pending: TimerHandle;
  const step = (remainingMs: number) => {
    pending = remainingMs > STEP_MS_MAX
      ? timers.after(STEP_MS_MAX, () => step(remainingMs - STEP_MS_MAX))
      : timers.after(remainingMs, fire);
  };
  step(delayMs);
  return { cancel: () => pending.cancel() };
}
