/**
 * Text tables as Consul's CLI prints them: `columnize` follows ryanuber/columnize (cells trimmed,
 * columns joined by two spaces, the last column unpadded) and `tabulate` follows Go's
 * `text/tabwriter` as Consul configures it (`NewWriter(w, 0, 2, 6, ' ', 0)`: six spaces of padding).
 *
 * @module
 */

/**
 * Aligns `lines` whose cells are separated by `delimiter`, like columnize's `Format`.
 *
 * @param lines one string per row, e.g. `"Node|Address"`
 * @param delimiter the cell separator in `lines`
 * @returns the rows joined with "\n", no final newline
 * @example columnize(["a|b", "ccc|d"], "|") // "a    b\nccc  d"
 */
export function columnize(lines: string[], delimiter: string): string {
  const rows = lines.map((line) => line.split(delimiter).map((cell) => cell.trim()));
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, textWidth(cell));
    });
  }
  return rows.map((row) =>
    row.map((cell, column) =>
      column === row.length - 1 ? cell : cell + " ".repeat(widths[column] - textWidth(cell)) + "  "
    ).join("")
  ).join("\n");
}

/**
 * Aligns rows like Consul's tabwriter: every cell but the last is padded to the column's widest
 * cell plus `paddingWidth` spaces.
 *
 * @param rows the cells of each row
 * @param paddingWidth spaces after the widest cell of a column
 * @returns the rows joined with "\n", no final newline
 */
export function tabulate(rows: string[][], paddingWidth = 6): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.slice(0, -1).forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, textWidth(cell));
    });
  }
  return rows.map((row) =>
    row.map((cell, column) =>
      column === row.length - 1
        ? cell
        : cell + " ".repeat(widths[column] - textWidth(cell) + paddingWidth)
    ).join("")
  ).join("\n");
}

// Go counts runes (code points), not UTF-16 units.
function textWidth(text: string): number {
  return [...text].length;
}
