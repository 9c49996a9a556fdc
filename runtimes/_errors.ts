/**
 * Error helpers shared by the adapters: one message shape, "Cannot <action>: <reason>", with the
 * native error kept as `cause` so callers can still read its `code` (`ENOENT`, `ECONNREFUSED`).
 *
 * @module
 */

import type { Address } from "../src/runtime.ts";

/**
 * Formats an address as `host:port`, with brackets around an IPv6 host.
 *
 * @param address the address to format
 * @returns the text, e.g. `127.0.0.1:8500` or `[::1]:8500`
 */
export function formatAddress(address: Address): string {
  return address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/**
 * Wraps a native error as `Error("Cannot <action>: <reason>")` with the native error as `cause`.
 * A `TypeError` or `RangeError` is a caller's mistake and is returned unchanged.
 *
 * @param action what was attempted, e.g. `connect to 127.0.0.1:8300`
 * @param error what the runtime threw
 * @returns the error to throw or reject with
 */
export function operationError(action: string, error: unknown): Error {
  if (error instanceof TypeError || error instanceof RangeError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new Error(`Cannot ${action}: ${reason}`, { cause: error });
}

/**
 * Returns the `code` of a Node-style system error (`ENOENT`), or `undefined`.
 *
 * @param error what the runtime threw
 * @returns the code, if there is one
 */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Runs `body` synchronously and turns its result or error into a settled promise, so that
 * synchronous native calls can sit behind the Runtime's promise-returning methods.
 *
 * @param action what `body` attempts, for the error message
 * @param body the synchronous work
 * @returns a promise of `body`'s result, rejected with {@link operationError} on failure
 */
export function settle<T>(action: string, body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(operationError(action, error));
  }
}
