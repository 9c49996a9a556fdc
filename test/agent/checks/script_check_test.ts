// Goal: a script check runs its program without a shell and grades the exit as Consul's
// CheckMonitor (0 passing, 1 warning, anything else critical), keeps stdout and stderr up to
// the cap, kills a run past its timeout ("Timed out (<timeout>) running check") and reports a
// program that cannot start as critical. Method: /bin/true, /bin/false, /bin/sh -c scripts and
// a missing program, run through the runtime chosen by detectRuntime().
import { test } from "node:test";
import assert from "node:assert/strict";
import { detectRuntime } from "../../../runtimes/mod.ts";
import { probeScript, ScriptCheck } from "../../../src/agent/checks/script_check.ts";
import { UpdateRecorder } from "./_helpers.ts";

const runtime = await detectRuntime();

test("probeScript() grades exit 0 as passing", async () => {
  assert.deepEqual(await probeScript(runtime, { args: ["/bin/true"] }), {
    status: "passing",
    output: "",
  });
});

test("probeScript() grades exit 1 as warning", async () => {
  assert.equal((await probeScript(runtime, { args: ["/bin/false"] })).status, "warning");
});

test("probeScript() grades other exit codes as critical, keeping the output", async () => {
  const result = await probeScript(runtime, {
    args: ["/bin/sh", "-c", "echo out; echo err >&2; exit 2"],
  });
  assert.equal(result.status, "critical");
  assert.match(result.output, /out\n/);
  assert.match(result.output, /err\n/);
});

test("probeScript() runs without a shell: arguments are not expanded", async () => {
  const result = await probeScript(runtime, { args: ["/bin/echo", "$HOME", "*"] });
  assert.deepEqual(result, { status: "passing", output: "$HOME *\n" });
});

test("probeScript() kills a run past its timeout and reports it", async () => {
  const startedAtMs = performance.now();
  const result = await probeScript(runtime, {
    args: ["/bin/sh", "-c", "echo started; sleep 5"],
    timeoutMs: 300,
  });
  const elapsedMs = performance.now() - startedAtMs;
  assert.equal(result.status, "critical");
  assert.equal(result.output, "Timed out (300ms) running check\n\nstarted\n");
  assert.ok(elapsedMs < 3_000, `took ${elapsedMs} ms`);
});

test("probeScript() keeps only OutputMaxSize bytes of output", async () => {
  const result = await probeScript(runtime, {
    args: ["/bin/sh", "-c", "i=0; while [ $i -lt 2000 ]; do printf 0123456789; i=$((i+1)); done"],
    outputMaxSize: 100,
  });
  assert.equal(result.status, "passing");
  assert.equal(result.output, "0123456789".repeat(10));
});

test("probeScript() reports a program that cannot start as critical", async () => {
  const result = await probeScript(runtime, { args: ["/nonexistent/cairn-check"] });
  assert.equal(result.status, "critical");
  assert.ok(result.output.startsWith('Cannot run "/nonexistent/cairn-check": '), result.output);
});

test("ScriptCheck polls until stopped, and refuses an empty command", async () => {
  const recorder = new UpdateRecorder();
  const check = new ScriptCheck(
    runtime,
    { args: ["/bin/sh", "-c", "exit 1"], intervalMs: 100 },
    recorder.update,
  );
  assert.equal(check.type, "script");
  check.start();
  await recorder.nth(2);
  check.stop();
  assert.deepEqual(recorder.statuses().slice(0, 2), ["warning", "warning"]);
  assert.throws(
    () => new ScriptCheck(runtime, { args: [], intervalMs: 100 }, () => {}),
    new RangeError("Cannot create script check: args must name a program"),
  );
});
