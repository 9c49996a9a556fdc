// Goal: services and checks defined in a -config-dir are registered when the agent starts, their
// checks run (a script check allowed by -enable-local-script-checks, a TCP check), and their
// results reach the catalog and health endpoints. Method: write JSON definitions with Consul's
// snake_case keys into a temp dir, start `cairn agent -dev -config-dir=<dir>` on 127.0.0.6 and
// poll /v1/health/service until the instances turn passing (bounded wait).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentProcess, startAgentProcess } from "../_support/agent_process.ts";
import { waitFor } from "../_support/wait_for.ts";

describe("an agent with a -config-dir", () => {
  let agent: AgentProcess;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cairn-config-"));
    writeFileSync(
      join(dir, "10-db.json"),
      JSON.stringify({
        service: {
          name: "db",
          id: "db-1",
          port: 5432,
          tags: ["primary"],
          meta: { engine: "postgres" },
          check: { args: ["/bin/sh", "-c", "echo ready; exit 0"], interval: "1s" },
        },
      }),
    );
    writeFileSync(
      join(dir, "20-cache.json"),
      JSON.stringify({
        services: [{ name: "cache", port: 6379, checks: [{ ttl: "30s", status: "passing" }] }],
      }),
    );
    agent = await startAgentProcess({
      host: "127.0.0.6",
      args: [`-config-dir=${dir}`, "-enable-local-script-checks"],
    });
  });

  after(async () => {
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the script-checked service from the config dir turns passing", async () => {
    const entries = await waitFor("db to pass", async () => {
      const response = await fetch(`${agent.httpUrl}/v1/health/service/db?passing`);
      const body = await response.json();
      return body.length === 1 ? body : undefined;
    });
    assert.equal(entries[0].Service.ID, "db-1");
    assert.deepEqual(entries[0].Service.Tags, ["primary"]);
    assert.deepEqual(entries[0].Service.Meta, { engine: "postgres" });
    const check = entries[0].Checks.find((c: { CheckID: string }) => c.CheckID === "service:db-1");
    assert.equal(check.Status, "passing");
  });

  test("a service from a `services` list with an initial passing status is healthy", async () => {
    const response = await fetch(`${agent.httpUrl}/v1/health/service/cache?passing`);
    const body = await response.json();
    assert.equal(body.length, 1);
    assert.equal(body[0].Service.Port, 6379);
  });

  test("script checks stay refused over HTTP without -enable-script-checks", async () => {
    const response = await fetch(`${agent.httpUrl}/v1/agent/check/register`, {
      method: "PUT",
      body: JSON.stringify({ Name: "sneaky", Args: ["/bin/true"], Interval: "10s" }),
    });
    assert.equal(response.status, 500);
    assert.match(await response.text(), /Scripts are disabled/);
  });
});
