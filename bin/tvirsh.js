#!/usr/bin/env node
// Launcher: runs the esbuild bundle (`npm run build`) when it is current, else the TypeScript
// sources through tsx's loader (no build step needed). See bundle.js.
"use strict";
const { loadBundle } = require("./bundle.js");

void (async () => {
  let main = (await loadBundle("tvirsh"))?.main;
  if (!main) {
    const { register } = await import("tsx/esm/api");
    register();
    ({ main } = await import("../src/cli/main.ts"));
  }
  process.exitCode = await main(process.argv.slice(2));
})();
