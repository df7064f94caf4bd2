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
  const all = (quiet ? rows : [header, ...rows]).map((r) => r.map(safe));
  const widths = header.map((_, i) => Math.max(0, ...all.map((r) => width(r[i] ?? ""))));
  const line = (r: readonly string[]): string =>
    r
      .map((cell, i) => {
        const pad = i < r.length - 1 ? " ".repeat(widths[i]! - width(cell) + 2) : "";
        return ` ${cell}${pad}`;
      })
      .join("");
  const out: string[] = [];
  const [head, ...data] = all;
  if (!quiet && head) {
    out.push(line(head));
    out.push(widths.map((w) => "-".repeat(w + 3)).join(""));
    for (const r of data) out.push(line(r));
  } else {
    for (const r of all) out.push(line(r));
  }
  return out.map((l) => l + "\n").join("");
}
