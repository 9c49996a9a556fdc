// Goal: `/v1/agent/*` answers as Consul's `agent/agent_endpoint.go`: service registration takes
// keys in any case, snake_case and unknown fields; TTL checks driven by `/v1/agent/check/*` show up
// in `/v1/health/service/:name?passing`; node and service maintenance hide instances; check
// registration and deregistration; unknown IDs are 404s; bad bodies are 400s in plain text;
// writes answer 200 with an empty body; script checks need `enable_script_checks`.
// Method: an in-process dev agent (no sockets) driven through `agent.fetch`, reading back
// through `/v1/agent/*`, `/v1/catalog/*` and `/v1/health/*` (anti-entropy has synced when a write
// answers). A second agent with script checks enabled checks the opt-in.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningAgent } from "../../src/agent/agent.ts";
import { type Answer, call, put, startTestAgent } from "./_agent.ts";

/** Asserts Consul's answer to an agent write: 200 and nothing in the body. */
function assertEmptyOk(answer: Answer): void {
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.text, "");
}

/** Asserts a 4xx/5xx with a one-line plain-text body. */
function assertPlainError(answer: Answer, status: number): void {
  assert.equal(answer.status, status, answer.text);
  assert.match(answer.headers.get("Content-Type") ?? "", /^text\/plain/);
  assert.ok(answer.text.length > 0, "the body says why");
  assert.ok(!answer.text.includes("\n"), `one line: ${JSON.stringify(answer.text)}`);
}

describe("HTTP /v1/agent", () => {
  let agent: RunningAgent;

  before(async () => {
    agent = await startTestAgent();
  });

  after(async () => {
    await agent.stop();
  });

  async function passingIds(service: string, query = ""): Promise<string[]> {
    const answer = await call(agent, `/v1/health/service/${service}?passing${query}`);
    assert.equal(answer.status, 200, answer.text);
    return answer.json.map((entry: { Service: { ID: string } }) => entry.Service.ID);
  }

  it("`GET /v1/agent/self` names the node and datacenter", async () => {
    const answer = await call(agent, "/v1/agent/self");
    assert.equal(answer.status, 200);
    assert.equal(answer.json.Config.Datacenter, "dc1");
    assert.equal(answer.json.Config.NodeName, "node-1");
    assert.equal(answer.json.Config.Server, true);
    assert.equal(answer.json.Member.Name, "node-1");
  });

  it("`GET /v1/agent/members` lists this node alive with Consul's fields", async () => {
    const answer = await call(agent, "/v1/agent/members");
    assert.equal(answer.json.length, 1);
    const member = answer.json[0];
    for (const field of ["Name", "Addr", "Port", "Tags", "Status", "ProtocolCur", "DelegateCur"]) {
      assert.ok(field in member, field);
    }
    assert.equal(member.Name, "node-1");
    assert.equal(member.Status, 1);
    assert.equal(member.Tags.role, "consul");
    assert.equal(member.Tags.dc, "dc1");
  });

  it("`PUT /v1/agent/service/register` takes any key case, snake_case and unknown fields", async () => {
    const answer = await put(agent, "/v1/agent/service/register", {
      name: "web",
      ID: "web-1",
      TAGS: ["v1", "primary"],
      port: 8080,
      Address: "10.0.0.5",
      meta: { team: "edge" },
      enable_tag_override: true,
      tagged_addresses: { lan: { address: "10.0.0.5", port: 8080 } },
      weights: { passing: 3, warning: 1 },
      SomethingFromTheFuture: { nested: [1, 2, 3] },
      Connect: { Native: false },
    });
    assertEmptyOk(answer);

    const services = (await call(agent, "/v1/agent/services")).json;
    assert.deepEqual(Object.keys(services), ["web-1"]);
    const service = services["web-1"];
    assert.equal(service.ID, "web-1");
    assert.equal(service.Service, "web");
    assert.deepEqual(service.Tags, ["v1", "primary"]);
    assert.equal(service.Port, 8080);
    assert.equal(service.Address, "10.0.0.5");
    assert.deepEqual(service.Meta, { team: "edge" });
    assert.equal(service.EnableTagOverride, true);
    assert.deepEqual(service.TaggedAddresses, { lan: { Address: "10.0.0.5", Port: 8080 } });
    assert.deepEqual(service.Weights, { Passing: 3, Warning: 1 });
    assert.equal(service.Datacenter, "dc1");
    assert.equal("SomethingFromTheFuture" in service, false);

    const one = await call(agent, "/v1/agent/service/web-1");
    assert.equal(one.status, 200);
    assert.equal(one.json.ID, "web-1");
    assert.equal(typeof one.json.ContentHash, "string");
    assert.equal(one.headers.get("X-Consul-ContentHash"), one.json.ContentHash);
    assert.equal((await call(agent, "/v1/agent/service/nope")).status, 404);

    // Anti-entropy has put it in the catalog by the time the write answered.
    const catalog = (await call(agent, "/v1/catalog/service/web")).json;
    assert.equal(catalog.length, 1);
    assert.equal(catalog[0].ServiceID, "web-1");
    assert.equal(catalog[0].Node, "node-1");
    assert.equal(catalog[0].ServicePort, 8080);
  });

  it("a TTL check turns passing through `/v1/agent/check/pass/:id` in `?passing`", async () => {
    assertEmptyOk(
      await put(agent, "/v1/agent/service/register", {
        Name: "api",
        Port: 9000,
        Check: { TTL: "30s" },
      }),
    );
    const checks = (await call(agent, "/v1/agent/checks")).json;
    assert.equal(checks["service:api"].Status, "critical", "TTL checks start critical");
    assert.equal(checks["service:api"].ServiceID, "api");
    assert.equal(checks["service:api"].ServiceName, "api");
    assert.equal(checks["service:api"].Type, "ttl");
    assert.deepEqual(await passingIds("api"), []);

    const all = (await call(agent, "/v1/health/service/api")).json;
    assert.equal(all.length, 1);
    assert.deepEqual(
      all[0].Checks.map((check: { CheckID: string }) => check.CheckID).sort(),
      ["serfHealth", "service:api"],
      "node checks count towards a service's health",
    );

    assertEmptyOk(await put(agent, "/v1/agent/check/pass/service:api?note=all%20good"));
    assert.deepEqual(await passingIds("api"), ["api"]);
    const entry = (await call(agent, "/v1/health/service/api?passing")).json[0];
    assert.deepEqual(Object.keys(entry), ["Node", "Service", "Checks"]);
    assert.equal(entry.Node.Node, "node-1");
    assert.equal(entry.Service.Port, 9000);
    const ttl = entry.Checks.find((check: { CheckID: string }) => check.CheckID === "service:api");
    assert.equal(ttl.Status, "passing");
    assert.equal(ttl.Output, "all good");

    // A warning is not passing.
    assertEmptyOk(await put(agent, "/v1/agent/check/warn/service:api"));
    assert.deepEqual(await passingIds("api"), []);
    assertEmptyOk(
      await put(agent, "/v1/agent/check/update/service:api", { Status: "passing", Output: "ok" }),
    );
    assert.deepEqual(await passingIds("api"), ["api"]);
    assertEmptyOk(await put(agent, "/v1/agent/check/fail/service:api"));
    assert.deepEqual(await passingIds("api"), []);
    const bad = await put(agent, "/v1/agent/check/update/service:api", { Status: "fine" });
    assertPlainError(bad, 400);
  });

  it("`?tag=` keeps instances having every tag", async () => {
    for (const [id, tags] of [["cache-1", ["v1", "primary"]], ["cache-2", ["v2"]]] as const) {
      assertEmptyOk(
        await put(agent, "/v1/agent/service/register", {
          Name: "cache",
          ID: id,
          Tags: tags,
          Check: { TTL: "30s", Status: "passing" },
        }),
      );
    }
    assert.deepEqual(await passingIds("cache"), ["cache-1", "cache-2"]);
    assert.deepEqual(await passingIds("cache", "&tag=v1"), ["cache-1"]);
    assert.deepEqual(await passingIds("cache", "&tag=v1&tag=primary"), ["cache-1"]);
    assert.deepEqual(await passingIds("cache", "&tag=v1&tag=v2"), []);
    const catalog = (await call(agent, "/v1/catalog/service/cache?tag=v2")).json;
    assert.deepEqual(catalog.map((entry: { ServiceID: string }) => entry.ServiceID), ["cache-2"]);
  });

  it("`PUT /v1/agent/service/deregister/:id` removes the service and its checks", async () => {
    assertEmptyOk(
      await put(agent, "/v1/agent/service/register", {
        Name: "gone",
        Check: { TTL: "30s" },
      }),
    );
    assertEmptyOk(await put(agent, "/v1/agent/service/deregister/gone"));
    assert.equal("gone" in (await call(agent, "/v1/agent/services")).json, false);
    assert.equal("service:gone" in (await call(agent, "/v1/agent/checks")).json, false);
    assert.deepEqual((await call(agent, "/v1/catalog/service/gone")).json, []);
    assert.deepEqual((await call(agent, "/v1/health/checks/gone")).json, []);

    const unknown = await put(agent, "/v1/agent/service/deregister/never-was");
    assertPlainError(unknown, 404);
  });

  it("node maintenance hides every instance from `?passing` until disabled", async () => {
    assertEmptyOk(
      await put(agent, "/v1/agent/service/register", {
        Name: "maint",
        Check: { TTL: "30s", Status: "passing" },
      }),
    );
    assert.deepEqual(await passingIds("maint"), ["maint"]);

    assertEmptyOk(await put(agent, "/v1/agent/maintenance?enable=true&reason=kernel%20upgrade"));
    assert.deepEqual(await passingIds("maint"), []);
    const check = (await call(agent, "/v1/agent/checks")).json["_node_maintenance"];
    assert.equal(check.Status, "critical");
    assert.equal(check.Notes, "kernel upgrade");
    assert.equal(check.ServiceID, "");
    const stateCritical = (await call(agent, "/v1/health/state/critical")).json;
    assert.ok(
      stateCritical.some((item: { CheckID: string }) => item.CheckID === "_node_maintenance"),
    );

    assertEmptyOk(await put(agent, "/v1/agent/maintenance?enable=false"));
    assert.deepEqual(await passingIds("maint"), ["maint"]);
    assert.equal("_node_maintenance" in (await call(agent, "/v1/agent/checks")).json, false);

    assertPlainError(await put(agent, "/v1/agent/maintenance"), 400);
    assertPlainError(await put(agent, "/v1/agent/maintenance?enable=maybe"), 400);
  });

  it("service maintenance hides that service's instance from `?passing`", async () => {
    assertEmptyOk(
      await put(agent, "/v1/agent/service/register", {
        Name: "smaint",
        Check: { TTL: "30s", Status: "passing" },
      }),
    );
    assertEmptyOk(await put(agent, "/v1/agent/service/maintenance/smaint?enable=true"));
    assert.deepEqual(await passingIds("smaint"), []);
    const check = (await call(agent, "/v1/agent/checks")).json["_service_maintenance:smaint"];
    assert.equal(check.Status, "critical");
    assert.equal(check.ServiceID, "smaint");
    assert.ok(check.Notes.length > 0, "a default reason");
    assert.deepEqual(await passingIds("maint"), ["maint"], "other services are untouched");

    assertEmptyOk(await put(agent, "/v1/agent/service/maintenance/smaint?enable=false"));
    assert.deepEqual(await passingIds("smaint"), ["smaint"]);

    assertPlainError(await put(agent, "/v1/agent/service/maintenance/nope?enable=true"), 404);
  });

  it("`PUT /v1/agent/check/register` and `/deregister/:id` add and remove a node check", async () => {
    assertEmptyOk(
      await put(agent, "/v1/agent/check/register", {
        name: "Disk space",
        check_id: "disk",
        ttl: "1m",
        notes: "df -h",
      }),
    );
    const check = (await call(agent, "/v1/agent/checks")).json.disk;
    assert.equal(check.CheckID, "disk");
    assert.equal(check.Name, "Disk space");
    assert.equal(check.Notes, "df -h");
    assert.equal(check.Status, "critical");
    assert.equal(check.Node, "node-1");
    const onNode = (await call(agent, "/v1/health/node/node-1")).json;
    assert.ok(onNode.some((item: { CheckID: string }) => item.CheckID === "disk"));

    assertEmptyOk(await put(agent, "/v1/agent/check/pass/disk"));
    const passing = (await call(agent, "/v1/health/state/passing")).json;
    assert.ok(passing.some((item: { CheckID: string }) => item.CheckID === "disk"));

    assertEmptyOk(await put(agent, "/v1/agent/check/deregister/disk"));
    assert.equal("disk" in (await call(agent, "/v1/agent/checks")).json, false);
    const after = (await call(agent, "/v1/health/node/node-1")).json;
    assert.equal(after.some((item: { CheckID: string }) => item.CheckID === "disk"), false);
  });

  it("a check for an unknown service is refused", async () => {
    const answer = await put(agent, "/v1/agent/check/register", {
      Name: "orphan",
      TTL: "30s",
      ServiceID: "no-such-service",
    });
    assert.ok(answer.status >= 400, answer.text);
    assert.equal("orphan" in (await call(agent, "/v1/agent/checks")).json, false);
  });

  it("an unknown check ID is a 404 on pass, warn, fail, update and deregister", async () => {
    for (const verb of ["pass", "warn", "fail"]) {
      assertPlainError(await put(agent, `/v1/agent/check/${verb}/nope`), 404);
    }
    assertPlainError(
      await put(agent, "/v1/agent/check/update/nope", { Status: "passing" }),
      404,
    );
    assertPlainError(await put(agent, "/v1/agent/check/deregister/nope"), 404);
  });

  it("malformed JSON is a 400 in plain text", async () => {
    for (const path of ["/v1/agent/service/register", "/v1/agent/check/register"]) {
      assertPlainError(await put(agent, path, "{not json"), 400);
    }
  });

  it("fields of the wrong type are a 400 and register nothing", async () => {
    const bodies = [
      { Name: "typed", Port: "8080" },
      { Name: "typed", Tags: "v1" },
      { Name: 42 },
      { Name: "typed", Meta: { a: 1 } },
      { Name: "typed", Port: 70000 },
    ];
    for (const body of bodies) {
      assertPlainError(await put(agent, "/v1/agent/service/register", body), 400);
    }
    assert.equal("typed" in (await call(agent, "/v1/agent/services")).json, false);
    assertPlainError(await put(agent, "/v1/agent/service/register", {}), 400);
    assertPlainError(
      await put(agent, "/v1/agent/check/register", { Name: "t", TTL: 30 + "x" }),
      400,
    );
  });

  it("a script check is refused without `enable_script_checks`", async () => {
    const check = { Name: "script", Args: ["true"], Interval: "10s" };
    const answer = await put(agent, "/v1/agent/check/register", check);
    assert.equal(answer.status, 500);
    assert.match(answer.text, /Scripts are disabled on this agent/);
    assert.equal("script" in (await call(agent, "/v1/agent/checks")).json, false);

    const withService = await put(agent, "/v1/agent/service/register", {
      Name: "scripted",
      Check: check,
    });
    assert.equal(withService.status, 500);
    assert.match(withService.text, /Scripts are disabled on this agent/);
    assert.equal("scripted" in (await call(agent, "/v1/agent/services")).json, false);
  });

  it("agent writes answer only PUT: other methods are 405 with `Allow: OPTIONS,PUT`", async () => {
    const answer = await call(agent, "/v1/agent/service/register", { method: "POST", body: {} });
    assert.equal(answer.status, 405);
    assert.equal(answer.headers.get("Allow"), "OPTIONS,PUT");
    // The exact path wins over `/v1/agent/service/:id`: this is not the service "register".
    const get = await call(agent, "/v1/agent/service/register");
    assert.equal(get.status, 405, get.text);
    assert.equal(get.headers.get("Allow"), "OPTIONS,PUT");
  });
});

describe("HTTP /v1/agent with enable_script_checks", () => {
  let agent: RunningAgent;

  before(async () => {
    agent = await startTestAgent({
      configure: (config) => {
        config.enableScriptChecks = true;
      },
    });
  });

  after(async () => {
    await agent.stop();
  });

  it("`PUT /v1/agent/check/register` accepts a script check", async () => {
    const answer = await put(agent, "/v1/agent/check/register", {
      Name: "script",
      Args: ["true"],
      Interval: "10s",
    });
    assertEmptyOk(answer);
    const check = (await call(agent, "/v1/agent/checks")).json.script;
    assert.equal(check.Type, "script");
    assert.equal(check.Interval, "10s");
    assertEmptyOk(await put(agent, "/v1/agent/check/deregister/script"));
  });
});
