// Goal: DNS answers names of another datacenter as Consul does: dc1's DNS port answers
// `web.service.dc2.consul` (A, SRV, `<dc>.dc`, RFC 2782) with dc2's instances, SRV targets named
// `<node>.node.dc2.consul` with their addresses as additionals, `s2.node.dc2.consul` with dc2's
// node, and NXDOMAIN for `web.service.dc9.consul` (no path to dc9) and for dc2's service asked
// locally; a client agent of dc1 answers the same through its server (two hops); while dc2's
// server does not answer, a name of dc2 not fetched moments ago is SERVFAIL.
// Method: two real `cairn agent -server -bootstrap-expect=1` processes, dc1 on 127.0.19.1 and
// dc2 on 127.0.19.2, joined over the WAN pool (port 8302), and a client of dc1 on 127.0.19.3;
// services registered in dc2 over its HTTP API; the real `dig` asks the agents' DNS ports. dc2's
// server is paused with SIGSTOP (and resumed) for the SERVFAIL case. Waits are bounded and
// generous for a loaded machine.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentProcess, startAgentProcess } from "../_support/agent_process.ts";
import { waitFor } from "../_support/wait_for.ts";

const dig = "/usr/bin/dig";
const dataDir = mkdtempSync(join(tmpdir(), "cairn-wan-dns-"));

/** Runs dig against `agent`'s DNS port; `+time` leaves room for a fetch across the WAN. */
function runDig(agent: AgentProcess, args: string[], seconds = 6): Promise<string> {
  const base = [`@${agent.httpHost}`, "-p", String(agent.dnsPort), `+time=${seconds}`, "+tries=1"];
  return new Promise((resolve, reject) => {
    execFile(dig, [...base, ...args], { timeout: (seconds + 5) * 1_000 }, (error, stdout) => {
      if (error) reject(new Error(`dig ${args.join(" ")}: ${error.message}\n${stdout}`));
      else resolve(stdout);
    });
  });
}

/** The status dig reports (NOERROR, NXDOMAIN, SERVFAIL). */
function statusOf(output: string): string {
  return /status: ([A-Z]+)/.exec(output)?.[1] ?? `no status in:\n${output}`;
}

/** The records of a section of dig's output, each as its fields after the TTL. */
function section(output: string, name: "ANSWER" | "ADDITIONAL"): string[][] {
  const start = output.indexOf(`;; ${name} SECTION:`);
  if (start < 0) return [];
  const lines = output.slice(start).split("\n").slice(1);
  const records: string[][] = [];
  for (const line of lines) {
    if (line.trim() === "") break;
    const [owner, , , type, ...data] = line.trim().split(/\s+/);
    records.push([owner, type, ...data]);
  }
  return records.sort((a, b) => a.join(" ").localeCompare(b.join(" ")));
}

function server(node: string, datacenter: string, host: string, args: string[] = []) {
  return startAgentProcess({
    host,
    dev: false,
    args: [
      "-server",
      "-bootstrap-expect=1",
      `-data-dir=${join(dataDir, datacenter)}`,
      `-node=${node}`,
      `-datacenter=${datacenter}`,
      "-serf-wan-port=8302",
      ...args,
    ],
  });
}

async function put(agent: AgentProcess, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${agent.httpUrl}${path}`, {
    method: "PUT",
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200, `${path}: ${await response.text()}`);
}

describe("DNS names of another datacenter", { skip: !existsSync(dig) && "dig missing" }, () => {
  let dc1: AgentProcess;
  let dc2: AgentProcess;
  let client: AgentProcess | undefined;
  const logs = () =>
    `\ndc1 log:\n${dc1.log()}\ndc2 log:\n${dc2.log()}\nclient log:\n${client?.log() ?? ""}`;

  before(async () => {
    dc1 = await server("s1", "dc1", "127.0.19.1");
    dc2 = await server("s2", "dc2", "127.0.19.2", ["-retry-join-wan=127.0.19.1"]);
    await waitFor(
      "dc1 to see dc2's server in the WAN pool",
      async () => {
        const response = await fetch(`${dc1.httpUrl}/v1/catalog/datacenters`);
        const listed = await response.json() as string[];
        return listed.includes("dc2") ? true : undefined;
      },
      30_000,
      logs,
    );
    // web on dc2's own server node (its node address), and on a second node with an address
    // of its own.
    await put(dc2, "/v1/agent/service/register", { Name: "web", ID: "web-1", Port: 8080 });
    await put(dc2, "/v1/catalog/register", {
      Node: "n2b",
      Address: "10.2.0.2",
      Service: { Service: "web", ID: "web-2", Port: 9090, Tags: ["v2"] },
    });
    await waitFor(
      "dc2's catalog to hold both instances",
      async () => {
        const response = await fetch(`${dc2.httpUrl}/v1/health/service/web`);
        const entries = await response.json() as unknown[];
        return entries.length === 2 ? true : undefined;
      },
      20_000,
      logs,
    );
  });

  after(async () => {
    // A paused dc2 would not stop on SIGTERM; it may also be gone already.
    if (dc2?.child.exitCode === null) process.kill(dc2.child.pid!, "SIGCONT");
    await Promise.all([dc1?.stop(3_000), dc2?.stop(3_000), client?.stop(3_000)]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers web.service.dc2.consul SRV on dc1 with dc2's instances named in dc2", async () => {
    const out = await runDig(dc1, ["web.service.dc2.consul", "SRV"]);
    assert.equal(statusOf(out), "NOERROR", out);
    assert.deepEqual(
      section(out, "ANSWER"),
      [
        ["web.service.dc2.consul.", "SRV", "1", "1", "8080", "s2.node.dc2.consul."],
        ["web.service.dc2.consul.", "SRV", "1", "1", "9090", "n2b.node.dc2.consul."],
      ].sort((a, b) => a.join(" ").localeCompare(b.join(" "))),
    );
    assert.deepEqual(section(out, "ADDITIONAL"), [
      ["n2b.node.dc2.consul.", "A", "10.2.0.2"],
      ["s2.node.dc2.consul.", "A", "127.0.19.2"],
    ]);
  });

  it("answers A, the `<dc>.dc` form, tags and RFC 2782 names of dc2", async () => {
    const a = await runDig(dc1, ["web.service.dc2.consul", "A", "+short"]);
    assert.deepEqual(a.trim().split("\n").sort(), ["10.2.0.2", "127.0.19.2"]);
    const dotDc = await runDig(dc1, ["WEB.service.DC2.dc.consul", "A", "+short"]);
    assert.deepEqual(dotDc.trim().split("\n").sort(), ["10.2.0.2", "127.0.19.2"]);
    const tagged = await runDig(dc1, ["v2.web.service.dc2.consul", "A", "+short"]);
    assert.equal(tagged.trim(), "10.2.0.2");
    const rfc2782 = await runDig(dc1, ["_web._v2.service.dc2.consul", "SRV", "+short"]);
    assert.equal(rfc2782.trim(), "1 1 9090 n2b.node.dc2.consul.");
  });

  it("answers s2.node.dc2.consul with dc2's server node", async () => {
    const out = await runDig(dc1, ["s2.node.dc2.consul", "A"]);
    assert.equal(statusOf(out), "NOERROR", out);
    assert.deepEqual(section(out, "ANSWER"), [["s2.node.dc2.consul.", "A", "127.0.19.2"]]);
    const missing = await runDig(dc1, ["s1.node.dc2.consul", "A"]);
    assert.equal(statusOf(missing), "NXDOMAIN", "dc1's node is not in dc2");
  });

  it("answers NXDOMAIN for a datacenter with no path, and for dc2's service asked locally", async () => {
    const dc9 = await runDig(dc1, ["web.service.dc9.consul", "SRV"]);
    assert.equal(statusOf(dc9), "NXDOMAIN", dc9);
    assert.match(dc9, /AUTHORITY SECTION:\s*\nconsul\.\s+0\s+IN\s+SOA\s/);
    assert.equal(statusOf(await runDig(dc1, ["s2.node.dc9.consul", "A"])), "NXDOMAIN");
    assert.equal(statusOf(await runDig(dc1, ["web.service.consul", "A"])), "NXDOMAIN");
    assert.equal(statusOf(await runDig(dc1, ["dc2.consul", "A"])), "NOERROR", "dc2 exists");
  });

  it("a client agent of dc1 answers dc2's names through its server", async () => {
    client = await startAgentProcess({
      host: "127.0.19.3",
      dev: false,
      args: [
        `-data-dir=${join(dataDir, "client")}`,
        "-node=c1",
        "-datacenter=dc1",
        `-retry-join=127.0.19.1:${dc1.serfLanPort}`,
      ],
    });
    const agent = client;
    const srv = await waitFor(
      "the client to answer web.service.dc2.consul",
      async () => {
        const out = await runDig(agent, ["web.service.dc2.consul", "SRV", "+short"]);
        return out.trim().split("\n").length === 2 ? out : undefined;
      },
      20_000,
      logs,
    );
    assert.deepEqual(srv.trim().split("\n").sort(), [
      "1 1 8080 s2.node.dc2.consul.",
      "1 1 9090 n2b.node.dc2.consul.",
    ]);
    assert.equal((await runDig(agent, ["s2.node.dc2.consul", "A", "+short"])).trim(), "127.0.19.2");
    assert.equal(statusOf(await runDig(agent, ["web.service.dc9.consul", "A"])), "NXDOMAIN");
  });

  it("answers SERVFAIL for dc2 while its server does not answer", async () => {
    const pid = dc2.child.pid!;
    process.kill(pid, "SIGSTOP");
    try {
      // Not fetched before, so nothing held: dc1 must ask dc2, whose server is paused (its WAN
      // member stays alive for many seconds), and gives up after its fetch deadline.
      const out = await runDig(dc1, ["db.service.dc2.dc.consul", "SRV"], 8);
      assert.equal(statusOf(out), "SERVFAIL", out);
    } finally {
      process.kill(pid, "SIGCONT");
    }
  });
});
