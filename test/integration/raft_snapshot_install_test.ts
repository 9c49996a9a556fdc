// Goal: a follower that missed more writes than the leader keeps in its log catches up through
// InstallSnapshot, with a snapshot larger than one RPC chunk, and then serves every write.
// Method: three `cairn agent -server` processes on 127.0.13.1-3 with a config file that sets
// `raft_snapshot_threshold` 64 and `raft_trailing_logs` 16; one follower is SIGKILLed; 300 writes
// of 4 KiB values (about 1.2 MiB of state, past the RPC's 768 KiB chunk) go through the leader,
// so the leader snapshots and compacts its log past the follower's last index; the follower is
// restarted from its data dir. It must log "Installed a snapshot from the leader" with the
// snapshot's size (more than one chunk) and answer every key with `?stale` from its own store;
// SIGKILLed and restarted again, it restores the installed snapshot from its own disk.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentProcess, runCairnToExit } from "../_support/agent_process.ts";
import {
  agreedLeader,
  eventually,
  getJson,
  kill,
  putKey,
  readKey,
  startServer,
  writeConfigFile,
} from "../_support/raft_cluster.ts";

const hosts = ["127.0.13.1", "127.0.13.2", "127.0.13.3"];
const root = mkdtempSync(join(tmpdir(), "cairn-raft-snapshot-"));
const configFile = writeConfigFile(root, { raft_snapshot_threshold: 64, raft_trailing_logs: 16 });
const agents = new Map<string, AgentProcess>();
/** The RPC's chunk size (`defaultRpcConfig().chunkBytesMax`): the snapshot must pass it. */
const chunkBytes = 786_432;
const writeCount = 300;
const valueBytes = 4_096;

after(async () => {
  await Promise.all([...agents.values()].map((agent) => kill(agent)));
  rmSync(root, { recursive: true, force: true });
});

function start(host: string): Promise<AgentProcess> {
  const at = hosts.indexOf(host);
  return startServer({
    host,
    node: `snap-${at + 1}`,
    dataDir: join(root, `server-${at + 1}`),
    join: hosts,
    bootstrapExpect: 3,
    configFile,
  });
}

/** A value of `valueBytes` that names its key, so a wrong or truncated value shows. */
function valueFor(key: string): string {
  return `${key}:`.padEnd(valueBytes, String.fromCharCode(97 + key.length % 26));
}

describe("the snapshot knobs", () => {
  it("refuse a raft_snapshot_threshold below 1 with a clear message", async () => {
    const dir = mkdtempSync(join(root, "bad-"));
    const bad = writeConfigFile(dir, { raft_snapshot_threshold: 0 });
    const { code, stderr } = await runCairnToExit([
      "agent",
      "-server",
      "-bootstrap-expect=1",
      `-data-dir=${dir}`,
      "-bind=127.0.13.9",
      "-client=127.0.13.9",
      `-config-file=${bad}`,
    ]);
    assert.notEqual(code, 0);
    assert.match(stderr, /Cannot load config file ".*": invalid "raft_snapshot_threshold"/);
  });
});

describe("a follower far behind the leader", () => {
  it("catches up through a chunked InstallSnapshot and serves every write", async () => {
    const started = await Promise.all(hosts.map((host) => start(host)));
    hosts.forEach((host, at) => agents.set(host, started[at]));
    const leader = await agreedLeader(started);
    const leaderHost = leader.split(":")[0];
    const followerHost = hosts.find((host) => host !== leaderHost)!;
    const leaderAgent = agents.get(leaderHost)!;
    await kill(agents.get(followerHost)!);

    // Writes well past the threshold, eight at a time, all through the leader.
    const keys = Array.from({ length: writeCount }, (_, at) => `snap/${at}`);
    let next = 0;
    const writers = Array.from({ length: 8 }, async () => {
      while (next < keys.length) {
        const key = keys[next++];
        assert.equal(await putKey(leaderAgent, key, valueFor(key)), true, `write ${key}`);
      }
    });
    await Promise.all(writers);
    const snapshotsTaken = leaderAgent.log().match(/Took a snapshot at index/g)?.length ?? 0;
    assert.ok(snapshotsTaken >= 2, `the leader took ${snapshotsTaken} snapshots`);

    const restartedAt = performance.now();
    const follower = await start(followerHost);
    agents.set(followerHost, follower);
    const last = keys.at(-1)!;
    await eventually(
      async () => (await readKey(follower, last, "stale")) === valueFor(last) || undefined,
      30_000,
      "the restarted follower to serve the last write",
    );
    const catchUpMs = Math.round(performance.now() - restartedAt);

    // It got there through a snapshot install, larger than one chunk.
    const installed =
      /Installed a snapshot from the leader at index (\d+) \(term \d+, (\d+) bytes\)/
        .exec(follower.log());
    assert.ok(installed !== null, `no snapshot install logged:\n${follower.log()}`);
    const snapshotBytes = Number(installed[2]);
    assert.ok(snapshotBytes > chunkBytes, `the snapshot (${snapshotBytes} bytes) spans chunks`);

    // Every write is in its own store.
    const entries = await getJson(`${follower.httpUrl}/v1/kv/snap/?recurse&stale`) as {
      Key: string;
      Value: string;
    }[];
    const stored = new Map(entries.map((entry) => [entry.Key, atob(entry.Value)]));
    assert.equal(stored.size, writeCount);
    for (const key of keys) assert.equal(stored.get(key), valueFor(key), `${key} on the follower`);

    // And it keeps up afterwards, through appends.
    assert.equal(await putKey(follower, "snap/after", "after"), true);
    await eventually(
      async () => (await readKey(follower, "snap/after", "stale")) === "after" || undefined,
      10_000,
      "a write after the install",
    );
    // The installed snapshot is durable: a SIGKILL and a restart restore it from disk.
    await kill(follower);
    const again = await start(followerHost);
    agents.set(followerHost, again);
    assert.match(again.log(), /Restored snapshot .* \(index \d+, term \d+\)/);
    await eventually(
      async () => (await readKey(again, "snap/after", "stale")) === "after" || undefined,
      15_000,
      "the follower to serve the writes again after a restart",
    );
    for (const key of [keys[0], keys[150], last]) {
      assert.equal(await readKey(again, key, "stale"), valueFor(key), `${key} after restart`);
    }
    console.log(
      `raft snapshot install: ${snapshotsTaken} snapshots on the leader; the follower installed ` +
        `${snapshotBytes} bytes at index ${installed[1]} and served the last write ` +
        `${catchUpMs} ms after its restart began`,
    );
  });
});
