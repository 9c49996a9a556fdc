/**
 * Leveled log lines on stderr, as text (`2026-11-22T03:50:00.000Z [INFO]  agent: message`) or as
 * JSON lines (`-log-json`).
 *
 * @module
 */

import type { Runtime } from "../runtime.ts";
import type { LogLevel } from "./config.ts";

const levels: LogLevel[] = ["trace", "debug", "info", "warn", "error"];

/** Writes log lines at or above a level. */
export class Logger {
  readonly #runtime: Pick<Runtime, "clock" | "writeStderr">;
  readonly #minimum: number;
  readonly #json: boolean;

  constructor(runtime: Pick<Runtime, "clock" | "writeStderr">, level: LogLevel, json: boolean) {
    this.#runtime = runtime;
    this.#minimum = levels.indexOf(level);
    this.#json = json;
  }

  debug(message: string): void {
    this.#write("debug", message);
  }

  info(message: string): void {
    this.#write("info", message);
  }

  warn(message: string): void {
    this.#write("warn", message);
  }

  error(message: string): void {
    this.#write("error", message);
  }

  #write(level: LogLevel, message: string): void {
    if (levels.indexOf(level) < this.#minimum) return;
    const time = new Date(this.#runtime.clock.wallMs()).toISOString();
    const line = this.#json
      ? JSON.stringify({
        "@timestamp": time,
        "@level": level,
        "@module": "agent",
        "@message": message,
      })
      : `${time} [${level.toUpperCase()}] agent: ${message}`;
    this.#runtime.writeStderr(`${line}\n`);
  }
}
