/**
 * The one import of cairn in the embedding tests. From the source tree it is `mod.ts`; the npm
 * check (`npm/verify.sh`) replaces this file with `export * from "@cairn/cairn"` and runs the same
 * tests on Node against the installed package, so these tests import nothing else from the tree.
 *
 * @module
 */

export * from "../../mod.ts";
