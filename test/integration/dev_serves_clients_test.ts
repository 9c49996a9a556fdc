// Goal: a `-dev` agent serves client agents as Consul's dev agent does: it listens for the server
// RPC (8300), so a client that joins its gossip pool finds it as its server, and the client's
// KV writes and catalog reads go through it. Its -advertise-wan address is what its WAN member and
// its node's `wan` tagged address carry.
// Method: real `cairn agent -dev` on 127.0.20.31 and a client agent on 127.0.20.32 joining its
// gossip port; every wait is bounded.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentProcess, startAgentProcess } from "../_support/agent_process.ts";
import { waitFor } from "../_support/wait_for.ts";

const root = mkdtempSync(join(tmpdir(), "cairn-dev-clients-"));
const agents: AgentProcess[] = [];
after(async () => {
  await Promise.all(agents.map((agent) => agent.stop(3_000)));
  rmSync(root, { recursive: true, force: true });
});

test("a client agent uses a -dev agent as its server", async () => {
  const dev = await startAgentProcess({
    host: "127.0.20.31",
    args: ["-node=dev", "-advertise-wan=127.0.20.39"],
  });
  agents.push(dev);
  const client = await startAgentProcess({
    host: "127.0.20.32",
    dev: false,
    args: [`-data-dir=${root}`, "-node=c1", `-retry-join=127.0.20.31:${dev.serfLanPort}`],
  });
  agents.push(client);
  const written = await waitFor(
    "the client to reach the dev agent's RPC",
    async () => {
      const response = await fetch(`${client.httpUrl}/v1/kv/from-client`, {
        method: "PUT",
        body: "hello",
      });
      const text = await response.text();
      return response.status === 200 ? text : undefined;
    },
    20_000,
    () => `\nclient log:\n${client.log()}\ndev log:\n${dev.log()}`,
  );
  assert.equal(written, "true");
  const read = await fetch(`${dev.httpUrl}/v1/kv/from-client?raw`);
  assert.equal(await read.text(), "hello");
  const nodes = await waitFor("the client's node in the dev agent's catalog", async () => {
    const response = await fetch(`${dev.httpUrl}/v1/catalog/nodes`);
    const list = await response.json() as { Node: string }[];
    const names = list.map((node) => node.Node).sort();
    return names.length === 2 ? names : undefined;
  }, 20_000);
  assert.deepEqual(nodes, ["c1", "dev"]);

  const wan = await (await fetch(`${dev.httpUrl}/v1/agent/members?wan=1`)).json() as {
    Name: string;
    Addr: string;
  }[];
  assert.deepEqual(wan.map((member) => [member.Name, member.Addr]), [["dev.dc1", "127.0.20.39"]]);
  const node = await (await fetch(`${dev.httpUrl}/v1/catalog/node/dev`)).json() as {
    Node: { TaggedAddresses: Record<string, string> };
  };
  assert.equal(node.Node.TaggedAddresses.wan, "127.0.20.39");
  assert.equal(node.Node.TaggedAddresses.lan, "127.0.20.31");
});
