/**
 * Picks the {@link Runtime} for the runtime running this code, by feature detection, and loads
 * only that adapter. Entry points (`mod.ts`, the CLI's main) call {@link detectRuntime}; nothing
 * else imports `runtimes/`.
 *
 * @example
 * ```ts
 * import { detectRuntime } from "./mod.ts";
 *
 * const runtime = await detectRuntime();
 * runtime.writeStdout(`running on ${runtime.name}\n`);
 * ```
 *
 * @module
 */

import type { Runtime } from "../src/runtime.ts";

/**
 * Returns the Runtime for Deno, Bun or Node, whichever is running this code.
 *
 * @returns a new runtime
 */
export async function detectRuntime(): Promise<Runtime> {
  const globals = globalThis as { Deno?: unknown; Bun?: unknown };
  if (typeof globals.Deno === "object") {
    const { createDenoRuntime } = await import("./deno.ts");
    return createDenoRuntime();
  }
  if (typeof globals.Bun === "object") {
    const { createBunRuntime } = await import("./bun.ts");
    return createBunRuntime();
  }
  const { createNodeRuntime } = await import("./node.ts");
  return createNodeRuntime();
}
