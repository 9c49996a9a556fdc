/**
 * Go duration strings ("10s", "1m30s", "500ms", "1.5h"), which Consul's API uses for TTLs, waits
 * and intervals. Parsed to and formatted from milliseconds.
 *
 * @module
 */

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const partPattern = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Go duration to milliseconds; throws `SyntaxError` naming the text when it is not one.
 *
 * @param text e.g. "15s", "1m30s", "0"
 * @returns milliseconds (fractions of a millisecond kept)
 * @example parseGoDurationMs("1m30s") // 90000
 */
export function parseGoDurationMs(text: string): number {
  let rest = text.trim();
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest.startsWith("-") ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw new SyntaxError(`Cannot parse duration "${text}": it is empty`);
  let totalMs = 0;
  partPattern.lastIndex = 0;
  while (partPattern.lastIndex < rest.length) {
    const at = partPattern.lastIndex;
    const match = partPattern.exec(rest);
    if (match === null) {
      throw new SyntaxError(
        `Cannot parse duration "${text}": expected a number and a unit (ns, us, ms, s, m, h) at "${
          rest.slice(at)
        }"`,
      );
    }
    totalMs += Number(match[1]) * unitMs[match[2]];
  }
  return sign * totalMs;
}

/**
 * Formats milliseconds as Go prints a `time.Duration` ("1m30s", "500ms", "0s").
 *
 * @param ms milliseconds
 * @returns the Go duration string
 */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  if (rest < 1) return `${sign}${trimNumber(rest * 1_000)}µs`;
  if (rest < 1_000) return `${sign}${trimNumber(rest)}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = trimNumber(rest / 1_000);
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

function trimNumber(value: number): string {
  return String(Number(value.toFixed(9)));
}
