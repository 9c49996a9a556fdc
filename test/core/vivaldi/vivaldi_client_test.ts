// Goal: `VivaldiClient.update()` behaves as Serf's `coordinate.Client.Update`: coordinates of
// a simulated cluster come to predict its round-trip times; NaN, Infinity, other dimensionalities
// and out-of-range round trips are refused without harm, and a result that overflows resets the
// client; the latency filter hides a spike; the height never drops below its floor; gravity pulls
// toward the origin. Method: a seeded 20-node simulation on a plane (RTT = access delay + distance
// + noise) whose mean relative error must fall from about 1 to below 0.1; and single updates
// compared with a control client that differs in one setting only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBelow, SeededRandom } from "../../../src/core/random.ts";
import {
  type Coordinate,
  defaultVivaldiConfig,
  distanceSeconds,
  newCoordinate,
  VivaldiClient,
  type VivaldiConfig,
} from "../../../src/core/vivaldi/mod.ts";

/** An 8-dimensional coordinate with the given leading components. */
function at(components: number[], fields: Partial<Omit<Coordinate, "vec">> = {}): Coordinate {
  const vec = new Array<number>(8).fill(0);
  components.forEach((value, index) => (vec[index] = value));
  return { vec, error: 1.5, adjustment: 0, height: 10e-6, ...fields };
}

function updated(client: VivaldiClient, node: string, other: Coordinate, rttMs: number) {
  const result = client.update(node, other, rttMs);
  assert.equal(result.type, "updated", JSON.stringify(result));
  return result.type === "updated" ? result.coordinate : newCoordinate(defaultVivaldiConfig());
}

/** N nodes on a 100 ms square; every round each node samples one random peer. */
function simulate(seed: number, rounds: number): { before: number; after: number } {
  const random = new SeededRandom(seed);
  const unit = () => random.nextUint32() / 0x1_0000_0000;
  const nodeCount = 20;
  const points = Array.from({ length: nodeCount }, () => [unit() * 0.1, unit() * 0.1]);
  // 1 ms of access link at each end (what heights model), plus the distance on the plane.
  const truthSeconds = (i: number, j: number) =>
    0.002 + Math.hypot(points[i][0] - points[j][0], points[i][1] - points[j][1]);
  const clients = points.map(() => new VivaldiClient(defaultVivaldiConfig(), random.fork()));
  const meanRelativeError = () => {
    let sum = 0;
    let count = 0;
    for (let i = 0; i < nodeCount; i += 1) {
      for (let j = i + 1; j < nodeCount; j += 1) {
        const estimate = distanceSeconds(clients[i].coordinate(), clients[j].coordinate());
        sum += Math.abs(estimate - truthSeconds(i, j)) / truthSeconds(i, j);
        count += 1;
      }
    }
    return sum / count;
  };
  const before = meanRelativeError();
  for (let round = 0; round < rounds; round += 1) {
    for (let i = 0; i < nodeCount; i += 1) {
      let j = randomBelow(random, nodeCount - 1);
      if (j >= i) j += 1;
      const noise = 1 + (unit() - 0.5) * 0.2; // ±10% measurement noise.
      updated(clients[i], `node-${j}`, clients[j].coordinate(), truthSeconds(i, j) * noise * 1_000);
    }
  }
  return { before, after: meanRelativeError() };
}

test("`VivaldiClient.update()` converges: a 20-node cluster's relative error falls below 0.1", () => {
  for (const seed of [1, 2, 3]) {
    const { before, after } = simulate(seed, 400);
    assert.ok(before > 0.9, `seed=${seed}: fresh coordinates predict nothing (${before})`);
    assert.ok(after < 0.1, `seed=${seed}: mean relative error ${after} after 400 rounds`);
  }
});

test("`VivaldiClient.update()` brings two nodes to their measured distance and lowers the error", () => {
  const a = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(1));
  const b = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(2));
  for (let i = 0; i < 100; i += 1) {
    updated(a, "b", b.coordinate(), 20);
    updated(b, "a", a.coordinate(), 20);
  }
  assert.ok(Math.abs(a.distanceSecondsTo(b.coordinate()) - 0.020) < 0.001);
  assert.ok(a.coordinate().error < 0.1, `error ${a.coordinate().error}`);
});

test("`VivaldiClient.update()` rejects NaN, Infinity and other dimensionalities, unchanged", () => {
  const client = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(1));
  updated(client, "b", at([0.01]), 15);
  const before = client.coordinate();
  const bad: Coordinate[] = [
    at([NaN]),
    at([0.01], { error: Infinity }),
    at([0.01], { adjustment: NaN }),
    at([0.01], { height: -Infinity }),
    { vec: [0.01, 0, 0, 0], error: 1, adjustment: 0, height: 1e-5 },
  ];
  for (const other of bad) {
    const result = client.update("b", other, 15);
    assert.equal(result.type, "rejected", JSON.stringify(other));
    assert.match(result.type === "rejected" ? result.reason : "", /^Cannot update coordinate: /);
  }
  for (const rttMs of [NaN, -1, 10_001, Infinity]) {
    assert.equal(client.update("b", at([0.01]), rttMs).type, "rejected", `rtt ${rttMs}`);
  }
  assert.deepEqual(client.coordinate(), before);
  assert.equal(client.stats().rejections, 9);
  assert.equal(client.stats().resets, 0);
});

test("`VivaldiClient.update()` resets to a fresh coordinate when the result overflows", () => {
  const config = defaultVivaldiConfig();
  const client = new VivaldiClient(config, new SeededRandom(1));
  updated(client, "b", at([0.01]), 15);
  assert.notDeepEqual(client.coordinate(), newCoordinate(config));
  // Finite, so accepted, but its squared distance overflows: the force becomes NaN.
  const huge = at([1e308, 1e308, 1e308]);
  const coordinate = updated(client, "far", huge, 15);
  assert.deepEqual(coordinate, newCoordinate(config));
  assert.deepEqual(client.coordinate(), newCoordinate(config));
  assert.equal(client.stats().resets, 1);
  // The client goes on working after the reset.
  const next = updated(client, "b", at([0.01]), 15);
  assert.ok(next.vec.every(Number.isFinite) && Number.isFinite(next.adjustment));
});

test("`VivaldiClient.update()` counts zero round trips and accepts them", () => {
  const client = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(1));
  const coordinate = updated(client, "b", at([0.01]), 0);
  assert.ok(coordinate.vec.every(Number.isFinite));
  assert.equal(client.stats().zeroRtts, 1);
});

test("`VivaldiClient.update()` uses the median of the last three samples, hiding a spike", () => {
  const peer = at([0.03], { error: 0.2 });
  const spiky = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(5));
  const steady = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(5));
  const unfiltered = new VivaldiClient(
    { ...defaultVivaldiConfig(), latencyFilterSize: 1 },
    new SeededRandom(5),
  );
  for (const rttMs of [10, 10, 500]) updated(spiky, "b", peer, rttMs);
  for (const rttMs of [10, 10, 10]) updated(steady, "b", peer, rttMs);
  for (const rttMs of [10, 10, 500]) updated(unfiltered, "b", peer, rttMs);
  assert.deepEqual(spiky.coordinate(), steady.coordinate(), "the 500 ms spike was filtered");
  assert.notDeepEqual(unfiltered.coordinate(), steady.coordinate(), "control: without the filter");
});

test("`VivaldiClient.forgetNode()` drops a peer's samples; the filter stays bounded", () => {
  const config: VivaldiConfig = { ...defaultVivaldiConfig(), latencyFilterNodesMax: 2 };
  const client = new VivaldiClient(config, new SeededRandom(1));
  for (const node of ["a", "b", "c"]) updated(client, node, at([0.01]), 10);
  assert.equal(client.stats().latencyFilterNodes, 2);
  assert.equal(client.stats().latencyFilterEvictions, 1);
  client.forgetNode("c");
  assert.equal(client.stats().latencyFilterNodes, 1);
});

test("`VivaldiClient.update()` never lowers the height below heightMin", () => {
  const config = defaultVivaldiConfig();
  const client = new VivaldiClient(config, new SeededRandom(1));
  assert.equal(client.setCoordinate(at([0.01], { height: 0.05 })).type, "updated");
  // The model says 110 ms, the sample 1 ms: a strong pull that would drive the height negative.
  const coordinate = updated(client, "b", at([], { height: 0.05, error: 0.1 }), 1);
  assert.equal(coordinate.height, config.heightMin);
  for (let i = 0; i < 50; i += 1) {
    const next = updated(client, "b", at([], { height: 0.05, error: 0.1 }), 1);
    assert.ok(next.height >= config.heightMin, `height ${next.height}`);
  }
});

test("`VivaldiClient.update()` applies gravity: a pull of (distance / 150)^2 toward the origin", () => {
  for (const sign of [1, -1]) {
    const withGravity = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(1));
    const weightless = new VivaldiClient(
      { ...defaultVivaldiConfig(), gravityRho: 1e300 },
      new SeededRandom(1),
    );
    // 9 s from the origin, and a peer 1 s further out measured at its modelled distance.
    for (const client of [withGravity, weightless]) client.setCoordinate(at([sign * 9]));
    const peer = at([sign * 10]);
    const pulled = updated(withGravity, "b", peer, 1_000);
    const free = updated(weightless, "b", peer, 1_000);
    const expectedPull = (distanceSeconds(newCoordinate(defaultVivaldiConfig()), at([9])) / 150) **
      2;
    assert.ok(expectedPull > 0.003, `a measurable pull: ${expectedPull}`);
    const pull = sign * (free.vec[0] - pulled.vec[0]);
    assert.ok(Math.abs(pull - expectedPull) < 1e-6, `sign ${sign}: pull ${pull}`);
    assert.deepEqual(pulled.vec.slice(1), free.vec.slice(1), "only along the line to the origin");
  }
});

test("`VivaldiClient.setCoordinate()` installs a valid coordinate and refuses others", () => {
  const client = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(1));
  const restored = at([0.004, 0.002], { error: 0.3, adjustment: 0.0001, height: 0.0005 });
  assert.deepEqual(client.setCoordinate(restored), { type: "updated", coordinate: restored });
  restored.vec[0] = 42;
  assert.equal(client.coordinate().vec[0], 0.004, "the client keeps its own copy");
  assert.equal(client.setCoordinate(at([NaN])).type, "rejected");
  assert.equal(client.setCoordinate({ ...at([]), vec: [0, 0] }).type, "rejected");
  assert.equal(client.coordinate().vec[0], 0.004);
  assert.equal(client.stats().rejections, 2);
});

test("`VivaldiClient.update()` caps the error estimate at vivaldiErrorMax", () => {
  const client = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(1));
  // The model says about 1 s, the sample 1 ms: a wrongness near 1,000 from a confident peer.
  const coordinate = updated(client, "b", at([1], { error: 0.01 }), 1);
  assert.equal(coordinate.error, 1.5);
  // Control: a fresh client given a sample that fits the model lowers its error.
  const fitting = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(1));
  const better = updated(fitting, "c", at([0.002], { error: 0.01 }), 2.02);
  assert.ok(better.error < 1.5, `a fitting sample lowers it: ${better.error}`);
});
