// One lint configuration for the workspace; generated protocol stubs are never linted.
import js from "@eslint/js"
import nx from "@nx/eslint-plugin"
import tseslint from "typescript-eslint"

// Module boundaries (issue #18): the tags are in each project's package.json "nx" section.
// core depends on nothing of ours; runner-spark-connect on core; runner-sql and runner-jdbc
// (a plugin) on core and runner-spark-connect; kafka-reporter on core; the cli on all of those.
// The tools (@spark-etl/infra) may use the libraries, but no project's src may import a tool.
const libraryConstraints = [
  { sourceTag: "scope:core", onlyDependOnLibsWithTags: [] },
  { sourceTag: "runner:spark-connect", onlyDependOnLibsWithTags: ["scope:core"] },
  { sourceTag: "runner:sql", onlyDependOnLibsWithTags: ["scope:core", "runner:spark-connect"] },
  { sourceTag: "runner:jdbc", onlyDependOnLibsWithTags: ["scope:core", "runner:spark-connect"] },
  { sourceTag: "type:reporter", onlyDependOnLibsWithTags: ["scope:core"] },
  { sourceTag: "type:app", onlyDependOnLibsWithTags: ["scope:core", "type:runner", "type:reporter"] },
  {
    sourceTag: "type:tool",
    onlyDependOnLibsWithTags: ["scope:core", "type:runner", "type:reporter", "type:tool"]
  }
]
const boundaries = (depConstraints, allow = []) => [
  "error",
  {
    // A package's tests import the package by its own name (its public API).
    allowCircularSelfDependency: true,
    allow,
    depConstraints
  }
]
// Tests, benches, scripts and configs may also use the tools (a devDependency).
const withTools = libraryConstraints.map((c) =>
  c.onlyDependOnLibsWithTags.includes("type:tool")
    ? c
    : { ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, "type:tool"] }
)

export default tseslint.config(
  {
    ignores: [
      "**/dist/**",
      "**/node_modules/**",
      "**/src/generated/**",
      "**/proto/**",
      ".nx/**",
      "**/.spark-etl/**"
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...nx.configs["flat/base"],
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/only-throw-error": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Effect's Data.TaggedError classes are values and types at once.
      "@typescript-eslint/no-redeclare": "off",
      "@nx/enforce-module-boundaries": boundaries(libraryConstraints)
    }
  },
  {
    // Every process pays for what its modules load at start (#17): a barrel evaluates all of
    // its modules.
    files: ["**/src/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          paths: [
            ...["effect", "effect/cli", "effect/process"].map((name) => ({
              name,
              message: `import the module itself (${name === "effect" ? "effect/Effect" : `${name}/…`}): the barrel loads every module it names`
            })),
            {
              name: "@spark-etl/runner-spark-connect",
              allowTypeImports: true,
              message:
                "import the module itself (@spark-etl/runner-spark-connect/SparkSession…): the barrel loads apache-arrow"
            }
          ]
        }
      ]
    }
  },
  {
    files: ["**/test/**", "**/bench/**", "**/scripts/**", "**/*.config.ts"],
    // Each project's vitest.config.ts extends the root one (outside every project).
    rules: { "@nx/enforce-module-boundaries": boundaries(withTools, ["../../vitest.shared.js"]) }
  }
)
