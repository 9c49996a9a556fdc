// Goal: `cairn snapshot restore` of a snapshot far larger than one Raft entry, sent to a
// follower, makes every server serve exactly the saved state, keeps writes made after it, and
// survives a SIGKILL and restart of a follower. Method: three `cairn agent -server` processes
// on 127.0.16.1-3; more than 4 MiB of KV (80 keys of 64 KiB) written through the leader;
// `cairn snapshot save` from the leader; keys then changed, deleted and added; `cairn snapshot
// restore` of the saved file through a follower's HTTP API (its chunk entries are forwarded to
// the leader) while the other follower is down; one write after the restore. The follower that
// was down, restarted, must catch up by InstallSnapshot; then each server must answer `?stale`
// reads of the prefix with exactly the saved keys and values plus the later write; the follower
// that took part, SIGKILLed and restarted, must load the snapshot each server takes right after
// a restore from its own disk, and serve the same.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentProcess, runCairnToExit } from "../_support/agent_process.ts";
import {
  agreedLeader,
  eventually,
  getJson,
  kill,
  putKey,
  startServer,
} from "../_support/raft_cluster.ts";

const hosts = ["127.0.16.1", "127.0.16.2", "127.0.16.3"];
const root = mkdtempSync(join(tmpdir(), "cairn-raft-restore-"));
const agents = new Map<string, AgentProcess>();
const keyCount = 80;
const valueBytes = 64 * 1024;
const prefix = "restore/";

after(async () => {
  await Promise.all([...agents.values()].map((agent) => kill(agent)));
  rmSync(root, { recursive: true, force: true });
});

function start(host: string): Promise<AgentProcess> {
  const at = hosts.indexOf(host);
  return startServer({
    host,
    node: `restore-${at + 1}`,
    dataDir: join(root, `server-${at + 1}`),
    join: hosts,
    bootstrapExpect: 3,
  });
}

/** A value of `valueBytes` that names its key and version, so a wrong value shows. */
function valueFor(key: string, version = "v1"): string {
  return `${key}:${version}:`.padEnd(valueBytes, String.fromCharCode(97 + key.length % 26));
}

/** Every key under the prefix and its value, as `agent` serves them from its own store. */
async function storedOn(agent: AgentProcess): Promise<Map<string, string>> {
  const response = await fetch(`${agent.httpUrl}/v1/kv/${prefix}?recurse&stale`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status === 404) return new Map();
  if (response.status !== 200) throw new Error(`${response.status} ${await response.text()}`);
  const entries = await response.json() as { Key: string; Value: string | null }[];
  return new Map(entries.map((entry) => [entry.Key, atob(entry.Value ?? "")]));
}

/** Resolves once `agent` serves exactly `expected`; throws with the first difference. */
async function servesExactly(
  agent: AgentProcess,
  expected: Map<string, string>,
  what: string,
): Promise<void> {
  let difference = "";
  await eventually(
    async () => {
      const stored = await storedOn(agent);
      const keys = new Set([...stored.keys(), ...expected.keys()]);
      const wrong = [...keys].filter((key) => stored.get(key) !== expected.get(key));
      difference = `${wrong.length} keys differ, e.g. ${wrong.slice(0, 3).join(", ")}`;
      return wrong.length === 0 || undefined;
    },
    20_000,
    `${what} (${difference})`,
  ).catch((error) => {
    throw new Error(`${(error as Error).message}: ${difference}`);
  });
}

async function cli(args: string[]): Promise<string> {
  const { code, stdout, stderr } = await runCairnToExit(args, 30_000);
  assert.equal(code, 0, `cairn ${args.join(" ")}: ${stderr}`);
  return stdout;
}

describe("cairn snapshot restore of a large snapshot through a follower", () => {
  it("makes every server serve exactly the saved state, durably", async () => {
    const startedAt = performance.now();
    const started = await Promise.all(hosts.map((host) => start(host)));
    hosts.forEach((host, at) => agents.set(host, started[at]));
    const leaderHost = (await agreedLeader(started)).split(":")[0];
    const leader = agents.get(leaderHost)!;
    const followerHosts = hosts.filter((host) => host !== leaderHost);
    const follower = agents.get(followerHosts[0])!;

    const keys = Array.from({ length: keyCount }, (_, at) => `${prefix}${at}`);
    let next = 0;
    const writers = Array.from({ length: 8 }, async () => {
      while (next < keys.length) {
        const key = keys[next++];
        assert.equal(await putKey(leader, key, valueFor(key)), true, `write ${key}`);
      }
    });
    await Promise.all(writers);
    const saved = new Map(keys.map((key) => [key, valueFor(key)]));

    const file = join(root, "backup.snap");
    await cli(["snapshot", "save", `-http-addr=${leader.httpUrl}`, file]);
    const fileBytes = statSync(file).size;
    assert.ok(fileBytes > 4 * 1_048_576, `the snapshot file has ${fileBytes} bytes`);

    // Change, delete and add keys after the save.
    for (const key of keys.slice(0, 10)) assert.equal(await putKey(leader, key, "changed"), true);
    for (const key of keys.slice(10, 20)) {
      const response = await fetch(`${leader.httpUrl}/v1/kv/${key}`, { method: "DELETE" });
      assert.equal(response.status, 200, await response.text());
    }
    for (let at = 0; at < 5; at += 1) {
      assert.equal(await putKey(leader, `${prefix}new-${at}`, "new"), true);
    }
    await servesExactly(follower, await storedOn(leader), "the follower to have the changes");

    // The other follower is down during the restore: it must catch up by InstallSnapshot.
    const absent = followerHosts[1];
    await kill(agents.get(absent)!);

    const restoreStartedAt = performance.now();
    await cli(["snapshot", "restore", `-http-addr=${follower.httpUrl}`, file]);
    const restoreMs = Math.round(performance.now() - restoreStartedAt);

    // An acknowledged write after the restore is kept too.
    assert.equal(await putKey(follower, `${prefix}after`, "after"), true);
    const expected = new Map([...saved, [`${prefix}after`, "after"]]);
    const back = await start(absent);
    agents.set(absent, back);
    for (const host of hosts) {
      await servesExactly(agents.get(host)!, expected, `${host} to serve the restored state`);
    }
    // Each server up during the restore snapshotted at it (and dropped the chunks from its
    // log), so the one that was down got that snapshot rather than the chunks.
    for (const host of [leaderHost, followerHosts[0]]) {
      assert.match(agents.get(host)!.log(), /Took a snapshot at index/, `${host} snapshotted`);
    }
    assert.match(back.log(), /Installed a snapshot from the leader at index/);

    const restarted = followerHosts[0];
    await kill(agents.get(restarted)!);
    const again = await start(restarted);
    agents.set(restarted, again);
    assert.match(again.log(), /Restored snapshot .* \(index \d+, term \d+\)/);
    await servesExactly(again, expected, "the restarted follower to serve the restored state");
    const leaderNow = await getJson(`${again.httpUrl}/v1/status/leader`);
    assert.equal(typeof leaderNow, "string");
    console.log(
      `raft snapshot restore: ${fileBytes} byte file restored through a follower in ` +
        `${restoreMs} ms; test took ${Math.round(performance.now() - startedAt)} ms`,
    );
  });
});
