// Tests of the CLI's table of lazily loaded commands (COMMAND_TABLE in src/cli/cli.ts).
//
// Goal: the table's names and synopses (what usage texts print without loading a command) are
// the loaded commands' own, no name repeats, and every command a command module exports is in
// the table, so a command added to a module cannot be left out of `cairn`. Method: load every
// entry, and scan each loaded module's exports for Command-shaped values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { COMMAND_TABLE, formatCliUsage, listCommands } from "../../src/cli/cli.ts";
import type { Command } from "../../src/cli/command.ts";

const commandModules = [
  import("../../src/cli/catalog_commands.ts"),
  import("../../src/cli/gossip_commands.ts"),
  import("../../src/cli/info_command.ts"),
  import("../../src/cli/kv_commands.ts"),
  import("../../src/cli/leave_command.ts"),
  import("../../src/cli/members_command.ts"),
  import("../../src/cli/operator_commands.ts"),
  import("../../src/cli/rtt_command.ts"),
  import("../../src/cli/services_commands.ts"),
  import("../../src/cli/snapshot_commands.ts"),
  import("../../src/cli/version_command.ts"),
];

function isCommand(value: unknown): value is Command {
  return typeof value === "object" && value !== null && typeof (value as Command).name ===
      "string" &&
    typeof (value as Command).synopsis === "string" &&
    typeof (value as Command).run === "function";
}

test("each table entry loads the command it names, with the same synopsis", async () => {
  for (const entry of COMMAND_TABLE) {
    const command = await entry.load({});
    assert.equal(command.name, entry.name);
    assert.equal(command.synopsis, entry.synopsis, `synopsis of ${entry.name}`);
  }
});

test("the table names each command once", () => {
  const names = COMMAND_TABLE.map((entry) => entry.name);
  assert.deepEqual([...new Set(names)], names);
});

test("every command the command modules export is in the table", async () => {
  const names = new Set(COMMAND_TABLE.map((entry) => entry.name));
  let found = 0;
  for (const module of await Promise.all(commandModules)) {
    for (const value of Object.values(module)) {
      if (!isCommand(value)) continue;
      found += 1;
      assert.ok(names.has(value.name), `"${value.name}" is exported but not in COMMAND_TABLE`);
    }
  }
  assert.equal(found, COMMAND_TABLE.length - 1, "every entry but agent is an exported constant");
});

test("listCommands() loads the table in order; the usage text is the same either way", async () => {
  const commands = await listCommands();
  assert.deepEqual(commands.map((command) => command.name), COMMAND_TABLE.map((e) => e.name));
  assert.equal(formatCliUsage(commands), formatCliUsage(COMMAND_TABLE));
});
