// Goal: runtimes/_ip_version.ts, which the adapters use instead of `node:net`'s `isIP` (so that
// Bun never loads `node:net`), accepts exactly what `isIP` accepts. Method: a table of edge
// cases (leading zeros, zones, IPv4 tails, `::` placement, group counts) and a fast-check property
// over strings drawn from the characters IP literals are made of, each compared with `isIP` of
// the runtime running the test (Deno, Bun or Node).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isIP } from "node:net";
import fc from "fast-check";
import { ipVersion, ipVersionOf } from "../../runtimes/_ip_version.ts";

const CASES = [
  "127.0.0.1",
  "0.0.0.0",
  "255.255.255.255",
  "256.0.0.1",
  "01.2.3.4",
  "1.2.3.04",
  "1.2.3",
  "1.2.3.4.5",
  "1..2.3",
  " 1.2.3.4",
  "1.2.3.4%lo",
  "",
  "localhost",
  "::",
  "::1",
  "::1 ",
  "1::",
  ":1::",
  ":::",
  "1:::2",
  "1::2::3",
  "0:0:0:0:0:0:0:1",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7",
  "1:2:3:4:5:6:7::",
  "::2:3:4:5:6:7:8",
  "1::2:3:4:5:6:7",
  "1::2:3:4:5:6:7:8",
  "12345::",
  "g::1",
  "FFFF::",
  "[::1]",
  "::ffff:127.0.0.1",
  "::ffff:127.0.0.01",
  "::1.2.3.4",
  "1.2.3.4::",
  "1:2:3:4:5:6:1.2.3.4",
  "1:2:3:4:5:6:7:1.2.3.4",
  "1:2:3:4:5::1.2.3.4",
  "1:2:3:4:5:6::1.2.3.4",
  "a:b:c:d:e:f:1.2.3.4",
  "fe80::1%eth0",
  "fe80::1%",
  "fe80::1%a b",
  "::%1",
  "::ffff:1.2.3.4%lo",
];

describe("ipVersion()", () => {
  it("ipVersion() agrees with node:net isIP() on edge cases", () => {
    for (const host of CASES) assert.equal(ipVersion(host), isIP(host), JSON.stringify(host));
  });

  it("ipVersion() agrees with node:net isIP() on random and nearly valid literals", () => {
    const character = fc.constantFrom(..."0123456789abcdefABCDEFg:.%");
    const literal = fc.oneof(
      fc.ipV4(),
      fc.ipV4Extended(),
      fc.ipV6(),
      fc.string({ unit: character, maxLength: 45 }),
    );
    // One character replaced, inserted or removed (an empty replacement removes it).
    const mutated = fc.tuple(literal, fc.nat(), fc.constantFrom(..."0f:.%", "", "00"), fc.boolean())
      .map(([text, at, replacement, insert]) => {
        const index = at % (text.length + 1);
        return text.slice(0, index) + replacement + text.slice(insert ? index : index + 1);
      });
    fc.assert(
      fc.property(fc.oneof(literal, mutated), (host) => {
        assert.equal(ipVersion(host), isIP(host), JSON.stringify(host));
      }),
      { numRuns: 20_000 },
    );
  });

  it("ipVersionOf() throws a TypeError naming the host that is not an IP literal", () => {
    assert.equal(ipVersionOf({ host: "::1", port: 1 }, "connect to"), 6);
    assert.throws(
      () => ipVersionOf({ host: "localhost", port: 8300 }, "connect to"),
      (error: Error) =>
        error instanceof TypeError &&
        error.message ===
          'Cannot connect to localhost:8300: host must be an IP literal, got "localhost"',
    );
  });
});
