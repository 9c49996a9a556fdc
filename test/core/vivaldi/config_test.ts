// Goal: the default Vivaldi config carries Serf's values (gossip-wire.md §12) and validation
// refuses configs that cannot work, naming the field. Method: compare the preset with the fact
// sheet's numbers, then break one field at a time.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  defaultVivaldiConfig,
  validateVivaldiConfig,
  VivaldiClient,
  type VivaldiConfig,
} from "../../../src/core/vivaldi/mod.ts";
import { SeededRandom } from "../../../src/core/random.ts";

test("`defaultVivaldiConfig()` has Serf's values and passes validation", () => {
  const config = defaultVivaldiConfig();
  assert.equal(config.dimensionality, 8);
  assert.equal(config.vivaldiErrorMax, 1.5);
  assert.equal(config.vivaldiCe, 0.25);
  assert.equal(config.vivaldiCc, 0.25);
  assert.equal(config.adjustmentWindowSize, 20);
  assert.equal(config.heightMin, 1e-5);
  assert.equal(config.latencyFilterSize, 3);
  assert.equal(config.gravityRho, 150);
  assert.equal(config.rttMaxMs, 10_000);
  validateVivaldiConfig(config);
});

test("`validateVivaldiConfig()` throws a RangeError naming each broken field", () => {
  const broken: [keyof VivaldiConfig, number][] = [
    ["dimensionality", 0],
    ["dimensionality", 2.5],
    ["dimensionality", 65],
    ["vivaldiErrorMax", 0],
    ["vivaldiErrorMax", NaN],
    ["vivaldiCe", 0],
    ["vivaldiCe", 1.5],
    ["vivaldiCc", -0.1],
    ["adjustmentWindowSize", -1],
    ["adjustmentWindowSize", 2_000],
    ["heightMin", 0],
    ["heightMin", Infinity],
    ["latencyFilterSize", 0],
    ["latencyFilterNodesMax", 0],
    ["gravityRho", 0],
    ["rttMaxMs", 0],
    ["rttMaxMs", 120_000],
  ];
  for (const [field, value] of broken) {
    const config = { ...defaultVivaldiConfig(), [field]: value };
    assert.throws(
      () => validateVivaldiConfig(config),
      (error: unknown) =>
        error instanceof RangeError && error.message.startsWith("Cannot use Vivaldi config") &&
        error.message.includes(field),
      `${field} = ${value}`,
    );
  }
  validateVivaldiConfig({ ...defaultVivaldiConfig(), adjustmentWindowSize: 0 });
});

test("`VivaldiClient` validates its config", () => {
  const config = { ...defaultVivaldiConfig(), vivaldiCc: 0 };
  assert.throws(() => new VivaldiClient(config, new SeededRandom(1)), RangeError);
});
