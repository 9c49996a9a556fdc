// Goal: a server is found from LAN gossip exactly as Consul finds one (alive, `role=consul`, our
// `dc`, a valid `port` tag, an address), and a client's pick spreads over the alive servers,
// skips those already tried and avoids one that failed recently while another is left. Method:
// plain member lists, a fixed clock and a scripted random source. A server refuses to bootstrap
// while another expects a different count or runs in bootstrap mode (Consul's maybeBootstrap).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  bootstrapConflict,
  consulServers,
  type GossipMember,
  knownServersMax,
  ServerFinder,
} from "../../src/agent/server_finder.ts";

function member(name: string, tags: Record<string, string>, extra: Partial<GossipMember> = {}) {
  return { name, addr: "10.0.0.1", port: 8301, status: 1, tags, ...extra };
}

const server = (name: string, addr: string, port = "8300", extra: Record<string, string> = {}) =>
  member(name, { role: "consul", dc: "dc1", port, id: `id-${name}`, ...extra }, { addr });

describe("consulServers()", () => {
  it("keeps alive servers of our datacenter with a valid port, sorted by name", () => {
    const members: GossipMember[] = [
      server("s2", "10.0.0.2", "8300", { expect: "3" }),
      server("s1", "10.0.0.1", "9300", { bootstrap: "1" }),
      member("c1", { role: "node", dc: "dc1" }),
      server("other-dc", "10.0.0.9", "8300", { dc: "dc2" }),
      { ...server("failed", "10.0.0.4"), status: 4 },
      { ...server("left", "10.0.0.5"), status: 3 },
      server("bad-port", "10.0.0.6", "70000"),
      server("no-port", "10.0.0.7", ""),
      server("no-addr", ""),
      member("serf", {}),
      server("v6", "fd00::1"),
    ];
    assert.deepEqual(consulServers(members, "dc1"), [
      { name: "s1", id: "id-s1", rpcAddress: "10.0.0.1:9300", expect: 1 },
      { name: "s2", id: "id-s2", rpcAddress: "10.0.0.2:8300", expect: 3 },
      { name: "v6", id: "id-v6", rpcAddress: "[fd00::1]:8300", expect: 0 },
    ]);
  });

  it("keeps at most knownServersMax servers", () => {
    const many = Array.from(
      { length: knownServersMax + 10 },
      (_, at) => server(`s${at}`, "10.0.0.1", String(1000 + at)),
    );
    assert.equal(consulServers(many, "dc1").length, knownServersMax);
  });
});

describe("ServerFinder.pick()", () => {
  function finder(members: GossipMember[], randoms: number[]) {
    let nowMs = 0;
    let reads = 0;
    const picker = new ServerFinder({
      members: () => {
        reads += 1;
        return members;
      },
      datacenter: "dc1",
      nowMs: () => nowMs,
      random: () => randoms.shift() ?? 0,
      failureCooldownMs: 5_000,
      refreshMs: 1_000,
    });
    return { picker, advance: (ms: number) => nowMs += ms, reads: () => reads };
  }

  it("picks at random, skips tried servers, and answers undefined when none is left", () => {
    const members = [server("a", "10.0.0.1"), server("b", "10.0.0.2"), server("c", "10.0.0.3")];
    const { picker } = finder(members, [0.99, 0, 0.5]);
    assert.equal(picker.pick()?.name, "c");
    assert.equal(picker.pick(new Set(["10.0.0.1:8300"]))?.name, "b");
    const all = new Set(["10.0.0.1:8300", "10.0.0.2:8300", "10.0.0.3:8300"]);
    assert.equal(picker.pick(all), undefined);
  });

  it("avoids a server that failed recently while another is left, then forgives it", () => {
    const members = [server("a", "10.0.0.1"), server("b", "10.0.0.2")];
    const { picker, advance } = finder(members, [0, 0, 0, 0]);
    picker.failed("10.0.0.1:8300");
    assert.equal(picker.pick()?.name, "b", "the failed one is skipped");
    assert.equal(picker.pick(new Set(["10.0.0.2:8300"]))?.name, "a", "unless it is the last");
    advance(5_000);
    assert.equal(picker.pick()?.name, "a", "after the cooldown it is picked again");
    picker.failed("10.0.0.1:8300");
    picker.succeeded("10.0.0.1:8300");
    assert.equal(picker.pick()?.name, "a", "an answer clears the failure");
  });

  it("reads the member list at most once per refresh period, and again when it found none", () => {
    const members: GossipMember[] = [];
    const { picker, advance, reads } = finder(members, []);
    assert.equal(picker.pick(), undefined);
    assert.equal(reads(), 2, "an empty list is read again at once");
    members.push(server("a", "10.0.0.1"));
    picker.servers();
    assert.equal(reads(), 2, "within the period the cached list is used");
    assert.equal(picker.pick()?.name, "a", "a pick that finds none rereads");
    advance(1_000);
    picker.servers();
    assert.equal(reads(), 4);
  });
});

describe("bootstrapConflict()", () => {
  const known = (members: GossipMember[]) => consulServers(members, "dc1");

  it("lets servers that expect the same count, or say nothing, bootstrap together", () => {
    const servers = known([
      server("s1", "10.0.0.1", "8300", { expect: "3" }),
      server("s2", "10.0.0.2", "8300", { expect: "3" }),
      server("s3", "10.0.0.3"),
    ]);
    assert.equal(bootstrapConflict(servers, 3), undefined);
  });

  it("refuses, naming the server and the fix, when one expects another count", () => {
    const servers = known([
      server("s1", "10.0.0.1", "8300", { expect: "3" }),
      server("s2", "10.0.0.2", "8300", { expect: "5" }),
    ]);
    assert.equal(
      bootstrapConflict(servers, 3),
      'server "s2" expects 5 servers, this one 3; give every server the same -bootstrap-expect',
    );
  });

  it("refuses while a server runs in bootstrap mode, as Consul's maybeBootstrap", () => {
    const servers = known([server("dev", "10.0.0.4", "8300", { bootstrap: "1" })]);
    assert.match(bootstrapConflict(servers, 3)!, /^server "dev" runs in bootstrap mode/);
  });
});
