/**
 * Seeded mutation of XML documents for fuzz tests: structural and textual damage of the kinds
 * users and broken tools produce (truncation, deleted or duplicated spans, odd values in
 * attributes and text, foreign elements, broken nesting). Deterministic for a given seed.
 */

/** mulberry32: a small, fast, seedable PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const oddValues = [
  "",
  " ",
  "-1",
  "0",
  "4294967296",
  "18446744073709551616",
  "99999999999999999999999",
  "1e9",
  "0x",
  "0xzz",
  "NaN",
  "yes",
  "no",
  "on",
  "none",
  "../../etc/passwd",
  "a/b",
  "\u0001",
  "é",
  "\u{1F600}",
  "'\"<>&",
  "&amp;",
  "virtio",
  "pci",
  "q35",
  "qcow2",
  "2048",
  "KiB",
  "G",
  "drive",
  "0-3,^2",
  "3-1",
];

const tags = [
  "disk",
  "interface",
  "controller",
  "address",
  "target",
  "source",
  "driver",
  "cpu",
  "memory",
  "numa",
  "cell",
  "page",
  "hugepages",
  "foo",
];

export function mutate(doc: string, rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const pos = (): number => Math.floor(rnd() * (doc.length + 1));
  const kind = Math.floor(rnd() * 10);
  switch (kind) {
    case 0: // truncate
      return doc.slice(0, pos());
    case 1: {
      // delete a span
      const a = pos();
      return doc.slice(0, a) + doc.slice(a + Math.floor(rnd() * 40));
    }
    case 2: {
      // duplicate a span
      const a = pos();
      const b = Math.min(doc.length, a + Math.floor(rnd() * 200));
      return doc.slice(0, b) + doc.slice(a, b) + doc.slice(b);
    }
    case 3:
    case 4: {
      // replace an attribute value
      const vals = [...doc.matchAll(/='([^']*)'/g)];
      if (vals.length === 0) return doc;
      const m = pick(vals);
      const v = pick(oddValues)
        .replace(/'/g, "&apos;")
        .replace(/</g, "&lt;")
        .replace(/&(?!\w+;)/g, "&amp;");
      return doc.slice(0, m.index + 2) + v + doc.slice(m.index + 2 + m[1]!.length);
    }
    case 5: {
      // replace element text
      const texts = [...doc.matchAll(/>([^<>\n]+)</g)];
      if (texts.length === 0) return doc;
      const m = pick(texts);
      const v = pick(oddValues)
        .replace(/</g, "&lt;")
        .replace(/&(?!\w+;)/g, "&amp;");
      return doc.slice(0, m.index + 1) + v + doc.slice(m.index + 1 + m[1]!.length);
    }
    case 6: {
      // remove a whole element line
      const lines = doc.split("\n");
      lines.splice(Math.floor(rnd() * lines.length), 1);
      return lines.join("\n");
    }
    case 7: {
      // insert a foreign or duplicated element after a line
      const lines = doc.split("\n");
      const t = pick(tags);
      lines.splice(
        1 + Math.floor(rnd() * (lines.length - 1)),
        0,
        rnd() < 0.5
          ? `<${t} type='${pick(oddValues).replace(/[<&']/g, "")}'/>`
          : `<${t}>${Math.floor(rnd() * 1e6)}</${t}>`,
      );
      return lines.join("\n");
    }
    case 8: {
      // rename an attribute
      const names = [...doc.matchAll(/ ([a-zA-Z]+)='/g)];
      if (names.length === 0) return doc;
      const m = pick(names);
      return (
        doc.slice(0, m.index + 1) +
        pick(["type", "model", "bus", "dev", "unit", "index", "slot", "x"]) +
        doc.slice(m.index + 1 + m[1]!.length)
      );
    }
    default: {
      // random bytes
      const a = pos();
      let junk = "";
      for (let i = 0; i < 1 + rnd() * 5; i++) junk += String.fromCharCode(Math.floor(rnd() * 128));
      return doc.slice(0, a) + junk + doc.slice(a);
    }
  }
}
