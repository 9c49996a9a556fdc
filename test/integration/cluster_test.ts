// Goal: three server processes form one Raft cluster over the server RPC and keep every
// acknowledged write through a leader crash: they bootstrap together (`-bootstrap-expect=3`,
// finding each other through `-retry-join`), elect one leader, and every server lists the same
// three peers; a write through any server is readable with `?consistent` on every server; a
// SIGKILL of the leader during a write load elects a new leader, and every write that was
// acknowledged is readable afterwards; the killed server, restarted from its data dir, does not
// bootstrap again and catches up (its `?stale` read sees the latest write).
// Method: real `cairn agent` processes on 127.0.0.51-53 (default RPC port 8300, gossip off),
// temp data dirs, HTTP writes and reads with node's fetch; bounds are generous, nothing times
// the cluster.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentProcess } from "../_support/agent_process.ts";
import {
  agreedLeader,
  eventually,
  getJson,
  kill,
  putKey,
  readKey,
  startServer,
} from "../_support/raft_cluster.ts";

const hosts = ["127.0.0.51", "127.0.0.52", "127.0.0.53"];
const root = mkdtempSync(join(tmpdir(), "cairn-cluster-"));
const agents = new Map<string, AgentProcess>();

after(async () => {
  await Promise.all([...agents.values()].map((agent) => kill(agent)));
  rmSync(root, { recursive: true, force: true });
});

function start(host: string): Promise<AgentProcess> {
  const at = hosts.indexOf(host);
  return startServer({
    host,
    node: `cluster-${at + 1}`,
    dataDir: join(root, `server-${at + 1}`),
    join: hosts,
    bootstrapExpect: 3,
  });
}

describe("a three-server cluster", () => {
  it("forms, replicates, fails over with no acknowledged write lost, and catches up a restart", async () => {
    const started = await Promise.all(hosts.map((host) => start(host)));
    hosts.forEach((host, at) => agents.set(host, started[at]));

    // Formation: one leader, three peers everywhere, a configuration of three voters.
    const leader = await agreedLeader(started);
    assert.ok(hosts.some((host) => leader === `${host}:8300`), `leader ${leader}`);
    for (const agent of started) {
      const peers = await getJson(`${agent.httpUrl}/v1/status/peers`) as string[];
      assert.deepEqual([...peers].sort(), hosts.map((host) => `${host}:8300`));
      assert.match(agent.log(), /Bootstrapped a new cluster with voters/);
    }
    const configuration = await getJson(
      `${started[0].httpUrl}/v1/operator/raft/configuration`,
    ) as { Servers: { Node: string; Voter: boolean; Leader: boolean }[] };
    assert.equal(configuration.Servers.length, 3);
    assert.ok(configuration.Servers.every((server) => server.Voter));
    assert.equal(configuration.Servers.filter((server) => server.Leader).length, 1);

    // Writes through any server are readable with ?consistent on every server.
    for (const [at, agent] of started.entries()) {
      assert.equal(await putKey(agent, `through/${at}`, `value-${at}`), true);
    }
    for (const agent of started) {
      for (let at = 0; at < started.length; at++) {
        assert.equal(await readKey(agent, `through/${at}`, "consistent"), `value-${at}`);
      }
      const response = await fetch(`${agent.httpUrl}/v1/kv/through/0`);
      assert.equal(response.status, 200, "a default read works on every server");
      assert.equal(response.headers.get("X-Consul-KnownLeader"), "true");
      await response.body?.cancel();
    }

    // A write load through every server; the leader is killed in the middle of it.
    const acknowledged = new Map<string, string>();
    let loading = true;
    let sequence = 0;
    const workers = Array.from({ length: 6 }, async (_, worker) => {
      while (loading) {
        const agent = started[worker % started.length];
        const key = `load/${worker}/${sequence++}`;
        if (await putKey(agent, key, key)) acknowledged.set(key, key);
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const leaderHost = leader.split(":")[0];
    const killedAt = performance.now();
    await kill(agents.get(leaderHost)!);
    const survivors = hosts.filter((host) => host !== leaderHost).map((h) => agents.get(h)!);
    await agreedLeader(survivors, leader);
    const failoverMs = Math.round(performance.now() - killedAt);
    await new Promise((resolve) => setTimeout(resolve, 500));
    loading = false;
    await Promise.all(workers);
    assert.ok(acknowledged.size >= 20, `${acknowledged.size} writes acknowledged`);

    // Every acknowledged write is readable on every survivor.
    for (const agent of survivors) {
      const entries = await getJson(`${agent.httpUrl}/v1/kv/load/?recurse&consistent`) as {
        Key: string;
        Value: string;
      }[];
      const stored = new Map(entries.map((entry) => [entry.Key, atob(entry.Value)]));
      for (const [key, value] of acknowledged) {
        assert.equal(stored.get(key), value, `acknowledged ${key} survives the failover`);
      }
    }

    // The killed server restarts from its data dir and catches up without bootstrapping.
    const restarted = await start(leaderHost);
    agents.set(leaderHost, restarted);
    assert.doesNotMatch(restarted.log(), /Bootstrapped/, "a restart never bootstraps again");
    assert.equal(await putKey(survivors[0], "after/restart", "latest"), true);
    await eventually(
      async () => (await readKey(restarted, "after/restart", "stale")) === "latest" || undefined,
      20_000,
      "the restarted server to catch up",
    );
    const peers = await getJson(`${restarted.httpUrl}/v1/status/peers`) as string[];
    assert.equal(peers.length, 3);
    console.log(
      `cluster: ${acknowledged.size} writes acknowledged during the load; a new leader ` +
        `${failoverMs} ms after the SIGKILL`,
    );
  });
});
