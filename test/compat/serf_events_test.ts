// Goal: cairn is a full Serf member of a cluster with the real HashiCorp serf agent (Debian's
// `serf`, Serf 0.9.4 on memberlist 0.2.2): `serf event` reaches cairn's `/v1/event/list`; a cairn
// event (`PUT /v1/event/fire`) reaches serf's event handler as Consul's `consul:event:<name>`
// and every cairn agent's list; `serf query` gets cairn's acks; a graceful cairn leave
// (`PUT /v1/agent/leave`, SIGTERM) shows as left, not failed, on serf and on cairn.
// Method: one `serf agent` with an event handler writing to a temp file, cairn-a joining it and
// cairn-b joining cairn-a by -retry-join, all on 127.0.0.70-72; bounded polling waits.
// Skips when /usr/bin/serf is missing (`apt-get install -y serf`).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentProcess, startAgentProcess } from "../_support/agent_process.ts";
import { waitFor } from "../_support/wait_for.ts";
import { decodeConsulUserEvent } from "../../src/core/wire/mod.ts";

const serfBin = "/usr/bin/serf";
const skip = existsSync(serfBin) ? false : `${serfBin} is missing: apt-get install -y serf`;
const waitMs = 15_000;

interface SerfMember {
  name: string;
  status: string;
}

interface CairnMember {
  Name: string;
  Status: number;
}

interface CairnEvent {
  ID: string;
  Name: string;
  Payload: string | null;
  LTime: number;
}

function serf(args: string[], timeoutMs = 8_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(serfBin, args, { timeout: timeoutMs }, (error, stdout) => {
      resolve(error ? undefined : stdout);
    });
  });
}

async function getJson<T>(agent: AgentProcess, path: string): Promise<T> {
  const response = await fetch(`${agent.httpUrl}${path}`);
  assert.equal(response.status, 200, `GET ${path}`);
  return await response.json() as T;
}

describe(
  "cairn as a Serf member: events, queries and leaves with the real serf agent",
  { skip },
  () => {
    const rpc = "127.0.0.70:7373";
    let dir = "";
    let handlerOutput = "";
    let serfAgent: ChildProcess;
    let serfLog = "";
    let a: AgentProcess;
    let b: AgentProcess;

    async function serfMember(name: string, status: string): Promise<SerfMember | undefined> {
      const output = await serf(["members", `-rpc-addr=${rpc}`, "-format=json"]);
      if (output === undefined) return undefined;
      const members = (JSON.parse(output) as { members: SerfMember[] }).members;
      return members.find((member) => member.name === name && member.status === status);
    }

    async function cairnMember(agent: AgentProcess, name: string, status: number) {
      const members = await getJson<CairnMember[]>(agent, "/v1/agent/members");
      return members.find((member) => member.Name === name && member.Status === status);
    }

    async function cairnEvent(agent: AgentProcess, name: string): Promise<CairnEvent | undefined> {
      const events = await getJson<CairnEvent[]>(agent, `/v1/event/list?name=${name}`);
      return events[0];
    }

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "cairn-serf-events-"));
      handlerOutput = join(dir, "events.txt");
      const handler = join(dir, "handler.sh");
      // One line per user event: its name, then its payload in base64.
      writeFileSync(
        handler,
        `#!/bin/sh\nif [ "$SERF_EVENT" = user ]; then\n` +
          `  echo "$SERF_USER_EVENT $(base64 -w0)" >> ${handlerOutput}\nfi\n`,
      );
      chmodSync(handler, 0o755);
      serfAgent = spawn(serfBin, [
        "agent",
        "-node=s1",
        "-bind=127.0.0.70:7946",
        `-rpc-addr=${rpc}`,
        `-event-handler=${handler}`,
      ], { stdio: ["ignore", "pipe", "pipe"] });
      const append = (chunk: Uint8Array) => serfLog += new TextDecoder().decode(chunk);
      serfAgent.stdout?.on("data", append);
      serfAgent.stderr?.on("data", append);
      await waitFor("serf RPC", () => serf(["members", `-rpc-addr=${rpc}`]), 10_000);
      a = await startAgentProcess({
        host: "127.0.0.71",
        args: ["-node=cairn-a", "-serf-lan-port=8301", "-retry-join=127.0.0.70:7946"],
      });
      b = await startAgentProcess({
        host: "127.0.0.72",
        args: ["-node=cairn-b", "-serf-lan-port=8301", "-retry-join=127.0.0.71"],
      });
    });

    after(async () => {
      if (serfAgent.exitCode === null && serfAgent.signalCode === null) serfAgent.kill("SIGKILL");
      await Promise.all([a?.stop(2_000), b?.stop(2_000)]);
      rmSync(dir, { recursive: true, force: true });
    });

    it("the three form one cluster: serf and each cairn list everyone alive", async () => {
      await waitFor("serf to list cairn-b alive", () => serfMember("cairn-b", "alive"));
      await waitFor("serf to list cairn-a alive", () => serfMember("cairn-a", "alive"));
      await waitFor("cairn-b to list s1 alive", () => cairnMember(b, "s1", 1));
      await waitFor("cairn-a to list cairn-b alive", () => cairnMember(a, "cairn-b", 1));
    });

    it("serf event reaches /v1/event/list on both cairn agents", async () => {
      const fired = await serf(["event", `-rpc-addr=${rpc}`, "deploy", "payload-1"]);
      assert.match(fired ?? "", /Event 'deploy' dispatched/);
      for (const agent of [a, b]) {
        const event = await waitFor("cairn to list deploy", () => cairnEvent(agent, "deploy"));
        assert.equal(atob(event.Payload ?? ""), "payload-1");
        assert.ok(event.LTime >= 1, "LTime is Serf's event clock");
        assert.match(event.ID, /^[0-9a-f-]{36}$/);
      }
    });

    it("a cairn event reaches serf's handler as consul:event:<name> and both cairn lists", async () => {
      const response = await fetch(`${a.httpUrl}/v1/event/fire/release?node=cairn`, {
        method: "PUT",
        body: "v2",
      });
      assert.equal(response.status, 200);
      const fired = await response.json() as CairnEvent;
      assert.equal(fired.Name, "release");
      for (const agent of [a, b]) {
        const event = await waitFor("cairn to list release", () => cairnEvent(agent, "release"));
        assert.equal(event.ID, fired.ID, "every agent lists the same event");
        assert.equal(atob(event.Payload ?? ""), "v2");
      }
      const line = await waitFor(
        "serf's handler to see consul:event:release",
        () => {
          const text = existsSync(handlerOutput) ? readFileSync(handlerOutput, "utf8") : "";
          return Promise.resolve(
            text.split("\n").find((l) => l.startsWith("consul:event:release")),
          );
        },
        waitMs,
        () => `\nserf log:\n${serfLog}`,
      );
      const payload = Uint8Array.from(atob(line.split(" ")[1]), (c) => c.charCodeAt(0));
      const event = decodeConsulUserEvent(payload);
      assert.equal(event.id, fired.ID);
      assert.equal(event.name, "release");
      assert.equal(new TextDecoder().decode(event.payload), "v2");
      assert.equal(event.nodeFilter, "cairn");
      assert.equal(event.version, 1);
    });

    it("serf query gets an ack from each cairn agent", async () => {
      const output = await serf(
        ["query", `-rpc-addr=${rpc}`, "-format=json", "-timeout=3s", "ping"],
        10_000,
      );
      assert.ok(output !== undefined, "serf query ran");
      const result = JSON.parse(output) as { Acks: string[]; Responses: Record<string, string> };
      assert.deepEqual([...result.Acks].sort(), ["cairn-a", "cairn-b", "s1"]);
      assert.deepEqual(result.Responses, {}, "no handler: cairn acks and does not respond");
    });

    it("PUT /v1/agent/leave: serf and the other cairn list cairn-b as left", async () => {
      const response = await fetch(`${b.httpUrl}/v1/agent/leave`, { method: "PUT" });
      assert.equal(response.status, 200);
      await waitFor(
        "serf to list cairn-b left",
        () => serfMember("cairn-b", "left"),
        waitMs,
        () => `\nserf log:\n${serfLog}\ncairn-b log:\n${b.log()}`,
      );
      await waitFor("cairn-a to list cairn-b left (3)", () => cairnMember(a, "cairn-b", 3));
    });

    it("SIGTERM: serf lists cairn-a as left", async () => {
      const code = await a.stop(8_000);
      assert.equal(code, 0);
      await waitFor("serf to list cairn-a left", () => serfMember("cairn-a", "left"));
    });
  },
);
