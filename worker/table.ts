/**
 * Plain-text tables for the CLI. Widths count display columns: a Chinese character takes two in a
 * terminal, so padding by string length would push every column after an event text out of line.
 */
const wide = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/;

export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += wide.test(ch) ? 2 : 1;
  return w;
}

/** `s` cut to at most `width` display columns (an ellipsis marks the cut) and padded to exactly `width`. */
export function fit(s: string, width: number): string {
  let out = '';
  let w = 0;
  const chars = [...s];
  const total = displayWidth(s);
  for (const ch of chars) {
    const cw = wide.test(ch) ? 2 : 1;
    if (total > width && w + cw > width - 1) {
      out += '…';
      w += 1;
      break;
    }
    out += ch;
    w += cw;
  }
  return out + ' '.repeat(Math.max(0, width - w));
}

/** Header + rows, columns two spaces apart, each at most `maxWidth` (per column, default 40) wide. */
export function renderTable(cols: string[], rows: string[][], maxWidth: number | number[] = 40): string {
  const max = (i: number) => (Array.isArray(maxWidth) ? (maxWidth[i] ?? 40) : maxWidth);
  const widths = cols.map((c, i) => Math.min(max(i), Math.max(displayWidth(c), ...rows.map((r) => displayWidth(r[i] ?? '')))));
  const line = (r: string[]) => r.map((v, i) => (i === r.length - 1 ? fit(v, widths[i]!).trimEnd() : fit(v, widths[i]!))).join('  ');
  return [cols, ...rows].map(line).join('\n') + '\n';
}
