// @ts-check
/**
 * The layers of src/ (../shared/DESIGN.md, "Layers"), lowest first, and the eslint blocks that
 * enforce them with `no-restricted-imports`:
 *
 * - a module imports only layers listed before its own; layers on one line are peers and do not
 *   import each other;
 * - a layer with `through` reaches the layers below it only through those (the CLI talks to
 *   `api/`, never to a driver); tests are exempt from `through`, not from the order;
 * - product code (src/ except `src/testing/`, `src/tools/` and `*.test.ts`) never imports
 *   `src/testing/`.
 *
 * `rpc/` is two layers. The wire protocol and the remote driver (`client.ts`, a driver like the
 * others) sit beside `api/`: neither imports the other. `server.ts` and `dispatch.ts` (dispatch
 * into a `Connection`) and `register.ts` (puts the remote driver into api's registry) build on
 * both, as `rpc-server`. The tests in `rpc/` drive client and server together through the API,
 * so they are linted as `rpc-server`.
 *
 * Rules match the import's text: `../../conf/x.ts` names the top folder after the climb, `./x.ts`
 * a module of the same folder. `src/testing/` and `src/tools/` are free (test support and dev
 * tools may import any layer).
 */

const rpcServerModules = [
  "server",
  "dispatch",
  "dispatch-misc",
  "dispatch-secret",
  "dispatch-agent",
  "dispatch-blockjobs",
  "dispatch-snapshot",
  "register",
];

/**
 * @typedef {object} Layer
 * @property {string} name
 * @property {string} dir the folder under src/
 * @property {string[]} [only] its modules when it is part of a folder (basenames, no extension)
 * @property {string[]} [except] modules of the folder that belong to another layer
 * @property {string[]} [through] the only lower layers its product code may import
 * @property {string} [testsAs] the layer whose rules its tests follow
 */

/** @type {Layer[][]} */
export const layers = [
  [{ name: "util", dir: "util" }],
  [{ name: "conf", dir: "conf" }],
  [
    { name: "host", dir: "host" },
    { name: "security", dir: "security" },
  ],
  [{ name: "drivers", dir: "drivers" }],
  [
    { name: "rpc", dir: "rpc", except: rpcServerModules, testsAs: "rpc-server" },
    { name: "api", dir: "api" },
  ],
  [{ name: "rpc-server", dir: "rpc", only: rpcServerModules }],
  // The web face (REST API, issue 16) sits under cli and daemon: `tvirsh web` and tvirtd serve it.
  [{ name: "web", dir: "web", through: ["util", "api", "rpc-server"] }],
  [
    { name: "cli", dir: "cli", through: ["util", "api", "rpc-server", "web"] },
    { name: "daemon", dir: "daemon" },
  ],
];

/** Folders under src/ that are no layer: test support and dev tools. */
export const freeDirs = ["testing", "tools"];

const flat = layers.flatMap((peers, level) => peers.map((layer) => ({ layer, level })));

/** @param {string} name */
function find(name) {
  const hit = flat.find((l) => l.layer.name === name);
  if (!hit) throw new Error(`lint/layers.js: no layer ${name}`);
  return hit;
}

/** @param {string[]} names */
const alternation = (names) => `(?:${names.join("|")})\\.[jt]s$`;

/**
 * A regular expression for the import texts that name a module of `to` from a module of `from`.
 * @param {Layer} from
 * @param {Layer} to
 */
function specifier(from, to) {
  const prefix = from.dir === to.dir ? "^\\./" : `^(?:\\.\\./)+${to.dir}/`;
  if (to.only) return prefix + alternation(to.only);
  if (to.except) return `${prefix}(?!${alternation(to.except)})`;
  return prefix;
}

/**
 * The files of a layer (product and tests) as eslint `files` and `ignores` globs.
 * @param {Layer} layer
 */
function globs(layer) {
  if (layer.only) return { files: layer.only.map((m) => `src/${layer.dir}/${m}.ts`), ignores: [] };
  const ignores = (layer.except ?? []).map((m) => `src/${layer.dir}/${m}.ts`);
  return { files: [`src/${layer.dir}/**/*.ts`], ignores };
}

const testingPattern = {
  regex: "^(?:\\.\\./)+testing/",
  message: "src/testing/ is test support: only tests and src/testing/ import it.",
};

/**
 * The import patterns a module of `layer` may not use.
 * @param {Layer} layer the layer whose rules apply
 * @param {Layer} home the layer the file is in (decides how import texts look)
 * @param {boolean} product
 */
function patterns(layer, home, product) {
  const { level } = find(layer.name);
  const out = [];
  for (const other of flat) {
    if (other.layer === layer) continue;
    let why;
    if (other.level > level) why = `${other.layer.name} is a higher layer`;
    else if (other.level === level) why = `${other.layer.name} is a peer`;
    else if (product && layer.through && !layer.through.includes(other.layer.name))
      why = `${layer.name} reaches lower layers only through ${layer.through.join(", ")}`;
    if (why === undefined || other.layer === home) continue;
    out.push({
      regex: specifier(home, other.layer),
      message: `${home.name} may not import ${other.layer.name}: ${why} (DESIGN.md, Layers).`,
    });
  }
  return product ? [...out, testingPattern] : out;
}

/** @param {string} glob */
const testOf = (glob) => glob.replace(/\.ts$/, ".test.ts");

/** @param {{ regex: string, message: string }[]} list */
const rule = (list) => ({ "no-restricted-imports": ["error", { patterns: list }] });

/**
 * The eslint config blocks: one per layer for product code and one for its tests, each with the
 * whole list of patterns for its files (a later block's `no-restricted-imports` replaces an
 * earlier one's for a file, so no file is in two of them), after one for the rest of src/.
 * @returns {import("eslint").Linter.Config[]}
 */
export function layerRules() {
  /** @type {import("eslint").Linter.Config[]} */
  const blocks = [
    {
      name: "layers/product-outside-layers",
      files: ["src/**/*.ts"],
      ignores: ["**/*.test.ts", ...freeDirs.map((d) => `src/${d}/**`)],
      rules: rule([testingPattern]),
    },
  ];
  for (const { layer } of flat) {
    const { files, ignores } = globs(layer);
    blocks.push({
      name: `layers/${layer.name}`,
      files,
      ignores: [...ignores, "**/*.test.ts"],
      rules: rule(patterns(layer, layer, true)),
    });
    blocks.push({
      name: `layers/${layer.name}-tests`,
      files: files.map(testOf),
      ignores: ignores.map(testOf),
      rules: rule(patterns(layer.testsAs ? find(layer.testsAs).layer : layer, layer, false)),
    });
  }
  return blocks;
}
