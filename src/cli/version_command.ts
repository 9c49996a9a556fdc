/**
 * `cairn version`: prints cairn's version and the protocol versions it speaks.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { FlagError } from "./flags.ts";
import { versionLines } from "./version.ts";

/** `cairn version`. */
export const versionCommand: Command = {
  name: "version",
  synopsis: "Prints the cairn version",
  arguments: "",
  description: "Prints the version of cairn and the Consul protocol versions it speaks.",
  http: false,
  flags: {},
  run: (context, flags) => {
    if (flags.positionals.length > 0) {
      throw new FlagError(`Cannot use argument "${flags.positionals[0]}": version takes none`);
    }
    for (const line of versionLines()) context.out(line);
    return Promise.resolve(0);
  },
};
