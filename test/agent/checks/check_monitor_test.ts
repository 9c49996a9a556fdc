// Goal: the agent's entry point turns each parsed definition into the right running check with
// the right output cap, and every polling check keeps Consul's schedule: a first run after a
// random stagger in [0, interval), runs that never overlap, thresholds applied, a throwing probe
// graded critical, and stop() aborting a run in flight. Method: definitions parsed from JSON run
// against the real runtime (scripts, TTL), and small IntervalCheck subclasses with scripted,
// timed probes on the real runtime's timers, with a fixed random source where the stagger matters.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectRuntime } from "../../../runtimes/mod.ts";
import type { Runtime } from "../../../src/runtime.ts";
import { parseCheckDefinition } from "../../../src/agent/checks/check_definition.ts";
import { createCheckMonitor } from "../../../src/agent/checks/check_monitor.ts";
import {
  type CheckResult,
  IntervalCheck,
  type IntervalCheckOptions,
  randomStaggerMs,
} from "../../../src/agent/checks/interval_check.ts";
import type { CheckStatus, CheckUpdate } from "../../../src/agent/checks/status_handler.ts";
import { sleep, UpdateRecorder } from "./_helpers.ts";

const runtime = await detectRuntime();

/** The real runtime, but with `randomBytes` always filling in `fill`. */
function withRandomBytes(fill: number[]): Runtime {
  return {
    ...runtime,
    randomBytes: (bytes: Uint8Array) => {
      bytes.set(fill.slice(0, bytes.length));
      return bytes;
    },
  };
}

/** A polling check whose runs take `runMs` and return the scripted statuses in turn. */
class ScriptedCheck extends IntervalCheck {
  readonly type = "script";
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly signals: AbortSignal[] = [];
  running = 0;
  runningMax = 0;
  readonly #results: Array<CheckStatus | Error>;
  readonly #runMs: number;

  constructor(
    runtime: Runtime,
    update: CheckUpdate,
    options: IntervalCheckOptions & { results: Array<CheckStatus | Error>; runMs: number },
  ) {
    super(runtime, update, options);
    this.#results = options.results;
    this.#runMs = options.runMs;
  }

  protected async probe(signal: AbortSignal): Promise<CheckResult> {
    const run = this.starts.length;
    this.starts.push(performance.now());
    this.signals.push(signal);
    this.running += 1;
    this.runningMax = Math.max(this.runningMax, this.running);
    await sleep(this.#runMs);
    this.running -= 1;
    this.ends.push(performance.now());
    const result = this.#results[Math.min(run, this.#results.length - 1)];
    if (result instanceof Error) throw result;
    return { status: result, output: `run ${run}` };
  }
}

test("createCheckMonitor() builds each kind of check from its definition", () => {
  const definitions = [
    { Name: "t", TTL: "10s" },
    { Name: "h", HTTP: "http://127.0.0.1:1/", Interval: "10s" },
    { Name: "c", TCP: "127.0.0.1:1", Interval: "10s" },
    { Name: "s", Args: ["/bin/true"], Interval: "10s" },
  ];
  const types = definitions.map((input) => {
    const check = createCheckMonitor(runtime, parseCheckDefinition(input), () => {});
    check.stop();
    return check.type;
  });
  assert.deepEqual(types, ["ttl", "http", "tcp", "script"]);
});

test("createCheckMonitor() gives a TTL check its initial status and pass()", () => {
  const definition = parseCheckDefinition({ Name: "t", TTL: "10s", Status: "warning" });
  const recorder = new UpdateRecorder();
  const check = createCheckMonitor(runtime, definition, recorder.update);
  if (check.type !== "ttl") throw new Error("expected a TTL check");
  assert.equal(check.status, "warning");
  check.start();
  check.pass("ok");
  check.stop();
  assert.deepEqual(recorder.statuses(), ["passing"]);
});

test("createCheckMonitor() caps output at the lower of the check's and agent's size", async () => {
  const args = ["/bin/sh", "-c", "printf '%0500d' 0"];
  const cases: Array<[checkSize: number, agentSize: number | undefined, expected: number]> = [
    [0, undefined, 500],
    [10, undefined, 10],
    [0, 20, 20],
    [100, 20, 20],
  ];
  for (const [checkSize, agentSize, expected] of cases) {
    const definition = parseCheckDefinition({
      Name: "s",
      Args: args,
      Interval: "10s",
      OutputMaxSize: checkSize,
    });
    const recorder = new UpdateRecorder();
    const check = createCheckMonitor(runtime, definition, recorder.update, {
      outputMaxSize: agentSize,
      firstRunDelayMs: 0,
    });
    check.start();
    const { output } = await recorder.nth(1);
    check.stop();
    assert.equal(output.length, expected, `check ${checkSize}, agent ${agentSize}`);
  }
});

test("createCheckMonitor() applies the definition's thresholds", async () => {
  // The script passes on its first run and fails with exit 2 on every later one.
  const dir = mkdtempSync(join(tmpdir(), "cairn-check-"));
  const counter = join(dir, "runs");
  const script = `n=$(cat '${counter}' 2>/dev/null || echo 0); echo $((n+1)) > '${counter}'; ` +
    `[ "$n" -ge 1 ] && exit 2; exit 0`;
  const definition = parseCheckDefinition({
    Name: "s",
    Args: ["/bin/sh", "-c", script],
    Interval: "1s",
    FailuresBeforeWarning: 1,
    FailuresBeforeCritical: 3,
  });
  if (definition.type !== "script") throw new Error("expected a script check");
  const recorder = new UpdateRecorder();
  // The parser raised the interval to 1s; the monitor takes any, which keeps this test short.
  const check = createCheckMonitor(runtime, { ...definition, intervalMs: 20 }, recorder.update, {
    firstRunDelayMs: 0,
  });
  try {
    check.start();
    await recorder.nth(4);
    check.stop();
    assert.deepEqual(recorder.statuses().slice(0, 4), [
      "passing",
      "warning",
      "warning",
      "critical",
    ]);
  } finally {
    check.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("randomStaggerMs() stays in [0, interval) for every random value (property)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.integer({ min: 1, max: 3_600_000 }),
      (bytes, intervalMs) => {
        const delayMs = randomStaggerMs(withRandomBytes([...bytes]), intervalMs);
        assert.ok(delayMs >= 0 && delayMs < intervalMs, `${delayMs} of ${intervalMs}`);
      },
    ),
  );
  assert.equal(randomStaggerMs(withRandomBytes([0x80, 0, 0, 0]), 1_000), 500);
  assert.equal(randomStaggerMs(withRandomBytes([0, 0, 0, 0]), 1_000), 0);
});

test("IntervalCheck runs first after the random stagger, then every interval", async () => {
  const recorder = new UpdateRecorder();
  // 0xc0000000 / 2^32 = 0.75: the first run is due 300 ms into a 400 ms interval.
  const check = new ScriptedCheck(withRandomBytes([0xc0, 0, 0, 0]), recorder.update, {
    intervalMs: 400,
    results: ["passing"],
    runMs: 0,
  });
  const startedAtMs = performance.now();
  check.start();
  await recorder.nth(2);
  check.stop();
  const firstMs = check.starts[0] - startedAtMs;
  assert.ok(firstMs >= 295 && firstMs < 1_000, `first run after ${firstMs} ms`);
  const gapMs = check.starts[1] - check.ends[0];
  assert.ok(gapMs >= 395, `second run ${gapMs} ms after the first ended`);
});

test("IntervalCheck never overlaps runs, even when a run outlasts the interval", async () => {
  const recorder = new UpdateRecorder();
  const check = new ScriptedCheck(runtime, recorder.update, {
    intervalMs: 20,
    firstRunDelayMs: 0,
    results: ["passing"],
    runMs: 120,
  });
  check.start();
  await recorder.nth(3);
  check.stop();
  assert.equal(check.runningMax, 1);
  for (let run = 1; run < 3; run += 1) {
    const gapMs = check.starts[run] - check.ends[run - 1];
    assert.ok(gapMs >= 18, `run ${run} started ${gapMs} ms after run ${run - 1} ended`);
  }
});

test("IntervalCheck filters results through the failure thresholds", async () => {
  const recorder = new UpdateRecorder();
  const check = new ScriptedCheck(runtime, recorder.update, {
    intervalMs: 10,
    firstRunDelayMs: 0,
    failuresBeforeWarning: 1,
    failuresBeforeCritical: 3,
    results: ["passing", "critical", "critical", "critical"],
    runMs: 0,
  });
  check.start();
  await recorder.nth(4);
  check.stop();
  assert.deepEqual(recorder.statuses().slice(0, 4), ["passing", "warning", "warning", "critical"]);
});

test("IntervalCheck grades a probe that throws as critical with its message", async () => {
  const recorder = new UpdateRecorder();
  const check = new ScriptedCheck(runtime, recorder.update, {
    intervalMs: 10,
    firstRunDelayMs: 0,
    results: [new Error("probe exploded")],
    runMs: 0,
  });
  check.start();
  const first = await recorder.nth(1);
  check.stop();
  assert.deepEqual([first.status, first.output], ["critical", "probe exploded"]);
});

test("IntervalCheck.stop() aborts the run in flight and drops its result", async () => {
  const recorder = new UpdateRecorder();
  const check = new ScriptedCheck(runtime, recorder.update, {
    intervalMs: 10,
    firstRunDelayMs: 0,
    results: ["passing"],
    runMs: 200,
  });
  check.start();
  await sleep(50);
  assert.equal(check.signals.length, 1);
  check.stop();
  assert.equal(check.signals[0].aborted, true);
  assert.equal(check.stopped, true);
  await sleep(300);
  assert.deepEqual(recorder.updates, []);
  assert.equal(check.runCount, 0);
  assert.equal(check.starts.length, 1, "no run after stop()");
  check.start(); // A stopped check stays stopped.
  await sleep(50);
  assert.equal(check.starts.length, 1);
});

test("new IntervalCheck() refuses an interval that is not > 0", () => {
  assert.throws(
    () => new ScriptedCheck(runtime, () => {}, { intervalMs: 0, results: [], runMs: 0 }),
    new RangeError("Cannot create check: intervalMs must be a finite number > 0, got 0"),
  );
});
