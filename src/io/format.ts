/** "in 59 min", "3 h ago": how far `date` is from `now`, in the largest unit that fits. */
export function relativeTime(date: Date, now: Date): string {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(seconds);
  const units: [number, string][] = [
    [86_400, 'd'],
    [3600, 'h'],
    [60, 'min'],
  ];
  if (abs === 0) return 'now';
  let text = `${abs} s`;
  for (const [size, unit] of units) {
    if (abs >= size) {
      text = `${Math.floor(abs / size)} ${unit}`;
      break;
    }
  }
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

/**
 * Left-aligned columns, two spaces apart (the last column unpadded, trailing spaces trimmed).
 * Written with plain loops: `status` with a thousand profiles spent more in the array methods and
 * the garbage they left than in anything else.
 */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) for (let i = 0; i < row.length; i += 1) widths[i] = Math.max(widths[i] ?? 0, row[i]!.length);
  const spaces = ' '.repeat(Math.max(0, ...widths) + 2);
  const lines = new Array<string>(rows.length);
  for (let r = 0; r < rows.length; r += 1) {
    const row = rows[r]!;
    let line = '';
    for (let i = 0; i < row.length - 1; i += 1) line += row[i]! + spaces.slice(0, widths[i]! - row[i]!.length + 2);
    if (row.length > 0) line += row[row.length - 1]!;
    lines[r] = line.trimEnd();
  }
  return lines;
}
