// Goal: Go duration text parses and prints exactly as Go's time.ParseDuration and
// Duration.String() do, so durations sent by Consul's clients and echoed in its API agree to the
// nanosecond. Method: the cases of Go's own src/time/time_test.go (parseDurationTests,
// durationTests), the error cases, then fast-check properties: printing then parsing returns the
// same nanoseconds, and parse-then-format is stable (a second pass changes nothing).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  formatGoDuration,
  formatGoDurationNs,
  goDurationNumberToMs,
  parseGoDurationMs,
  parseGoDurationNs,
} from "../../src/core/go_duration.ts";

const SECOND = 1_000_000_000n;
const MINUTE = 60n * SECOND;
const HOUR = 60n * MINUTE;

test("parseGoDurationNs() agrees with Go's parseDurationTests", () => {
  const cases: Array<[string, bigint]> = [
    ["0", 0n],
    ["5s", 5n * SECOND],
    ["30s", 30n * SECOND],
    ["1478s", 1478n * SECOND],
    ["-5s", -5n * SECOND],
    ["+5s", 5n * SECOND],
    ["-0", 0n],
    ["+0", 0n],
    ["5.0s", 5n * SECOND],
    ["5.6s", 5n * SECOND + 600_000_000n],
    ["5.s", 5n * SECOND],
    [".5s", 500_000_000n],
    ["1.0s", SECOND],
    ["1.00s", SECOND],
    ["1.004s", SECOND + 4_000_000n],
    ["1.0040s", SECOND + 4_000_000n],
    ["100.00100s", 100n * SECOND + 1_000_000n],
    ["10ns", 10n],
    ["11us", 11_000n],
    ["12\u00b5s", 12_000n],
    ["12\u03bcs", 12_000n],
    ["13ms", 13_000_000n],
    ["14s", 14n * SECOND],
    ["15m", 15n * MINUTE],
    ["16h", 16n * HOUR],
    ["3h30m", 3n * HOUR + 30n * MINUTE],
    ["10.5s4m", 4n * MINUTE + 10n * SECOND + 500_000_000n],
    ["-2m3.4s", -(2n * MINUTE + 3n * SECOND + 400_000_000n)],
    ["1h2m3s4ms5us6ns", HOUR + 2n * MINUTE + 3n * SECOND + 4_000_000n + 5_000n + 6n],
    ["39h9m14.425s", 39n * HOUR + 9n * MINUTE + 14n * SECOND + 425_000_000n],
    ["52763797000ns", 52_763_797_000n],
    ["0.3333333333333333333h", 20n * MINUTE],
    ["9007199254740993ns", (1n << 53n) + 1n],
    ["9223372036854775807ns", (1n << 63n) - 1n],
    ["9223372036854775.807us", (1n << 63n) - 1n],
    ["9223372036s854ms775us807ns", (1n << 63n) - 1n],
    ["-9223372036854775808ns", -(1n << 63n)],
    ["-9223372036854775.808us", -(1n << 63n)],
    ["0.100000000000000000000h", 6n * MINUTE],
    ["0.830103483285477580700h", 49n * MINUTE + 48n * SECOND + 372_539_827n],
  ];
  for (const [text, expected] of cases) {
    assert.equal(parseGoDurationNs(text), expected, text);
  }
});

test("parseGoDurationNs() refuses what Go refuses, with a clear message", () => {
  const cases = [
    "",
    "3",
    "-",
    "s",
    ".",
    "-.",
    ".s",
    "+.s",
    "1d",
    "10 s",
    "1.5",
    "9223372036854775808ns",
    "9223372036854775.808us",
    "-9223372036854775809ns",
    "3000000h",
    "x".repeat(200),
  ];
  for (const text of cases) {
    assert.throws(() => parseGoDurationNs(text), RangeError, JSON.stringify(text));
  }
  assert.throws(
    () => parseGoDurationMs("1d"),
    new RangeError('Cannot parse duration "1d": unknown unit "d" (use ns, us, ms, s, m or h)'),
  );
  assert.throws(
    () => parseGoDurationMs("10"),
    new RangeError('Cannot parse duration "10": missing unit (ns, us, ms, s, m, h)'),
  );
  assert.throws(
    () => parseGoDurationMs("fast"),
    new RangeError(
      'Cannot parse duration "fast": expected a Go duration such as "10s", "1m30s" or "500ms"',
    ),
  );
});

test("parseGoDurationMs() returns milliseconds, fractional below one", () => {
  assert.equal(parseGoDurationMs("10s"), 10_000);
  assert.equal(parseGoDurationMs("1m30s"), 90_000);
  assert.equal(parseGoDurationMs("500ms"), 500);
  assert.equal(parseGoDurationMs("1h"), 3_600_000);
  assert.equal(parseGoDurationMs("1500us"), 1.5);
  assert.equal(parseGoDurationMs("1ns"), 0.000001);
  assert.equal(parseGoDurationMs("-250ms"), -250);
});

test("goDurationNumberToMs() reads nanoseconds, truncating as Go's conversion", () => {
  assert.equal(goDurationNumberToMs(10_000_000_000), 10_000);
  assert.equal(goDurationNumberToMs(1_500_000.9), 1.5);
  assert.equal(goDurationNumberToMs(0), 0);
  assert.throws(() => goDurationNumberToMs(Number.POSITIVE_INFINITY), RangeError);
  assert.throws(() => goDurationNumberToMs(2 ** 64), RangeError);
});

test("formatGoDuration() prints as Go's Duration.String()", () => {
  const cases: Array<[number, string]> = [
    [0, "0s"],
    [0.000001, "1ns"],
    [0.0011, "1.1\u00b5s"],
    [2.2, "2.2ms"],
    [3_300, "3.3s"],
    [10_000, "10s"],
    [90_000, "1m30s"],
    [-(4 * 60_000 + 5_000), "-4m5s"],
    [4 * 60_000 + 5_001, "4m5.001s"],
    [5 * 3_600_000 + 6 * 60_000 + 7_001, "5h6m7.001s"],
    [8 * 60_000 + 0.000001, "8m0.000000001s"],
    [3_600_000, "1h0m0s"],
    [60_000, "1m0s"],
    [500, "500ms"],
  ];
  for (const [ms, expected] of cases) assert.equal(formatGoDuration(ms), expected, String(ms));
  assert.equal(formatGoDurationNs((1n << 63n) - 1n), "2562047h47m16.854775807s");
  assert.equal(formatGoDurationNs(-(1n << 63n)), "-2562047h47m16.854775808s");
  assert.throws(() => formatGoDuration(Number.NaN), RangeError);
  assert.throws(() => formatGoDuration(1e20), RangeError);
});

const int64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });

test("formatGoDurationNs() output parses back to the same nanoseconds (property)", () => {
  fc.assert(
    fc.property(int64, (ns) => {
      assert.equal(parseGoDurationNs(formatGoDurationNs(ns)), ns);
    }),
    { numRuns: 2_000 },
  );
});

/** Arbitrary valid Go duration text: signed sequences of numbers with units. */
const durationText = fc
  .tuple(
    fc.constantFrom("", "-", "+"),
    fc.array(
      fc.tuple(
        fc.nat({ max: 100_000 }),
        fc.option(fc.stringMatching(/^[0-9]{0,12}$/), { nil: undefined }),
        fc.constantFrom("ns", "us", "\u00b5s", "ms", "s", "m", "h"),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([sign, parts]) =>
    sign +
    parts.map(([whole, fraction, unit]) =>
      fraction === undefined ? `${whole}${unit}` : `${whole}.${fraction}${unit}`
    ).join("")
  );

test("formatGoDuration(parseGoDurationMs()) is stable: a second pass is a no-op (property)", () => {
  fc.assert(
    fc.property(durationText, (text) => {
      const once = formatGoDuration(parseGoDurationMs(text));
      const twice = formatGoDuration(parseGoDurationMs(once));
      assert.equal(twice, once, text);
    }),
    { numRuns: 2_000 },
  );
});

test("parseGoDurationMs(formatGoDuration(ms)) returns ms for whole microseconds (property)", () => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), (microseconds) => {
      const ms = microseconds / 1_000;
      assert.equal(parseGoDurationMs(formatGoDuration(ms)), ms);
    }),
    { numRuns: 2_000 },
  );
});
