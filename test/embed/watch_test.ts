// Goal: `watch.kvPrefix()` and `watch.service()` on an embedded agent call back once with the
// current state and then on every change of what they watch (and not for writes elsewhere),
// `cancel()` ends a watch, `stop()` of the agent ends every watch, and a throwing callback is
// reported to `onError` without ending the watch.
// Method: one quiet embedded agent per test; callbacks record what they receive; every wait is
// bounded (`waitFor`), and "no callback" is checked after a write elsewhere has been applied.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createAgent, type ServiceHealth } from "./_cairn.ts";
import { delay, waitFor } from "./_wait.ts";

describe("watch", () => {
  it("watch.kvPrefix() calls back with the current entries, then on each change", async () => {
    const agent = await createAgent({ logLevel: "error" });
    try {
      await agent.kv.put("app/a", "1");
      const seen: string[][] = [];
      const watch = agent.watch.kvPrefix("app/", (entries) => {
        seen.push(entries.map((entry) => `${entry.key}=${entry.value}`));
      });
      await waitFor("the first callback", () => seen.length === 1);
      assert.deepEqual(seen[0], ["app/a=1"]);

      await agent.kv.put("app/b", "2");
      await waitFor("the second callback", () => seen.length === 2);
      assert.deepEqual(seen[1], ["app/a=1", "app/b=2"]);

      // A write outside the prefix moves the KV index but must not call back.
      await agent.kv.put("other/x", "x");
      await delay(100);
      assert.equal(seen.length, 2);

      await agent.kv.delete("app/a");
      await waitFor("the third callback", () => seen.length === 3);
      assert.deepEqual(seen[2], ["app/b=2"]);

      watch.cancel();
      await watch.done;
      await agent.kv.put("app/c", "3");
      await delay(50);
      assert.equal(seen.length, 3, "no callback after cancel()");
    } finally {
      await agent.stop();
    }
  });

  it("watch.service() follows a service's passing instances", async () => {
    const agent = await createAgent({ logLevel: "error" });
    try {
      const seen: ServiceHealth[][] = [];
      const watch = agent.watch.service("db", (instances) => {
        seen.push(instances);
      });
      await waitFor("the first callback", () => seen.length === 1);
      assert.deepEqual(seen[0], []);

      await agent.services.register({ name: "db", id: "db-1", port: 5432, check: { ttl: "1m" } });
      await delay(100);
      assert.equal(seen.length, 1, "a critical instance is not a passing one");

      await agent.checks.pass("service:db-1");
      await waitFor("the instance to pass", () => seen.length === 2);
      assert.deepEqual(seen[1].map((instance) => instance.service.id), ["db-1"]);

      await agent.checks.fail("service:db-1");
      await waitFor("the instance to fail", () => seen.length === 3);
      assert.deepEqual(seen[2], []);
      watch.cancel();
      await watch.done;
    } finally {
      await agent.stop();
    }
  });

  it("watch.service() with passing: false sees every instance", async () => {
    const agent = await createAgent({ logLevel: "error" });
    try {
      const counts: number[] = [];
      agent.watch.service("cache", (instances) => {
        counts.push(instances.length);
      }, { passing: false });
      await waitFor("the first callback", () => counts.length === 1);
      await agent.services.register({ name: "cache", id: "cache-1", check: { ttl: "1m" } });
      await waitFor("the registration", () => counts.length === 2);
      assert.deepEqual(counts, [0, 1]);
    } finally {
      await agent.stop();
    }
  });

  it("stop() ends every watch of the agent", async () => {
    const agent = await createAgent({ logLevel: "error" });
    let calls = 0;
    const first = agent.watch.kvPrefix("", () => {
      calls += 1;
    });
    const second = agent.watch.service("web", () => {});
    await waitFor("the first callback", () => calls === 1);
    const started = performance.now();
    await agent.stop();
    await Promise.all([first.done, second.done]);
    assert.ok(performance.now() - started < 2_000, "watches end at once");
  });

  it("a throwing callback goes to onError and the watch goes on", async () => {
    const agent = await createAgent({ logLevel: "error" });
    try {
      const errors: unknown[] = [];
      let calls = 0;
      const watch = agent.watch.kvPrefix("boom/", () => {
        calls += 1;
        throw new Error(`callback ${calls}`);
      }, { onError: (error) => errors.push(error) });
      await waitFor("the first callback", () => calls === 1);
      await agent.kv.put("boom/a", "1");
      await waitFor("the second callback", () => calls === 2);
      assert.deepEqual(errors.map((error) => (error as Error).message), [
        "callback 1",
        "callback 2",
      ]);
      watch.cancel();
      await watch.done;
    } finally {
      await agent.stop();
    }
  });

  it("watch options refuse a wait that is not a Go duration", async () => {
    const agent = await createAgent({ logLevel: "error" });
    try {
      assert.throws(() => agent.watch.kvPrefix("", () => {}, { wait: "soon" }), RangeError);
    } finally {
      await agent.stop();
    }
  });
});
