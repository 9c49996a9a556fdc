// Helpers for the Serf core tests: build a member at 127.0.0.<index>, describe nodes as
// memberlist would report them, and drain `poll()`. Private to this folder.
import { SeededRandom } from "../../../src/core/random.ts";
import {
  defaultLocalSerfConfig,
  type MemberlistNode,
  Serf,
  type SerfConfig,
  type SerfOutput,
} from "../../../src/core/serf/mod.ts";
import { encodeTags } from "../../../src/core/wire/mod.ts";

/** The gossip address of member `index`. */
export function addressOf(index: number): { address: Uint8Array; port: number } {
  return { address: Uint8Array.of(127, 0, 0, index), port: 7946 };
}

/** A memberlist node report for member `index` named `name`. */
export function nodeOf(
  name: string,
  index: number,
  tags: Record<string, string> = {},
): MemberlistNode {
  return { name, ...addressOf(index), meta: encodeTags(new Map(Object.entries(tags))) };
}

/** A Serf core named `name` at 127.0.0.<index>, with its start-up outputs drained. */
export function makeSerf(
  name: string,
  index: number,
  options: { tags?: Record<string, string>; config?: Partial<SerfConfig>; seed?: number } = {},
): Serf {
  const config = { ...defaultLocalSerfConfig(), ...options.config };
  const serf = new Serf({
    name,
    address: addressOf(index),
    random: new SeededRandom(options.seed ?? index),
    tags: options.tags,
    config,
  }, 0);
  drain(serf);
  return serf;
}

/** Returns every pending output. */
export function drain(serf: Serf): SerfOutput[] {
  const outputs: SerfOutput[] = [];
  for (let output = serf.poll(); output !== undefined; output = serf.poll()) outputs.push(output);
  return outputs;
}

/** Returns the outputs of one type. */
export function ofType<T extends SerfOutput["type"]>(
  outputs: SerfOutput[],
  type: T,
): Extract<SerfOutput, { type: T }>[] {
  return outputs.filter((o): o is Extract<SerfOutput, { type: T }> => o.type === type);
}

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
