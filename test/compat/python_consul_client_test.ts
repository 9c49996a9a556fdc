// Goal: Debian's python3-consul (run with /usr/bin/python3) drives a cairn dev agent unchanged.
// Method: start `cairn agent -dev` as a process on 127.0.0.3, run python_consul_client.py against
// it, and assert on the JSON it prints. Skips with a message when python3-consul is missing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type AgentProcess, startAgentProcess } from "../_support/agent_process.ts";

const python = "/usr/bin/python3";
const script = fileURLToPath(new URL("./python_consul_client.py", import.meta.url));
const available = existsSync("/usr/lib/python3/dist-packages/consul/__init__.py");

function runPython(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(python, [script, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`python3-consul script failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

describe(
  "python3-consul against a dev agent",
  { skip: !available && "python3-consul missing" },
  () => {
    let agent: AgentProcess;

    before(async () => {
      agent = await startAgentProcess({ host: "127.0.0.3" });
    });

    after(async () => {
      await agent?.stop();
    });

    test("python-consul's KV, health, blocking and session calls behave as on Consul", async () => {
      const out = JSON.parse(await runPython([agent.httpHost, String(agent.httpPort)]));
      assert.equal(out.put, true);
      assert.equal(out.get, "1");
      assert.equal(out.index_positive, true);
      assert.deepEqual(out.recurse, ["py/config/a", "py/config/b"]);
      assert.deepEqual(out.keys, ["py/config/"]);
      assert.equal(out.cas_stale, false);
      assert.equal(out.cas_ok, true);
      assert.equal(out.missing, null);
      assert.equal(out.blocking.value, "now");
      assert.ok(out.blocking.seconds < 1.5, `blocking query woke after ${out.blocking.seconds} s`);
      assert.deepEqual(out.passing_before, []);
      assert.deepEqual(out.passing_after, ["api-1", "api-2"]);
      assert.deepEqual(out.tagged, ["api-2"]);
      assert.deepEqual(out.agent_services, ["api-1", "api-2"]);
      assert.deepEqual(out.catalog_services.api.sort(), ["blue", "green"]);
      assert.equal(out.acquire, true);
      assert.equal(out.contend, false);
      assert.equal(out.holder_seen, true);
      assert.equal(out.renew, true);
      assert.equal(out.after_destroy_session, null);
      assert.match(out.leader, /^127\.0\.0\.3:\d+$/);
    });
  },
);
