// Goal: Consul's `raft_snapshot_threshold` and `raft_trailing_logs` config keys reach the Raft
// core's `snapshotThresholdEntries` and `trailingEntries`, and bad values are refused with the
// key named. Method: parse config file texts and build the server tuning from the fragments.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfigFile } from "../../src/agent/config_file.ts";
import { defaultRaftConfig } from "../../src/core/raft/config.ts";
import { raftServerConfigFor } from "../../src/server/raft_server.ts";

test("parseConfigFile() reads raft_snapshot_threshold and raft_trailing_logs into the tuning", () => {
  const { fragment, warnings } = parseConfigFile(
    "raft.json",
    '{"raft_snapshot_threshold": 64, "raft_trailing_logs": 0}',
  );
  assert.deepEqual(warnings, []);
  const config = raftServerConfigFor(fragment);
  assert.equal(config.raft.snapshotThresholdEntries, 64);
  assert.equal(config.raft.trailingEntries, 0);
});

test("raftServerConfigFor() keeps the core's defaults when the keys are absent", () => {
  const config = raftServerConfigFor({});
  assert.equal(config.raft.snapshotThresholdEntries, defaultRaftConfig().snapshotThresholdEntries);
  assert.equal(config.raft.trailingEntries, defaultRaftConfig().trailingEntries);
});

test("parseConfigFile() refuses a threshold below 1 or a negative or fractional trailing count", () => {
  for (
    const text of [
      '{"raft_snapshot_threshold": 0}',
      '{"raft_trailing_logs": -1}',
      '{"raft_trailing_logs": 1.5}',
      '{"raft_snapshot_threshold": "64"}',
    ]
  ) {
    assert.throws(
      () => parseConfigFile("raft.json", text),
      /Cannot load config file "raft\.json": invalid "raft_(snapshot_threshold|trailing_logs)"/,
      text,
    );
  }
});
