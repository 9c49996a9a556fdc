// Goal: `dig` (bind9-dnsutils) gets Consul-shaped DNS answers from a dev agent: A and SRV for
// registered services, RFC 2782 names, tag filters, critical instances left out, NXDOMAIN for
// unknown services. Method: start `cairn agent -dev` on 127.0.0.4, register instances over
// HTTP with distinct addresses, then run the real dig binary against the agent's DNS port.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { type AgentProcess, startAgentProcess } from "../_support/agent_process.ts";

const dig = "/usr/bin/dig";

function runDig(agent: AgentProcess, args: string[]): Promise<string> {
  const base = [`@${agent.httpHost}`, "-p", String(agent.dnsPort), "+time=2", "+tries=1"];
  return new Promise((resolve, reject) => {
    execFile(dig, [...base, ...args], { timeout: 10_000 }, (error, stdout) => {
      if (error) reject(error);
      else resolve(stdout);
    });
  });
}

async function put(agent: AgentProcess, path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${agent.httpUrl}${path}`, {
    method: "PUT",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(response.status, 200, `${path}: ${await response.text()}`);
}

describe("dig against a dev agent", { skip: !existsSync(dig) && "dig missing" }, () => {
  let agent: AgentProcess;

  before(async () => {
    agent = await startAgentProcess({ host: "127.0.0.4" });
    const service = (id: string, address: string, tags: string[]) => ({
      Name: "web",
      ID: id,
      Address: address,
      Port: 8000 + Number(id.slice(-1)),
      Tags: tags,
      Check: { TTL: "60s" },
    });
    await put(agent, "/v1/agent/service/register", service("web-1", "10.0.0.1", ["v1"]));
    await put(agent, "/v1/agent/service/register", service("web-2", "10.0.0.2", ["v2"]));
    await put(agent, "/v1/agent/service/register", service("web-3", "10.0.0.3", ["v1"]));
    await put(agent, "/v1/agent/check/pass/service:web-1");
    await put(agent, "/v1/agent/check/pass/service:web-2");
    // web-3 stays critical (its TTL check starts critical) and must never be answered.
  });

  after(async () => {
    await agent?.stop();
  });

  test("A answers only the passing instances", async () => {
    const out = await runDig(agent, ["web.service.consul", "A", "+short"]);
    assert.deepEqual(out.trim().split("\n").sort(), ["10.0.0.1", "10.0.0.2"]);
  });

  test("SRV answers with ports and node targets, and A records as additional", async () => {
    const out = await runDig(agent, ["web.service.consul", "SRV"]);
    assert.match(out, /status: NOERROR/);
    const answers = out.split("\n").filter((line) => /\sIN\s+SRV\s/.test(line));
    assert.equal(answers.length, 2, out);
    const ports = answers.map((line) => Number(line.trim().split(/\s+/)[6])).sort();
    assert.deepEqual(ports, [8001, 8002]);
    assert.match(out, /ADDITIONAL SECTION/);
  });

  test("RFC 2782 names and tag filters work", async () => {
    const tagged = await runDig(agent, ["_web._v1.service.consul", "SRV", "+short"]);
    assert.equal(tagged.trim().split("\n").length, 1, tagged);
    assert.match(tagged, /\b8001\b/);
    const all = await runDig(agent, ["_web._tcp.service.consul", "SRV", "+short"]);
    assert.equal(all.trim().split("\n").length, 2, all);
    const byTag = await runDig(agent, ["v2.web.service.consul", "A", "+short"]);
    assert.equal(byTag.trim(), "10.0.0.2");
  });

  test("names are case-insensitive", async () => {
    const out = await runDig(agent, ["WEB.Service.CONSUL", "A", "+short"]);
    assert.deepEqual(out.trim().split("\n").sort(), ["10.0.0.1", "10.0.0.2"]);
  });

  test("an unknown service is NXDOMAIN with an SOA", async () => {
    const out = await runDig(agent, ["nosuch.service.consul", "A"]);
    assert.match(out, /status: NXDOMAIN/);
    assert.match(out, /\sSOA\s/);
  });

  test("the agent's own node answers by name", async () => {
    const self = await (await fetch(`${agent.httpUrl}/v1/agent/self`)).json();
    const out = await runDig(agent, [`${self.Config.NodeName}.node.consul`, "A", "+short"]);
    assert.equal(out.trim(), agent.httpHost);
  });
});
