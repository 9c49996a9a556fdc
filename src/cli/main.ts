/**
 * The `cairn` executable: picks the runtime it runs on, runs the command line and exits with its
 * code. Nothing is exported (Bun would serve a default export), and no logic lives here: see
 * `cli.ts`.
 *
 * @module
 */

import { detectRuntime } from "../../runtimes/mod.ts";
import { runCli } from "./cli.ts";

// On Bun, make JavaScriptCore 10 times more reluctant to JIT-compile (Bun.unsafe.setJITPolicy):
// an agent runs much code once at start-up and, idle, only its timers; with the normal policy
// both tier up into the optimizing JIT, which costs ~4 MiB of idle RSS (docs/benchmarks.md, edge
// footprint). Code that is hot under load still compiles, after more runs. Only here, where cairn
// owns the process: an application embedding cairn keeps its own policy.
(globalThis as { Bun?: { unsafe?: { setJITPolicy?: (scale: number) => void } } }).Bun?.unsafe
  ?.setJITPolicy?.(10);

const runtime = await detectRuntime();
runtime.exit(await runCli(runtime, runtime.args()));
