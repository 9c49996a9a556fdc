// Goal: a dev agent started as an OS process survives whatever a client throws at it — garbage
// HTTP bodies, wrong types, oversized values, malformed DNS packets over UDP and TCP — keeps its
// stored data, and shuts down cleanly on SIGTERM. Method: start `cairn agent -dev` on
// 127.0.0.5, write a key, fire the bad inputs, then read the key back and check the exit code.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { type AgentProcess, startAgentProcess } from "../_support/agent_process.ts";

async function request(agent: AgentProcess, method: string, path: string, body?: BodyInit) {
  const response = await fetch(`${agent.httpUrl}${path}`, { method, body });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

function sendUdp(host: string, port: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    socket.send(bytes, port, host, (error) => {
      socket.close();
      if (error) reject(error);
      else resolve();
    });
  });
}

function sendTcp(host: string, port: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.end(bytes);
    });
    socket.on("close", () => resolve());
    socket.on("error", () => resolve());
    socket.setTimeout(2_000, () => socket.destroy());
  });
}

describe("a dev agent process under bad input", () => {
  let agent: AgentProcess;

  before(async () => {
    agent = await startAgentProcess({ host: "127.0.0.5" });
  });

  after(async () => {
    await agent?.stop();
  });

  test("bad HTTP input gets one-line plain-text errors and loses no data", async () => {
    assert.equal((await request(agent, "PUT", "/v1/kv/keep", "precious")).text, "true");
    const cases: [string, string, BodyInit | undefined, number][] = [
      ["PUT", "/v1/agent/service/register", "{not json", 400],
      ["PUT", "/v1/agent/service/register", '{"Name": 42}', 400],
      ["PUT", "/v1/agent/service/register", '{"Name":"x","Port":"eighty"}', 400],
      ["PUT", "/v1/agent/check/register", '{"Name":"c","HTTP":"http://127.0.0.1:1/"}', 400],
      ["PUT", "/v1/catalog/register", "[]", 400],
      ["PUT", "/v1/session/create", '{"TTL":"forever"}', 500],
      ["PUT", "/v1/txn", '{"KV":1}', 400],
      ["PUT", "/v1/kv/big", new Uint8Array(512 * 1024 + 1), 413],
      ["PUT", "/v1/kv/keep?flags=-1", "x", 400],
      ["GET", "/v1/kv/keep?index=abc", undefined, 400],
      ["GET", "/v1/kv/keep?wait=soon&index=1", undefined, 400],
      ["GET", "/v1/health/state/sideways", undefined, 400],
      ["POST", "/v1/kv/keep", "x", 405],
      ["GET", "/v1/no/such/endpoint", undefined, 404],
    ];
    for (const [method, path, body, status] of cases) {
      const answer = await request(agent, method, path, body);
      assert.equal(answer.status, status, `${method} ${path}: ${answer.text}`);
      assert.ok(!answer.text.includes("\n"), `${method} ${path}: more than one line`);
      assert.match(answer.headers.get("content-type") ?? "", /text\/plain/, `${method} ${path}`);
    }
    const kept = await request(agent, "GET", "/v1/kv/keep?raw");
    assert.equal(kept.text, "precious");
  });

  test("malformed DNS packets are dropped and the server keeps answering", async () => {
    const garbage = [
      new Uint8Array([]),
      new Uint8Array([1, 2, 3]),
      new Uint8Array(600).fill(0xff),
      // A header claiming 65535 questions with none present.
      new Uint8Array([0, 1, 1, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0]),
    ];
    for (const bytes of garbage) {
      await sendUdp(agent.httpHost, agent.dnsPort, bytes);
      await sendTcp(agent.httpHost, agent.dnsPort, bytes);
    }
    // A TCP frame that claims more bytes than it sends, then hangs up.
    await sendTcp(agent.httpHost, agent.dnsPort, new Uint8Array([0xff, 0xff, 1, 2]));
    const alive = await request(agent, "GET", "/v1/status/leader");
    assert.equal(alive.status, 200);
    const { text } = await request(agent, "GET", "/v1/kv/keep?raw");
    assert.equal(text, "precious");
  });

  test("SIGTERM shuts the agent down cleanly with exit code 0", async () => {
    const code = await agent.stop(10_000);
    assert.equal(code, 0, agent.log());
    assert.match(agent.log(), /stopped/);
  });
});
