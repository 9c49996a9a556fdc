/**
 * Service definitions as clients send them (`PUT /v1/agent/service/register`, the `Service` of
 * `/v1/catalog/register`, `service {}` in config files): Consul's field names matched
 * case-insensitively, with snake_case accepted, unknown fields ignored.
 *
 * @module
 */

import { z } from "zod";
import type { ServiceInput } from "../core/state/commands.ts";
import type { ServiceAddress } from "../core/state/types.ts";
import { ciObject, stringList, stringMap } from "../http/json_input.ts";

const taggedAddress = ciObject({
  Address: z.string().default(""),
  Port: z.number().int().min(0).max(65535).default(0),
});

const weights = ciObject({
  Passing: z.number().int().min(0).default(1),
  Warning: z.number().int().min(0).default(1),
});

/** The service fields shared by the agent and catalog registrations. */
export const serviceShape = {
  ID: z.string().default(""),
  Name: z.string().default(""),
  /** The catalog spells the name `Service`. */
  Service: z.string().default(""),
  Tags: stringList,
  Address: z.string().default(""),
  TaggedAddresses: z.preprocess((value) => value ?? {}, z.record(z.string(), taggedAddress)),
  Meta: stringMap,
  Port: z.number().int().min(0).max(65535).default(0),
  Weights: z.preprocess((value) => value ?? undefined, weights.optional()),
  EnableTagOverride: z.boolean().default(false),
  Kind: z.string().default(""),
};

/** The schema of a service with only the shared fields. */
export const serviceSchema = ciObject(serviceShape);

/** Turns parsed service fields into a state-store input; throws `RangeError` naming the fix. */
export function toServiceInput(parsed: z.infer<typeof serviceSchema>): ServiceInput {
  const name = parsed.Name !== "" ? parsed.Name : parsed.Service;
  if (name === "") throw new RangeError("Missing service name");
  const taggedAddresses: Record<string, ServiceAddress> = {};
  for (const [key, value] of Object.entries(parsed.TaggedAddresses)) {
    taggedAddresses[key] = { address: value.Address, port: value.Port };
  }
  return {
    id: parsed.ID !== "" ? parsed.ID : name,
    service: name,
    tags: parsed.Tags,
    address: parsed.Address,
    taggedAddresses,
    meta: parsed.Meta,
    port: parsed.Port,
    weights: {
      passing: parsed.Weights?.Passing ?? 1,
      warning: parsed.Weights?.Warning ?? 1,
    },
    enableTagOverride: parsed.EnableTagOverride,
    kind: parsed.Kind,
  };
}
