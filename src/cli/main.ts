/**
 * The `cairn` executable: picks the runtime it runs on, runs the command line and exits with its
 * code. Nothing is exported (Bun would serve a default export), and no logic lives here: see
 * `cli.ts`.
 *
 * @module
 */

import { detectRuntime } from "../../runtimes/mod.ts";
import { runCli } from "./cli.ts";

const runtime = await detectRuntime();
runtime.exit(await runCli(runtime, runtime.args()));
