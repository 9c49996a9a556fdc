// Goal: cairn's LAN gossip interoperates with the real HashiCorp serf agent (Debian's `serf`,
// memberlist 0.2.2) on the wire, plaintext and encrypted: each side lists the other alive with
// its tags, each side marks a SIGKILLed peer failed, a serf agent's graceful leave (`serf leave`,
// SIGINT) shows as left in cairn, and a wrong key keeps cairn out.
// Method: real `serf agent` processes and `cairn agent -dev` processes on 127.0.12.51-58, with
// memberlist's default LAN timings; we watch `serf members -format=json` and cairn's
// `/v1/agent/members` until they show what we expect, within generous bounded waits.
// Skips when /usr/bin/serf is missing (`apt-get install -y serf`).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { type AgentProcess, startAgentProcess } from "../_support/agent_process.ts";
import { waitFor } from "../_support/wait_for.ts";

const serfBin = "/usr/bin/serf";
const skip = existsSync(serfBin) ? false : `${serfBin} is missing: apt-get install -y serf`;

/** Failure detection with LAN timings takes ~7 s (probe, 0.5 s timeout, 4 s suspicion). */
const failureWaitMs = 25_000;
const joinWaitMs = 15_000;

interface SerfMember {
  name: string;
  addr: string;
  status: string;
  tags: Record<string, string>;
}

interface CairnMember {
  Name: string;
  Addr: string;
  Port: number;
  Status: number;
  Tags: Record<string, string>;
}

/** A running `serf agent`. */
class SerfAgent {
  readonly child: ChildProcess;
  readonly rpc: string;
  #log = "";

  constructor(name: string, host: string, args: string[] = []) {
    this.rpc = `${host}:7373`;
    this.child = spawn(serfBin, [
      "agent",
      `-node=${name}`,
      `-bind=${host}:7946`,
      `-rpc-addr=${this.rpc}`,
      ...args,
    ], { stdio: ["ignore", "pipe", "pipe"] });
    const append = (chunk: Uint8Array) => this.#log += new TextDecoder().decode(chunk);
    this.child.stdout?.on("data", append);
    this.child.stderr?.on("data", append);
  }

  log(): string {
    return this.#log;
  }

  /** Members as `serf members -format=json` lists them, or undefined while RPC is not up. */
  async members(): Promise<SerfMember[] | undefined> {
    const output = await serf(["members", `-rpc-addr=${this.rpc}`, "-format=json"]);
    if (output === undefined) return undefined;
    return (JSON.parse(output) as { members: SerfMember[] }).members;
  }

  async ready(): Promise<void> {
    await waitFor(`serf RPC at ${this.rpc}`, async () => await this.members(), 10_000);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGKILL");
    }
  }
}

function serf(args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(serfBin, args, { timeout: 5_000 }, (error, stdout) => {
      resolve(error ? undefined : stdout);
    });
  });
}

async function cairnMembers(agent: AgentProcess): Promise<CairnMember[]> {
  const response = await fetch(`${agent.httpUrl}/v1/agent/members`);
  assert.equal(response.status, 200);
  return await response.json() as CairnMember[];
}

async function put(agent: AgentProcess, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${agent.httpUrl}${path}`, { method: "PUT" });
  return { status: response.status, body: await response.text() };
}

function findSerfMember(members: SerfMember[] | undefined, name: string, status: string) {
  return members?.find((member) => member.name === name && member.status === status);
}

describe("cairn gossip with the real serf agent", { skip }, () => {
  const serfs: SerfAgent[] = [];
  const cairns: AgentProcess[] = [];
  let key = "";
  let s1: SerfAgent; // plain cluster, joined by cairn-1
  let s2: SerfAgent; // joins cairn-1 itself
  let s3: SerfAgent; // encrypted cluster
  let c1: AgentProcess;
  let c2: AgentProcess; // right key
  let c3: AgentProcess; // wrong key

  function startSerf(name: string, host: string, args: string[] = []): SerfAgent {
    const agent = new SerfAgent(name, host, args);
    serfs.push(agent);
    return agent;
  }

  async function startCairn(name: string, host: string, args: string[]): Promise<AgentProcess> {
    const agent = await startAgentProcess({
      host,
      args: [`-node=${name}`, "-serf-lan-port=8301", ...args],
    });
    cairns.push(agent);
    return agent;
  }

  before(async () => {
    key = (await serf(["keygen"]))?.trim() ?? "";
    assert.match(key, /^[A-Za-z0-9+/]{43}=$/, "serf keygen made no key");
    const otherKey = (await serf(["keygen"]))?.trim() ?? "";
    s1 = startSerf("s1", "127.0.12.51", ["-tag", "role=web"]);
    s2 = startSerf("s2", "127.0.12.53");
    s3 = startSerf("s3", "127.0.12.54", [`-encrypt=${key}`]);
    await Promise.all([s1.ready(), s2.ready(), s3.ready()]);
    [c1, c2, c3] = await Promise.all([
      startCairn("cairn-1", "127.0.12.52", ["-retry-join=127.0.12.51:7946"]),
      startCairn("cairn-2", "127.0.12.55", [`-encrypt=${key}`, "-retry-join=127.0.12.54:7946"]),
      startCairn("cairn-3", "127.0.12.56", [
        `-encrypt=${otherKey}`,
        "-retry-join=127.0.12.54:7946",
      ]),
    ]);
  });

  after(async () => {
    for (const agent of serfs) agent.kill();
    await Promise.all(cairns.map((agent) => agent.stop(2_000)));
  });

  it("cairn joins a serf cluster: serf lists it alive with Consul's tags, cairn lists serf", async () => {
    const seen = await waitFor(
      "serf to list cairn-1 alive",
      async () => findSerfMember(await s1.members(), "cairn-1", "alive"),
      joinWaitMs,
      () => `\ncairn log:\n${c1.log()}`,
    );
    assert.equal(seen.addr, "127.0.12.52:8301");
    assert.equal(seen.tags.role, "consul");
    assert.equal(seen.tags.dc, "dc1");
    assert.equal(seen.tags.vsn, "2");
    assert.equal(seen.tags.port, "8300");
    assert.match(seen.tags.id, /^[0-9a-f-]{36}$/);
    const members = await cairnMembers(c1);
    assert.equal(members[0].Name, "cairn-1", "the agent itself comes first");
    const s1Member = members.find((member) => member.Name === "s1");
    assert.equal(s1Member?.Status, 1);
    assert.equal(s1Member?.Addr, "127.0.12.51");
    assert.equal(s1Member?.Port, 7946);
    assert.equal(s1Member?.Tags.role, "web");
  });

  it("a serf agent joins cairn (serf join): cairn lists it alive", async () => {
    const joined = await serf(["join", `-rpc-addr=${s2.rpc}`, "127.0.12.52:8301"]);
    assert.match(joined ?? "", /Successfully joined cluster by contacting 1 nodes/);
    await waitFor("cairn to list s2 alive", async () => {
      const members = await cairnMembers(c1);
      return members.find((member) => member.Name === "s2" && member.Status === 1);
    }, joinWaitMs);
    // s2 learned of s1 through cairn's push/pull reply.
    await waitFor(
      "s2 to list s1 alive",
      async () => findSerfMember(await s2.members(), "s1", "alive"),
      joinWaitMs,
    );
  });

  it("SIGKILL of a serf agent: cairn marks it failed (4)", async () => {
    s2.kill();
    await waitFor("cairn to list s2 failed", async () => {
      const members = await cairnMembers(c1);
      return members.find((member) => member.Name === "s2" && member.Status === 4);
    }, failureWaitMs);
    const s1Member = (await cairnMembers(c1)).find((member) => member.Name === "s1");
    assert.equal(s1Member?.Status, 1, "s1 stays alive");
  });

  it("SIGKILL of cairn: serf marks it failed", async () => {
    c1.child.kill("SIGKILL");
    await waitFor(
      "serf to list cairn-1 failed",
      async () => findSerfMember(await s1.members(), "cairn-1", "failed"),
      failureWaitMs,
      () => `\nserf log:\n${s1.log()}`,
    );
  });

  it("with -encrypt and serf's key, cairn joins an encrypted serf cluster", async () => {
    await waitFor(
      "encrypted serf to list cairn-2 alive",
      async () => findSerfMember(await s3.members(), "cairn-2", "alive"),
      joinWaitMs,
      () => `\ncairn log:\n${c2.log()}`,
    );
    const members = await cairnMembers(c2);
    assert.equal(members.find((member) => member.Name === "s3")?.Status, 1);
    assert.match(s3.log(), /Encrypted: true/);
    const joined = await put(c2, "/v1/agent/join/127.0.12.54:7946");
    assert.deepEqual(joined, { status: 200, body: "" });
  });

  // In the encrypted cluster: left members count in memberlist's estimate of the cluster size,
  // so in the plaintext one they would make s1 wait for confirmations of cairn-1's failure
  // that no one is left to send (Lifeguard), and the SIGKILL test above would take 24 s.
  for (const [how, host] of [["serf leave", "127.0.12.57"], ["SIGINT", "127.0.12.58"]]) {
    it(`a serf agent's graceful leave (${how}): cairn lists it left (3)`, async () => {
      const name = how === "SIGINT" ? "s-int" : "s-leave";
      const leaver = startSerf(name, host, [`-encrypt=${key}`]);
      await leaver.ready();
      const joined = await serf(["join", `-rpc-addr=${leaver.rpc}`, "127.0.12.55:8301"]);
      assert.match(joined ?? "", /Successfully joined cluster/);
      await waitFor(`cairn to list ${name} alive`, async () => {
        const members = await cairnMembers(c2);
        return members.find((member) => member.Name === name && member.Status === 1);
      }, joinWaitMs);
      if (how === "SIGINT") leaver.child.kill("SIGINT");
      else assert.notEqual(await serf(["leave", `-rpc-addr=${leaver.rpc}`]), undefined);
      const seen: number[] = [];
      await waitFor(
        `cairn to list ${name} left`,
        async () => {
          const member = (await cairnMembers(c2)).find((member) => member.Name === name);
          if (member !== undefined && seen.at(-1) !== member.Status) seen.push(member.Status);
          return member?.Status === 3 ? member : undefined;
        },
        joinWaitMs,
        () => `\nstatuses seen: ${seen}\ncairn log:\n${c2.log()}`,
      );
      // A graceful leave is never reported as a failure on the way (Serf: leaving, then left).
      assert.equal(seen.includes(4), false, `statuses seen: ${seen}`);
      await waitFor(
        `serf s3 to list ${name} left`,
        async () => findSerfMember(await s3.members(), name, "left"),
        joinWaitMs,
      );
    });
  }

  it("with a wrong key, cairn does not join and keeps retrying", async () => {
    await waitFor(
      "cairn-3 to fail two join attempts",
      () => Promise.resolve(c3.log().match(/join failed/g)?.length! >= 2 ? true : undefined),
      joinWaitMs,
    );
    assert.match(c3.log(), /Cannot decrypt/);
    const refused = await put(c3, "/v1/agent/join/127.0.12.54:7946");
    assert.equal(refused.status, 500);
    assert.match(refused.body, /Cannot join "127\.0\.12\.54:7946": .*Cannot decrypt/);
    const members = await cairnMembers(c3);
    assert.deepEqual(members.map((member) => member.Name), ["cairn-3"]);
    const serfSees = await s3.members();
    assert.equal(serfSees?.some((member) => member.name === "cairn-3"), false);
  });
});
