// Goal: a TTL check holds the status its application pushes, re-arms on every push, and turns
// critical with "TTL expired" (quoting the last output) when the pushes stop, as Consul's
// CheckTTL; stop() disarms it. Method: real Runtime timers with TTLs of 100-300 ms, asserting on
// the updates the check reports and on generous time bounds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { detectRuntime } from "../../../runtimes/mod.ts";
import { TtlCheck } from "../../../src/agent/checks/ttl_check.ts";
import { sleep, UpdateRecorder } from "./_helpers.ts";

const runtime = await detectRuntime();

test("TtlCheck starts in its initial status and expires to critical, 'TTL expired'", async () => {
  const recorder = new UpdateRecorder();
  const check = new TtlCheck(runtime, { ttlMs: 100, status: "passing" }, recorder.update);
  assert.equal(check.type, "ttl");
  assert.equal(check.status, "passing");
  const startedAtMs = performance.now();
  check.start();
  const expired = await recorder.nth(1);
  assert.equal(expired.status, "critical");
  assert.equal(expired.output, "TTL expired");
  assert.ok(expired.atMs - startedAtMs >= 95, `expired after ${expired.atMs - startedAtMs} ms`);
  assert.equal(check.status, "critical");
  assert.equal(check.output, "TTL expired");
  check.stop();
});

test("TtlCheck.pass(), warn() and fail() report their status and note", () => {
  const recorder = new UpdateRecorder();
  const check = new TtlCheck(runtime, { ttlMs: 10_000 }, recorder.update);
  assert.equal(check.status, "critical", "the default initial status is critical");
  check.start();
  assert.equal(check.pass("fine"), "fine");
  check.warn("slow");
  check.fail("");
  check.update("passing", "back");
  assert.deepEqual(
    recorder.updates.map(({ status, output }) => [status, output]),
    [["passing", "fine"], ["warning", "slow"], ["critical", ""], ["passing", "back"]],
  );
  assert.equal(check.status, "passing");
  check.stop();
});

test("TtlCheck.pass() re-arms the TTL, and expiry quotes the last output", async () => {
  const recorder = new UpdateRecorder();
  const check = new TtlCheck(runtime, { ttlMs: 300 }, recorder.update);
  check.start();
  // Three heartbeats 100 ms apart keep it alive past one TTL from start.
  for (let beat = 0; beat < 3; beat += 1) {
    await sleep(100);
    check.pass(`beat ${beat}`);
  }
  const lastPassAtMs = performance.now();
  assert.deepEqual(recorder.statuses(), ["passing", "passing", "passing"]);
  const expired = await recorder.nth(4);
  assert.equal(expired.status, "critical");
  assert.equal(expired.output, "TTL expired (last output before timeout follows): beat 2");
  assert.ok(expired.atMs - lastPassAtMs >= 290, `expired ${expired.atMs - lastPassAtMs} ms after`);
  // After expiry the check stays critical until the next push, which re-arms it.
  check.pass("alive again");
  assert.equal(check.status, "passing");
  const again = await recorder.nth(6);
  assert.equal(again.output, "TTL expired (last output before timeout follows): alive again");
  check.stop();
});

test("TtlCheck.stop() disarms the TTL and refuses later updates", async () => {
  const recorder = new UpdateRecorder();
  const check = new TtlCheck(runtime, { ttlMs: 100 }, recorder.update);
  check.start();
  check.stop();
  await sleep(250);
  assert.deepEqual(recorder.updates, []);
  assert.equal(check.stopped, true);
  assert.throws(() => check.pass("late"), new Error("Cannot update TTL check: it is stopped"));
});

test("TtlCheck.update() cuts output beyond the cap, noting the sizes", () => {
  const recorder = new UpdateRecorder();
  const check = new TtlCheck(runtime, { ttlMs: 10_000, outputMaxSize: 8 }, recorder.update);
  check.start();
  const kept = check.update("warning", "0123456789abcdef");
  assert.equal(kept, "01234567 ... (captured 8 of 16 bytes)");
  assert.equal(recorder.updates[0].output, kept);
  // A multi-byte character is never split.
  assert.equal(check.pass("ééééé"), "éééé ... (captured 8 of 10 bytes)");
  check.stop();
});

test("TtlCheck.update() refuses a status Consul does not have", () => {
  const check = new TtlCheck(runtime, { ttlMs: 10_000 }, () => {});
  assert.throws(
    // @ts-expect-error: a client's string, unchecked by the type system.
    () => check.update("maintenance", ""),
    RangeError,
  );
});

test("new TtlCheck() refuses a TTL that is not > 0", () => {
  assert.throws(
    () => new TtlCheck(runtime, { ttlMs: 0 }, () => {}),
    new RangeError("Cannot create TTL check: ttlMs must be a finite number > 0, got 0"),
  );
});
