// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { layerRules } from "./lint/layers.js";

export default tseslint.config(
  { ignores: ["node_modules/**", "dist/**"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
      "@typescript-eslint/no-unnecessary-condition": ["error", { allowConstantLoopConditions: true }],
      "@typescript-eslint/no-non-null-assertion": "off",
      // node:test's test()/describe() return promises the runner awaits itself.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "describe", "it", "suite"] },
          ],
        },
      ],
      // Layering: set per file group by layerRules() below.
      "no-restricted-imports": "off",
    },
  },
  // Layering (../shared/DESIGN.md): generated from the ordered list in lint/layers.js.
  ...layerRules(),
  {
    files: ["**/*.js"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: "readonly", console: "readonly" },
    },
  },
  {
    // The launchers are CommonJS (bin/package.json): they start sooner than ES modules.
    files: ["bin/**/*.js"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { require: "readonly", module: "writable", __dirname: "readonly", __filename: "readonly" },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Child processes only through util/spawn (argv arrays, never a shell; DESIGN.md "Safety
    // rules"). The typescript-eslint rule, so that the layer blocks' no-restricted-imports stays theirs.
    files: ["src/**/*.ts"],
    ignores: ["src/util/spawn.ts", "src/testing/**", "**/*.test.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          paths: ["node:child_process", "child_process"].map((name) => ({
            name,
            message: "Run programs through src/util/spawn.ts (spawnArgv, runArgv, startArgv, runArgvSync).",
          })),
        },
      ],
    },
  },
);
