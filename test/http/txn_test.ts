// Goal: `PUT /v1/txn` answers as Consul's `agent/txn_endpoint.go`: a successful transaction
// returns `{Results, Errors: null}` in operation order (values only for reads); a failing one is a
// 409 `{Results: null, Errors: [{OpIndex, What}]}` and leaves no trace; more than 128 operations
// is a 413; a body that is not JSON, or not a list, is a 400. Method: one in-process dev agent
// driven through `agent.fetch`, reading keys back through `/v1/kv` to see what was applied.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunningAgent } from "../../src/agent/agent.ts";
import { call, put, startTestAgent } from "./_agent.ts";

describe("HTTP /v1/txn", () => {
  let agent: RunningAgent;

  before(async () => {
    agent = await startTestAgent();
  });

  after(async () => {
    await agent.stop();
  });

  it("`PUT /v1/txn` applies every operation and returns Results in order", async () => {
    await put(agent, "/v1/kv/txn/existing", "old");
    const answer = await put(agent, "/v1/txn", [
      { KV: { Verb: "set", Key: "txn/a", Value: btoa("alpha"), Flags: 7 } },
      { KV: { Verb: "set", Key: "txn/b", Value: btoa("beta") } },
      { KV: { Verb: "get", Key: "txn/existing" } },
      { KV: { Verb: "delete", Key: "txn/existing" } },
    ]);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(Object.keys(answer.json), ["Results", "Errors"]);
    assert.equal(answer.json.Errors, null);
    const results = answer.json.Results;
    assert.equal(results.length, 3, "deletes have no result");
    assert.equal(results[0].KV.Key, "txn/a");
    assert.equal(results[0].KV.Flags, 7);
    assert.equal(results[0].KV.Value, null, "writes do not echo values");
    assert.equal(results[1].KV.Key, "txn/b");
    assert.equal(results[2].KV.Key, "txn/existing");
    assert.equal(results[2].KV.Value, btoa("old"));
    assert.equal(results[0].KV.ModifyIndex, results[1].KV.ModifyIndex, "one write, one index");
    assert.ok(answer.index !== undefined && answer.index >= results[0].KV.ModifyIndex);

    assert.equal((await call(agent, "/v1/kv/txn/a")).json[0].Value, btoa("alpha"));
    assert.equal((await call(agent, "/v1/kv/txn/existing")).status, 404);
  });

  it("`PUT /v1/txn` accepts lower-case field names as Go's decoder does", async () => {
    const answer = await put(agent, "/v1/txn", [
      { kv: { verb: "set", key: "txn/lower", value: btoa("x") } },
    ]);
    assert.equal(answer.status, 200, answer.text);
    assert.equal((await call(agent, "/v1/kv/txn/lower")).status, 200);
  });

  it("`PUT /v1/txn` with a failing operation is a 409 with Errors and rolls back", async () => {
    await put(agent, "/v1/kv/txn/guard", "v");
    const answer = await put(agent, "/v1/txn", [
      { KV: { Verb: "set", Key: "txn/rolled-back", Value: btoa("never") } },
      { KV: { Verb: "cas", Key: "txn/guard", Value: btoa("w"), Index: 999_999 } },
    ]);
    assert.equal(answer.status, 409, answer.text);
    assert.match(answer.headers.get("Content-Type") ?? "", /^application\/json/);
    assert.equal(answer.json.Results, null);
    assert.equal(answer.json.Errors.length, 1);
    assert.deepEqual(Object.keys(answer.json.Errors[0]), ["OpIndex", "What"]);
    assert.equal(answer.json.Errors[0].OpIndex, 1);
    assert.equal(typeof answer.json.Errors[0].What, "string");
    assert.ok(answer.json.Errors[0].What.length > 0);

    assert.equal((await call(agent, "/v1/kv/txn/rolled-back")).status, 404);
    assert.equal((await call(agent, "/v1/kv/txn/guard")).json[0].Value, btoa("v"));
  });

  it("`PUT /v1/txn` read-only failures are 409s too", async () => {
    const answer = await put(agent, "/v1/txn", [{ KV: { Verb: "get", Key: "txn/absent" } }]);
    assert.equal(answer.status, 409, answer.text);
    assert.equal(answer.json.Errors[0].OpIndex, 0);
  });

  it("`PUT /v1/txn` with 128 operations works and with 129 is a 413", async () => {
    const ops = (count: number) =>
      Array.from({ length: count }, (_, i) => ({
        KV: { Verb: "set", Key: `txn/many/${i}`, Value: btoa(String(i)) },
      }));
    const fits = await put(agent, "/v1/txn", ops(128));
    assert.equal(fits.status, 200, fits.text);
    assert.equal(fits.json.Results.length, 128);

    const tooMany = await put(
      agent,
      "/v1/txn",
      ops(129).map((op) => ({
        KV: { ...op.KV, Key: op.KV.Key.replace("many", "too-many") },
      })),
    );
    assert.equal(tooMany.status, 413, tooMany.text);
    assert.match(tooMany.headers.get("Content-Type") ?? "", /^text\/plain/);
    assert.equal((await call(agent, "/v1/kv/txn/too-many/?recurse")).status, 404);
  });

  it("`PUT /v1/txn` with malformed JSON is a 400 with plain text", async () => {
    for (const body of ["[{", "not json", "{}"]) {
      const answer = await put(agent, "/v1/txn", body);
      assert.equal(answer.status, 400, `body ${body}: ${answer.text}`);
      assert.match(answer.headers.get("Content-Type") ?? "", /^text\/plain/);
      assert.ok(answer.text.length > 0);
      assert.ok(!answer.text.includes("\n"));
    }
  });

  it("`PUT /v1/txn` with an unknown verb or a wrong type is a 400 and applies nothing", async () => {
    const badVerb = await put(agent, "/v1/txn", [
      { KV: { Verb: "set", Key: "txn/bad-verb", Value: btoa("x") } },
      { KV: { Verb: "explode", Key: "txn/x" } },
    ]);
    assert.equal(badVerb.status, 400, badVerb.text);
    const badType = await put(agent, "/v1/txn", [
      { KV: { Verb: "set", Key: "txn/bad-type", Flags: "seven" } },
    ]);
    assert.equal(badType.status, 400, badType.text);
    assert.equal((await call(agent, "/v1/kv/txn/bad-verb")).status, 404);
    assert.equal((await call(agent, "/v1/kv/txn/bad-type")).status, 404);
  });

  it("`GET /v1/txn` is a 405 with `Allow: OPTIONS,PUT`", async () => {
    const answer = await call(agent, "/v1/txn");
    assert.equal(answer.status, 405);
    assert.equal(answer.headers.get("Allow"), "OPTIONS,PUT");
  });
});
