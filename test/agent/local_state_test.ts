// Goal: the agent's local state reaps a service whose check stayed critical past
// DeregisterCriticalServiceAfter, and only then; a check that recovers in time keeps it.
// Method: LocalState on a fake Runtime whose clock and interval timer the test moves by hand.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LocalState } from "../../src/agent/local_state.ts";
import type { CheckInput, ServiceInput } from "../../src/core/state/commands.ts";
import type { Runtime, TimerHandle } from "../../src/runtime.ts";

function fakeRuntime() {
  const state = { nowMs: 0, ticks: [] as (() => void)[] };
  const handle: TimerHandle = { cancel() {} };
  const runtime = {
    clock: { monotonicMs: () => state.nowMs, wallMs: () => state.nowMs },
    timers: {
      after: () => handle,
      every: (_intervalMs: number, fire: () => void) => {
        state.ticks.push(fire);
        return handle;
      },
    },
  } as unknown as Runtime;
  const advance = (ms: number) => {
    state.nowMs += ms;
    for (const fire of state.ticks) fire();
  };
  return { runtime, advance };
}

const service: ServiceInput = {
  id: "web-1",
  service: "web",
  tags: [],
  address: "",
  taggedAddresses: {},
  meta: {},
  port: 80,
  weights: { passing: 1, warning: 1 },
  enableTagOverride: false,
  kind: "",
};

function check(status: CheckInput["status"]): CheckInput {
  return {
    checkId: "service:web-1",
    name: "web",
    status,
    notes: "",
    output: "",
    serviceId: "web-1",
    type: "ttl",
    intervalMs: 0,
    timeoutMs: 0,
    definition: {},
  };
}

describe("LocalState reaper", () => {
  it("`LocalState` deregisters a service critical past DeregisterCriticalServiceAfter", () => {
    const { runtime, advance } = fakeRuntime();
    const local = new LocalState(runtime, { nodeName: "n1", changed: () => {} });
    local.addService(service);
    local.addCheck(check("critical"), undefined, 60_000);
    local.startReaper(30_000);
    advance(30_000);
    assert.ok(local.services.has("web-1"), "reaped before its time");
    advance(30_000);
    assert.equal(local.services.has("web-1"), false);
    assert.ok(local.removedServices.has("web-1"), "the removal must reach the catalog");
  });

  it("`LocalState` keeps a service whose check recovered before the deadline", () => {
    const { runtime, advance } = fakeRuntime();
    const local = new LocalState(runtime, { nodeName: "n1", changed: () => {} });
    local.addService(service);
    local.addCheck(check("critical"), undefined, 60_000);
    local.startReaper(30_000);
    advance(30_000);
    const entry = local.checks.get("service:web-1")!;
    local.setStatus(entry, "passing", "back");
    advance(60_000);
    assert.ok(local.services.has("web-1"));
    local.setStatus(entry, "critical", "down again");
    advance(30_000);
    assert.ok(local.services.has("web-1"), "the critical clock restarts on each transition");
    advance(30_000);
    assert.equal(local.services.has("web-1"), false);
  });
});
