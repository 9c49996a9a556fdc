// Goal: the success/failure thresholds behave as Consul's checks.StatusHandler: the first result
// is reported at once, a change of direction only after enough consecutive results, "warning"
// counts as a success, and failures reach "warning" before "critical". Method: feed sequences of
// raw results and compare what comes out.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type CheckStatus,
  isCheckStatus,
  StatusHandler,
  type StatusThresholds,
} from "../../../src/agent/checks/status_handler.ts";

/** Feeds `results` through a handler and returns what it reported, "-" for nothing. */
function filter(thresholds: StatusThresholds, results: CheckStatus[]): string[] {
  const reported: string[] = [];
  let last: CheckStatus | undefined;
  const handler = new StatusHandler((status) => {
    last = status;
  }, thresholds);
  for (const result of results) {
    last = undefined;
    handler.report(result, result);
    reported.push(last ?? "-");
  }
  return reported;
}

test("StatusHandler.report() passes every result through without thresholds", () => {
  const results: CheckStatus[] = ["critical", "passing", "warning", "critical"];
  assert.deepEqual(filter({}, results), results);
});

test("StatusHandler.report() reports the first result at once, whatever the thresholds", () => {
  assert.deepEqual(filter({ successBeforePassing: 3 }, ["passing"]), ["passing"]);
  assert.deepEqual(filter({ failuresBeforeCritical: 3 }, ["critical"]), ["critical"]);
});

test("StatusHandler.report() needs SuccessBeforePassing successes in a row after a failure", () => {
  assert.deepEqual(
    filter({ successBeforePassing: 3 }, [
      "critical",
      "passing",
      "passing",
      "critical",
      "passing",
      "passing",
      "passing",
      "passing",
    ]),
    ["critical", "-", "-", "critical", "-", "-", "passing", "passing"],
  );
});

test("StatusHandler.report() needs FailuresBeforeCritical failures in a row after success", () => {
  assert.deepEqual(
    filter({ failuresBeforeCritical: 2 }, [
      "passing",
      "critical",
      "passing",
      "critical",
      "critical",
      "critical",
    ]),
    ["passing", "-", "passing", "-", "critical", "critical"],
  );
});

test("StatusHandler.report() reports warning between the two failure thresholds", () => {
  assert.deepEqual(
    filter({ failuresBeforeWarning: 1, failuresBeforeCritical: 3 }, [
      "passing",
      "critical",
      "critical",
      "critical",
      "passing",
    ]),
    ["passing", "warning", "warning", "critical", "passing"],
  );
});

test("StatusHandler.report() counts warning as a success, as Consul does", () => {
  assert.deepEqual(
    filter({ successBeforePassing: 2 }, ["critical", "warning", "passing"]),
    ["critical", "-", "passing"],
  );
});

test("isCheckStatus() accepts Consul's three statuses only, case-sensitively", () => {
  assert.ok(isCheckStatus("passing") && isCheckStatus("warning") && isCheckStatus("critical"));
  assert.ok(!isCheckStatus("Passing") && !isCheckStatus("maintenance") && !isCheckStatus(1));
});
