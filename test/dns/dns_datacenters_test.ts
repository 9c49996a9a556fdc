// Goal: DNS answers names of other datacenters as Consul does (agent/dns.go forwards the lookup to
// a server of that datacenter): `<svc>.service.<dc>`, `<dc>.dc`, tags, the RFC 2782 form and
// `<node>.node.<dc>` are answered from the lookup's forDatacenter(dc), SRV targets and additionals
// naming `<node>.node.<dc>.<domain>` (or `<hex>.addr.<dc>.<domain>`); a datacenter with no path is
// NXDOMAIN with the SOA; the local path never asks forDatacenter. ForwardedDnsLookup (a client's)
// asks its server with the datacenter named, learns the datacenters from it, and keeps each
// datacenter's answers apart; DatacentersDnsLookup (a server's) reads its own datacenter from its
// store and another from that datacenter's servers; the server's clientDns handler answers
// another datacenter through them, an unknown one empty; a real DnsServer over a
// ForwardedDnsLookup answers dc2 on the first query, NXDOMAIN for dc9, SERVFAIL when the fetch
// fails. Method: fake lookups over plain maps, stub routers and sources, a hand-moved clock; a
// real DnsServer on 127.0.19.40 (port 0) asked over UDP.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createSocket } from "node:dgram";
import {
  decode,
  type DecodedPacket,
  encode,
  type Packet,
  type Question,
  type SoaAnswer,
} from "dns-packet";
import { answerDnsQuery, type DnsRandom, DnsRcode } from "../../src/dns/dns_answer.ts";
import { encodeDnsResponse } from "../../src/dns/dns_encode.ts";
import type { DnsLookup, DnsNode, DnsServiceInstance } from "../../src/dns/dns_lookup.ts";
import { DnsServer } from "../../src/dns/dns_server.ts";
import {
  type DatacenterDnsSource,
  DatacentersDnsLookup,
  type DnsRequest,
  forwardedDnsFreshMs,
  ForwardedDnsLookup,
  forwardedDnsTimeoutMs,
  forwardedDnsWanTimeoutMs,
  withOtherDatacenters,
} from "../../src/agent/forwarded_dns.ts";
import type { ServerRouter } from "../../src/agent/server_router.ts";
import { clientRpcHandlers } from "../../src/agent/server_endpoints.ts";
import type { RaftServer } from "../../src/server/raft_server.ts";
import { DatacenterForwarder } from "../../src/agent/datacenter_forwarder.ts";
import type { GossipMember } from "../../src/agent/server_finder.ts";
import { detectRuntime } from "../../runtimes/mod.ts";

type FakeInstance = DnsServiceInstance & { tags: string[] };

function instance(node: string, nodeAddress: string, extra: Partial<FakeInstance> = {}) {
  return {
    node,
    nodeAddress,
    serviceAddress: "",
    port: 8080,
    nodeMeta: {},
    status: "passing" as const,
    weightPassing: 1,
    weightWarning: 1,
    tags: [],
    ...extra,
  };
}

/** One datacenter's catalog over plain maps; `others` are the datacenters it has a path to. */
class FakeLookup implements DnsLookup {
  readonly domain = "consul.";
  readonly services = new Map<string, FakeInstance[]>();
  readonly nodes = new Map<string, DnsNode>();
  readonly calls: string[] = [];
  readonly others = new Map<string, FakeLookup>();
  readonly asked: string[] = [];

  constructor(readonly datacenter: string) {}

  serviceInstances(service: string, tag: string | undefined): DnsServiceInstance[] {
    this.calls.push(tag === undefined ? service : `${tag}.${service}`);
    const all = this.services.get(service) ?? [];
    return tag === undefined ? all : all.filter((one) => one.tags.includes(tag));
  }

  node(name: string): DnsNode | undefined {
    this.calls.push(`node ${name}`);
    return this.nodes.get(name);
  }

  forDatacenter(datacenter: string): DnsLookup | undefined {
    this.asked.push(datacenter);
    return this.others.get(datacenter);
  }
}

/** dc1 with web on node-a; dc2 with web on s2 (node address) and n2b (own address); dc3. */
function datacenters(): { dc1: FakeLookup; dc2: FakeLookup; dc3: FakeLookup } {
  const dc1 = new FakeLookup("dc1");
  dc1.services.set("web", [instance("node-a", "10.0.0.1")]);
  const dc2 = new FakeLookup("dc2");
  dc2.services.set("web", [
    instance("s2", "10.2.0.1", { tags: ["v1"], port: 8081 }),
    instance("n2b", "10.2.0.2", { serviceAddress: "10.2.9.2", port: 9090 }),
  ]);
  dc2.nodes.set("s2", { node: "s2", address: "10.2.0.1", meta: { rack: "r2" } });
  const dc3 = new FakeLookup("dc3");
  dc3.services.set("web", [instance("s3", "10.3.0.1")]);
  dc1.others.set("dc2", dc2);
  dc1.others.set("dc3", dc3);
  return { dc1, dc2, dc3 };
}

const inOrder: DnsRandom = { nextUint32: () => 0 };
const serial = 1_700_000_000;

function query(name: string, type: Question["type"], lookup: DnsLookup): DecodedPacket {
  const bytes = encode({ type: "query", id: 7, flags: 1 << 8, questions: [{ name, type }] });
  const packet = answerDnsQuery(decode(bytes), lookup, {
    transport: "tcp",
    soaSerial: serial,
    random: inOrder,
  });
  assert.ok(packet !== undefined);
  return decode(Buffer.from(encodeDnsResponse(packet, 0)));
}

function rcodeOf(response: Packet): number {
  return (response.flags ?? 0) & 0xf;
}

function datas(response: Packet, type: string): unknown[] {
  return (response.answers ?? []).filter((record) => record.type === type).map((record) =>
    "data" in record ? record.data : undefined
  );
}

function assertNameError(response: DecodedPacket, name: string): void {
  assert.equal(rcodeOf(response), DnsRcode.nameError, name);
  assert.equal(response.answers?.length, 0, name);
  assert.equal((response.authorities?.[0] as SoaAnswer | undefined)?.type, "SOA", name);
}

describe("answerDnsQuery() for other datacenters", () => {
  it("answers `<svc>.service.<dc>` and `<dc>.dc` from that datacenter's lookup", () => {
    const { dc1, dc2 } = datacenters();
    for (const name of ["web.service.dc2.consul", "WEB.Service.DC2.dc.consul"]) {
      const response = query(name, "A", dc1);
      assert.equal(rcodeOf(response), DnsRcode.noError, name);
      assert.equal(response.flag_aa, true);
      assert.deepEqual(datas(response, "A"), ["10.2.0.1", "10.2.9.2"], name);
    }
    assert.deepEqual(dc1.calls, [], "the local catalog is not read");
    assert.deepEqual(dc2.calls, ["web", "web"]);
    assert.deepEqual(dc1.asked, ["dc2", "dc2"]);
  });

  it("names SRV targets and their additionals under `<dc>.<domain>`", () => {
    const { dc1 } = datacenters();
    const response = query("web.service.dc2.consul", "SRV", dc1);
    assert.deepEqual(datas(response, "SRV"), [
      { priority: 1, weight: 1, port: 8081, target: "s2.node.dc2.consul" },
      { priority: 1, weight: 1, port: 9090, target: "0a020902.addr.dc2.consul" },
    ]);
    assert.deepEqual(
      response.additionals?.map((record) => [record.name, "data" in record && record.data]),
      [["s2.node.dc2.consul", "10.2.0.1"], ["0a020902.addr.dc2.consul", "10.2.9.2"]],
    );
    // Alternating datacenters keeps each its own names; the local zone is untouched.
    const dc3 = query("web.service.dc3.dc.consul", "SRV", dc1);
    assert.deepEqual(datas(dc3, "SRV").map((data) => (data as { target: string }).target), [
      "s3.node.dc3.consul",
    ]);
    const local = query("web.service.consul", "SRV", dc1);
    assert.deepEqual(datas(local, "SRV").map((data) => (data as { target: string }).target), [
      "node-a.node.dc1.consul",
    ]);
    const again = query("web.service.dc2.consul", "SRV", dc1);
    assert.equal((again.additionals?.[0] as { name: string }).name, "s2.node.dc2.consul");
  });

  it("filters on tags and takes the RFC 2782 form in another datacenter", () => {
    const cases: [string, string][] = [
      ["v1.web.service.dc2.consul", "v1.web"],
      ["_web._v1.service.dc2.consul", "v1.web"],
      ["_web._tcp.dc2.consul", "web"],
      ["_web._tcp.service.dc2.dc.consul", "web"],
    ];
    for (const [name, call] of cases) {
      const { dc1, dc2 } = datacenters();
      const response = query(name, "SRV", dc1);
      assert.equal(rcodeOf(response), DnsRcode.noError, name);
      assert.equal(response.answers?.length, call === "web" ? 2 : 1, name);
      assert.deepEqual(dc2.calls, [call], name);
    }
  });

  it("answers `<node>.node.<dc>` with the node's address and metadata there", () => {
    const { dc1, dc2 } = datacenters();
    assert.deepEqual(datas(query("s2.node.dc2.consul", "A", dc1), "A"), ["10.2.0.1"]);
    const txt = query("s2.node.dc2.dc.consul", "TXT", dc1);
    assert.deepEqual(datas(txt, "TXT").map((data) => String(data)), ["rack=r2"]);
    assert.deepEqual(dc2.calls, ["node s2", "node s2"]);
    assertNameError(query("node-a.node.dc2.consul", "A", dc1), "a dc1 node is not in dc2");
    assert.deepEqual(datas(query("0a020902.addr.dc2.consul", "A", dc1), "A"), ["10.2.9.2"]);
  });

  it("answers NXDOMAIN for a datacenter with no path, NODATA for a known one's bare names", () => {
    const { dc1 } = datacenters();
    for (
      const name of [
        "web.service.dc9.consul",
        "_web._tcp.service.dc9.consul",
        "s2.node.dc9.consul",
        "0a020902.addr.dc9.consul",
        "dc9.consul",
        "service.dc9.consul",
        "web.service.dc2.other.consul",
      ]
    ) {
      assertNameError(query(name, "SRV", dc1), name);
    }
    for (const name of ["dc2.consul", "dc2.dc.consul", "service.dc2.consul", "node.dc3.consul"]) {
      const response = query(name, "A", dc1);
      assert.equal(rcodeOf(response), DnsRcode.noError, name);
      assert.equal(response.answers?.length, 0, name);
    }
    assertNameError(query("missing.service.dc2.consul", "A", dc1), "no instance in dc2");
  });

  it("never asks forDatacenter for the local datacenter's names", () => {
    const { dc1 } = datacenters();
    for (
      const name of ["web.service.consul", "web.service.dc1.consul", "web.service.dc1.dc.consul"]
    ) {
      assert.equal(query(name, "A", dc1).answers?.length, 1, name);
    }
    query("node-a.node.consul", "A", dc1);
    query("dc1.consul", "A", dc1);
    assert.deepEqual(dc1.asked, []);
  });
});

/** A stub router answering `clientDns` from `answer`, recording each call and its deadline. */
function stubRouter(answer: (payload: DnsRequest) => unknown) {
  const calls: [string, DnsRequest, number][] = [];
  const router = {
    call: (method: string, payload: DnsRequest, options: { timeoutMs: number }) => {
      calls.push([method, payload, options.timeoutMs]);
      try {
        return Promise.resolve(answer(payload));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  } as unknown as ServerRouter;
  return { router, calls };
}

/** What a dc1 server answers a client: dc1, dc2 and dc3 known, web in each. */
function dc1Server(payload: DnsRequest): unknown {
  if ("datacenters" in payload) return { datacenters: ["dc1", "dc2", "dc3"] };
  const dc = "datacenter" in payload ? payload.datacenter ?? "dc1" : "dc1";
  if ("node" in payload) {
    return {
      node: dc === "dc2" && payload.node === "s2" ? { node: "s2", address: "10.2.0.1" } : null,
    };
  }
  if (dc === "dc9") return { instances: [] };
  return { instances: [instance(`n-${dc}`, dc === "dc2" ? "10.2.0.1" : "10.1.0.1")] };
}

describe("ForwardedDnsLookup across datacenters", () => {
  it("asks its server with the datacenter named, and keeps each datacenter's answers apart", async () => {
    let nowMs = 0;
    const { router, calls } = stubRouter(dc1Server);
    const lookup = new ForwardedDnsLookup(router, {
      datacenter: "dc1",
      domain: "consul.",
      nowMs: () => nowMs,
    });
    const dc2 = lookup.forDatacenter("dc2");
    assert.ok(dc2 !== undefined, "unknown yet: the view is given, to fetch alongside the list");
    assert.equal(dc2.datacenter, "dc2");
    assert.deepEqual(dc2.serviceInstances("web", undefined), []);
    assert.deepEqual(lookup.serviceInstances("web", undefined), []);
    await lookup.refill();
    assert.deepEqual(calls.map(([, payload, timeoutMs]) => [payload, timeoutMs]), [
      [{ datacenters: true }, forwardedDnsTimeoutMs],
      [
        { service: "web", tag: undefined, datacenter: "dc2" },
        forwardedDnsTimeoutMs + forwardedDnsWanTimeoutMs,
      ],
      [{ service: "web", tag: undefined }, forwardedDnsTimeoutMs],
    ]);
    assert.equal(lookup.forDatacenter("dc2")?.serviceInstances("web", undefined)[0].node, "n-dc2");
    assert.equal(lookup.serviceInstances("web", undefined)[0].node, "n-dc1");
    assert.equal(lookup.forDatacenter("dc9"), undefined, "the fresh list lacks dc9");
    assert.equal(lookup.refill(), undefined, "nothing more to fetch");
    nowMs += forwardedDnsFreshMs;
    assert.ok(lookup.forDatacenter("dc9") !== undefined, "a stale list does not rule dc9 out");
    assert.equal(lookup.forDatacenter("dc2")?.node("s2"), undefined);
    await lookup.refill();
    assert.deepEqual(calls.slice(3).map(([, payload]) => payload), [
      { datacenters: true },
      { node: "s2", datacenter: "dc2" },
    ]);
    assert.equal(lookup.forDatacenter("dc2")?.node("s2")?.address, "10.2.0.1");
  });
});

describe("DatacentersDnsLookup (a server's)", () => {
  function source(known: string[]) {
    const asked: [string, DnsRequest][] = [];
    const others: DatacenterDnsSource = {
      knows: (dc) => known.includes(dc),
      otherDatacenters: () => known,
      lookupDns: (dc, request) => {
        asked.push([dc, request]);
        return Promise.resolve({ instances: [instance(`n-${dc}`, "10.2.0.1")] });
      },
    };
    return { others, asked };
  }

  it("reads its own datacenter locally and fetches another from its servers", async () => {
    const local = new FakeLookup("dc1");
    local.services.set("web", [instance("node-a", "10.0.0.1")]);
    const { others, asked } = source(["dc2"]);
    const lookup = new DatacentersDnsLookup(local, others, () => 0);
    assert.equal(lookup.datacenter, "dc1");
    assert.equal(lookup.serviceInstances("web", undefined)[0].node, "node-a");
    assert.equal(lookup.refill(), undefined, "the local path fetches nothing");
    assert.equal(lookup.forDatacenter("dc9"), undefined);
    assert.deepEqual(lookup.forDatacenter("dc2")?.serviceInstances("web", "v1"), []);
    await lookup.refill();
    assert.deepEqual(asked, [["dc2", { service: "web", tag: "v1" }]]);
    assert.equal(lookup.forDatacenter("dc2")?.serviceInstances("web", "v1")[0].node, "n-dc2");
    const response = query("v1.web.service.dc2.consul", "SRV", lookup);
    assert.equal(
      (response.answers![0] as { data: { target: string } }).data.target,
      "n-dc2.node.dc2.consul",
    );
  });

  it("withOtherDatacenters wraps a server's store lookup only when there is a WAN source", () => {
    const local = new FakeLookup("dc1");
    const plain: DnsLookup = {
      datacenter: "dc1",
      domain: "consul.",
      serviceInstances: () => [],
      node: () => undefined,
    };
    assert.equal(withOtherDatacenters(plain, undefined, () => 0), plain);
    assert.equal(
      withOtherDatacenters(local, source([]).others, () => 0),
      local,
      "reaches them already",
    );
    assert.ok(
      withOtherDatacenters(plain, source([]).others, () => 0) instanceof DatacentersDnsLookup,
    );
  });
});

describe("clientDns on a server, for another datacenter", () => {
  function handler(known: string[]) {
    const local = new FakeLookup("dc1");
    local.services.set("web", [instance("node-a", "10.0.0.1")]);
    const asked: [string, DnsRequest][] = [];
    const others: DatacenterDnsSource = {
      knows: (dc) => known.includes(dc),
      otherDatacenters: () => known,
      lookupDns: (dc, request) => {
        asked.push([dc, request]);
        return Promise.resolve({ instances: ["from " + dc] });
      },
    };
    const handlers = clientRpcHandlers({} as RaftServer, {
      fetch: () => undefined,
      dns: () => local,
      datacenters: () => others,
    });
    const call = (payload: unknown) => handlers.clientDns(payload, {} as never);
    return { call, asked };
  }

  it("lists the datacenters, asks another's server without naming it, answers an unknown empty", async () => {
    const { call, asked } = handler(["dc2"]);
    assert.deepEqual(await call({ datacenters: true }), { datacenters: ["dc1", "dc2"] });
    assert.deepEqual(await call({ service: "web", tag: "v1", datacenter: "dc2" }), {
      instances: ["from dc2"],
    });
    await call({ node: "s2", datacenter: "dc2" });
    assert.deepEqual(asked, [["dc2", { service: "web", tag: "v1" }], ["dc2", { node: "s2" }]]);
    assert.deepEqual(await call({ service: "web", datacenter: "dc9" }), { instances: [] });
    assert.deepEqual(await call({ node: "s2", datacenter: "dc9" }), { node: null });
    const local = await call({ service: "web", datacenter: "dc1" }) as { instances: unknown[] };
    assert.equal(local.instances.length, 1, "its own datacenter named is read locally");
    assert.throws(() => call({ service: "web", datacenter: 2 }), /datacenter must be a string/);
  });

  it("without a WAN pool knows its own datacenter only", async () => {
    const local = new FakeLookup("dc1");
    const handlers = clientRpcHandlers({} as RaftServer, {
      fetch: () => undefined,
      dns: () => local,
    });
    assert.deepEqual(await handlers.clientDns({ datacenters: true }, {} as never), {
      datacenters: ["dc1"],
    });
    assert.deepEqual(await handlers.clientDns({ service: "web", datacenter: "dc2" }, {} as never), {
      instances: [],
    });
  });
});

const host = "127.0.19.40";
let runtime: Awaited<ReturnType<typeof detectRuntime>>;
const started: DnsServer[] = [];

before(async () => {
  runtime = await detectRuntime();
});
after(async () => {
  for (const server of started) await server.close();
});

async function ask(port: number, name: string, type: Question["type"]): Promise<DecodedPacket> {
  const socket = createSocket("udp4");
  try {
    const reply = new Promise<Uint8Array>((resolve) => socket.once("message", resolve));
    socket.send(
      encode({ type: "query", id: 9, flags: 256, questions: [{ type, name }] }),
      port,
      host,
    );
    return decode(await reply as never);
  } finally {
    setTimeout(() => socket.close(), 10);
  }
}

describe("DnsServer over a client's ForwardedDnsLookup", () => {
  it("answers dc2 on the first query, NXDOMAIN for dc9, SERVFAIL when the fetch fails", async () => {
    const failing = new Set<string>();
    const { router } = stubRouter((payload) => {
      if ("datacenter" in payload && failing.has(payload.datacenter!)) {
        throw new Error("Cannot reach datacenter");
      }
      return dc1Server(payload);
    });
    const lookup = new ForwardedDnsLookup(router, {
      datacenter: "dc1",
      domain: "consul.",
      nowMs: () => runtime.clock.monotonicMs(),
    });
    const server = await DnsServer.start(runtime, lookup, { host, port: 0 });
    started.push(server);
    const port = server.address.port;
    const srv = await ask(port, "web.service.dc2.consul", "SRV");
    assert.equal(rcodeOf(srv), DnsRcode.noError);
    assert.deepEqual(datas(srv, "SRV"), [{
      priority: 1,
      weight: 1,
      port: 8080,
      target: "n-dc2.node.dc2.consul",
    }]);
    assert.deepEqual(datas(await ask(port, "s2.node.dc2.consul", "A"), "A"), ["10.2.0.1"]);
    assert.equal(rcodeOf(await ask(port, "web.service.dc9.consul", "A")), DnsRcode.nameError);
    failing.add("dc3");
    const dc3 = await ask(port, "web.service.dc3.consul", "A");
    assert.equal(rcodeOf(dc3), DnsRcode.serverFailure, "an unreachable datacenter is SERVFAIL");
  });
});

describe("DatacenterForwarder as a DNS source", () => {
  // Port 1 on a loopback address: nothing listens, the connection is refused at once.
  const server = (dc: string) => ({ role: "consul", dc, port: "1" });
  it("knows the datacenters of alive consul servers, and names the one it cannot reach", async () => {
    const members: GossipMember[] = [
      { name: "s2.dc2", addr: "127.0.19.41", port: 8302, status: 1, tags: server("dc2") },
      { name: "s3.dc3", addr: "127.0.19.42", port: 8302, status: 4, tags: server("dc3") },
      {
        name: "x.dc4",
        addr: "127.0.19.43",
        port: 8302,
        status: 1,
        tags: { role: "node", dc: "dc4" },
      },
    ];
    const forwarder = new DatacenterForwarder(runtime, () => members);
    try {
      assert.equal(forwarder.knows("dc2"), true);
      assert.equal(forwarder.knows("dc3"), false, "a failed server is no path");
      assert.equal(forwarder.knows("dc4"), false, "a client is no path");
      assert.deepEqual(forwarder.otherDatacenters("dc1"), ["dc2"]);
      await assert.rejects(
        forwarder.lookupDns("dc2", { service: "web", tag: undefined }),
        /^Error: Cannot reach datacenter "dc2": /,
      );
    } finally {
      await forwarder.close();
    }
  });
});
