#!/usr/bin/env node
// Launcher: runs the esbuild bundle (`npm run build`) when it is current, else the TypeScript
// sources through tsx's loader (no build step needed).
import { pathToFileURL } from "node:url";
import { currentBundle } from "./bundle.js";

const bundle = currentBundle("tvirsh.mjs");
let main;
if (bundle) {
  ({ main } = await import(pathToFileURL(bundle).href));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../src/cli/main.ts"));
}
process.exitCode = await main(process.argv.slice(2));
