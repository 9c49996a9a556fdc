/**
 * Assertions that stay on in production (TigerStyle): a failed one is a programmer error and
 * crashes, because continuing would risk wrong data.
 *
 * @module
 */

/** Thrown when an invariant does not hold. Never caught for recovery. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/**
 * Throws {@link AssertionError} with `message` when `condition` is false.
 *
 * @param condition what must hold
 * @param message "Cannot <action>: <state>"
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
