/**
 * `/v1/txn` (Consul's `agent/txn_endpoint.go`): up to 128 KV and catalog operations applied
 * atomically. All succeed (200 with `Results`) or none do (409 with `Errors`). Transactions that
 * only read run on the local state without a log write.
 *
 * @module
 */

import { z } from "zod";
import { serviceSchema, toServiceInput } from "../agent/service_definition.ts";
import { decodeBase64 } from "../core/base64.ts";
import type { CatalogOp, TxnOp } from "../core/state/commands.ts";
import type { TxnOutcome, TxnResult } from "../core/state/txn.ts";
import { badRequest, HttpError } from "./http_error.ts";
import { ciObject, parseWith, readBody, stringMap } from "./json_input.ts";
import { parseUint64, quoteLargeIntegers } from "./json_output.ts";
import { renderCheck, renderKv, renderNode, renderService } from "./render.ts";
import type { RequestContext, Routes } from "./routes.ts";

const kvReadVerbs = [
  "get",
  "get-or-empty",
  "get-tree",
  "check-index",
  "check-session",
  "check-not-exists",
] as const;
const kvVerbs = [
  "set",
  "cas",
  "lock",
  "unlock",
  "delete",
  "delete-cas",
  "delete-tree",
  ...kvReadVerbs,
] as const;
const catalogVerbs = ["set", "cas", "get", "delete", "delete-cas"] as const;
const readVerbs: ReadonlySet<string> = new Set(kvReadVerbs);

const kvOp = ciObject({
  Verb: z.enum(kvVerbs),
  Key: z.string().default(""),
  Value: z.string().nullable().default(null),
  Flags: z.union([z.number().int().min(0), z.string()]).default(0).transform((flags, context) => {
    const parsed = typeof flags === "number" ? flags : parseUint64(flags);
    if (parsed === undefined || (typeof parsed === "number" && !Number.isSafeInteger(parsed))) {
      context.addIssue({ code: "custom", message: "Flags must be an unsigned 64-bit integer" });
      return 0;
    }
    return parsed;
  }),
  Index: z.number().int().min(0).default(0),
  Session: z.string().default(""),
});

const txnNode = ciObject({
  ID: z.string().default(""),
  Node: z.string(),
  Address: z.string().default(""),
  TaggedAddresses: stringMap,
  Meta: stringMap,
  ModifyIndex: z.number().int().default(0),
});

const txnCheck = ciObject({
  Node: z.string(),
  CheckID: z.string(),
  Name: z.string().default(""),
  Status: z.enum(["passing", "warning", "critical"]).default("critical"),
  Notes: z.string().default(""),
  Output: z.string().default(""),
  ServiceID: z.string().default(""),
  ModifyIndex: z.number().int().default(0),
});

const txnOp = ciObject({
  KV: kvOp.optional(),
  Node: ciObject({ Verb: z.enum(catalogVerbs), Node: txnNode }).optional(),
  Service: ciObject({
    Verb: z.enum(catalogVerbs),
    Node: z.string(),
    Service: z.intersection(serviceSchema, ciObject({ ModifyIndex: z.number().int().default(0) })),
  }).optional(),
  Check: ciObject({ Verb: z.enum(catalogVerbs), Check: txnCheck }).optional(),
});

/** Registers `/v1/txn`. */
export function registerTxnRoutes(routes: Routes): void {
  routes.add("/v1/txn", { PUT: runTxn });
}

async function runTxn(request: RequestContext): Promise<Response> {
  const backend = request.backend;
  const bytes = await readBody(request.hono.req.raw, backend.kvValueBytesMax * 2);
  let raw: unknown;
  try {
    // Large uint64 Flags are quoted first so their digits survive JSON.parse.
    raw = JSON.parse(quoteLargeIntegers(new TextDecoder().decode(bytes), ["Flags"]));
  } catch (error) {
    throw badRequest(`Failed to parse body: ${(error as Error).message}`);
  }
  if (!Array.isArray(raw)) throw badRequest("Failed to parse body: expected a list of operations");
  if (raw.length > backend.txnOpsMax) {
    throw new HttpError(
      413,
      `Transaction contains too many operations (${raw.length} > ${backend.txnOpsMax})`,
    );
  }
  const ops = raw.map((item, at) => toTxnOp(parseWith(txnOp, item, `operation ${at}`), request));
  const readOnly = ops.every((op) =>
    op.kind === "kv" ? readVerbs.has(op.kv.verb) : op.verb === "get"
  );
  let outcome: TxnOutcome;
  if (readOnly) {
    request.query.consistency();
    outcome = backend.server.store.readTxn(ops, backend.runtime.clock.wallMs());
  } else {
    const result = await backend.server.propose({ type: "txn", ops });
    if (!result.ok) throw new HttpError(result.status, result.error);
    outcome = result.value as TxnOutcome;
  }
  if (!outcome.ok) {
    const errors = outcome.errors.map((error) => ({ OpIndex: error.opIndex, What: error.what }));
    return request.json({ Results: null, Errors: errors }, { status: 409 });
  }
  return request.json({ Results: outcome.results.map(renderResult), Errors: null }, {
    index: backend.server.store.lastIndex,
  });
}

function renderResult(result: TxnResult): Record<string, unknown> {
  switch (result.kind) {
    case "kv":
      return { KV: renderKv(result.record, result.withValue) };
    case "node":
      return { Node: renderNode(result.record) };
    case "service":
      return { Service: renderService(result.record, "") };
    case "check":
      return { Check: renderCheck(result.record) };
  }
}

function toTxnOp(parsed: z.infer<typeof txnOp>, request: RequestContext): TxnOp {
  if (parsed.KV !== undefined) {
    const kv = parsed.KV;
    let value: Uint8Array = new Uint8Array(0);
    if (kv.Value !== null && kv.Value !== "") {
      try {
        value = decodeBase64(kv.Value);
      } catch {
        throw badRequest(`Failed to parse body: KV value of "${kv.Key}" is not base64`);
      }
    }
    if (value.length > request.backend.kvValueBytesMax) {
      throw new HttpError(413, `Value for key "${kv.Key}" is too large`);
    }
    return {
      kind: "kv",
      kv: {
        verb: kv.Verb,
        key: kv.Key,
        value,
        flags: kv.Flags,
        index: kv.Index,
        session: kv.Session,
      },
    };
  }
  return toCatalogOp(parsed, request);
}

function toCatalogOp(parsed: z.infer<typeof txnOp>, request: RequestContext): CatalogOp {
  const datacenter = request.backend.agent.datacenter;
  if (parsed.Node !== undefined) {
    const node = parsed.Node.Node;
    return {
      kind: "node",
      verb: parsed.Node.Verb,
      index: node.ModifyIndex,
      node: {
        id: node.ID,
        node: node.Node,
        address: node.Address,
        datacenter,
        taggedAddresses: node.TaggedAddresses,
        meta: node.Meta,
      },
    };
  }
  if (parsed.Service !== undefined) {
    let service;
    try {
      service = toServiceInput(parsed.Service.Service);
    } catch (error) {
      throw badRequest(`Failed to parse body: ${(error as Error).message}`);
    }
    return {
      kind: "service",
      verb: parsed.Service.Verb,
      node: parsed.Service.Node,
      index: parsed.Service.Service.ModifyIndex,
      service,
    };
  }
  if (parsed.Check !== undefined) {
    const check = parsed.Check.Check;
    return {
      kind: "check",
      verb: parsed.Check.Verb,
      node: check.Node,
      index: check.ModifyIndex,
      check: {
        checkId: check.CheckID,
        name: check.Name !== "" ? check.Name : check.CheckID,
        status: check.Status,
        notes: check.Notes,
        output: check.Output,
        serviceId: check.ServiceID,
        type: "",
        intervalMs: 0,
        timeoutMs: 0,
        definition: {},
      },
    };
  }
  throw badRequest("Failed to parse body: an operation has none of KV, Node, Service, Check");
}
