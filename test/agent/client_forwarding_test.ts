// Goal: a client agent's data requests reach a server whole and come back as the server
// answered them: status, body and the X-Consul-* headers, blocking
// queries included; a server that cannot be reached is skipped for another; no known server
// is Consul's 500 "No known Consul servers" at once; agent-local paths are never served by a
// server; bodies and answers past their bounds are refused with a status that says so.
// Method: a dev agent in this process plays the server's HTTP API behind a real server RPC on
// 127.0.10.20 (the `clientHttp` handler as servers register it); the client side is the real
// ServerRouter and ForwardingServerApi, with the gossip member list given as data.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type RunningAgent, startAgent } from "../../src/agent/agent.ts";
import { devAgentConfig } from "../../src/agent/config.ts";
import { ForwardingServerApi } from "../../src/agent/forwarding_server_api.ts";
import { Logger } from "../../src/agent/logger.ts";
import { type GossipMember, ServerFinder } from "../../src/agent/server_finder.ts";
import { ServerRouter } from "../../src/agent/server_router.ts";
import {
  decodeForwardedRequest,
  executeForwarded,
  forwardedRequestBytesMax,
  forwardedTimeoutMs,
  isForwardedPath,
  isForwardedRequest,
} from "../../src/http/forwarding.ts";
import { HttpError } from "../../src/http/http_error.ts";
import { formatHostPort, RpcTransport } from "../../src/server/rpc.ts";
import { detectRuntime } from "../../runtimes/mod.ts";

const runtime = await detectRuntime();
let agent: RunningAgent;
let rpc: RpcTransport;
const routers: ServerRouter[] = [];

before(async () => {
  const config = devAgentConfig("server-1");
  config.ports = { ...config.ports, http: -1, dns: -1, serfLan: -1, serfWan: -1 };
  const logger = new Logger({ clock: runtime.clock, writeStderr: () => {} }, "error", false);
  agent = await startAgent(runtime, config, { logger });
  rpc = await RpcTransport.listen(runtime, { host: "127.0.10.20", port: 0 });
  rpc.handle("clientHttp", async (payload) => {
    const forwarded = decodeForwardedRequest(payload);
    if (forwarded === undefined) throw new Error("malformed");
    return await executeForwarded(agent.fetch, forwarded, formatHostPort(rpc.address));
  });
});

after(async () => {
  for (const router of routers) await router.close();
  await rpc.close();
  await agent.stop();
});

function serverMember(name: string, host: string, port: number): GossipMember {
  return {
    name,
    addr: host,
    port: 8301,
    status: 1,
    tags: { role: "consul", dc: "dc1", port: String(port) },
  };
}

function clientApi(members: GossipMember[]): ForwardingServerApi {
  const finder = new ServerFinder({
    members: () => members,
    datacenter: "dc1",
    nowMs: () => runtime.clock.monotonicMs(),
    random: Math.random,
  });
  const router = new ServerRouter(runtime, finder);
  routers.push(router);
  return new ForwardingServerApi(router);
}

const url = (path: string) => `http://client.invalid${path}`;

describe("ForwardingServerApi.forward()", () => {
  it("answers reads and writes as the server does, with its index and leader headers", async () => {
    const api = clientApi([serverMember("server-1", "127.0.10.20", rpc.address.port)]);
    const put = await api.forward(new Request(url("/v1/kv/app/a"), { method: "PUT", body: "1" }));
    assert.equal(put.status, 200);
    assert.equal(await put.text(), "true");
    const read = await api.forward(new Request(url("/v1/kv/app/a?raw")));
    assert.equal(await read.text(), "1");
    const index = Number(read.headers.get("X-Consul-Index"));
    assert.ok(index > 0);
    assert.equal(read.headers.get("X-Consul-KnownLeader"), "true");
    let names: string[] = [];
    read.headers.forEach((_, name) => names.push(name));
    names = names.filter((name) => name.startsWith("x-consul"));
    assert.ok(names.length >= 3);
    const missing = await api.forward(new Request(url("/v1/kv/app/none")));
    assert.equal(missing.status, 404);
    assert.equal(api.leaderAddress(), formatHostPort(rpc.address), "the server's leader view");
  });

  it("holds a blocking query until a write wakes it", async () => {
    const api = clientApi([serverMember("server-1", "127.0.10.20", rpc.address.port)]);
    const first = await api.forward(new Request(url("/v1/kv/app/b")));
    const index = Number(first.headers.get("X-Consul-Index"));
    let woken = false;
    const blocked = api.forward(new Request(url(`/v1/kv/app/b?index=${index}&wait=20s`)))
      .then((response) => {
        woken = true;
        return response;
      });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(woken, false);
    await api.forward(new Request(url("/v1/kv/app/b"), { method: "PUT", body: "2" }));
    const answer = await blocked;
    assert.equal(answer.status, 200);
    assert.ok(Number(answer.headers.get("X-Consul-Index")) > index);
  });

  it("skips a server it cannot reach, and answers 500 at once when it knows none", async () => {
    const dead = serverMember("dead", "127.0.10.21", 1);
    const api = clientApi([dead, serverMember("server-1", "127.0.10.20", rpc.address.port)]);
    for (let read = 0; read < 6; read++) {
      const response = await api.forward(new Request(url("/v1/status/leader")));
      assert.equal(response.status, 200, await response.clone().text());
      await response.body?.cancel();
    }
    const lonely = clientApi([]);
    const startedMs = performance.now();
    const refused = await lonely.forward(new Request(url("/v1/kv/app/a")));
    assert.equal(refused.status, 500);
    assert.equal(await refused.text(), "No known Consul servers");
    assert.ok(performance.now() - startedMs < 1_000);
    const onlyDead = await clientApi([dead]).forward(new Request(url("/v1/kv/app/a")));
    assert.equal(onlyDead.status, 500);
    assert.match(await onlyDead.text(), /^No known Consul servers reachable/);
  });

  it("refuses bodies and answers past their bounds, and client-only proposals", async () => {
    const api = clientApi([serverMember("server-1", "127.0.10.20", rpc.address.port)]);
    const body = new Uint8Array(forwardedRequestBytesMax + 1);
    await assert.rejects(
      api.forward(new Request(url("/v1/txn"), { method: "PUT", body })),
      (error) => error instanceof HttpError && error.status === 413,
    );
    const value = "x".repeat(500 * 1024);
    for (let at = 0; at < 7; at++) {
      const put = await api.forward(
        new Request(url(`/v1/kv/big/${at}`), { method: "PUT", body: value }),
      );
      assert.equal(put.status, 200);
    }
    const tooLarge = await api.forward(new Request(url("/v1/kv/big/?recurse")));
    assert.equal(tooLarge.status, 500);
    assert.match(await tooLarge.text(), /passes \d+ bytes; narrow the query/);
    const refused = await api.propose(
      { type: "kvDelete", op: { verb: "delete", key: "k" } } as never,
    );
    assert.equal(refused.ok, false);
  });
});

describe("forwarding rules", () => {
  it("forwards data paths only, and never serves agent paths on a server", async () => {
    for (
      const path of [
        "/v1/kv",
        "/v1/kv/a/b",
        "/v1/txn",
        "/v1/catalog/nodes",
        "/v1/health/service/x",
        "/v1/session/list",
        "/v1/status/leader",
        "/v1/coordinate/nodes",
        "/v1/operator/raft/configuration",
        "/v1/snapshot",
      ]
    ) {
      assert.equal(isForwardedPath(path), true, path);
    }
    for (
      const path of ["/v1/agent/self", "/v1/event/list", "/v1/operator/keyring", "/v1/kvx", "/ui/"]
    ) {
      assert.equal(isForwardedPath(path), false, path);
    }
    // A user event is gossiped by the agent, unless it is for another datacenter.
    const url = (path: string) => new URL(`http://agent.invalid${path}`);
    assert.equal(isForwardedRequest(url("/v1/event/fire/a"), "dc1"), false);
    assert.equal(isForwardedRequest(url("/v1/event/fire/a?dc=dc1"), "dc1"), false);
    assert.equal(isForwardedRequest(url("/v1/event/fire/a?dc=dc2"), "dc1"), true);
    assert.equal(isForwardedRequest(url("/v1/agent/self?dc=dc2"), "dc1"), false);
    assert.equal(isForwardedRequest(url("/v1/kv/a"), "dc1"), true);
    const refused = await executeForwarded(agent.fetch, {
      method: "GET",
      path: "/v1/agent/self",
      headers: [],
      body: new Uint8Array(0),
    }, "");
    assert.equal(refused.status, 400);
  });

  it("waits for a blocking query's wait plus its jitter, and 30 s otherwise", () => {
    const at = (path: string) =>
      forwardedTimeoutMs({ method: "GET", path, headers: [], body: new Uint8Array(0) });
    assert.equal(at("/v1/kv/a"), 30_000);
    assert.equal(at("/v1/kv/a?index=0"), 30_000);
    assert.equal(at("/v1/kv/a?index=5&wait=16s"), 17_000 + 15_000);
    assert.equal(at("/v1/kv/a?index=5"), 300_000 * 17 / 16 + 15_000);
    assert.equal(at("/v1/kv/a?index=5&wait=1h"), 600_000 * 17 / 16 + 15_000);
  });

  it("drops malformed forwarded requests", () => {
    assert.equal(decodeForwardedRequest(null), undefined);
    assert.equal(decodeForwardedRequest({ method: "GET", path: "/x", headers: [] }), undefined);
    assert.equal(
      decodeForwardedRequest({ method: "GET", path: "/v1/kv/a", headers: [["host", "x"]] }),
      undefined,
    );
    assert.deepEqual(
      decodeForwardedRequest({ method: "GET", path: "/v1/kv/a", headers: [["x-a", "1"]] }),
      { method: "GET", path: "/v1/kv/a", headers: [["x-a", "1"]], body: new Uint8Array(0) },
    );
  });
});
