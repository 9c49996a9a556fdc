// Tests of `cairn snapshot save|restore|inspect` (src/cli/snapshot_commands.ts) and `cairn
// operator raft list-peers|remove-peer` (src/cli/operator_commands.ts).
//
// Goal: save writes a verified archive, inspect summarises it without an agent, restore brings
// the saved state back (a later write is gone), damaged files are refused before any request;
// the operator commands send Consul's requests and print Consul's table and messages. Method:
// the snapshot commands run in-process against a real dev agent on 127.0.0.1 port 0; the
// operator commands against the fake agent that records requests and answers from a table.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunningAgent } from "../../src/agent/agent.ts";
import { runCli } from "../../src/cli/cli.ts";
import { call, put, startTestAgent } from "../http/_agent.ts";
import { type FakeAgent, runCairn, startFakeAgent } from "./fake_agent.ts";
import { FakeRuntime } from "./fake_runtime.ts";

let agent: RunningAgent;
let fake: FakeAgent;
const root = mkdtempSync(join(tmpdir(), "cairn-cli-snapshot-"));

before(async () => {
  agent = await startTestAgent({ listen: true });
  fake = await startFakeAgent();
});
after(async () => {
  await fake.close();
  await agent.stop();
  rmSync(root, { recursive: true, force: true });
});

async function cairn(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const address = agent.httpAddress!;
  const runtime = new FakeRuntime({ env: { CONSUL_HTTP_ADDR: `${address.host}:${address.port}` } });
  const code = await runCli(runtime, args);
  return { code, stdout: runtime.stdout, stderr: runtime.stderr };
}

test("snapshot save, inspect and restore round-trip through the agent", async () => {
  assert.equal((await put(agent, "/v1/kv/cli/a", "one")).status, 200);
  const file = join(root, "backup.snap");
  const saved = await cairn(["snapshot", "save", file]);
  assert.equal(saved.code, 0, saved.stderr);
  assert.match(saved.stdout, /^Saved and verified snapshot to index \d+\n$/);

  const inspected = await cairn(["snapshot", "inspect", file]);
  assert.equal(inspected.code, 0, inspected.stderr);
  const size = readFileSync(file).length;
  assert.match(inspected.stdout, new RegExp(`^ Index +\\d+\n Size +${size}\n`));
  assert.match(inspected.stdout, /\n KV +1\n/);
  assert.match(inspected.stdout, /\n Nodes +1\n/);
  assert.match(inspected.stdout, /\n Sessions +0\n$/);

  assert.equal((await put(agent, "/v1/kv/cli/later", "x")).status, 200);
  const restored = await cairn(["snapshot", "restore", file]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(restored.stdout, "Restored snapshot\n");
  assert.equal((await call(agent, "/v1/kv/cli/later")).status, 404);
  assert.equal(atob((await call(agent, "/v1/kv/cli/a")).json[0].Value), "one");
});

test("snapshot restore and inspect refuse a damaged file; usage errors exit 2", async () => {
  const file = join(root, "garbage.snap");
  writeFileSync(file, "garbage");
  const restored = await cairn(["snapshot", "restore", file]);
  assert.equal(restored.code, 1);
  assert.match(restored.stderr, /^Error reading snapshot file ".*": Cannot read the snapshot/);
  const inspected = await cairn(["snapshot", "inspect", join(root, "missing.snap")]);
  assert.equal(inspected.code, 1);
  assert.match(inspected.stderr, /no such file/);
  assert.equal((await cairn(["snapshot", "save"])).code, 2);
});

test("operator raft list-peers prints Consul's table", async () => {
  const outcome = await runCairn(fake, ["operator", "raft", "list-peers", "-stale"], {
    "GET /v1/operator/raft/configuration?stale=": {
      body: {
        Servers: [
          {
            ID: "id-1",
            Node: "s1",
            Address: "127.0.0.1:8300",
            Leader: true,
            Voter: true,
            ProtocolVersion: "3",
          },
          {
            ID: "id-22",
            Node: "server-2",
            Address: "127.0.0.2:8300",
            Leader: false,
            Voter: false,
            ProtocolVersion: "3",
          },
        ],
        Index: 7,
      },
    },
  });
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.equal(
    outcome.stdout,
    [
      "Node      ID     Address         State     Voter  RaftProtocol",
      "s1        id-1   127.0.0.1:8300  leader    true   3",
      "server-2  id-22  127.0.0.2:8300  follower  false  3",
      "",
    ].join("\n"),
  );
});

test("operator raft remove-peer sends id or address and reports errors", async () => {
  const byId = await runCairn(fake, ["operator", "raft", "remove-peer", "-id=id-22"], {
    "DELETE /v1/operator/raft/peer?id=id-22": { body: "" },
  });
  assert.equal(byId.code, 0, byId.stderr);
  assert.equal(byId.stdout, 'Removed peer with id "id-22"\n');
  const byAddress = await runCairn(
    fake,
    ["operator", "raft", "remove-peer", "-address=127.0.0.2:8300"],
    { "DELETE /v1/operator/raft/peer?address=127.0.0.2%3A8300": { status: 500, body: "nope" } },
  );
  assert.equal(byAddress.code, 1);
  assert.equal(byAddress.stderr, "Error removing peer: 500 (nope)\n");
  const neither = await runCairn(fake, ["operator", "raft", "remove-peer"], {});
  assert.equal(neither.code, 2);
  assert.deepEqual(neither.requests, []);
});
