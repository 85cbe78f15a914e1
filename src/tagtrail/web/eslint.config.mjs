// ESLint for the pages' own ES modules (the test command runs it; warnings fail it too).
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    files: ["static/**/*.js"],
    ...js.configs.recommended,
    languageOptions: { ecmaVersion: 2023, sourceType: "module", globals: globals.browser },
  },
];
