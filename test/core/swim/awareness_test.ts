// Goal: Lifeguard's local health score stays in [0, max - 1] and stretches timeouts by score + 1
// (gossip-wire.md §6.3). Method: deltas applied by hand, values checked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Awareness } from "../../../src/core/swim/mod.ts";

test("Awareness.applyDelta() clamps the score to [0, max - 1] and scales timeouts", () => {
  const awareness = new Awareness(8);
  assert.equal(awareness.applyDelta(-1), 0);
  assert.equal(awareness.applyDelta(3), 3);
  assert.equal(awareness.scaleTimeout(1_000), 4_000);
  assert.equal(awareness.applyDelta(100), 7);
  assert.equal(awareness.scaleTimeout(1_000), 8_000);
  const off = new Awareness(1);
  assert.equal(off.applyDelta(5), 0, "a multiplier of 1 disables awareness");
});
