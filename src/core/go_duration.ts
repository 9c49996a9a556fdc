/**
 * Go `time.Duration` text, as Consul's clients send it (`"10s"`, `"1m30s"`, `"500ms"`) and as its
 * API prints it (`Duration.String()`). Parsing follows `time.ParseDuration` and formatting follows
 * `Duration.String()` from Go's `src/time/format.go` and `src/time/time.go`, computed on exact
 * integer nanoseconds so that no unit conversion rounds.
 *
 * @module
 */

/** Nanoseconds per unit, as Go's `unitMap` (both micro signs are accepted, as Go does). */
const NANOSECONDS_PER_UNIT: ReadonlyMap<string, bigint> = new Map([
  ["ns", 1n],
  ["us", 1_000n],
  ["\u00b5s", 1_000n], // U+00B5 micro sign
  ["\u03bcs", 1_000n], // U+03BC Greek small letter mu
  ["ms", 1_000_000n],
  ["s", 1_000_000_000n],
  ["m", 60_000_000_000n],
  ["h", 3_600_000_000_000n],
]);

/** The largest `time.Duration`, 2^63 - 1 ns (about 292 years). */
const DURATION_NANOSECONDS_MAX = (1n << 63n) - 1n;

/** 2^63: the magnitude of Go's most negative duration, and the overflow bound of its parser. */
const INT64_OVERFLOW = 1n << 63n;

/** Duration text longer than this is refused unparsed: Go's own `String()` is at most 25 long. */
const DURATION_TEXT_LENGTH_MAX = 128;

/**
 * Parses Go duration text into nanoseconds, exactly as `time.ParseDuration` accepts it: an
 * optional sign, then one or more decimal numbers each with a unit (`ns`, `us`, `µs`, `ms`, `s`,
 * `m`, `h`), or the bare `"0"`.
 *
 * @param text duration text such as `"1h2m3.5s"`
 * @returns the duration in nanoseconds
 * @throws {RangeError} when `text` is not a Go duration or does not fit in an int64
 */
export function parseGoDurationNs(text: string): bigint {
  if (typeof text !== "string") {
    throw new TypeError(`Cannot parse duration: expected a string, got ${typeof text}`);
  }
  const quoted = JSON.stringify(text.length > DURATION_TEXT_LENGTH_MAX ? text.slice(0, 32) : text);
  if (text.length > DURATION_TEXT_LENGTH_MAX) {
    throw new RangeError(`Cannot parse duration ${quoted}...: longer than 128 characters`);
  }
  let rest = text;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest.startsWith("-");
    rest = rest.slice(1);
  }
  if (rest === "0") return 0n;
  if (rest === "") throw invalidDuration(quoted);
  let totalNs = 0n;
  while (rest !== "") {
    // The same steps, checks and float64 arithmetic as Go's ParseDuration, so that results
    // agree to the nanosecond (fractions of hours are computed in float64 there).
    const whole = /^[0-9]*/.exec(rest)![0];
    rest = rest.slice(whole.length);
    let fraction = "";
    let hasFraction = false;
    if (rest.startsWith(".")) {
      fraction = /^[0-9]*/.exec(rest.slice(1))![0];
      hasFraction = fraction !== "";
      rest = rest.slice(1 + fraction.length);
    }
    if (whole === "" && !hasFraction) throw invalidDuration(quoted);
    const wholeValue = BigInt(whole === "" ? "0" : whole);
    if (wholeValue > INT64_OVERFLOW) throw tooLong(quoted);
    const unitText = /^[^0-9.]*/.exec(rest)![0];
    if (unitText === "") {
      throw new RangeError(`Cannot parse duration ${quoted}: missing unit (ns, us, ms, s, m, h)`);
    }
    const unitNs = NANOSECONDS_PER_UNIT.get(unitText);
    if (unitNs === undefined) {
      throw new RangeError(
        `Cannot parse duration ${quoted}: unknown unit ${JSON.stringify(unitText)} ` +
          "(use ns, us, ms, s, m or h)",
      );
    }
    rest = rest.slice(unitText.length);
    if (wholeValue > INT64_OVERFLOW / unitNs) throw tooLong(quoted);
    let partNs = wholeValue * unitNs;
    const [fractionValue, scale] = leadingFraction(fraction);
    if (fractionValue > 0n) {
      partNs += BigInt(Math.trunc(Number(fractionValue) * (Number(unitNs) / scale)));
      if (partNs > INT64_OVERFLOW) throw tooLong(quoted);
    }
    totalNs += partNs;
    if (totalNs > INT64_OVERFLOW) throw tooLong(quoted);
  }
  if (!negative && totalNs > DURATION_NANOSECONDS_MAX) throw tooLong(quoted);
  return negative ? -totalNs : totalNs;
}

/**
 * Parses Go duration text into milliseconds (fractional below a millisecond: `"1500us"` is 1.5).
 *
 * @param text duration text such as `"10s"`, `"1m30s"` or `"500ms"`
 * @returns the duration in milliseconds
 * @throws {RangeError} when `text` is not a Go duration
 * @example
 * ```ts
 * import { parseGoDurationMs } from "./go_duration.ts";
 * parseGoDurationMs("1m30s"); // 90000
 * ```
 */
export function parseGoDurationMs(text: string): number {
  return nanosecondsToMs(parseGoDurationNs(text));
}

/**
 * Converts a JSON number of nanoseconds (what Go clients send for a `time.Duration`) into
 * milliseconds, truncating toward zero as Go's `time.Duration(float64)` does.
 *
 * @param nanoseconds a finite number of nanoseconds
 * @returns the duration in milliseconds
 * @throws {RangeError} when the number is not finite or does not fit in an int64
 */
export function goDurationNumberToMs(nanoseconds: number): number {
  if (!Number.isFinite(nanoseconds) || Math.abs(nanoseconds) >= 2 ** 63) {
    throw new RangeError(
      `Cannot convert duration ${nanoseconds}: nanoseconds must be a finite int64`,
    );
  }
  return nanosecondsToMs(BigInt(Math.trunc(nanoseconds)));
}

/**
 * Formats milliseconds as Go's `Duration.String()` does: `"0s"`, `"1.5ms"`, `"10s"`,
 * `"1m30s"`, `"1h0m0s"`. Parts below a nanosecond are rounded to the nearest one.
 *
 * @param ms a finite duration in milliseconds
 * @returns the Go duration text
 * @throws {RangeError} when `ms` is not finite or beyond Go's range
 * @example
 * ```ts
 * import { formatGoDuration } from "./go_duration.ts";
 * formatGoDuration(90_000); // "1m30s"
 * ```
 */
export function formatGoDuration(ms: number): string {
  if (!Number.isFinite(ms)) {
    throw new RangeError(`Cannot format duration: ${ms} milliseconds is not finite`);
  }
  const ns = msToNs(ms);
  if (ns > DURATION_NANOSECONDS_MAX || ns < -DURATION_NANOSECONDS_MAX - 1n) {
    throw new RangeError(`Cannot format duration: ${ms} milliseconds is beyond Go's ~292 years`);
  }
  return formatGoDurationNs(ns);
}

/**
 * Formats nanoseconds as Go's `Duration.String()` does.
 *
 * @param ns a duration in nanoseconds, within int64
 * @returns the Go duration text
 */
export function formatGoDurationNs(ns: bigint): string {
  if (ns === 0n) return "0s";
  const sign = ns < 0n ? "-" : "";
  const u = ns < 0n ? -ns : ns;
  if (u < 1_000n) return `${sign}${u}ns`;
  if (u < 1_000_000n) return `${sign}${withFraction(u, 3)}\u00b5s`;
  if (u < 1_000_000_000n) return `${sign}${withFraction(u, 6)}ms`;
  const totalSeconds = u / 1_000_000_000n;
  const seconds = withFraction(totalSeconds % 60n * 1_000_000_000n + u % 1_000_000_000n, 9);
  const totalMinutes = totalSeconds / 60n;
  if (totalMinutes === 0n) return `${sign}${seconds}s`;
  const hours = totalMinutes / 60n;
  const minutes = totalMinutes % 60n;
  return hours === 0n ? `${sign}${minutes}m${seconds}s` : `${sign}${hours}h${minutes}m${seconds}s`;
}

/** `value / 10^digits` in decimal without trailing zeros (nor a bare point), as Go's fmtFrac. */
function withFraction(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const fraction = (value % scale).toString().padStart(digits, "0").replace(/0+$/, "");
  const whole = (value / scale).toString();
  return fraction === "" ? whole : `${whole}.${fraction}`;
}

// Conversions go through decimal text, not floating-point arithmetic: `Number(text)` is correctly
// rounded and `String(number)` is the shortest text that reads back the same, which makes
// format(parse(format(parse(text)))) equal format(parse(text)) for every duration.
function nanosecondsToMs(ns: bigint): number {
  const sign = ns < 0n ? "-" : "";
  const magnitude = ns < 0n ? -ns : ns;
  const fraction = (magnitude % 1_000_000n).toString().padStart(6, "0");
  return Number(`${sign}${magnitude / 1_000_000n}.${fraction}`);
}

function msToNs(ms: number): bigint {
  const parts = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:e([-+][0-9]+))?$/.exec(String(ms));
  if (parts === null) throw new RangeError(`Cannot format duration: ${ms} is not a number`);
  const [, sign, wholeDigits, fractionDigits = "", exponent = "0"] = parts;
  // The text is digits × 10^(exponent - fraction length) ms, and 1 ms is 10^6 ns.
  const digits = BigInt(wholeDigits + fractionDigits);
  const power = Number(exponent) - fractionDigits.length + 6;
  let ns: bigint;
  if (power >= 0) {
    ns = digits * 10n ** BigInt(power);
  } else {
    const scale = 10n ** BigInt(-power);
    ns = digits / scale + ((digits % scale) * 2n >= scale ? 1n : 0n); // Half away from zero.
  }
  return sign === "-" ? -ns : ns;
}

/** Go's leadingFraction: the digits' value and 10^digits, ignoring digits past int64. */
function leadingFraction(digits: string): [value: bigint, scale: number] {
  let value = 0n;
  let scale = 1;
  for (const digit of digits) {
    const next = value * 10n + BigInt(digit);
    if (value > (INT64_OVERFLOW - 1n) / 10n || next > INT64_OVERFLOW) break;
    value = next;
    scale *= 10;
  }
  return [value, scale];
}

function tooLong(quoted: string): RangeError {
  return new RangeError(`Cannot parse duration ${quoted}: longer than Go's maximum of ~292 years`);
}

function invalidDuration(quoted: string): RangeError {
  return new RangeError(
    `Cannot parse duration ${quoted}: expected a Go duration such as "10s", "1m30s" or "500ms"`,
  );
}
