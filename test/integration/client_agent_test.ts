// Goal: servers find each other through LAN gossip only, and a client agent serves the HTTP API
// and DNS with the data on the servers, as Consul's do. Three servers bootstrap with
// `-bootstrap-expect=3` whose `-retry-join` names gossip addresses (the server RPC is never
// named); a client joins through one server's gossip address; a service with a check registered
// on the client reaches the catalog (anti-entropy over the server RPC) and shows in health on a
// server and on the client (forwarded, with the server's X-Consul-* headers); a KV write on the
// client reads back on a server; a blocking query on the client is woken by a write on a server;
// DNS on the client answers from the servers; with one server killed the client keeps
// answering, and the leader marks the dead server's serfHealth critical; a client that knows no
// server answers 500 "No known Consul servers" at once; an agent embedded with
// `createAgent({ mode: "client" })` writes through the servers too.
// Method: real `cairn agent` processes on 127.0.10.11-15 (gossip on 8301; each server's RPC on
// its own port, 8310-8312, so only gossip tags can tell one server where another is; HTTP and
// DNS on free ports), node's fetch and a DNS query over UDP with dns-packet; every wait is
// bounded and generous, nothing is timed as a result.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import type { Buffer } from "node:buffer";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, encode } from "dns-packet";
import { createAgent } from "../../mod.ts";
import { type AgentProcess, startAgentProcess } from "../_support/agent_process.ts";
import { waitFor } from "../_support/wait_for.ts";

const serverHosts = ["127.0.10.11", "127.0.10.12", "127.0.10.13"];
const clientHost = "127.0.10.14";
const lonelyHost = "127.0.10.15";
const embeddedHost = "127.0.10.16";
const root = mkdtempSync(join(tmpdir(), "cairn-client-"));
const agents: AgentProcess[] = [];
/** The server processes, in `serverHosts` order, once started. */
let serverProcesses: AgentProcess[] = [];

after(async () => {
  await Promise.all(agents.map((agent) => agent.stop(3_000)));
  rmSync(root, { recursive: true, force: true });
});

async function start(host: string, args: string[]): Promise<AgentProcess> {
  const agent = await startAgentProcess({
    host,
    dev: false,
    startTimeoutMs: 45_000,
    args: [`-data-dir=${join(root, host)}`, `-node=node-${host.split(".")[3]}`, ...args],
  });
  agents.push(agent);
  return agent;
}

/** Each server's RPC port differs, so only the gossip tag `port` can tell the others. */
function rpcPort(host: string): number {
  return 8310 + serverHosts.indexOf(host);
}

function startServer(host: string): Promise<AgentProcess> {
  // Gossip addresses only (port 8301): the servers learn each other's RPC address from tags.
  const joins = serverHosts.filter((other) => other !== host).map((other) => `${other}:8301`);
  return start(host, [
    "-server",
    "-bootstrap-expect=3",
    "-serf-lan-port=8301",
    `-server-port=${rpcPort(host)}`,
    ...joins.map((address) => `-retry-join=${address}`),
  ]);
}

async function get(url: string, init: RequestInit = {}): Promise<Response> {
  return await fetch(url, { signal: AbortSignal.timeout(10_000), ...init });
}

async function json(url: string): Promise<unknown> {
  const response = await get(url);
  const body = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${body}`);
  return JSON.parse(body);
}

async function put(url: string, body: string): Promise<string> {
  const response = await get(url, { method: "PUT", body });
  const text = await response.text();
  assert.equal(response.status, 200, `PUT ${url}: ${text}`);
  return text;
}

/** The A records DNS at `host:port` answers for `name`, over UDP. */
async function resolveA(host: string, port: number, name: string): Promise<string[]> {
  const socket = createSocket("udp4");
  try {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no DNS answer for ${name}`)), 5_000);
      socket.once("message", (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      socket.send(
        encode({ type: "query", id: 7, flags: 256, questions: [{ type: "A", name }] }),
        port,
        host,
      );
    });
    const packet = decode(reply);
    return (packet.answers ?? []).filter((answer) => answer.type === "A")
      .map((answer) => String((answer as { data: unknown }).data));
  } finally {
    socket.close();
  }
}

interface HealthEntry {
  Node: { Node: string; Address: string };
  Service: { Service: string; Port: number };
  Checks: { CheckID: string; Status: string }[];
}

describe("client agents and servers that find each other through gossip", () => {
  it("forward reads, writes, blocking queries and DNS to the servers", async () => {
    const servers = await Promise.all(serverHosts.map((host) => startServer(host)));
    serverProcesses = servers;
    for (const server of servers) {
      assert.match(server.log(), /Bootstrapped a new cluster with voters/);
    }
    const client = await start(clientHost, [
      "-serf-lan-port=8301",
      `-retry-join=${serverHosts[0]}`,
    ]);
    const lonely = await start(lonelyHost, ["-serf-lan-port=8301"]);

    // A client that knows no server answers Consul's 500 at once, and serves its own endpoints.
    const startedAt = performance.now();
    const refused = await get(`${lonely.httpUrl}/v1/kv/anything`);
    assert.equal(refused.status, 500);
    assert.equal(await refused.text(), "No known Consul servers");
    assert.ok(performance.now() - startedAt < 5_000, "no hang without servers");
    assert.equal((await get(`${lonely.httpUrl}/v1/agent/self`)).status, 200);

    // The client learns the servers and the leader through them.
    const leader = await waitFor("a leader seen through the client", async () => {
      const response = await get(`${client.httpUrl}/v1/status/leader`);
      const text = await response.text();
      return response.status === 200 && text !== '""' ? JSON.parse(text) as string : undefined;
    }, 30_000);
    assert.ok(
      serverHosts.some((host) => leader === `${host}:${rpcPort(host)}`),
      `leader ${leader}`,
    );
    const peers = await json(`${client.httpUrl}/v1/status/peers`) as string[];
    assert.equal(peers.length, 3);

    // A service with a check, registered on the client, reaches the catalog through the servers.
    await put(
      `${client.httpUrl}/v1/agent/service/register`,
      JSON.stringify({ Name: "web", Port: 8080, Check: { TTL: "60s", Status: "passing" } }),
    );
    const healthOnServer = await waitFor("the client's service in health on a server", async () => {
      // The node's serfHealth arrives with the node's registration, the service with
      // anti-entropy: either may land first.
      const entries = await json(`${servers[1].httpUrl}/v1/health/service/web?passing`);
      const [entry] = entries as HealthEntry[];
      return entry?.Checks.length === 2 ? entries as HealthEntry[] : undefined;
    }, 20_000);
    assert.equal(healthOnServer[0].Node.Node, "node-14");
    assert.equal(healthOnServer[0].Node.Address, clientHost);
    const checks = healthOnServer[0].Checks.map((check) => check.CheckID).sort();
    assert.deepEqual(checks, ["serfHealth", "service:web"]);
    const onClient = await get(`${client.httpUrl}/v1/health/service/web?passing`);
    assert.equal(onClient.status, 200);
    assert.ok(Number(onClient.headers.get("X-Consul-Index")) > 0);
    assert.equal(onClient.headers.get("X-Consul-KnownLeader"), "true");
    assert.ok(onClient.headers.has("X-Consul-LastContact"));
    assert.equal((await onClient.json() as HealthEntry[])[0].Service.Port, 8080);
    const local = await json(`${client.httpUrl}/v1/agent/services`) as Record<string, unknown>;
    assert.deepEqual(Object.keys(local), ["web"], "agent endpoints stay local");

    // KV: written on the client, read on a server; stale and consistent reads on the client.
    assert.equal(await put(`${client.httpUrl}/v1/kv/app/config`, "v1"), "true");
    const raw = await get(`${servers[2].httpUrl}/v1/kv/app/config?raw&consistent`);
    assert.equal(await raw.text(), "v1");
    for (const mode of ["stale", "consistent"]) {
      const read = await get(`${client.httpUrl}/v1/kv/app/config?raw&${mode}`);
      assert.equal(await read.text(), "v1", `?${mode} on the client`);
    }

    // A blocking query on the client is woken by a write on a server.
    const first = await get(`${client.httpUrl}/v1/kv/app/config`);
    const index = Number(first.headers.get("X-Consul-Index"));
    await first.body?.cancel();
    let woken = false;
    const blocked = get(`${client.httpUrl}/v1/kv/app/config?index=${index}&wait=40s`, {
      signal: AbortSignal.timeout(45_000),
    }).then((response) => {
      woken = true;
      return response;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(woken, false, "the query blocks until a write");
    await put(`${servers[0].httpUrl}/v1/kv/app/config`, "v2");
    const answer = await blocked;
    assert.ok(Number(answer.headers.get("X-Consul-Index")) > index);
    const [entry] = await answer.json() as { Value: string }[];
    assert.equal(atob(entry.Value), "v2");

    // DNS on the client answers from the servers.
    const addresses = await resolveA(clientHost, client.dnsPort, "web.service.consul");
    assert.deepEqual(addresses, [clientHost]);

    // One server killed: the client still answers through the others.
    servers[0].child.kill("SIGKILL");
    await waitFor("a read through the client after a server died", async () => {
      const read = await get(`${client.httpUrl}/v1/kv/app/config?raw&stale`);
      const text = await read.text();
      return read.status === 200 && text === "v2" ? true : undefined;
    }, 20_000);
    // Gossip declares it failed; the leader marks its serfHealth critical (Consul's reconcile).
    await waitFor("the killed server's serfHealth critical", async () => {
      const read = await get(`${client.httpUrl}/v1/health/node/node-11?stale`);
      const nodeChecks = await read.json() as { CheckID: string; Status: string }[];
      const serfHealth = nodeChecks.find((check) => check.CheckID === "serfHealth");
      return serfHealth?.Status === "critical" ? true : undefined;
    }, 40_000);
  });

  it('embed a client agent with createAgent({ mode: "client" })', async () => {
    const embedded = await createAgent({
      mode: "client",
      nodeName: "embedded-client",
      bindAddr: embeddedHost,
      serfLanPort: 8301,
      retryJoin: [serverHosts[1]],
      logLevel: "error",
    });
    try {
      assert.equal(embedded.config.server, false);
      await waitFor("a KV write through the embedded client", async () => {
        try {
          await embedded.kv.put("embedded/key", "from-embedded");
          return true;
        } catch {
          return undefined; // No server known yet: gossip is still joining.
        }
      }, 20_000);
      const raw = await get(`${serverProcesses[1].httpUrl}/v1/kv/embedded/key?raw`);
      assert.equal(await raw.text(), "from-embedded");
    } finally {
      await embedded.stop();
    }
  });
});
