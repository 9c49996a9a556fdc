/**
 * `cairn services register|deregister`: registers services with the local agent from flags or
 * from config files (`{"service": {...}}` or `{"services": [...]}`, Consul's snake_case keys),
 * as Consul's `command/services/*`.
 *
 * @module
 */

import { readFileAtPath } from "../agent/config_file.ts";
import type { Runtime } from "../runtime.ts";
import { type Command, type CommandContext, errorMessage } from "./command.ts";
import { FlagError, type Flags } from "./flags.ts";
import { createHttpClient, escapePath } from "./http_client.ts";

/** A service registration as `/v1/agent/service/register` takes it (PascalCase keys). */
export type ServiceRegistration = Record<string, unknown>;

/** `cairn services register`. */
export const servicesRegisterCommand: Command = {
  name: "services register",
  synopsis: "Registers services with the local agent",
  arguments: "[options] [FILE...]",
  description: "Registers the services defined in each FILE (JSON with a service or services " +
    "key, as in agent config files), or the one service the flags describe. Services " +
    "registered this way are the local agent's: they go when it leaves.",
  http: true,
  flags: {
    name: { type: "string", placeholder: "<name>", description: "The service's name." },
    id: {
      type: "string",
      placeholder: "<id>",
      description: "The service's ID, unique on the node. The default is the name.",
    },
    address: {
      type: "string",
      placeholder: "<address>",
      description: "The service's address. The default is the node's address.",
    },
    port: {
      type: "integer",
      min: 0,
      max: 65_535,
      placeholder: "<port>",
      description: "The service's port.",
    },
    tag: {
      type: "string",
      multiple: true,
      placeholder: "<tag>",
      description: "A tag for the service. Repeatable.",
    },
    meta: {
      type: "string",
      multiple: true,
      placeholder: "<key=value>",
      description: "A metadata pair for the service. Repeatable.",
    },
  },
  run: runServicesRegister,
};

async function runServicesRegister(context: CommandContext, flags: Flags): Promise<number> {
  const files = flags.positionals;
  const name = flags.string("name");
  if (files.length === 0 && name === undefined) {
    throw new FlagError("Cannot register a service: give a FILE or -name");
  }
  if (files.length > 0 && name !== undefined) {
    throw new FlagError("Cannot register a service: give FILE arguments or -name, not both");
  }
  let services: ServiceRegistration[];
  if (name !== undefined) {
    services = [registrationFromFlags(name, flags)];
  } else {
    try {
      services = await loadServiceFiles(context.runtime, files);
    } catch (error) {
      context.err(`Error: ${errorMessage(error)}`);
      return 1;
    }
  }
  const client = await createHttpClient(context.runtime, flags);
  for (const service of services) {
    const serviceName = String(service.Name ?? "");
    try {
      await client.send("PUT", "/v1/agent/service/register", { body: JSON.stringify(service) });
    } catch (error) {
      context.err(`Error registering service "${serviceName}": ${errorMessage(error)}`);
      return 1;
    }
    context.out(`Registered service: ${serviceName}`);
  }
  return 0;
}

function registrationFromFlags(name: string, flags: Flags): ServiceRegistration {
  const service: ServiceRegistration = {};
  // Field order and omissions follow Go's api.AgentServiceRegistration (`omitempty`).
  const id = flags.string("id");
  if (id !== undefined && id !== "") service.ID = id;
  service.Name = name;
  const tags = flags.strings("tag");
  if (tags.length > 0) service.Tags = tags;
  const port = flags.integer("port") ?? 0;
  if (port !== 0) service.Port = port;
  const address = flags.string("address");
  if (address !== undefined && address !== "") service.Address = address;
  const meta: Record<string, string> = {};
  for (const pair of flags.strings("meta")) {
    const equals = pair.indexOf("=");
    if (equals === -1) throw new FlagError(`Cannot parse flags: -meta "${pair}" is not key=value`);
    meta[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  if (Object.keys(meta).length > 0) service.Meta = meta;
  return service;
}

/** `cairn services deregister`. */
export const servicesDeregisterCommand: Command = {
  name: "services deregister",
  synopsis: "Deregisters services from the local agent",
  arguments: "[options] [ID | FILE.json ...]",
  description: "Deregisters services from the local agent: those with the IDs given (as " +
    "arguments or -id), or those defined in each FILE (an argument ending in .json), by their " +
    "ID or else their name.",
  http: true,
  flags: {
    id: { type: "string", placeholder: "<id>", description: "The ID of the service." },
  },
  run: runServicesDeregister,
};

async function runServicesDeregister(context: CommandContext, flags: Flags): Promise<number> {
  const args = flags.positionals;
  const flagId = flags.string("id");
  if (args.length === 0 && flagId === undefined) {
    throw new FlagError("Cannot deregister a service: give an ID, a FILE or -id");
  }
  if (args.length > 0 && flagId !== undefined) {
    throw new FlagError("Cannot deregister a service: give arguments or -id, not both");
  }
  const ids: string[] = [];
  if (flagId !== undefined) ids.push(flagId);
  try {
    for (const arg of args) {
      // An argument naming a config file is read for its services; any other is an ID. Deciding
      // by name keeps a service called "web" from being mistaken for a file of that name.
      if (arg.endsWith(".json") || arg.endsWith(".hcl")) {
        for (const service of await loadServiceFiles(context.runtime, [arg])) {
          const id = String(service.ID ?? service.Name ?? "");
          if (id !== "") ids.push(id);
        }
      } else {
        ids.push(arg);
      }
    }
  } catch (error) {
    context.err(`Error: ${errorMessage(error)}`);
    return 1;
  }
  const client = await createHttpClient(context.runtime, flags);
  for (const id of ids) {
    try {
      await client.send("PUT", `/v1/agent/service/deregister/${escapePath(id)}`);
    } catch (error) {
      context.err(`Error deregistering service "${id}": ${errorMessage(error)}`);
      return 1;
    }
    context.out(`Deregistered service: ${id}`);
  }
  return 0;
}

/**
 * Reads service definitions from config files: each file's `service` object and `services`
 * array, converted to the registration API's PascalCase keys.
 *
 * @param runtime whose files are read
 * @param paths the files, JSON only
 * @returns the registrations, in file order
 * @throws {SyntaxError} for a missing file, bad JSON or a file without services
 */
export async function loadServiceFiles(
  runtime: Runtime,
  paths: string[],
): Promise<ServiceRegistration[]> {
  const services: ServiceRegistration[] = [];
  for (const path of paths) {
    const fail = (reason: string) =>
      new SyntaxError(`Cannot load service file "${path}": ${reason}`);
    if (path.endsWith(".hcl")) throw fail("HCL is not supported, only JSON");
    const bytes = await readFileAtPath(runtime, path);
    if (bytes === undefined) throw fail("no such file");
    let raw: unknown;
    try {
      raw = JSON.parse(new TextDecoder().decode(bytes));
    } catch (error) {
      throw fail(`it is not valid JSON (${errorMessage(error)})`);
    }
    if (!isObject(raw)) throw fail("the top level must be a JSON object");
    const found: unknown[] = [];
    for (const [key, value] of Object.entries(raw)) {
      const lower = key.toLowerCase();
      if (lower === "service") found.push(value);
      else if (lower === "services" && Array.isArray(value)) found.push(...value);
      else if (lower === "services") throw fail('"services" must be an array');
    }
    if (found.length === 0) throw fail('it defines no "service" or "services"');
    for (const service of found) {
      if (!isObject(service)) throw fail("each service must be a JSON object");
      services.push(toServiceRegistration(service));
    }
  }
  return services;
}

// Keys whose values are the user's own maps: their inner keys are kept as written.
const opaqueMapKeys = new Set(["Meta", "Header", "NodeMeta"]);

// Words Go spells in capitals in the API's field names.
const initialisms: Record<string, string> = {
  id: "ID",
  http: "HTTP",
  tcp: "TCP",
  udp: "UDP",
  ttl: "TTL",
  tls: "TLS",
  grpc: "GRPC",
  h2ping: "H2PING",
  os: "OS",
};

// Config-file keys of a check whose API field is not their PascalCase.
const checkKeyRenames: Record<string, string> = { id: "CheckID", args: "ScriptArgs" };

/**
 * Converts a service definition from config-file form (snake_case, as `"port"`,
 * `"enable_tag_override"`) to the registration API's (PascalCase, as `Port`,
 * `EnableTagOverride`). Keys already in PascalCase and user maps (`meta`) are kept.
 *
 * @param service one service definition
 * @returns the registration body
 */
export function toServiceRegistration(service: Record<string, unknown>): ServiceRegistration {
  return convertKeys(service, "service");
}

function convertKeys(value: Record<string, unknown>, kind: "service" | "check" | "plain") {
  const converted: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    const name = kind === "check" && Object.hasOwn(checkKeyRenames, key)
      ? checkKeyRenames[key]
      : pascalCase(key);
    if (opaqueMapKeys.has(name)) converted[name] = inner;
    else if (name === "Check" && isObject(inner)) converted[name] = convertKeys(inner, "check");
    else if (name === "Checks" && Array.isArray(inner)) {
      converted[name] = inner.map((check) => isObject(check) ? convertKeys(check, "check") : check);
    } else if (name === "TaggedAddresses" && isObject(inner)) {
      // The keys ("lan", "wan") are names; the values are {address, port} objects.
      converted[name] = Object.fromEntries(
        Object.entries(inner).map(([tag, address]) => [
          tag,
          isObject(address) ? convertKeys(address, "plain") : address,
        ]),
      );
    } else if (isObject(inner) && name !== "Proxy" && name !== "Connect") {
      converted[name] = convertKeys(inner, "plain");
    } else {
      converted[name] = inner;
    }
  }
  return converted;
}

function pascalCase(key: string): string {
  if (/[A-Z]/.test(key)) return key;
  return key.split("_").map((word) =>
    initialisms[word] ?? word.charAt(0).toUpperCase() + word.slice(1)
  ).join("");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
