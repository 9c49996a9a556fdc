// Goal: a durable one-server agent (`cairn agent -server -bootstrap-expect=1 -data-dir=D`) keeps
// every acknowledged write across SIGKILL; a WAL whose tail was torn while it was down recovers
// and starts (reporting the cut); a WAL damaged in the middle refuses to start, exiting non-zero
// with "Cannot open the write-ahead log" on stderr. Method: real agent processes on 127.0.0.50
// sharing one temp data dir; writes over HTTP, some still in flight at the SIGKILL; the WAL's
// segment files damaged with node:fs between runs.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentProcess, runCairnToExit, startAgentProcess } from "../_support/agent_process.ts";

const host = "127.0.0.50";
const dataDir = mkdtempSync(join(tmpdir(), "cairn-durable-"));
const serverArgs = [
  "-server",
  "-bootstrap-expect=1",
  `-data-dir=${dataDir}`,
  "-node=durable-1",
];

after(() => rmSync(dataDir, { recursive: true, force: true }));

function start(): Promise<AgentProcess> {
  return startAgentProcess({ host, dev: false, args: serverArgs });
}

async function kill(agent: AgentProcess): Promise<void> {
  const child = agent.child;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

async function putKey(agent: AgentProcess, key: string, value: string): Promise<boolean> {
  try {
    const response = await fetch(`${agent.httpUrl}/v1/kv/${key}`, { method: "PUT", body: value });
    return response.status === 200 && (await response.text()) === "true";
  } catch {
    return false; // Cut off by the SIGKILL: not acknowledged.
  }
}

async function getKey(agent: AgentProcess, key: string): Promise<string | undefined> {
  const response = await fetch(`${agent.httpUrl}/v1/kv/${key}?raw`);
  if (response.status === 404) {
    await response.body?.cancel();
    return undefined;
  }
  return await response.text();
}

function segments(): string[] {
  return readdirSync(join(dataDir, "raft")).filter((name) => name.startsWith("wal-")).sort();
}

const acknowledged = new Map<string, string>();

async function assertAcknowledgedReadable(agent: AgentProcess): Promise<void> {
  for (const [key, value] of acknowledged) {
    assert.equal(await getKey(agent, key), value, `acknowledged ${key} is readable`);
  }
}

describe("a durable one-server agent process", () => {
  it("keeps every acknowledged write across SIGKILL, and keeps its node ID", async () => {
    const agent = await start();
    try {
      for (let round = 0; round < 5; round++) {
        const writes = Array.from({ length: 20 }, async (_, at) => {
          const key = `durable/${round}/${at}`;
          const value = `value-${round}-${at}`;
          if (await putKey(agent, key, value)) acknowledged.set(key, value);
        });
        await Promise.all(writes);
      }
      // A last round still in flight when the process dies.
      const inFlight = Array.from({ length: 20 }, async (_, at) => {
        const key = `durable/inflight/${at}`;
        if (await putKey(agent, key, `late-${at}`)) acknowledged.set(key, `late-${at}`);
      });
      await new Promise((resolve) => setTimeout(resolve, 2));
      await kill(agent);
      await Promise.all(inFlight);
    } finally {
      await kill(agent);
    }
    assert.ok(acknowledged.size >= 100, `${acknowledged.size} writes acknowledged`);
    const nodeId = readFileSync(join(dataDir, "node-id"), "utf8");

    const restarted = await start();
    try {
      await assertAcknowledgedReadable(restarted);
      assert.doesNotMatch(restarted.log(), /Bootstrapped/, "a restart never bootstraps again");
      const self = await (await fetch(`${restarted.httpUrl}/v1/agent/self`)).json();
      assert.equal(self.Config.NodeID, nodeId);
      assert.equal(self.Stats.raft.state, "Leader");
    } finally {
      await kill(restarted);
    }
  });

  it("recovers a WAL whose tail was torn while it was down", async () => {
    const last = join(dataDir, "raft", segments().at(-1)!);
    truncateSync(last, statSync(last).size - 3);
    const agent = await start();
    try {
      assert.match(agent.log(), /Cut a torn tail off the write-ahead log/);
      await assertAcknowledgedReadable(agent);
      assert.equal(await putKey(agent, "durable/after-tear", "ok"), true);
      acknowledged.set("durable/after-tear", "ok");
      for (const mode of ["consistent", "stale"]) {
        const response = await fetch(`${agent.httpUrl}/v1/kv/durable/after-tear?raw&${mode}`);
        assert.equal(await response.text(), "ok", `?${mode} reads the write`);
      }
      const consistent = await fetch(`${agent.httpUrl}/v1/kv/durable/after-tear?consistent`);
      assert.equal(consistent.headers.get("X-Consul-KnownLeader"), "true");
      await consistent.body?.cancel();
    } finally {
      await kill(agent);
    }
  });

  it("refuses to start on a WAL damaged in the middle, with a clear message", async () => {
    const first = join(dataDir, "raft", segments()[0]);
    const bytes = readFileSync(first);
    bytes[Math.floor(bytes.byteLength / 2)] ^= 0xff;
    writeFileSync(first, bytes);
    const { code, stderr } = await runCairnToExit([
      "agent",
      `-client=${host}`,
      `-bind=${host}`,
      "-http-port=0",
      "-dns-port=0",
      ...serverArgs,
    ]);
    assert.notEqual(code, 0);
    assert.match(stderr, /Cannot open the write-ahead log: record at .* offset \d+/);
  });
});
