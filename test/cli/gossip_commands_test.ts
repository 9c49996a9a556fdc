// Tests of `cairn join|force-leave|event|keygen|keyring` (src/cli/gossip_commands.ts).
//
// Goal: each command sends the requests Consul's CLI sends and prints Consul's messages, with
// Consul's exit codes. Method: runCli in-process on a fake runtime against the fake agent of
// fake_agent.ts; the recorded requests and the captured output are asserted exactly.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { decodeBase64 } from "../../src/core/base64.ts";
import {
  type CairnOutcome,
  type FakeAgent,
  type FakeRoutes,
  runCairn,
  startFakeAgent,
} from "./fake_agent.ts";

let agent: FakeAgent;

before(async () => {
  agent = await startFakeAgent();
});
after(async () => {
  await agent.close();
});

function cairn(args: string[], routes: FakeRoutes = {}): Promise<CairnOutcome> {
  return runCairn(agent, args, routes);
}

test("join contacts each address and counts those that answered", async () => {
  const result = await cairn(["join", "127.0.0.2", "127.0.0.3:8301", "127.0.0.4"], {
    "PUT /v1/agent/join/127.0.0.2": { body: "" },
    "PUT /v1/agent/join/127.0.0.3:8301": { body: "" },
    "PUT /v1/agent/join/127.0.0.4": { status: 500, body: "Cannot join: nobody there" },
  });
  assert.deepEqual(result, {
    code: 0,
    stdout: "Successfully joined cluster by contacting 2 nodes.\n",
    stderr: "Error joining address '127.0.0.4': 500 (Cannot join: nobody there)\n",
    requests: [
      "PUT /v1/agent/join/127.0.0.2",
      "PUT /v1/agent/join/127.0.0.3:8301",
      "PUT /v1/agent/join/127.0.0.4",
    ],
  });
  const wan = await cairn(["join", "-wan", "127.0.0.2"], {
    "PUT /v1/agent/join/127.0.0.2?wan=1": { body: "" },
  });
  assert.equal(wan.stdout, "Successfully joined cluster by contacting 1 nodes.\n");
});

test("join fails when no address answered or none was given", async () => {
  const failed = await cairn(["join", "127.0.0.2"]);
  assert.equal(failed.code, 1);
  assert.equal(
    failed.stderr,
    "Error joining address '127.0.0.2': 404 ()\nFailed to join any nodes.\n",
  );
  const none = await cairn(["join"]);
  assert.deepEqual(none, {
    code: 1,
    stdout: "",
    stderr: "At least one address to join must be specified.\n",
    requests: [],
  });
});

test("force-leave sends the node and -prune, prints nothing, reports errors", async () => {
  const done = await cairn(["force-leave", "-prune", "web-1"], {
    "PUT /v1/agent/force-leave/web-1?prune=1": { body: "" },
  });
  assert.deepEqual(done, {
    code: 0,
    stdout: "",
    stderr: "",
    requests: ["PUT /v1/agent/force-leave/web-1?prune=1"],
  });
  const refused = await cairn(["force-leave", "web-2"], {
    "PUT /v1/agent/force-leave/web-2": {
      status: 500,
      body: 'Cannot force-leave "web-2": no member has that name',
    },
  });
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr,
    'Error force leaving: 500 (Cannot force-leave "web-2": no member has that name)\n',
  );
  const usage = await cairn(["force-leave"]);
  assert.equal(usage.code, 1);
  assert.equal(usage.stderr, "A single node name must be specified to force leave.\n");
});

test("event fires with filters and the payload as the body, and prints the ID", async () => {
  const result = await cairn(
    ["event", "-name=deploy", "-node=web", "-service=api", "-tag=v2", "go now"],
    {
      "PUT /v1/event/fire/deploy?node=web&service=api&tag=v2": {
        body: { ID: "b54fe110-7af5-cafc-d1fb-afc8ba432b1c", Name: "deploy" },
      },
    },
  );
  assert.deepEqual(result, {
    code: 0,
    stdout: "Event ID: b54fe110-7af5-cafc-d1fb-afc8ba432b1c\n",
    stderr: "",
    requests: ["PUT /v1/event/fire/deploy?node=web&service=api&tag=v2"],
  });
  assert.equal(agent.requests[0].body, "go now");
  assert.equal(agent.requests[0].contentType, "application/octet-stream");
});

test("event checks its flags before sending anything", async () => {
  for (
    const [args, message] of [
      [["event"], "Event name must be specified"],
      [["event", "-name=x", "-tag=v2"], "Cannot provide tag filter without service filter."],
      [["event", "-name=x", "a", "b"], "Too many command line arguments."],
    ] as const
  ) {
    const result = await cairn([...args]);
    assert.equal(result.code, 1, args.join(" "));
    assert.equal(result.stderr, `${message}\n`);
    assert.deepEqual(result.requests, []);
  }
  const badRegexp = await cairn(["event", "-name=x", "-node=("]);
  assert.equal(badRegexp.code, 1);
  assert.match(badRegexp.stderr, /^Failed to compile node filter regexp: /);
  const refused = await cairn(["event", "-name=x"], {
    "PUT /v1/event/fire/x": { status: 403, body: "Permission denied" },
  });
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, "Error firing event: 403 (Permission denied)\n");
});

test("keygen prints 32 random bytes in base64, different each time", async () => {
  const first = await cairn(["keygen"]);
  const second = await cairn(["keygen"]);
  assert.equal(first.code, 0);
  assert.deepEqual(first.requests, []);
  assert.match(first.stdout, /^[A-Za-z0-9+/]{43}=\n$/);
  assert.equal(decodeBase64(first.stdout.trim()).length, 32);
  assert.notEqual(first.stdout, second.stdout);
});

test("keyring -list prints each pool's keys with their counts", async () => {
  const key = "cg8StVXbQJ0gPvMd9o7yrg9CR5FJ7hYlGDtK9Q0qBjQ=";
  const result = await cairn(["keyring", "-list"], {
    "GET /v1/operator/keyring": {
      body: [{
        WAN: true,
        Datacenter: "dc1",
        Segment: "",
        Messages: {},
        Keys: { [key]: 2 },
        PrimaryKeys: { [key]: 2 },
        NumNodes: 2,
        NumResp: 2,
        NumErr: 0,
      }, {
        WAN: false,
        Datacenter: "dc1",
        Segment: "",
        Messages: {},
        Keys: { [key]: 3 },
        PrimaryKeys: { [key]: 3 },
        NumNodes: 3,
        NumResp: 3,
        NumErr: 0,
      }],
    },
  });
  assert.deepEqual(result, {
    code: 0,
    stdout: [
      "==> Gathering installed encryption keys...",
      "",
      "WAN:",
      `  ${key} [2/2]`,
      "",
      "dc1 (LAN):",
      `  ${key} [3/3]`,
      "",
    ].join("\n"),
    stderr: "",
    requests: ["GET /v1/operator/keyring"],
  });
});

test("keyring passes -relay-factor and -local-only; -local-only goes with -list only", async () => {
  const key = "cg8StVXbQJ0gPvMd9o7yrg9CR5FJ7hYlGDtK9Q0qBjQ=";
  const listed = await cairn(["keyring", "-list", "-local-only", "-relay-factor=2"], {
    "GET /v1/operator/keyring?local-only=1&relay-factor=2": { body: [] },
  });
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(listed.requests, ["GET /v1/operator/keyring?local-only=1&relay-factor=2"]);
  const installed = await cairn(["keyring", `-install=${key}`, "-relay-factor=3"], {
    "POST /v1/operator/keyring?relay-factor=3": { body: "" },
  });
  assert.equal(installed.code, 0, installed.stderr);
  const refused = await cairn(["keyring", `-use=${key}`, "-local-only"]);
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, "-local-only can only be used with -list\n");
  assert.deepEqual(refused.requests, []);
});

test("keyring -install/-use/-remove send the key; one action only", async () => {
  const key = "cg8StVXbQJ0gPvMd9o7yrg9CR5FJ7hYlGDtK9Q0qBjQ=";
  const cases = [["install", "POST"], ["use", "PUT"], ["remove", "DELETE"]] as const;
  for (const [action, method] of cases) {
    const result = await cairn([`keyring`, `-${action}=${key}`], {
      [`${method} /v1/operator/keyring`]: {
        status: 500,
        body: "dc1 (LAN) error: 1/3 nodes reported failure\nb: Cannot remove key",
      },
    });
    assert.equal(result.code, 1, action);
    assert.equal(
      result.stderr,
      "error: 500 (dc1 (LAN) error: 1/3 nodes reported failure\nb: Cannot remove key)\n",
    );
    assert.deepEqual(result.requests, [`${method} /v1/operator/keyring`]);
    assert.equal(agent.requests[0].body, JSON.stringify({ Key: key }));
  }
  const ok = await cairn(["keyring", `-use=${key}`], { "PUT /v1/operator/keyring": { body: "" } });
  assert.deepEqual(ok, {
    code: 0,
    stdout: "==> Changing primary gossip encryption key...\n",
    stderr: "",
    requests: ["PUT /v1/operator/keyring"],
  });
  const two = await cairn(["keyring", "-list", `-remove=${key}`]);
  assert.equal(two.code, 1);
  assert.equal(two.stderr, "Only a single action is allowed\n");
  const none = await cairn(["keyring"]);
  assert.equal(none.code, 1);
  assert.deepEqual(none.requests, []);
});
