// Goal: keyring changes interoperate with the real HashiCorp serf agent (Debian's `serf`,
// memberlist 0.2.2) in a mixed encrypted cluster: `serf keys -install/-use/-remove` succeed on
// every member (serf counts cairn's answer as one of them) and change cairn's keyring too, as
// `/v1/operator/keyring` shows; `cairn keyring -install/-use/-remove` reach the serf agents, as
// `serf keys -list` shows; cairn's refusal to remove the primary key reaches serf's CLI as a
// per-node failure; and gossip keeps flowing after the old key is gone.
// Method: two `serf agent -encrypt` processes and one `cairn agent -dev -encrypt` process on
// 127.0.11.30-32 with memberlist's default LAN timings; the `serf` and `cairn` CLIs are run
// as processes; waits are bounded and generous. Skips when /usr/bin/serf is missing.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type AgentProcess, runtimeCommand, startAgentProcess } from "../_support/agent_process.ts";
import { waitFor } from "../_support/wait_for.ts";

const serfBin = "/usr/bin/serf";
const skip = existsSync(serfBin) ? false : `${serfBin} is missing: apt-get install -y serf`;
const cliMain = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const joinWaitMs = 20_000;

interface Run {
  code: number;
  output: string;
}

function run(command: string, args: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

function serf(args: string[]): Promise<Run> {
  return run(serfBin, args);
}

function cairn(args: string[]): Promise<Run> {
  const [command, commandArgs] = runtimeCommand(cliMain, args);
  return run(command, commandArgs, 30_000);
}

/** A running `serf agent`. */
class SerfAgent {
  readonly child: ChildProcess;
  readonly rpc: string;
  #log = "";

  constructor(name: string, host: string, args: string[]) {
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

  async alive(): Promise<string[] | undefined> {
    const { code, output } = await serf(["members", `-rpc-addr=${this.rpc}`, "-format=json"]);
    if (code !== 0) return undefined;
    const { members } = JSON.parse(output) as { members: { name: string; status: string }[] };
    return members.filter((member) => member.status === "alive").map((member) => member.name)
      .sort();
  }

  /** `serf keys -list` as key → "n/m". */
  async keys(): Promise<Record<string, string>> {
    const { code, output } = await serf(["keys", "-list", `-rpc-addr=${this.rpc}`]);
    assert.equal(code, 0, output);
    const keys: Record<string, string> = {};
    for (const match of output.matchAll(/^(\S+=)\s+\[(\d+\/\d+)\]$/gm)) keys[match[1]] = match[2];
    return keys;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGKILL");
    }
  }
}

interface KeyringPool {
  WAN: boolean;
  Keys: Record<string, number>;
  PrimaryKeys: Record<string, number>;
  NumNodes: number;
}

describe("gossip keyring changes with the real serf agent", { skip }, () => {
  const serfs: SerfAgent[] = [];
  let cairnAgent: AgentProcess;
  let s1: SerfAgent;
  const keys: string[] = [];

  async function cairnLanKeyring(): Promise<KeyringPool> {
    const response = await fetch(`${cairnAgent.httpUrl}/v1/operator/keyring`);
    const body = await response.text();
    assert.equal(response.status, 200, body);
    const lan = (JSON.parse(body) as KeyringPool[]).find((pool) => !pool.WAN);
    assert.ok(lan !== undefined, body);
    return lan;
  }

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const { output } = await serf(["keygen"]);
      keys.push(output.trim());
      assert.match(keys[i], /^[A-Za-z0-9+/]{43}=$/, "serf keygen made no key");
    }
    s1 = new SerfAgent("s1", "127.0.11.30", [`-encrypt=${keys[0]}`]);
    serfs.push(s1);
    // s2 joins s1 at start-up, and serf gives up on a -join it cannot make: s1 must be up first.
    await waitFor("serf RPC", async () => await s1.alive(), 10_000);
    const s2 = new SerfAgent("s2", "127.0.11.32", [
      `-encrypt=${keys[0]}`,
      "-join=127.0.11.30:7946",
    ]);
    serfs.push(s2);
    cairnAgent = await startAgentProcess({
      host: "127.0.11.31",
      args: [
        "-node=cairn-1",
        "-serf-lan-port=8301",
        `-encrypt=${keys[0]}`,
        "-retry-join=127.0.11.30:7946",
      ],
    });
    await waitFor(
      "s1 to list s1, s2 and cairn-1 alive",
      async () => (await s1.alive())?.join(",") === "cairn-1,s1,s2" ? true : undefined,
      joinWaitMs,
      () => `\ncairn log:\n${cairnAgent.log()}\nserf log:\n${s1.log()}`,
    );
  });

  after(async () => {
    for (const agent of serfs) agent.kill();
    await cairnAgent?.stop(2_000);
  });

  it("serf keys -install/-use/-remove change cairn's keyring too", async () => {
    const [k1, k2] = keys;
    const installed = await serf(["keys", `-install=${k2}`, `-rpc-addr=${s1.rpc}`]);
    // serf reports success only when every member, cairn-1 included, answered with success.
    assert.equal(installed.code, 0, installed.output + cairnAgent.log());
    assert.match(installed.output, /Successfully installed key/);
    let keyring = await cairnLanKeyring();
    assert.deepEqual(keyring.Keys, { [k1]: 3, [k2]: 3 });
    assert.deepEqual(keyring.PrimaryKeys, { [k1]: 3 });

    const used = await serf(["keys", `-use=${k2}`, `-rpc-addr=${s1.rpc}`]);
    assert.equal(used.code, 0, used.output);
    keyring = await cairnLanKeyring();
    assert.deepEqual(keyring.PrimaryKeys, { [k2]: 3 });

    const removed = await serf(["keys", `-remove=${k1}`, `-rpc-addr=${s1.rpc}`]);
    assert.equal(removed.code, 0, removed.output);
    keyring = await cairnLanKeyring();
    assert.deepEqual(keyring.Keys, { [k2]: 3 });
    assert.equal(keyring.NumNodes, 3);
  });

  it("cairn keyring -install/-use/-remove reach the serf agents", async () => {
    const [, k2, k3] = keys;
    const address = `-http-addr=${cairnAgent.httpUrl}`;
    const installed = await cairn(["keyring", `-install=${k3}`, address]);
    assert.equal(installed.code, 0, installed.output);
    assert.deepEqual(await s1.keys(), { [k2]: "3/3", [k3]: "3/3" });

    assert.equal((await cairn(["keyring", `-use=${k3}`, address])).code, 0);
    const removed = await cairn(["keyring", `-remove=${k2}`, address]);
    assert.equal(removed.code, 0, removed.output);
    assert.deepEqual(await s1.keys(), { [k3]: "3/3" });

    const listed = await cairn(["keyring", "-list", address]);
    assert.equal(listed.code, 0, listed.output);
    assert.match(listed.output, new RegExp(`dc1 \\(LAN\\):\\n  ${escape(k3)} \\[3/3\\]`));
  });

  it("serf's CLI shows cairn's refusal to remove the primary key", async () => {
    const refused = await serf(["keys", `-remove=${keys[2]}`, `-rpc-addr=${s1.rpc}`]);
    assert.equal(refused.code, 1);
    assert.match(refused.output, /cairn-1\s+Cannot remove key: it is the primary key/);
    assert.match(refused.output, /3\/3 nodes reported failure/);
  });

  it("gossip keeps flowing with only the new key", async () => {
    // A user event from serf needs the current key to reach cairn.
    const fired = await serf(["event", `-rpc-addr=${s1.rpc}`, "rotated", "ok"]);
    assert.equal(fired.code, 0, fired.output);
    await waitFor("cairn to list serf's event", async () => {
      const response = await fetch(`${cairnAgent.httpUrl}/v1/event/list?name=rotated`);
      const events = await response.json() as unknown[];
      return events.length > 0 ? true : undefined;
    }, joinWaitMs);
    assert.equal((await s1.alive())?.join(","), "cairn-1,s1,s2");
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
