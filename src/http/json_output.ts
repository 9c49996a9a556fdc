/**
 * JSON for responses. Consul's uint64 fields (KV `Flags`) can exceed 2^53 - 1, which a JS number
 * cannot hold exactly, so such values are bigints inside cairn and are written here as plain
 * JSON number literals, digit for digit, as Go's encoder writes them.
 *
 * @module
 */

const bigintMark = "\u0001u64:";
const bigintPattern = /"\\u0001u64:(\d+)"/g;

/**
 * Serializes `value` as JSON; bigints become exact number literals.
 *
 * @param value what to write
 * @param pretty indent by 4 spaces, as Consul's `?pretty`, or by the given string
 * @returns the JSON text
 */
export function stringifyJson(value: unknown, pretty: boolean | string): string {
  const indent = typeof pretty === "string" ? pretty : pretty ? 4 : undefined;
  // The common case has no bigint: plain JSON.stringify, without a replacer call per value.
  try {
    return JSON.stringify(value, undefined, indent);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
  let sawBigint = false;
  const text = JSON.stringify(
    value,
    (_key, item) => {
      if (typeof item !== "bigint") return item;
      sawBigint = true;
      return `${bigintMark}${item.toString()}`;
    },
    indent,
  );
  return sawBigint ? text.replace(bigintPattern, "$1") : text;
}

/**
 * Quotes uint64 literals too large for a JS number in the fields named `fields` (matched
 * case-insensitively), so `JSON.parse` keeps their digits as a string instead of rounding.
 *
 * @param text a JSON document
 * @param fields field names, e.g. ["Flags"]
 * @returns the same document with those large literals quoted
 */
export function quoteLargeIntegers(text: string, fields: string[]): string {
  const names = fields.join("|");
  const pattern = new RegExp(`("(?:${names})"\\s*:\\s*)(\\d{16,})(?=\\s*[,}\\]])`, "gi");
  return text.replace(pattern, (match, prefix: string, digits: string) => {
    return Number.isSafeInteger(Number(digits)) ? match : `${prefix}"${digits}"`;
  });
}

/**
 * Parses a uint64 given as digits; returns a number when it is safe, a bigint above that, and
 * `undefined` when the text is not a uint64.
 *
 * @param text decimal digits
 */
export function parseUint64(text: string): number | bigint | undefined {
  if (!/^\d{1,20}$/.test(text)) return undefined;
  const value = BigInt(text);
  if (value > 0xffff_ffff_ffff_ffffn) return undefined;
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}
