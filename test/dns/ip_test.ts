// Goal: the IP helpers behind `.addr.` names and record types accept exactly the literals Go's
// net.ParseIP does (the forms Consul stores) and round-trip them through the hex label form.
// Method: tables of valid and invalid literals, checked against their expected bytes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { addressKind, hexToIp, ipToHex, parseIpv4, parseIpv6 } from "../../src/dns/_ip.ts";

describe("IP helpers", () => {
  it("parseIpv4() takes dotted quads only, without leading zeros", () => {
    assert.deepEqual(parseIpv4("10.0.1.3"), [10, 0, 1, 3]);
    assert.deepEqual(parseIpv4("255.255.255.255"), [255, 255, 255, 255]);
    assert.deepEqual(parseIpv4("0.0.0.0"), [0, 0, 0, 0]);
    for (
      const bad of [
        "",
        "1.2.3",
        "1.2.3.4.5",
        "1.2.3.256",
        "01.2.3.4",
        "1..2.3",
        "1.2.3.4.",
        "a.b.c.d",
      ]
    ) {
      assert.equal(parseIpv4(bad), undefined, bad);
    }
  });

  it("parseIpv6() takes full, `::` and dotted-tail forms", () => {
    const one = [...new Array(15).fill(0), 1];
    assert.deepEqual(parseIpv6("::1"), one);
    assert.deepEqual(parseIpv6("0:0:0:0:0:0:0:1"), one);
    assert.deepEqual(parseIpv6("::"), new Array(16).fill(0));
    assert.deepEqual(parseIpv6("FD00::1")?.slice(0, 2), [0xfd, 0]);
    assert.deepEqual(parseIpv6("::ffff:10.0.0.1"), [
      ...new Array(10).fill(0),
      255,
      255,
      10,
      0,
      0,
      1,
    ]);
    assert.deepEqual(parseIpv6("1:2:3:4:5:6:7::"), [
      0,
      1,
      0,
      2,
      0,
      3,
      0,
      4,
      0,
      5,
      0,
      6,
      0,
      7,
      0,
      0,
    ]);
    for (
      const bad of [
        ":1",
        "1:::2",
        "1::2::3",
        "1:2:3:4:5:6:7:8:9",
        "12345::",
        "fe80::1%eth0",
        "1.2.3.4::",
        "g::",
      ]
    ) {
      assert.equal(parseIpv6(bad), undefined, bad);
    }
  });

  it("addressKind() tells IPs, hostnames and garbage apart", () => {
    assert.equal(addressKind("10.0.0.1"), "ipv4");
    assert.equal(addressKind("fd00::1"), "ipv6");
    assert.equal(addressKind("db.example.com."), "hostname");
    assert.equal(addressKind("has space"), "invalid");
    assert.equal(addressKind(""), "invalid");
    assert.equal(addressKind("1:2"), "invalid");
  });

  it("ipToHex() and hexToIp() round-trip Consul's `.addr.` labels", () => {
    assert.equal(ipToHex("192.0.2.10"), "c000020a");
    assert.deepEqual(hexToIp("c000020a"), { family: 4, address: "192.0.2.10" });
    assert.equal(ipToHex("fd00::1"), "fd000000000000000000000000000001");
    assert.deepEqual(hexToIp("fd000000000000000000000000000001"), {
      family: 6,
      address: "fd00:0:0:0:0:0:0:1",
    });
    assert.equal(hexToIp("c00002"), undefined);
    assert.equal(hexToIp("c000020g"), undefined);
  });
});
