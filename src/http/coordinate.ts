/**
 * `/v1/coordinate/*` (Consul's `agent/coordinate_endpoint.go`): the Vivaldi network coordinates
 * the servers hold for each node, and updates to them.
 *
 * @module
 */

import { z } from "zod";
import type { CoordinateRecord } from "../core/state/types.ts";
import { HttpError } from "./http_error.ts";
import { ciObject, parseWith, readJson } from "./json_input.ts";
import type { RequestContext, Routes } from "./routes.ts";

/** Coordinates have this many dimensions (Serf's default). */
export const coordinateDimensions = 8;

const finite = z.number().refine(Number.isFinite, "must be a finite number");

const updateBody = ciObject({
  Node: z.string().min(1),
  Segment: z.string().default(""),
  Coord: ciObject({
    Vec: z.array(finite).length(coordinateDimensions),
    Error: finite,
    Adjustment: finite,
    Height: finite,
  }),
});

/** Registers the coordinate endpoints. */
export function registerCoordinateRoutes(routes: Routes): void {
  routes.add("/v1/coordinate/datacenters", { GET: datacenters });
  routes.add("/v1/coordinate/nodes", { GET: nodes });
  routes.add("/v1/coordinate/node/:node", { GET: node });
  routes.add("/v1/coordinate/update", { PUT: update });
}

function renderCoordinate(record: CoordinateRecord): Record<string, unknown> {
  const coord = record.coord;
  return {
    Node: record.node,
    Segment: record.segment,
    Coord: {
      Adjustment: coord.adjustment,
      Error: coord.error,
      Height: coord.height,
      Vec: coord.vec,
    },
  };
}

/**
 * The WAN coordinates of every datacenter's servers, from the WAN pool's Vivaldi exchange
 * (Consul's `Coordinate.ListDatacenters`: one entry per datacenter, member names `<node>.<dc>`).
 * An agent without a WAN pool lists its own datacenter with no coordinates rather than with
 * made-up ones.
 */
function datacenters(request: RequestContext): Response {
  const agent = request.backend.agent;
  const wan = agent.wanCoordinates?.();
  if (wan === undefined) {
    return request.json([{ Datacenter: agent.datacenter, AreaID: "WAN", Coordinates: [] }]);
  }
  return request.json(wan.map((entry) => ({
    Datacenter: entry.datacenter,
    AreaID: "WAN",
    Coordinates: entry.coordinates.map(({ node, coord }) => ({
      Node: node,
      Coord: {
        Adjustment: coord.adjustment,
        Error: coord.error,
        Height: coord.height,
        Vec: coord.vec,
      },
    })),
  })));
}

async function nodes(request: RequestContext): Promise<Response> {
  const store = request.backend.server.store;
  const result = await request.block(() => store.coordinates());
  return request.json(result.value.map(renderCoordinate), { index: result.index });
}

async function node(request: RequestContext): Promise<Response> {
  const store = request.backend.server.store;
  const name = request.param("node");
  const result = await request.block(() => {
    const all = store.coordinates();
    return { ...all, value: all.value.filter((record) => record.node === name) };
  });
  if (result.value.length === 0) return request.text("", { status: 404, index: result.index });
  return request.json(result.value.map(renderCoordinate), { index: result.index });
}

async function update(request: RequestContext): Promise<Response> {
  const raw = await readJson(request.hono.req.raw, request.backend.kvValueBytesMax);
  const body = parseWith(updateBody, raw, "coordinate");
  const coord = body.Coord;
  const result = await request.backend.server.propose({
    type: "coordinateBatchUpdate",
    updates: [{
      node: body.Node,
      segment: body.Segment,
      coord: {
        vec: coord.Vec,
        error: coord.Error,
        adjustment: coord.Adjustment,
        height: coord.Height,
      },
    }],
  });
  if (!result.ok) throw new HttpError(result.status, result.error);
  return request.text("");
}
