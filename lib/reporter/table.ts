/**
 * Text columns, two spaces apart, each as wide as its widest cell; the last column is not padded and
 * trailing spaces are trimmed. One line per row, the header first, each ending in a newline.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const format = (row: readonly string[]) => row.map((text, column) => (column === row.length - 1 ? text : text.padEnd(widths[column]!))).join('  ').trimEnd();
  return `${[format(header), ...rows.map(format)].join('\n')}\n`;
}
