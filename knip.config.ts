// knip: unused files, exports and dependencies, run by `npm run lint` (issue #18).
// Each workspace's package.json exports (the "@spark-etl/source" condition names the src file)
// and its scripts (`node bench/x.ts`, `node ../../examples/...`) are entries without being listed.
import type { KnipConfig } from "knip"

const tested = ["test/**/*.test.ts", "bench/**/*.ts", "*.config.ts"]
// Generated Spark Connect stubs are git-ignored, so knip never reads them as project files;
// the negation keeps them out should that change.
const sources = ["src/**/*.ts", "!src/generated/**", "test/**/*.ts", "bench/**/*.ts", "*.config.ts"]

const config: KnipConfig = {
  // knip's default rules (files, dependencies, devDependencies, unlisted, binaries, unresolved,
  // exports, types, enumMembers, duplicates...) plus the members of namespace re-exports.
  include: ["nsExports", "nsTypes"],
  // System tools that the tests spawn (Java, which .ci/run requires; the rest it installs).
  ignoreBinaries: ["java", "kcat", "openssl", "ss"],
  workspaces: {
    ".": {
      entry: ["vitest.shared.ts", "examples/orders/generate-data.ts"],
      project: ["*.ts", "examples/**/*.ts"]
    },
    "packages/*": { entry: tested, project: sources },
    // bin spark-etl is dist/main.js, built from src/main.ts.
    "packages/cli": {
      entry: ["src/main.ts", ...tested],
      project: sources,
      // Never imported: pinned so that an npm install holds one copy of Effect (package.json of
      // @effect/platform-node asks for ^4.1.0 of it, whose newest release wants a newer Effect).
      ignoreDependencies: ["@effect/platform-node-shared"]
    },
    "packages/runner-spark-connect": {
      // crashing-owner.ts: a client process the integration tests spawn by path and kill.
      entry: [...tested, "test/integration/crashing-owner.ts"],
      project: sources,
      // `buf generate` in scripts/generate.sh (a shell script knip does not read); the Effect
      // platform's shared part pinned, never imported, as the CLI's (one copy of Effect).
      ignoreDependencies: ["@bufbuild/buf", "@effect/platform-node-shared"]
    },
    // bin of `npm run release`: node tools/release/dist/cli.js.
    "tools/release": {
      entry: ["src/cli.ts", "test/**/*.test.ts", "bench/**/*.ts", "*.config.ts"],
      project: ["src/**/*.ts", "test/**/*.ts", "bench/**/*.ts", "*.config.ts"],
      // `npm run bench` runs infra's built cli by path (node ../infra/dist/cli.js run -- …).
      ignoreDependencies: ["@spark-etl/infra"]
    },
    // knip's Nx plugin reads generators.json (the generator is its entry); the templates
    // (files/**/*__tmpl__) are not TypeScript to knip.
    "tools/plugin": {
      entry: ["test/**/*.test.ts", "*.config.ts"],
      project: ["src/**/*.ts", "test/**/*.ts", "*.config.ts"]
    },
    // bins of `npm run infra`, of the test/bench scripts (node tools/infra/dist/cli.js) and of
    // `npm run bench` and `bench:containers`.
    "tools/infra": {
      entry: [
        "src/cli.ts",
        "src/benchTable.ts",
        "src/benchContainers.ts",
        "test/**/*.test.ts",
        "*.config.ts"
      ],
      project: ["src/**/*.ts", "test/**/*.ts", "*.config.ts"]
    }
  }
}

export default config
