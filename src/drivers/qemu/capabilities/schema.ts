/**
 * Questions to QEMU's QMP schema (`query-qmp-schema`), written as paths in the notation libvirt
 * uses for its capability probes, so that flag rules can be compared with libvirt's one to one:
 *
 *   `command/arg-type/member/+variant/...`
 *
 * - The first step names a command or event; `arg-type` / `ret-type` follow the command's
 *   argument or return type.
 * - A plain step selects a member of an object type; `*member` requires the member to be
 *   optional; `+case` selects the variant of a union whose discriminator value is `case`.
 * - The last step may instead ask a yes/no question: `^value` (the enum has this value),
 *   `!json-type` (the builtin type is of this JSON type), `$feature` (the type, command or
 *   member's type carries this feature flag). `^value/$feature` asks for an enum value's feature.
 * - Arrays are looked through; for an alternate, any of its branches may answer.
 */

type Entry = Readonly<Record<string, unknown>>;

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

function obj(v: unknown): Entry | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Entry) : undefined;
}

function hasFeature(entry: Entry | undefined, feature: string): boolean {
  return arr(entry?.features).some((f) => f === feature);
}

const MAX_STEPS = 1000;

export class QapiSchema {
  readonly #byName = new Map<string, Entry>();

  /** Builds the index from the `return` value of `query-qmp-schema`. */
  constructor(entries: readonly unknown[]) {
    for (const e of entries) {
      const entry = obj(e);
      const name = str(entry?.name);
      if (entry && name !== undefined) this.#byName.set(name, entry);
    }
  }

  get size(): number {
    return this.#byName.size;
  }

  /** True if a command or event with this name exists. */
  hasCommand(name: string): boolean {
    const meta = str(this.#byName.get(name)?.["meta-type"]);
    return meta === "command" || meta === "event";
  }

  /** Answers a path question (see the module comment). Unknown names answer false. */
  query(path: string): boolean {
    const steps = path.split("/");
    const first = steps.shift();
    if (first === undefined || first === "" || !this.#byName.has(first)) return false;
    return this.#walk(first, steps, { n: 0 });
  }

  #walk(typeName: string, steps: readonly string[], budget: { n: number }): boolean {
    if (++budget.n > MAX_STEPS) return false;
    const cur = this.#byName.get(typeName);
    if (!cur) return false;
    if (steps.length === 0) return true;
    switch (str(cur["meta-type"])) {
      case "command":
      case "event":
        return this.#command(cur, steps, budget);
      case "object":
        return this.#object(cur, steps, budget);
      case "array": {
        const element = str(cur["element-type"]);
        return element !== undefined && this.#walk(element, steps, budget);
      }
      case "enum":
        return this.#enum(cur, steps);
      case "builtin": {
        const [step, ...rest] = steps;
        return rest.length === 0 && step?.startsWith("!") === true && str(cur["json-type"]) === step.slice(1);
      }
      case "alternate":
        return arr(cur.members).some((m) => {
          const t = str(obj(m)?.type);
          return t !== undefined && this.#walk(t, steps, budget);
        });
      default:
        return false;
    }
  }

  #command(cur: Entry, steps: readonly string[], budget: { n: number }): boolean {
    const [step, ...rest] = steps;
    if (step === undefined) return true;
    if (step.startsWith("$")) return rest.length === 0 && hasFeature(cur, step.slice(1));
    if (!/^[a-z]/i.test(step)) return false;
    const next = str(cur[step]);
    return next !== undefined && this.#walk(next, rest, budget);
  }

  #object(cur: Entry, steps: readonly string[], budget: { n: number }): boolean {
    const [step, ...rest] = steps;
    if (step === undefined) return true;
    const mod = /^[a-z]/i.test(step) ? "" : step[0];
    const name = mod ? step.slice(1) : step;
    if (mod === "^" || mod === "!") return false;
    if (mod === "$") return rest.length === 0 && hasFeature(cur, name);
    let found: Entry | undefined;
    if (mod === "+") {
      found = arr(cur.variants)
        .map(obj)
        .find((v) => str(v?.case) === name);
    } else {
      found = arr(cur.members)
        .map(obj)
        .find((m) => str(m?.name) === name);
      if (mod === "*" && found && !("default" in found)) return false;
    }
    const t = str(found?.type);
    return t !== undefined && this.#walk(t, rest, budget);
  }

  #enum(cur: Entry, steps: readonly string[]): boolean {
    const [step, feature, ...more] = steps;
    if (step === undefined || !step.startsWith("^") || more.length > 0) return false;
    if (feature !== undefined && !feature.startsWith("$")) return false;
    const value = step.slice(1);
    const members = arr(cur.members).map(obj);
    if (members.length > 0) {
      const m = members.find((x) => str(x?.name) === value);
      if (!m) return false;
      return feature === undefined || hasFeature(m, feature.slice(1));
    }
    // Before QEMU 6.2 enums had a plain "values" list and no per-value features.
    if (feature !== undefined) return false;
    return arr(cur.values).some((v) => v === value);
  }
}
