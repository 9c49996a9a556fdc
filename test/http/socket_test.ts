// Goal: the HTTP API behaves the same over a real socket as through `agent.fetch`: KV writes and
// raw reads with their headers, 404 and 405 with `Allow`, a 413 decided from Content-Length, a
// blocking query that wakes on a write, and `stop()` that returns promptly while a blocking query
// is still held open by a client. Method: a dev agent listening on 127.0.0.1 port 0 with the
// runtime's native HTTP server (Deno.serve, Bun.serve or node:http), called with global fetch.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningAgent } from "../../src/agent/agent.ts";
import { nowMs, readAnswer, sleep, startTestAgent } from "./_agent.ts";

describe("HTTP API over 127.0.0.1", () => {
  let agent: RunningAgent;
  let base: string;

  before(async () => {
    agent = await startTestAgent({ listen: true });
    const address = agent.httpAddress;
    assert.ok(address !== undefined, "the agent listens");
    assert.equal(address.host, "127.0.0.1");
    assert.ok(address.port > 0, "port 0 resolved to a real port");
    base = `http://127.0.0.1:${address.port}`;
  });

  after(async () => {
    await agent.stop();
  });

  it("`PUT` then `GET ?raw` over the socket keeps the body bytes and the safety headers", async () => {
    const written = await readAnswer(
      await fetch(`${base}/v1/kv/socket/key`, { method: "PUT", body: "over the wire" }),
    );
    assert.equal(written.status, 200);
    assert.equal(written.text, "true");

    const raw = await fetch(`${base}/v1/kv/socket/key?raw`);
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get("Content-Type"), "text/plain");
    assert.equal(raw.headers.get("X-Content-Type-Options"), "nosniff");
    assert.equal(await raw.text(), "over the wire");

    const json = await readAnswer(await fetch(`${base}/v1/kv/socket/key`));
    assert.equal(json.json[0].Value, btoa("over the wire"));
    assert.ok(json.index !== undefined && json.index >= 1);
  });

  it("a missing key is a 404 with X-Consul-Index and an unknown path a 404", async () => {
    const missing = await readAnswer(await fetch(`${base}/v1/kv/socket/missing`));
    assert.equal(missing.status, 404);
    assert.equal(missing.text, "");
    assert.ok(missing.index !== undefined && missing.index >= 1);
    const unknown = await readAnswer(await fetch(`${base}/v1/unknown`));
    assert.equal(unknown.status, 404);
  });

  it("a wrong method is a 405 with `Allow` over the socket", async () => {
    const answer = await readAnswer(await fetch(`${base}/v1/status/leader`, { method: "POST" }));
    assert.equal(answer.status, 405);
    assert.equal(answer.headers.get("Allow"), "OPTIONS,GET");
    assert.equal(answer.text, "method POST not allowed");
  });

  it("a KV value over 512 KiB is a 413 and is not stored", async () => {
    const body = new Uint8Array(512 * 1024 + 1);
    const answer = await readAnswer(
      await fetch(`${base}/v1/kv/socket/big`, { method: "PUT", body }),
    );
    assert.equal(answer.status, 413);
    assert.match(answer.text, /too large/);
    const missing = await fetch(`${base}/v1/kv/socket/big`);
    await missing.body?.cancel();
    assert.equal(missing.status, 404);
  });

  it("a blocking query over the socket wakes on a write", async () => {
    const first = await readAnswer(await fetch(`${base}/v1/kv/socket/watched`));
    const startedMs = nowMs();
    const query = fetch(`${base}/v1/kv/socket/watched?index=${first.index}&wait=10s`)
      .then(readAnswer);
    await sleep(100);
    await (await fetch(`${base}/v1/kv/socket/watched`, { method: "PUT", body: "x" })).text();
    const answer = await query;
    assert.ok(nowMs() - startedMs < 2_000, `took ${nowMs() - startedMs} ms`);
    assert.equal(answer.status, 200);
    assert.ok(answer.index! > first.index!);
  });
});

describe("Stopping an agent with a client blocked on it", () => {
  it("`stop()` returns promptly while a blocking query is held open", async () => {
    const agent = await startTestAgent({ listen: true });
    const controller = new AbortController();
    try {
      const base = `http://127.0.0.1:${agent.httpAddress!.port}`;
      const first = await readAnswer(await fetch(`${base}/v1/kv/stop/key`));
      // The client gives up on its own after 10 s at most, whatever the server does.
      const timer = setTimeout(() => controller.abort(), 10_000);
      const query = fetch(`${base}/v1/kv/stop/key?index=${first.index}&wait=5m`, {
        signal: controller.signal,
      }).then(
        async (response) => ({ status: response.status, body: await response.text() }),
        (error: Error) => ({ status: 0, body: error.name }),
      );
      await sleep(100);
      const startedMs = nowMs();
      await agent.stop();
      const stoppedMs = nowMs() - startedMs;
      await query;
      clearTimeout(timer);
      assert.ok(stoppedMs < 5_000, `stop() took ${stoppedMs} ms`);
      assert.equal(
        controller.signal.aborted,
        false,
        "the server ended the request, not the client",
      );
    } finally {
      controller.abort();
      await agent.stop();
    }
  });
});
