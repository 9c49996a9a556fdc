// Goal: answerDnsQuery answers every query form as Consul's DNS does (agent/dns.go): A/AAAA/SRV/
// TXT records, tags and the RFC 2782 form, rcodes (NXDOMAIN vs NODATA, REFUSED, NOTIMP, FORMERR,
// BADVERS), SOA in authority, answer limits and size budgets per transport, SRV additionals kept in
// step with the answers, and a shuffle per response; and encodeDnsResponse writes each of those
// responses as dns-packet would, only compressed. Method: a fake DnsLookup over plain objects;
// each query is encoded and decoded with dns-packet as a client would send it, and each response
// is encoded by both encoders and decoded back: the two decodings must be equal, so every answer
// is proved encodable on the wire and the compressing encoder is checked against a reference.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  type Answer,
  decode,
  type DecodedPacket,
  encode,
  encodingLength,
  type OptAnswer,
  type Packet,
  type Question,
  type SoaAnswer,
  type SrvAnswer,
} from "dns-packet";
import {
  answerDnsQuery,
  type DnsAnswerOptions,
  type DnsRandom,
  DnsRcode,
} from "../../src/dns/dns_answer.ts";
import { encodeDnsResponse } from "../../src/dns/dns_encode.ts";
import type { DnsLookup, DnsNode, DnsServiceInstance } from "../../src/dns/dns_lookup.ts";

/** A query type; dns-packet's `RecordType` lacks the meta-type ANY. */
type QueryType = Question["type"] | "ANY" | `UNKNOWN_${number}`;

/** An instance with the tags the fake lookup filters on. */
type FakeInstance = DnsServiceInstance & { tags: string[] };

/** A DnsLookup over plain maps, keyed lower-case as the interface promises. */
class FakeLookup implements DnsLookup {
  readonly datacenter = "dc1";
  readonly domain = "consul.";
  readonly services = new Map<string, FakeInstance[]>();
  readonly nodes = new Map<string, DnsNode>();
  readonly calls: { service: string; tag: string | undefined }[] = [];

  serviceInstances(service: string, tag: string | undefined): DnsServiceInstance[] {
    this.calls.push({ service, tag });
    const all = this.services.get(service) ?? [];
    return tag === undefined ? all : all.filter((instance) => instance.tags.includes(tag));
  }

  node(name: string): DnsNode | undefined {
    return this.nodes.get(name);
  }
}

function instance(
  node: string,
  nodeAddress: string,
  extra: Partial<FakeInstance> = {},
): FakeInstance {
  return {
    node,
    nodeAddress,
    serviceAddress: "",
    port: 8080,
    nodeMeta: {},
    status: "passing",
    weightPassing: 1,
    weightWarning: 1,
    tags: [],
    ...extra,
  };
}

function catalog(): FakeLookup {
  const lookup = new FakeLookup();
  lookup.services.set("web", [
    instance("node-a", "10.0.0.1", { tags: ["v1", "primary"], weightPassing: 10 }),
    instance("node-b", "10.0.0.2", { tags: ["v2"], status: "warning", weightWarning: 3 }),
    instance("node-c", "10.0.0.3", { serviceAddress: "10.0.1.3", port: 9090, tags: ["v1"] }),
  ]);
  lookup.services.set("db", [instance("node-v6", "fd00::1", { port: 5432 })]);
  lookup.services.set("ext", [
    instance("node-a", "10.0.0.1", { serviceAddress: "db.example.com" }),
  ]);
  lookup.services.set("twice", [
    instance("node-a", "10.0.0.1", { port: 1 }),
    instance("node-a", "10.0.0.1", { port: 2 }),
  ]);
  lookup.services.set("many", manyInstances(20, ""));
  lookup.nodes.set("node-a", {
    node: "node-a",
    address: "10.0.0.1",
    meta: { rack: "r1", "key=x": "v`1", "rfc1035-raw": "only the value" },
  });
  lookup.nodes.set("node-v6", { node: "node-v6", address: "fd00::1", meta: {} });
  lookup.nodes.set("node-host", { node: "node-host", address: "host.example.com", meta: {} });
  lookup.nodes.set("node-long", {
    node: "node-long",
    address: "10.0.0.9",
    meta: { big: "x".repeat(600) },
  });
  return lookup;
}

function manyInstances(count: number, padding: string): FakeInstance[] {
  const instances: FakeInstance[] = [];
  for (let index = 0; index < count; index++) {
    instances.push(
      instance(`node-${index}${padding}`, `10.1.0.${index + 1}`, { port: 1000 + index }),
    );
  }
  return instances;
}

/** Keeps the catalog's order: `nextUint32` = 0 picks the current element at every step. */
const inOrder: DnsRandom = { nextUint32: () => 0 };

/** A seeded linear congruential generator: a different but repeatable order per seed. */
function seeded(seed: number): DnsRandom {
  let state = seed >>> 0;
  return {
    nextUint32() {
      state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
      return state;
    },
  };
}

interface Ask {
  lookup?: DnsLookup;
  transport?: "udp" | "tcp";
  /** Adds an OPT record advertising this UDP size. */
  edns?: number;
  ednsVersion?: number;
  clientSubnet?: string;
  random?: DnsRandom;
  udpAnswerLimit?: number;
  flags?: number;
  questions?: Question[];
  questionClass?: Question["class"];
}

/** The wire bytes a client sends for `name`/`type`. */
function queryBytes(name: string, type: QueryType, ask: Ask = {}): Buffer {
  const additionals: Answer[] = [];
  if (ask.edns !== undefined) {
    const options: OptAnswer["options"] = ask.clientSubnet === undefined ? [] : [{
      code: 8,
      family: 1,
      sourcePrefixLength: 24,
      scopePrefixLength: 0,
      ip: ask.clientSubnet,
    }];
    additionals.push({
      type: "OPT",
      name: ".",
      udpPayloadSize: ask.edns,
      extendedRcode: 0,
      ednsVersion: ask.ednsVersion ?? 0,
      flags: 0,
      flag_do: false,
      options,
    });
  }
  return encode({
    type: "query",
    id: 4242,
    flags: ask.flags ?? 1 << 8, // RD, as dig sends
    questions: ask.questions ??
      [{ name, type: type as Question["type"], class: ask.questionClass ?? "IN" }],
    additionals,
  });
}

const serial = 1_700_000_000;

function optionsOf(ask: Ask): DnsAnswerOptions {
  return {
    transport: ask.transport ?? "udp",
    soaSerial: serial,
    random: ask.random ?? inOrder,
    udpAnswerLimit: ask.udpAnswerLimit,
  };
}

/**
 * Answers the query and returns the response as a client decodes it, with its size uncompressed
 * (what the answerer budgets) and as sent (compressed).
 */
function askBytes(
  bytes: Buffer,
  ask: Ask = {},
): { response: DecodedPacket; bytes: number; wireBytes: number } {
  const packet = answerDnsQuery(decode(bytes), ask.lookup ?? catalog(), optionsOf(ask));
  assert.ok(packet !== undefined, "a query gets a response");
  const reference = decode(encode(structuredClone(packet)));
  const wire = encodeDnsResponse(packet, 0);
  const response = decode(Buffer.from(wire));
  assert.deepEqual(response, reference, "encodeDnsResponse decodes as dns-packet's encoding");
  const framed = encodeDnsResponse(packet, 2);
  assert.equal(framed.length, wire.length + 2);
  assert.equal((framed[0] << 8) | framed[1], wire.length, "TCP framing holds the length");
  return { response, bytes: encodingLength(packet), wireBytes: wire.length };
}

function query(name: string, type: QueryType, ask: Ask = {}): DecodedPacket {
  return askBytes(queryBytes(name, type, ask), ask).response;
}

function rcodeOf(response: Packet): number {
  return (response.flags ?? 0) & 0xf;
}

function datas(response: Packet, type: string): unknown[] {
  return (response.answers ?? []).filter((record) => record.type === type).map((record) =>
    "data" in record ? record.data : undefined
  );
}

function texts(response: Packet): string[] {
  return (response.answers ?? []).filter((record) => record.type === "TXT").map((record) =>
    (record.data as Buffer[]).map((part) => part.toString()).join("")
  );
}

function assertNameError(response: DecodedPacket): void {
  assert.equal(rcodeOf(response), DnsRcode.nameError);
  assert.equal(response.answers?.length, 0);
  assertSoa(response);
}

function assertNoData(response: DecodedPacket): void {
  assert.equal(rcodeOf(response), DnsRcode.noError);
  assert.equal(response.answers?.length, 0);
  assertSoa(response);
}

function assertSoa(response: DecodedPacket): void {
  assert.equal(response.authorities?.length, 1);
  const soa = response.authorities![0] as SoaAnswer;
  assert.equal(soa.type, "SOA");
  assert.equal(soa.name, "consul");
  assert.deepEqual(soa.data, {
    mname: "ns.consul",
    rname: "hostmaster.consul",
    serial,
    refresh: 3_600,
    retry: 600,
    expire: 86_400,
    minimum: 0,
  });
}

describe("answerDnsQuery() service lookups", () => {
  it("answers A records of healthy instances, with the header Consul sends", () => {
    const response = query("web.service.consul", "A");
    assert.equal(rcodeOf(response), DnsRcode.noError);
    assert.equal(response.id, 4242);
    assert.equal(response.flag_qr, true);
    assert.equal(response.flag_aa, true);
    assert.equal(response.flag_rd, true, "RD is echoed");
    assert.equal(response.flag_ra, false, "RA is never set: there are no recursors");
    assert.equal(response.flag_tc, false);
    assert.deepEqual(datas(response, "A"), ["10.0.0.1", "10.0.0.2", "10.0.1.3"]);
    for (const record of response.answers!) {
      assert.equal(record.name, "web.service.consul");
      assert.equal((record as { ttl: number }).ttl, 0);
    }
    assert.equal(response.authorities?.length, 0);
    assert.deepEqual(response.questions, [{ name: "web.service.consul", type: "A", class: "IN" }]);
  });

  it("matches names case-insensitively and echoes the question's case in answers", () => {
    const lookup = catalog();
    const response = query("WEB.Service.CONSUL", "A", { lookup });
    assert.deepEqual(datas(response, "A"), ["10.0.0.1", "10.0.0.2", "10.0.1.3"]);
    assert.equal(response.answers![0].name, "WEB.Service.CONSUL");
    assert.deepEqual(lookup.calls, [{ service: "web", tag: undefined }], "lookup gets lower case");
    assert.equal(rcodeOf(query("V1.web.SERVICE.DC1.consul", "A")), DnsRcode.noError);
  });

  it("accepts the local datacenter as `<dc>` or `<dc>.dc`, and nothing else", () => {
    assert.equal(query("web.service.dc1.consul", "A").answers?.length, 3);
    assert.equal(query("web.service.dc1.dc.consul", "A").answers?.length, 3);
    assertNameError(query("web.service.dc2.consul", "A"));
    assertNameError(query("web.service.dc1.extra.consul", "A"));
  });

  it("filters on a tag, `<tag>.<service>.service`", () => {
    const lookup = catalog();
    const response = query("v1.web.service.consul", "A", { lookup });
    assert.deepEqual(datas(response, "A"), ["10.0.0.1", "10.0.1.3"]);
    assert.deepEqual(lookup.calls, [{ service: "web", tag: "v1" }]);
    assertNameError(query("v9.web.service.consul", "A"));
  });

  it("answers SRV with priority 1, weights by status, node or .addr targets and additionals", () => {
    const response = query("web.service.consul", "SRV");
    assert.equal(rcodeOf(response), DnsRcode.noError);
    assert.deepEqual(datas(response, "SRV"), [
      { priority: 1, weight: 10, port: 8080, target: "node-a.node.dc1.consul" },
      { priority: 1, weight: 3, port: 8080, target: "node-b.node.dc1.consul" },
      // A service address of its own, unlike its node's: the hex `.addr.` target (Consul).
      { priority: 1, weight: 1, port: 9090, target: "0a000103.addr.dc1.consul" },
    ]);
    assert.deepEqual(
      response.additionals?.map((
        record,
      ) => [record.name, record.type, "data" in record && record.data]),
      [
        ["node-a.node.dc1.consul", "A", "10.0.0.1"],
        ["node-b.node.dc1.consul", "A", "10.0.0.2"],
        ["0a000103.addr.dc1.consul", "A", "10.0.1.3"],
      ],
    );
  });

  it("answers SRV only when asked: A and ANY give address records", () => {
    assert.equal(datas(query("web.service.consul", "ANY"), "SRV").length, 0);
    assert.deepEqual(datas(query("web.service.consul", "ANY"), "A"), [
      "10.0.0.1",
      "10.0.0.2",
      "10.0.1.3",
    ]);
    assert.equal(query("web.service.consul", "A").additionals?.length, 0);
  });

  it("supports the RFC 2782 form, `_tcp` meaning no tag, `service` label optional", () => {
    const cases: [string, string | undefined, number][] = [
      ["_web._tcp.service.consul", undefined, 3],
      ["_web._v1.service.consul", "v1", 2],
      ["_web._tcp.consul", undefined, 3],
      ["_web._v2.dc1.consul", "v2", 1],
      ["_WEB._TCP.service.dc1.consul", undefined, 3],
    ];
    for (const [name, tag, count] of cases) {
      const lookup = catalog();
      const response = query(name, "SRV", { lookup });
      assert.equal(response.answers?.length, count, name);
      assert.deepEqual(lookup.calls, [{ service: "web", tag }], name);
      assert.equal(response.answers![0].name, name, "answers echo the question");
    }
    // Without `service` the `_` form is recognised for SRV only, as in Consul.
    assertNameError(query("_web._tcp.consul", "A"));
    assert.equal(query("_web._tcp.service.consul", "A").answers?.length, 3);
  });

  it("returns NXDOMAIN with the SOA for unknown services and services with no healthy instance", () => {
    assertNameError(query("missing.service.consul", "A"));
    const lookup = catalog();
    lookup.services.set("down", []); // The lookup already drops critical instances.
    assertNameError(query("down.service.consul", "A", { lookup }));
    assertNameError(query("down.service.consul", "SRV", { lookup }));
  });

  it("returns NODATA (NOERROR, no answers, SOA) for known services without such records", () => {
    assertNoData(query("web.service.consul", "MX"));
    assertNoData(query("web.service.consul", "AAAA"));
    assertNoData(query("db.service.consul", "A"));
    assertNoData(query("web.service.consul", "UNKNOWN_999"));
  });

  it("answers AAAA for IPv6 addresses and gives IPv6 SRV targets AAAA additionals", () => {
    assert.deepEqual(datas(query("db.service.consul", "AAAA"), "AAAA"), ["fd00::1"]);
    const srv = query("db.service.consul", "SRV");
    assert.deepEqual(srv.additionals?.map((record) => record.type), ["AAAA"]);
  });

  it("answers a hostname service address as a CNAME, and as the SRV target itself", () => {
    const response = query("ext.service.consul", "A");
    assert.deepEqual(response.answers?.map((record) => record.type), ["CNAME"]);
    assert.deepEqual(datas(response, "CNAME"), ["db.example.com"]);
    const srv = query("ext.service.consul", "SRV");
    assert.equal((srv.answers![0] as SrvAnswer).data.target, "db.example.com");
    assert.equal(srv.additionals?.length, 0);
  });

  it("drops duplicate addresses, and shares one additional between SRVs of one node", () => {
    assert.deepEqual(datas(query("twice.service.consul", "A"), "A"), ["10.0.0.1"]);
    const srv = query("twice.service.consul", "SRV");
    assert.deepEqual(datas(srv, "SRV").map((data) => (data as { port: number }).port), [1, 2]);
    assert.equal(srv.additionals?.length, 1);
  });

  it("skips instances whose node name DNS cannot carry, answering the others", () => {
    const lookup = catalog();
    lookup.services.set("odd", [
      instance("has space", "10.0.0.1"),
      instance("x".repeat(64), "10.0.0.2"),
      instance("fine", "10.0.0.3"),
    ]);
    const response = query("odd.service.consul", "SRV", { lookup });
    assert.deepEqual(datas(response, "SRV").map((data) => (data as { target: string }).target), [
      "fine.node.dc1.consul",
    ]);
  });

  it("takes a question name with a final dot as without", () => {
    const packet = answerDnsQuery(
      { type: "query", id: 1, questions: [{ name: "web.service.consul.", type: "A" }] },
      catalog(),
      optionsOf({}),
    );
    assert.equal(packet?.answers?.length, 3);
  });

  it("answers TXT for a service with its nodes' metadata", () => {
    const lookup = catalog();
    lookup.services.set("meta", [instance("node-a", "10.0.0.1", { nodeMeta: { rack: "r1" } })]);
    assert.deepEqual(texts(query("meta.service.consul", "TXT", { lookup })), ["rack=r1"]);
  });
});

describe("answerDnsQuery() answer limits, sizes and shuffling", () => {
  it("cuts plain UDP to udpAnswerLimit (3), and never above 8, with no TC bit", () => {
    const plain = query("many.service.consul", "A");
    assert.equal(plain.answers?.length, 3);
    assert.equal(plain.flag_tc, false);
    assert.equal(query("many.service.consul", "A", { udpAnswerLimit: 5 }).answers?.length, 5);
    assert.equal(query("many.service.consul", "A", { udpAnswerLimit: 20 }).answers?.length, 8);
  });

  it("lifts the count limit for EDNS and TCP, where size alone limits", () => {
    assert.equal(query("many.service.consul", "A", { edns: 4096 }).answers?.length, 20);
    assert.equal(query("many.service.consul", "A", { transport: "tcp" }).answers?.length, 20);
    assert.equal(query("many.service.consul", "SRV", { transport: "tcp" }).answers?.length, 20);
    // An EDNS size at or below 512 is treated as plain UDP, as Consul does.
    assert.equal(query("many.service.consul", "A", { edns: 512 }).answers?.length, 3);
  });

  it("fits plain UDP in 512 bytes and EDNS in the advertised size, additionals in step", () => {
    const lookup = catalog();
    lookup.services.set("long", manyInstances(40, "-" + "n".repeat(50)));
    const plain = askBytes(queryBytes("long.service.consul", "SRV"), { lookup });
    assert.ok(plain.bytes <= 512, `plain UDP reply is ${plain.bytes} bytes`);
    assert.ok(plain.response.answers!.length >= 1 && plain.response.answers!.length < 3);
    assertAdditionalsInStep(plain.response);

    const edns = askBytes(queryBytes("long.service.consul", "SRV", { edns: 1232 }), { lookup });
    assert.ok(edns.bytes <= 1232, `EDNS reply is ${edns.bytes} bytes`);
    // Tight: one more SRV and its additional (~ 2 × 90 bytes) would not have fitted.
    assert.ok(edns.bytes > 1232 - 200, `EDNS reply is only ${edns.bytes} bytes`);
    assertAdditionalsInStep(edns.response);
    assert.equal(edns.response.additionals!.at(-1)!.type, "OPT");
    assert.ok(edns.wireBytes < edns.bytes, "sent compressed, budgeted uncompressed, as Consul");

    const tcp = askBytes(queryBytes("long.service.consul", "SRV"), { lookup, transport: "tcp" });
    assert.equal(tcp.response.answers?.length, 40);
    assertAdditionalsInStep(tcp.response);
  });

  it("keeps TCP replies under 64 KB however many instances there are", () => {
    const lookup = catalog();
    lookup.services.set(
      "huge",
      manyInstances(2_000, "-" + "n".repeat(40)).map((entry, index) => ({
        ...entry,
        nodeAddress: `10.${index >> 8}.${index & 255}.1`,
      })),
    );
    for (const type of ["A", "SRV"] as const) {
      const tcp = askBytes(queryBytes("huge.service.consul", type), { lookup, transport: "tcp" });
      assert.ok(tcp.bytes <= 65_535, `${type} reply is ${tcp.bytes} bytes`);
      assert.ok(tcp.response.answers!.length > 100);
    }
  });

  it("sends one answer even when it alone exceeds 512 bytes, as Consul does", () => {
    const response = query("node-long.node.consul", "TXT");
    assert.equal(response.answers?.length, 1);
    assert.equal(texts(response)[0], "big=" + "x".repeat(600));
  });

  it("shuffles instances on every response", () => {
    const random = seeded(7);
    const firsts = new Set<string>();
    const orders = new Set<string>();
    for (let round = 0; round < 200; round++) {
      const response = query("web.service.consul", "A", { random });
      const order = datas(response, "A").join(",");
      orders.add(order);
      firsts.add(order.split(",")[0]);
      assert.equal(response.answers?.length, 3);
    }
    assert.equal(firsts.size, 3, "every instance comes first sometimes");
    assert.equal(orders.size, 6, "all 3! orders occur");
  });

  it("draws the answers of a limited reply from all instances, not only the first few", () => {
    const random = seeded(11);
    const seen = new Set<unknown>();
    for (let round = 0; round < 200; round++) {
      for (const address of datas(query("many.service.consul", "A", { random }), "A")) {
        seen.add(address);
      }
    }
    assert.equal(seen.size, 20);
  });
});

describe("answerDnsQuery() nodes and addresses", () => {
  it("answers a node's A record", () => {
    const response = query("node-a.node.consul", "A");
    assert.deepEqual(datas(response, "A"), ["10.0.0.1"]);
    assert.equal(query("node-a.node.dc1.consul", "A").answers?.length, 1);
    assert.deepEqual(datas(query("NODE-A.node.consul", "A"), "A"), ["10.0.0.1"]);
  });

  it("answers node metadata as TXT: RFC 1464 `key=value`, `rfc1035-` keys as the bare value", () => {
    const response = query("node-a.node.consul", "TXT", { transport: "tcp" });
    assert.deepEqual(texts(response), ["rack=r1", "key`=x=v``1", "only the value"]);
  });

  it("splits TXT values longer than 255 bytes into several character-strings", () => {
    const response = query("node-long.node.consul", "TXT", { transport: "tcp" });
    const parts = (response.answers![0] as { data: Buffer[] }).data.map((part) => part.length);
    assert.deepEqual(parts, [255, 255, 94]);
  });

  it("answers ANY for a node with its address and its metadata", () => {
    const response = query("node-a.node.consul", "ANY", { transport: "tcp" });
    assert.deepEqual(response.answers?.map((record) => record.type), ["A", "TXT", "TXT", "TXT"]);
  });

  it("answers NODATA for a known node without records of the type, NXDOMAIN for unknown", () => {
    assertNoData(query("node-a.node.consul", "AAAA"));
    assertNoData(query("node-a.node.consul", "SRV"));
    assertNoData(query("node-v6.node.consul", "TXT"));
    assert.deepEqual(datas(query("node-v6.node.consul", "AAAA"), "AAAA"), ["fd00::1"]);
    assert.deepEqual(datas(query("node-host.node.consul", "A"), "CNAME"), ["host.example.com"]);
    assertNameError(query("nope.node.consul", "A"));
    assertNameError(query("node-a.node.dc2.consul", "A"));
  });

  it("answers `<hex>.addr.<dc>.<domain>` with the IP it spells", () => {
    assert.deepEqual(datas(query("0a000103.addr.dc1.consul", "A"), "A"), ["10.0.1.3"]);
    assert.deepEqual(datas(query("0A000103.addr.consul", "A"), "A"), ["10.0.1.3"]);
    const v6 = query("fd000000000000000000000000000001.addr.dc1.consul", "AAAA");
    assert.deepEqual(datas(v6, "AAAA"), ["fd00::1"]);
    assertNoData(query("0a000103.addr.dc1.consul", "AAAA"));
    assertNameError(query("0a0001.addr.dc1.consul", "A"));
    assertNameError(query("zz000103.addr.dc1.consul", "A"));
    assertNameError(query("a.0a000103.addr.dc1.consul", "A"));
  });
});

describe("answerDnsQuery() rcodes and edge cases", () => {
  it("answers NXDOMAIN for unknown names and kinds, NODATA for the zone's empty non-terminals", () => {
    assertNameError(query("foo.consul", "A"));
    assertNameError(query("web.connect.consul", "A"));
    // Prepared queries are not supported yet.
    assertNameError(query("x.query.consul", "A"));
    assertNameError(query("dc2.consul", "A"));
    assertNoData(query("consul", "A"));
    assertNoData(query("dc1.consul", "A"));
    assertNoData(query("service.consul", "A"));
    assertNoData(query("node.dc1.consul", "A"));
  });

  it("answers the SOA at the apex", () => {
    const response = query("consul", "SOA");
    assert.equal(rcodeOf(response), DnsRcode.noError);
    assert.deepEqual(response.answers?.map((record) => record.type), ["SOA"]);
    assert.equal(response.authorities?.length, 0);
  });

  it("refuses names outside the domain, without AA, as there are no recursors", () => {
    for (const name of ["example.com", ".", "notconsul", "web.service.consul.example"]) {
      const response = query(name, "A");
      assert.equal(rcodeOf(response), DnsRcode.refused, name);
      assert.equal(response.flag_aa, false);
      assert.equal(response.answers?.length, 0);
      assert.equal(response.authorities?.length, 0);
    }
  });

  it("answers NOTIMP to opcodes other than QUERY and to zone transfers", () => {
    const status = query("web.service.consul", "A", { flags: 2 << 11 });
    assert.equal(rcodeOf(status), DnsRcode.notImplemented);
    assert.equal((status.flags! >> 11) & 0xf, 2, "the opcode is echoed");
    assert.equal(status.answers?.length, 0);
    assert.equal(rcodeOf(query("consul", "AXFR")), DnsRcode.notImplemented);
    assert.equal(rcodeOf(query("consul", "IXFR")), DnsRcode.notImplemented);
  });

  it("answers FORMERR to zero or several questions, and to names it cannot echo", () => {
    const none = query("", "A", { questions: [] });
    assert.equal(rcodeOf(none), DnsRcode.formatError);
    assert.equal(none.questions?.length, 0);
    const two = query("", "A", {
      questions: [
        { name: "web.service.consul", type: "A", class: "IN" },
        { name: "db.service.consul", type: "A", class: "IN" },
      ],
    });
    assert.equal(rcodeOf(two), DnsRcode.formatError);
    assert.equal(two.answers?.length, 0);
    // A label with a byte that is not UTF-8 decodes to U+FFFD and would not encode back the same.
    const bytes = queryBytes("web.service.consul", "A");
    bytes[13] = 0xff;
    const odd = askBytes(bytes).response;
    assert.equal(rcodeOf(odd), DnsRcode.formatError);
    assert.equal(odd.questions?.length, 0);
  });

  it("refuses classes other than IN and ANY (CHAOS, unknown)", () => {
    assert.equal(
      rcodeOf(query("web.service.consul", "A", { questionClass: "CH" })),
      DnsRcode.refused,
    );
    assert.equal(
      rcodeOf(query("web.service.consul", "A", { questionClass: "ANY" })),
      DnsRcode.noError,
    );
    const bytes = queryBytes("web.service.consul", "A");
    bytes.writeUInt16BE(999, bytes.length - 2); // QCLASS 999
    const response = askBytes(bytes).response;
    assert.equal(rcodeOf(response), DnsRcode.refused);
  });

  it("echoes an unknown query type unchanged", () => {
    const response = query("web.service.consul", "UNKNOWN_999");
    assert.equal(response.questions![0].type, "UNKNOWN_999");
  });

  it("drops packets that are responses, never answering them", () => {
    const bytes = queryBytes("web.service.consul", "A");
    bytes[2] |= 0x80; // QR
    const packet = answerDnsQuery(decode(bytes), catalog(), optionsOf({}));
    assert.equal(packet, undefined);
  });

  it("echoes EDNS: an OPT with the client's size, and Client Subnet with scope 0", () => {
    const response = query("web.service.consul", "A", { edns: 1232, clientSubnet: "192.0.2.0" });
    const opt = response.additionals?.find((record) => record.type === "OPT") as OptAnswer;
    assert.equal(opt.udpPayloadSize, 1232);
    assert.equal(opt.ednsVersion, 0);
    assert.equal(opt.options.length, 1);
    const subnet = opt.options[0] as {
      code: number;
      sourcePrefixLength: number;
      scopePrefixLength: number;
    };
    assert.equal(subnet.code, 8);
    assert.equal(subnet.sourcePrefixLength, 24);
    assert.equal(subnet.scopePrefixLength, 0);
    const plain = query("web.service.consul", "A");
    assert.equal(plain.additionals?.length, 0, "no OPT without EDNS in the query");
    const negative = query("missing.service.consul", "A", { edns: 4096 });
    assert.equal(negative.additionals?.[0].type, "OPT", "negative answers carry the OPT too");
  });

  it("answers BADVERS to EDNS versions above 0 (RFC 6891)", () => {
    const response = query("web.service.consul", "A", { edns: 1232, ednsVersion: 1 });
    const opt = response.additionals?.find((record) => record.type === "OPT") as OptAnswer;
    assert.equal(opt.extendedRcode, 1);
    assert.equal(rcodeOf(response), 0, "BADVERS (16) = extended rcode 1, header rcode 0");
    assert.equal(response.answers?.length, 0);
  });

  it("uses the lookup's domain and datacenter, whatever their case and final dot", () => {
    const lookup = catalog();
    Object.defineProperty(lookup, "domain", { value: "Cairn.Example" });
    Object.defineProperty(lookup, "datacenter", { value: "East" });
    const response = query("web.service.east.cairn.example", "SRV", { lookup });
    assert.equal((response.answers![0] as SrvAnswer).data.target, "node-a.node.east.cairn.example");
    assert.equal(rcodeOf(query("web.service.consul", "A", { lookup })), DnsRcode.refused);
  });
});

/** Every SRV target has its address record in additionals, and every additional is a target. */
function assertAdditionalsInStep(response: Packet): void {
  const targets = new Set(
    (response.answers ?? []).map((record) => (record as SrvAnswer).data.target),
  );
  const extras = (response.additionals ?? []).filter((record) => record.type !== "OPT");
  assert.deepEqual(new Set(extras.map((record) => record.name)), targets);
  assert.equal(extras.length, targets.size);
}
