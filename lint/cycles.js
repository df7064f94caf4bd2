// @ts-check
/**
 * Fails on any runtime import cycle among the modules of src/ (part of `npm run lint`).
 *
 *   node lint/cycles.js [ROOT]     (ROOT: the folder holding src/, default the current one)
 *
 * dpdm reads the import graph; with `transform` it compiles each module as tsx does first, so
 * imports only used as types (elided at run time) are not edges. Dynamic `import()` counts.
 */
import { resolve } from "node:path";
import { parseCircular, parseDependencyTree } from "dpdm";

/**
 * The import cycles among `ROOT/src/**\/*.ts`, each as the list of its modules (relative to ROOT).
 * @param {string} root
 * @returns {Promise<string[][]>}
 */
async function findCycles(root) {
  const tree = await parseDependencyTree("src/**/*.ts", {
    cwd: root,
    context: root,
    transform: true,
    skipDynamicImports: false,
  });
  return parseCircular(tree);
}

const root = resolve(process.argv[2] ?? ".");
const cycles = await findCycles(root);
if (cycles.length > 0) {
  console.error(
    `Import cycles in ${root}/src (a cycle among modules at run time; type-only imports do not count):`,
  );
  for (const cycle of cycles) console.error(`  ${[...cycle, cycle[0]].join(" -> ")}`);
  process.exitCode = 1;
}
