/**
 * Query-string options shared by Consul's endpoints: flags that count when present with any
 * value (`?recurse`, `?pretty`), numbers, consistency modes, and the datacenter check.
 *
 * @module
 */

import { parseGoDurationMs } from "../core/go_duration.ts";
import { badRequest, HttpError } from "./http_error.ts";
import { parseUint64 } from "./json_output.ts";

/** The parsed query string of one request. */
export class QueryOptions {
  readonly #params: URLSearchParams;

  constructor(url: URL) {
    this.#params = url.searchParams;
  }

  /** True when `name` is present, whatever its value, except an explicit "false" or "0". */
  flag(name: string): boolean {
    const value = this.#params.get(name);
    if (value === null) return false;
    return value !== "false" && value !== "0";
  }

  /** The value of `name`, or `undefined`. */
  string(name: string): string | undefined {
    return this.#params.get(name) ?? undefined;
  }

  /** Every value of a repeatable parameter. */
  all(name: string): string[] {
    return this.#params.getAll(name);
  }

  /** A non-negative integer parameter; garbage is a 400 saying which. */
  integer(name: string, label = name): number | undefined {
    const value = this.#params.get(name);
    if (value === null || value === "") return undefined;
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
      throw badRequest(`Invalid ${label}: "${value}" is not a non-negative integer`);
    }
    return Number(value);
  }

  /** A uint64 parameter (KV flags): exact, a bigint above 2^53 - 1; garbage is a 400. */
  uint64(name: string): number | bigint | undefined {
    const value = this.#params.get(name);
    if (value === null || value === "") return undefined;
    const parsed = parseUint64(value);
    if (parsed === undefined) {
      throw badRequest(`Invalid ${name}: "${value}" is not an unsigned 64-bit integer`);
    }
    return parsed;
  }

  /** A Go duration parameter in milliseconds; garbage is a 400 with `message`. */
  duration(name: string, message: string): number | undefined {
    const value = this.#params.get(name);
    if (value === null || value === "") return undefined;
    try {
      return parseGoDurationMs(value);
    } catch {
      throw badRequest(message);
    }
  }

  /** The consistency mode; `?stale` with `?consistent` is a 400, as Consul answers. */
  consistency(): "default" | "stale" | "consistent" {
    const stale = this.#params.has("stale");
    const consistent = this.#params.has("consistent");
    if (stale && consistent) {
      throw badRequest("Cannot specify ?stale with ?consistent, conflicting semantics.");
    }
    return stale ? "stale" : consistent ? "consistent" : "default";
  }

  /** Refuses any datacenter but `local`: there is no path to others yet. */
  checkDatacenter(local: string): void {
    const dc = this.#params.get("dc");
    if (dc === null || dc === "" || dc === local) return;
    throw new HttpError(500, `No path to datacenter`);
  }
}
