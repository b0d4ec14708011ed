// `npm run lint` (and `make lint`): typescript-eslint's recommended rules, and the rules of hooks with
// complete dependency lists, both as errors.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist", "dev-dist", "src/generated", "test-results", "playwright-report"] },
  {
    files: ["**/*.{ts,tsx}"],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { "react-hooks": reactHooks },
    rules: {
      "react-hooks/rules-of-hooks": "error",
      // useLoad(load, inputs) takes a dependency list like useEffect's: check it at every call too.
      "react-hooks/exhaustive-deps": ["error", { additionalHooks: "^useLoad$" }],
      // A leading underscore names a parameter kept for its place or type (a mock's signature).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["e2e/**/*.ts", "playwright.config.ts", "vite.config.ts", "scripts/**/*.mjs"],
    languageOptions: { globals: { ...globals.node } },
  },
);
