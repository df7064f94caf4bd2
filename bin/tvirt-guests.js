#!/usr/bin/env node
// Launcher: runs the esbuild bundle (`npm run build`) when it is current, else the TypeScript
// sources through tsx. See bundle.js.
"use strict";
require("./bundle.js").launch("tvirt-guests", "cli/guests.ts");
