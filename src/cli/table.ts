/**
 * virsh's tables (`tools/vsh-table.c`): each cell is printed as a space and its text; every
 * cell but the last is padded to the column's width plus two; the separator has width + 3
 * dashes per column. With `-q` the header and separator are left out and the widths come from
 * the data rows alone. Non-printable characters are shown as `\xNN`.
 */

/** Printable ASCII only: shown as it is, one column per character. */
const PLAIN = /^[\x20-\x7e]*$/;

/** vshTableSafeEncode: control characters become `\xNN`. */
function safe(cell: string): string {
  if (PLAIN.test(cell)) return cell;
  let out = "";
  for (const c of cell) {
    const code = c.charCodeAt(0);
    out += code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, "0")}` : c;
  }
  return out;
}

/** Display width: East Asian wide and fullwidth characters take two columns. */
function width(s: string): number {
  if (PLAIN.test(s)) return s.length;
  let w = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x300 && cp <= 0x36f) continue; // combining marks
    const wide =
      (cp >= 0x1100 && cp <= 0x115f) ||
      (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) ||
      (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) ||
      (cp >= 0x1f300 && cp <= 0x1faff) ||
      (cp >= 0x20000 && cp <= 0x3fffd);
    w += wide ? 2 : 1;
  }
  return w;
}

export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  quiet: boolean,
): string {
  // One pass for the cells and widths, one for the text: `list --all` of 1000 domains runs
  // this once, in V8's interpreter, where every intermediate array and join costs.
  const cols = header.length;
  const widths = new Array<number>(cols).fill(0);
  const cells: string[][] = [];
  const cellWidths: number[][] = [];
  const add = (r: readonly string[]): void => {
    const c: string[] = [];
    const w: number[] = [];
    for (let i = 0; i < r.length; i++) {
      const text = safe(r[i]!);
      const wi = width(text);
      c.push(text);
      w.push(wi);
      if (i < cols && wi > widths[i]!) widths[i] = wi;
    }
    cells.push(c);
    cellWidths.push(w);
  };
  if (!quiet) add(header);
  for (const r of rows) add(r);
  let out = "";
  for (let k = 0; k < cells.length; k++) {
    const c = cells[k]!;
    const w = cellWidths[k]!;
    const last = c.length - 1;
    for (let i = 0; i <= last; i++) {
      out += " " + c[i]!;
      // A cell beyond the header's columns has no width: no padding, as before.
      if (i < last && i < cols) out += " ".repeat(widths[i]! - w[i]! + 2);
    }
    out += "\n";
    if (k === 0 && !quiet) {
      for (const wi of widths) out += "-".repeat(wi + 3);
      out += "\n";
    }
  }
  return out;
}
