// Tests of `cairn kv get|put|delete|export|import` (src/cli/kv_commands.ts) and the common HTTP
// flags they share (src/cli/http_client.ts).
//
// Goal: each command sends the request Consul's CLI sends (method, path, query, token, body) and
// prints what Consul's CLI prints, with the same exit codes. Method: runCli in-process on a fake
// runtime against a fake agent (node:http on 127.0.0.1, port 0) that records requests and answers
// from a table; the test asserts the recorded requests and the captured stdout/stderr exactly.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CairnOutcome,
  type FakeAgent,
  type FakeRoutes,
  type RecordedRequest,
  runCairn,
  startFakeAgent,
} from "./fake_agent.ts";

let agent: FakeAgent;
const root = mkdtempSync(join(tmpdir(), "cairn-cli-kv-"));

before(async () => {
  agent = await startFakeAgent();
});
after(async () => {
  await agent.close();
  rmSync(root, { recursive: true, force: true });
});

function b64(text: string): string {
  return btoa(text);
}

function pair(key: string, value: string | null, extra: Record<string, unknown> = {}) {
  return {
    LockIndex: 0,
    Key: key,
    Flags: 0,
    Value: value === null ? null : b64(value),
    CreateIndex: 7,
    ModifyIndex: 9,
    ...extra,
  };
}

/** The requests of the last `cairn` run, with headers and bodies. */
function recorded(): RecordedRequest[] {
  return agent.requests;
}

/** Runs `cairn <args>` against the fake agent with `routes`. */
function cairn(
  args: string[],
  routes: FakeRoutes,
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<CairnOutcome> {
  return runCairn(agent, args, routes, options);
}

test("kv get prints the value at a key", async () => {
  const result = await cairn(["kv", "get", "app/config"], {
    "GET /v1/kv/app/config": { body: [pair("app/config", "hello world")] },
  });
  assert.deepEqual(result, {
    code: 0,
    stdout: "hello world\n",
    stderr: "",
    requests: ["GET /v1/kv/app/config"],
  });
});

test("kv get strips a leading / and escapes the key as Go's url package does", async () => {
  const result = await cairn(["kv", "get", "/a b/c?d#e:f@g"], {
    "GET /v1/kv/a%20b/c%3Fd%23e:f@g": { body: [pair("a b/c?d#e:f@g", "x")] },
  });
  assert.equal(result.stdout, "x\n");
  assert.deepEqual(result.requests, ["GET /v1/kv/a%20b/c%3Fd%23e:f@g"]);
});

test("kv get of a missing key exits 1 with Consul's message", async () => {
  const result = await cairn(["kv", "get", "nope"], {});
  assert.deepEqual(result, {
    code: 1,
    stdout: "",
    stderr: "Error! No key exists at: nope\n",
    requests: ["GET /v1/kv/nope"],
  });
});

test("kv get -base64 and -detailed print as Consul does", async () => {
  const routes = {
    "GET /v1/kv/k": { body: [pair("k", "v1", { Session: "s-1", Flags: 42, LockIndex: 1 })] },
  };
  assert.equal((await cairn(["kv", "get", "-base64", "k"], routes)).stdout, "djE=\n");
  const detailed = await cairn(["kv", "get", "-detailed", "k"], routes);
  assert.equal(
    detailed.stdout,
    [
      "CreateIndex      7",
      "Flags            42",
      "Key              k",
      "LockIndex        1",
      "ModifyIndex      9",
      "Session          s-1",
      "Value            v1",
      "",
    ].join("\n"),
  );
});

test("kv get -recurse lists key:value lines; -detailed separates entries with a blank line", async () => {
  const routes = {
    "GET /v1/kv/app?recurse=": { body: [pair("app/a", "1"), pair("app/b", null)] },
  };
  const plain = await cairn(["kv", "get", "-recurse", "app"], routes);
  assert.deepEqual(plain, {
    code: 0,
    stdout: "app/a:1\napp/b:\n",
    stderr: "",
    requests: ["GET /v1/kv/app?recurse="],
  });
  const detailed = await cairn(["kv", "get", "-recurse", "-detailed", "app"], routes);
  assert.match(detailed.stdout, /^CreateIndex {6}7\n[^]*Value {12}1\n\nCreateIndex/);
  const empty = await cairn(["kv", "get", "-recurse", "none"], {});
  assert.deepEqual([empty.code, empty.stdout, empty.stderr], [0, "", ""]);
});

test("kv get -keys sends ?keys with the separator (default /), or none when it is empty", async () => {
  const keys = await cairn(["kv", "get", "-keys", "app/"], {
    "GET /v1/kv/app/?keys=&separator=%2F": { body: ["app/a", "app/sub/"] },
  });
  assert.equal(keys.stdout, "app/a\napp/sub/\n");
  assert.deepEqual(keys.requests, ["GET /v1/kv/app/?keys=&separator=%2F"]);
  const flat = await cairn(["kv", "get", "-keys", "-separator=", ""], {
    "GET /v1/kv/?keys=": { body: ["a", "b/c"] },
  });
  assert.equal(flat.stdout, "a\nb/c\n");
});

test("kv get without a key is a usage error", async () => {
  const result = await cairn(["kv", "get"], {});
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^Cannot get a key: the KEY argument is missing\n\nUsage:/);
  assert.deepEqual(result.requests, []);
});

test("client commands send -token/$CONSUL_HTTP_TOKEN, -datacenter and -stale", async () => {
  const routes = { "GET /v1/kv/k?dc=dc2&stale=": { body: [pair("k", "v")] } };
  const result = await cairn(["kv", "get", "-datacenter=dc2", "-stale", "k"], routes, {
    env: { CONSUL_HTTP_TOKEN: "env-token" },
  });
  assert.equal(result.stdout, "v\n");
  assert.equal(recorded()[0].token, "env-token");
  await cairn(["kv", "get", "-token", "flag-token", "-datacenter=dc2", "-stale", "k"], routes, {
    env: { CONSUL_HTTP_TOKEN: "env-token" },
  });
  assert.equal(recorded()[0].token, "flag-token");
  const tokenFile = join(root, "token");
  writeFileSync(tokenFile, "file-token\n");
  await cairn(["kv", "get", `-token-file=${tokenFile}`, "-datacenter=dc2", "-stale", "k"], routes);
  assert.equal(recorded()[0].token, "file-token");
  await cairn(["kv", "get", "-datacenter=dc2", "-stale", "k"], routes);
  assert.equal(recorded()[0].token, undefined);
});

test("-http-addr wins over $CAIRN_HTTP_ADDR, which wins over $CONSUL_HTTP_ADDR", async () => {
  const routes = { "GET /v1/kv/k": { body: [pair("k", "v")] } };
  const dead = "127.0.0.1:1";
  const viaFlag = await cairn(["kv", "get", `-http-addr=http://${agent.address}`, "k"], routes, {
    env: { CONSUL_HTTP_ADDR: dead, CAIRN_HTTP_ADDR: dead },
  });
  assert.equal(viaFlag.stdout, "v\n");
  const viaCairn = await cairn(["kv", "get", "k"], routes, {
    env: { CONSUL_HTTP_ADDR: dead, CAIRN_HTTP_ADDR: agent.address },
  });
  assert.equal(viaCairn.stdout, "v\n");
});

test("an unreachable agent exits 1 with the address in the message", async () => {
  // A port that was just free: connecting to it is refused (fetch blocks some low ports outright).
  const closed = await startFakeAgent();
  await closed.close();
  const result = await cairn(["kv", "get", "k"], {}, { env: { CONSUL_HTTP_ADDR: closed.address } });
  assert.equal(result.code, 1);
  assert.ok(
    result.stderr.startsWith(
      `Error querying agent: Cannot reach the agent at http://${closed.address}: `,
    ),
    result.stderr,
  );
  assert.equal(result.stderr.split("\n").length, 2);
});

test("kv put writes the value with -flags and prints Consul's success line", async () => {
  const result = await cairn(["kv", "put", "-flags=42", "app/k", "some value"], {
    "PUT /v1/kv/app/k?flags=42": { body: true },
  });
  assert.deepEqual(result, {
    code: 0,
    stdout: "Success! Data written to: app/k\n",
    stderr: "",
    requests: ["PUT /v1/kv/app/k?flags=42"],
  });
  assert.equal(recorded()[0].body, "some value");
  assert.equal(recorded()[0].contentType, "application/octet-stream");
});

test("kv put takes a value starting with a dash, an empty value, @file and - (stdin)", async () => {
  const routes = { "PUT /v1/kv/k": { body: true } };
  const file = join(root, "value.txt");
  writeFileSync(file, "from a file\n");
  const bodies: string[] = [];
  for (
    const [args, stdin] of [
      [["k", "-v"]],
      [["k"]],
      [["k", `@${file}`]],
      [["k", "-"], "from stdin"],
      [["-base64", "k", b64("decoded")]],
    ] as Array<[string[], string?]>
  ) {
    const result = await cairn(["kv", "put", ...args], routes, { stdin });
    assert.equal(result.code, 0, args.join(" "));
    bodies.push(recorded()[0].body);
  }
  assert.deepEqual(bodies, ["-v", "", "from a file\n", "from stdin", "decoded"]);
  const missing = await cairn(["kv", "put", "k", `@${join(root, "missing.txt")}`], routes);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^Error! Failed to read file: /);
});

test("kv put -cas sends ?cas and exits 1 with Consul's message when the CAS fails", async () => {
  const failed = await cairn(["kv", "put", "-cas", "-modify-index=5", "k", "v"], {
    "PUT /v1/kv/k?cas=5": { body: false },
  });
  assert.deepEqual(failed, {
    code: 1,
    stdout: "",
    stderr: "Error! Did not write to k: CAS failed\n",
    requests: ["PUT /v1/kv/k?cas=5"],
  });
  const created = await cairn(["kv", "put", "-cas", "-modify-index", "0", "k", "v"], {
    "PUT /v1/kv/k?cas=0": { body: true },
  });
  assert.equal(created.stdout, "Success! Data written to: k\n");
  const noIndex = await cairn(["kv", "put", "-cas", "k", "v"], {});
  assert.equal(noIndex.code, 2);
  assert.match(noIndex.stderr, /^Cannot write a key: -cas needs -modify-index\n/);
});

test("kv put -acquire and -release send the session and report the lock", async () => {
  const acquired = await cairn(["kv", "put", "-acquire", "-session=s1", "lock", "me"], {
    "PUT /v1/kv/lock?acquire=s1": { body: true },
  });
  assert.equal(acquired.stdout, "Success! Lock acquired on: lock\n");
  const busy = await cairn(["kv", "put", "-acquire", "-session=s1", "lock"], {
    "PUT /v1/kv/lock?acquire=s1": { body: false },
  });
  assert.deepEqual([busy.code, busy.stderr], [1, "Error! Did not acquire lock\n"]);
  const released = await cairn(["kv", "put", "-release", "-session", "s1", "lock"], {
    "PUT /v1/kv/lock?release=s1": { body: true },
  });
  assert.equal(released.stdout, "Success! Lock released on: lock\n");
  const noSession = await cairn(["kv", "put", "-acquire", "lock"], {});
  assert.equal(noSession.code, 2);
  assert.match(noSession.stderr, /-acquire and -release need -session/);
  const both = await cairn(["kv", "put", "-acquire", "-cas", "-session=s", "lock"], {});
  assert.equal(both.code, 2);
});

test("kv put reports an HTTP error as <status> (<body>) and exits 1", async () => {
  const result = await cairn(["kv", "put", "-acquire", "-session=bad", "k"], {
    "PUT /v1/kv/k?acquire=bad": { status: 500, body: 'invalid session "bad"\n' },
  });
  assert.deepEqual(result, {
    code: 1,
    stdout: "",
    stderr: 'Error! Failed writing data: 500 (invalid session "bad")\n',
    requests: ["PUT /v1/kv/k?acquire=bad"],
  });
  const leading = await cairn(["kv", "put", "/k", "v"], {});
  assert.deepEqual([leading.code, leading.requests], [1, []]);
});

test("kv delete deletes a key, a prefix with -recurse, or at an index with -cas", async () => {
  const plain = await cairn(["kv", "delete", "/app/k"], { "DELETE /v1/kv/app/k": { body: true } });
  assert.deepEqual(plain, {
    code: 0,
    stdout: "Success! Deleted key: app/k\n",
    stderr: "",
    requests: ["DELETE /v1/kv/app/k"],
  });
  const tree = await cairn(["kv", "delete", "-recurse", "app"], {
    "DELETE /v1/kv/app?recurse=": { body: true },
  });
  assert.equal(tree.stdout, "Success! Deleted keys with prefix: app\n");
  const cas = await cairn(["kv", "delete", "-cas", "-modify-index=3", "k"], {
    "DELETE /v1/kv/k?cas=3": { body: false },
  });
  assert.deepEqual([cas.code, cas.stderr], [1, "Error! Did not delete key k: CAS failed\n"]);
  const conflict = await cairn(["kv", "delete", "-cas", "-modify-index=3", "-recurse", "k"], {});
  assert.equal(conflict.code, 2);
  const failed = await cairn(["kv", "delete", "k"], {
    "DELETE /v1/kv/k": { status: 403, body: "Permission denied" },
  });
  assert.deepEqual([failed.code, failed.stderr], [
    1,
    "Error deleting key k: 403 (Permission denied)\n",
  ]);
});

test("kv export prints Consul's JSON with base64 values; kv import writes it back", async () => {
  const exported = await cairn(["kv", "export", "app"], {
    "GET /v1/kv/app?recurse=": {
      body: [pair("app/a", "<1>", { Flags: 5 }), pair("app/b", null)],
    },
  });
  const expected = '[\n\t{\n\t\t"key": "app/a",\n\t\t"flags": 5,\n\t\t"value": "PDE+"\n\t},\n' +
    '\t{\n\t\t"key": "app/b",\n\t\t"flags": 0,\n\t\t"value": ""\n\t}\n]\n';
  assert.deepEqual(exported, {
    code: 0,
    stdout: expected,
    stderr: "",
    requests: ["GET /v1/kv/app?recurse="],
  });
  assert.equal((await cairn(["kv", "export"], {})).stdout, "[]\n");

  const file = join(root, "export.json");
  writeFileSync(file, expected);
  const imported = await cairn(["kv", "import", `@${file}`], {
    "PUT /v1/kv/app/a?flags=5": { body: true },
    "PUT /v1/kv/app/b": { body: true },
  });
  assert.deepEqual(imported, {
    code: 0,
    stdout: "Imported: app/a\nImported: app/b\n",
    stderr: "",
    requests: ["PUT /v1/kv/app/a?flags=5", "PUT /v1/kv/app/b"],
  });
  assert.deepEqual(recorded().map((request) => request.body), ["<1>", ""]);
});

test("kv import reads stdin or inline JSON, applies -prefix, and refuses bad data", async () => {
  const data = JSON.stringify([{ key: "x", flags: 0, value: b64("1") }]);
  const fromStdin = await cairn(["kv", "import", "-prefix=new/", "-"], {
    "PUT /v1/kv/new/x": { body: true },
  }, { stdin: data });
  assert.equal(fromStdin.stdout, "Imported: new/x\n");
  const inline = await cairn(["kv", "import", data], { "PUT /v1/kv/x": { body: true } });
  assert.equal(inline.stdout, "Imported: x\n");
  const bad = await cairn(["kv", "import", '{"key": "x"}'], {});
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^Cannot unmarshal data: /);
  assert.deepEqual(bad.requests, []);
  const missing = await cairn(["kv", "import"], {});
  assert.equal(missing.code, 2);
});

test("kv get -detailed, export and import keep uint64 flags above 2^53 exact", async () => {
  const big = "18446744073709551615";
  const raw = JSON.stringify([pair("app/a", "v", { Flags: 0 })]).replace(
    '"Flags":0',
    `"Flags":${big}`,
  );
  const detailed = await cairn(["kv", "get", "-detailed", "app/a"], {
    "GET /v1/kv/app/a": { body: raw },
  });
  assert.match(detailed.stdout, new RegExp(`^Flags +${big}$`, "m"));
  const exported = await cairn(["kv", "export", "app"], {
    "GET /v1/kv/app?recurse=": { body: raw },
  });
  assert.match(exported.stdout, new RegExp(`"flags": ${big},`));
  const imported = await cairn(["kv", "import", exported.stdout], {
    [`PUT /v1/kv/app/a?flags=${big}`]: { body: true },
  });
  assert.equal(imported.stdout, "Imported: app/a\n");
  const tooBig = await cairn([
    "kv",
    "import",
    '[{"key":"x","flags":18446744073709551616,"value":""}]',
  ], {});
  assert.equal(tooBig.code, 1);
  assert.match(tooBig.stderr, /^Cannot unmarshal data: .*not a uint64/);
});
