// An in-memory Nx tree holding what the generator reads from this workspace (versions,
// workspaces, knip) and formats with (prettier's settings).
import type { Tree } from "@nx/devkit"
import { createTreeWithEmptyWorkspace } from "@nx/devkit/testing"
import * as fs from "node:fs"
import * as path from "node:path"
import { repoRoot } from "./workspace.js"

const fromWorkspace = [
  "package.json",
  "knip.config.ts",
  "eslint.config.js",
  ".prettierignore",
  "packages/core/package.json",
  "packages/runner-spark-connect/package.json"
]

export const workspaceTree = (): Tree => {
  const tree = createTreeWithEmptyWorkspace({ formatter: "none" })
  for (const file of fromWorkspace) tree.write(file, fs.readFileSync(path.join(repoRoot, file)))
  // formatFiles takes prettier's settings from disk under the tree's root (here a virtual one),
  // or from a `.prettierrc` the tree holds: ours, under that name.
  tree.write(".prettierrc", fs.readFileSync(path.join(repoRoot, ".prettierrc.json")))
  return tree
}
