// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
      // Layering (../shared/DESIGN.md): lower layers never import higher ones.
      "no-restricted-imports": "off",
    },
  },
  {
    files: ["src/util/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            "**/conf/**",
            "**/host/**",
            "**/drivers/**",
            "**/api/**",
            "**/rpc/**",
            "**/cli/**",
            "**/daemon/**",
          ],
        },
      ],
    },
  },
  {
    files: ["src/conf/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            "**/host/**",
            "**/security/**",
            "**/drivers/**",
            "**/api/**",
            "**/rpc/**",
            "**/cli/**",
            "**/daemon/**",
          ],
        },
      ],
    },
  },
  {
    files: ["src/host/**/*.ts", "src/security/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: ["**/drivers/**", "**/api/**", "**/rpc/**", "**/cli/**", "**/daemon/**"] },
      ],
    },
  },
  {
    files: ["src/drivers/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: ["**/api/**", "**/rpc/**", "**/cli/**", "**/daemon/**"] },
      ],
    },
  },
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
