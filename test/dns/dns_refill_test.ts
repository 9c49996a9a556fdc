// Goal: a lookup that fetches its data (a client agent's, from the servers) answers a query with
// the fetched data, never with what it lacked: the DNS server waits for `refill()` and answers
// again, SERVFAIL when the fetch fails; ForwardedDnsLookup fetches what a query lacks, reuses it
// for forwardedDnsFreshMs, then fetches again, and shares one fetch between concurrent queries.
// Method: a real DnsServer on 127.0.10.30 (port 0) asked over UDP, with a lookup that fills in
// when refilled; ForwardedDnsLookup over a stub router and a hand-moved clock.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { decode, type DecodedPacket, encode } from "dns-packet";
import { DnsServer } from "../../src/dns/dns_server.ts";
import type { DnsLookup, DnsServiceInstance } from "../../src/dns/dns_lookup.ts";
import { forwardedDnsFreshMs, ForwardedDnsLookup } from "../../src/agent/forwarded_dns.ts";
import type { ServerRouter } from "../../src/agent/server_router.ts";
import { detectRuntime } from "../../runtimes/mod.ts";

const host = "127.0.10.30";
const servers: DnsServer[] = [];
let runtime: Awaited<ReturnType<typeof detectRuntime>>;

before(async () => {
  runtime = await detectRuntime();
});
after(async () => {
  for (const server of servers) await server.close();
});

function instance(address: string): DnsServiceInstance {
  return {
    node: "node-1",
    nodeAddress: address,
    serviceAddress: "",
    port: 80,
    nodeMeta: {},
    status: "passing",
    weightPassing: 1,
    weightWarning: 1,
  };
}

/** A lookup that knows nothing until refilled; `fail` makes the refill reject. */
function fetchingLookup(fail: boolean): DnsLookup & { refills: number } {
  let known: DnsServiceInstance[] | undefined;
  let wanted = false;
  return {
    datacenter: "dc1",
    domain: "consul.",
    refills: 0,
    serviceInstances() {
      if (known === undefined) wanted = true;
      return known ?? [];
    },
    node: () => undefined,
    refill() {
      if (!wanted) return undefined;
      wanted = false;
      this.refills += 1;
      return new Promise<void>((resolve, reject) =>
        setTimeout(() => {
          if (fail) return reject(new Error("no server"));
          known = [instance("10.1.2.3")];
          resolve();
        }, 50)
      );
    },
  };
}

async function ask(port: number, name: string): Promise<DecodedPacket> {
  const socket = createSocket("udp4");
  try {
    const reply = new Promise<Uint8Array>((resolve) => socket.once("message", resolve));
    socket.send(
      encode({ type: "query", id: 3, flags: 256, questions: [{ type: "A", name }] }),
      port,
      host,
    );
    return decode(await reply as never);
  } finally {
    setTimeout(() => socket.close(), 10);
  }
}

describe("DnsServer with a fetching lookup", () => {
  it("answers from the data fetched for the query", async () => {
    const lookup = fetchingLookup(false);
    const server = await DnsServer.start(runtime, lookup, { host, port: 0 });
    servers.push(server);
    const reply = await ask(server.address.port, "web.service.consul");
    assert.equal(reply.flags! & 0xf, 0, "NOERROR");
    assert.deepEqual(reply.answers?.map((answer) => (answer as { data: unknown }).data), [
      "10.1.2.3",
    ]);
    assert.equal(lookup.refills, 1);
    const again = await ask(server.address.port, "web.service.consul");
    assert.equal(again.answers?.length, 1);
    assert.equal(lookup.refills, 1, "held data answers at once");
  });

  it("answers SERVFAIL when the fetch fails", async () => {
    const server = await DnsServer.start(runtime, fetchingLookup(true), { host, port: 0 });
    servers.push(server);
    const reply = await ask(server.address.port, "web.service.consul");
    assert.equal(reply.flags! & 0xf, 2, "SERVFAIL");
  });
});

describe("ForwardedDnsLookup", () => {
  it("fetches what is missing or stale, once for concurrent wants", async () => {
    let nowMs = 0;
    const calls: unknown[] = [];
    const router = {
      call: (method: string, payload: unknown) => {
        calls.push([method, payload]);
        return Promise.resolve({ instances: [instance("10.0.0.9")] });
      },
    } as unknown as ServerRouter;
    const lookup = new ForwardedDnsLookup(router, {
      datacenter: "dc1",
      domain: "Consul.",
      nowMs: () => nowMs,
    });
    assert.equal(lookup.domain, "consul.");
    assert.deepEqual(lookup.serviceInstances("web", undefined), []);
    assert.deepEqual(lookup.serviceInstances("web", undefined), []);
    const refill = lookup.refill();
    assert.ok(refill !== undefined);
    await refill;
    assert.deepEqual(calls, [["clientDns", { service: "web", tag: undefined }]]);
    assert.equal(lookup.serviceInstances("web", undefined)[0].nodeAddress, "10.0.0.9");
    assert.equal(lookup.refill(), undefined, "fresh data is not fetched again");
    nowMs += forwardedDnsFreshMs;
    assert.equal(lookup.serviceInstances("web", undefined).length, 1, "stale data is held");
    await lookup.refill();
    assert.equal(calls.length, 2, "but fetched again before it is answered");
  });
});
