/**
 * Turning service and check definitions (HTTP bodies, config files) into local state, with
 * Consul's rules: checks inside a service get `service:<id>` IDs, script checks need
 * `enable_script_checks` (or `enable_local_script_checks` for config files), a re-registered
 * check keeps its last status, maintenance mode is a critical check of its own.
 *
 * @module
 */

import { z } from "zod";
import type { CheckDefinitionEcho, HealthStatus } from "../core/state/types.ts";
import type { CheckInput, ServiceInput } from "../core/state/commands.ts";
import { badRequest, HttpError } from "../http/http_error.ts";
import { ciObject, parseWith } from "../http/json_input.ts";
import {
  type CheckDefinition,
  isEmptyCheckDefinition,
  parseCheckDefinition,
} from "./checks/mod.ts";
import type { LocalState } from "./local_state.ts";
import { serviceShape, toServiceInput } from "./service_definition.ts";

const registerBody = ciObject({
  ...serviceShape,
  Check: z.unknown().optional(),
  Checks: z.array(z.unknown()).nullable().optional(),
});

/** Consul's text for maintenance without a reason. */
const defaultNodeReason =
  "Maintenance mode is enabled for this node, but no reason was provided. This is a default message.";
const defaultServiceReason =
  "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.";

/** Agent settings that bear on registrations. */
export interface RegistrationOptions {
  nodeName: string;
  enableScriptChecks: boolean;
  enableLocalScriptChecks: boolean;
  warn: (message: string) => void;
}

/** Parses definitions into the agent's local state. */
export class Registrations {
  readonly #local: LocalState;
  readonly #options: RegistrationOptions;

  constructor(local: LocalState, options: RegistrationOptions) {
    this.#local = local;
    this.#options = options;
  }

  /** Registers a service and its checks; throws HttpError(400) naming what is wrong. */
  registerService(
    raw: unknown,
    options: { replaceExistingChecks: boolean; fromConfig: boolean },
  ): Promise<void> {
    const body = parseWith(registerBody, raw, "service");
    let service: ServiceInput;
    try {
      service = toServiceInput(body);
    } catch (error) {
      throw badRequest(`Invalid service: ${(error as Error).message}`);
    }
    // An empty `Check` object is skipped, as Consul skips it, not refused.
    const rawChecks = [body.Check, ...(body.Checks ?? [])].filter((check) =>
      check !== undefined && check !== null && !isEmptyCheckDefinition(check)
    );
    const definitions = rawChecks.map((check, index) =>
      this.#parseCheck(check, options.fromConfig, {
        id: service.id,
        name: service.service,
        index,
        count: rawChecks.length,
      })
    );
    this.#local.addService(service);
    const keep = new Set(definitions.map((definition) => definition.id));
    if (options.replaceExistingChecks) {
      for (const [id, check] of [...this.#local.checks]) {
        if (check.input.serviceId === service.id && !keep.has(id) && !id.startsWith("_")) {
          this.#local.removeCheck(id);
        }
      }
    }
    for (const definition of definitions) this.#addCheck(definition);
    return Promise.resolve();
  }

  /** Registers a standalone check; throws HttpError(400) naming what is wrong. */
  registerCheck(raw: unknown, options: { fromConfig: boolean }): Promise<void> {
    const definition = this.#parseCheck(raw, options.fromConfig, undefined);
    if (definition.serviceId !== undefined && !this.#local.services.has(definition.serviceId)) {
      throw new HttpError(404, `ServiceID "${definition.serviceId}" does not exist`);
    }
    this.#addCheck(definition);
    return Promise.resolve();
  }

  #parseCheck(
    raw: unknown,
    fromConfig: boolean,
    service: { id: string; name: string; index: number; count: number } | undefined,
  ): CheckDefinition {
    let definition: CheckDefinition;
    try {
      definition = parseCheckDefinition(raw, { service, onWarning: this.#options.warn });
    } catch (error) {
      throw badRequest((error as Error).message);
    }
    const allowed = this.#options.enableScriptChecks ||
      (fromConfig && this.#options.enableLocalScriptChecks);
    if (definition.type === "script" && !allowed) {
      // Consul answers this refusal with a 500, and clients match on the text.
      throw new HttpError(
        500,
        "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or " +
          "'enable_local_script_checks' to true",
      );
    }
    return definition;
  }

  #addCheck(definition: CheckDefinition): void {
    const previous = this.#local.checks.get(definition.id)?.input;
    const input: CheckInput = {
      checkId: definition.id,
      name: definition.name,
      // A re-registered check keeps its last result, as Consul's agent does.
      status: previous?.status ?? definition.status,
      notes: definition.notes,
      output: previous?.output ?? "",
      serviceId: definition.serviceId ?? "",
      type: definition.type,
      intervalMs: definition.type === "ttl" ? 0 : definition.intervalMs,
      timeoutMs: definition.type === "ttl" ? 0 : definition.timeoutMs,
      definition: echo(definition),
    };
    this.#local.addCheck(input, definition, definition.deregisterCriticalServiceAfterMs);
  }

  /** Removes a local service and its checks; an unknown ID is a 404. */
  deregisterService(id: string): void {
    if (!this.#local.removeService(id)) throw unknownService(id);
  }

  /** Removes a local check; an unknown ID is a 404. */
  deregisterCheck(id: string): void {
    if (!this.#local.removeCheck(id)) throw unknownCheck(id);
  }

  /** Sets a TTL check's status from `/v1/agent/check/{pass,warn,fail,update}`. */
  updateTtl(id: string, status: HealthStatus, output: string): void {
    const check = this.#local.checks.get(id);
    if (check === undefined) {
      throw unknownCheck(id);
    }
    const monitor = check.monitor;
    if (monitor === undefined || monitor.type !== "ttl") {
      throw new HttpError(500, `CheckID "${id}" does not have associated TTL`);
    }
    monitor.update(status, output);
  }

  /** Adds or removes the `_service_maintenance:<id>` check. */
  setServiceMaintenance(id: string, enable: boolean, reason: string): void {
    if (!this.#local.services.has(id)) {
      throw unknownService(id);
    }
    const checkId = `_service_maintenance:${id}`;
    if (!enable) {
      this.#local.removeCheck(checkId);
      return;
    }
    this.#local.addCheck(
      maintenanceCheck(checkId, "Service Maintenance Mode", id, reason || defaultServiceReason),
      undefined,
      0,
    );
  }

  /** Adds or removes the `_node_maintenance` check. */
  setNodeMaintenance(enable: boolean, reason: string): void {
    const checkId = "_node_maintenance";
    if (!enable) {
      this.#local.removeCheck(checkId);
      return;
    }
    this.#local.addCheck(
      maintenanceCheck(checkId, "Node Maintenance Mode", "", reason || defaultNodeReason),
      undefined,
      0,
    );
  }
}

function maintenanceCheck(
  checkId: string,
  name: string,
  serviceId: string,
  notes: string,
): CheckInput {
  return {
    checkId,
    name,
    status: "critical",
    notes,
    output: "",
    serviceId,
    type: "maintenance",
    intervalMs: 0,
    timeoutMs: 0,
    definition: {},
  };
}

function echo(definition: CheckDefinition): CheckDefinitionEcho {
  const common = { deregisterCriticalServiceAfterMs: definition.deregisterCriticalServiceAfterMs };
  switch (definition.type) {
    case "http":
      return {
        ...common,
        http: definition.http,
        header: definition.header,
        method: definition.method,
        body: definition.body,
        tlsSkipVerify: definition.tlsSkipVerify,
        intervalMs: definition.intervalMs,
        timeoutMs: definition.timeoutMs,
      };
    case "tcp":
      return {
        ...common,
        tcp: definition.tcp,
        intervalMs: definition.intervalMs,
        timeoutMs: definition.timeoutMs,
      };
    case "script":
      return { ...common, intervalMs: definition.intervalMs, timeoutMs: definition.timeoutMs };
    case "ttl":
      return common;
  }
}

/** Consul's 404 for an unknown service ID. */
export function unknownService(id: string): HttpError {
  return new HttpError(
    404,
    `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
  );
}

/** Consul's 404 for an unknown check ID. */
export function unknownCheck(id: string): HttpError {
  return new HttpError(
    404,
    `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`,
  );
}
