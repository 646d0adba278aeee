/**
 * `nx g @spark-etl/plugin:runner <name>`: a runner plugin package, `@spark-etl/runner-<name>` in
 * `packages/runner-<name>`, of rule kind `<name>`. It works as generated — its tests run core's
 * conformance kit against Spark and a batch can name it under `plugins:` — so a platform team
 * starts from a passing package and replaces the runner's work with its own.
 *
 * The templates are in `files/runner` (`__className__` in a path and `<%= … %>` in a text are
 * filled in; the `__tmpl__` suffix keeps them out of tsc, eslint and prettier). Versions come
 * from the workspace's own packages, so the generated package depends on what is here.
 */
import {
  type GeneratorCallback,
  type Tree,
  formatFiles,
  generateFiles,
  joinPathFragments,
  logger,
  names,
  offsetFromRoot,
  readJson,
  updateJson
} from "@nx/devkit"
import * as path from "node:path"

/** The generator's options (schema.json). */
export interface RunnerSchema {
  /** The rule kind, kebab-case: `foo` makes kind `foo` in `@spark-etl/runner-foo`. */
  readonly name: string
  /** The folder, from the workspace root, that receives `runner-<name>`; default `packages`. */
  readonly directory?: string
}

/** What the generator makes of its options. */
interface Target {
  readonly kind: string
  readonly packageName: string
  readonly projectRoot: string
  /** `Foo` of `foo`: the modules are `FooRunner`, `FooOptions`. */
  readonly className: string
}

const kebab = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/

const targetOf = (options: RunnerSchema): Target => {
  if (!kebab.test(options.name))
    throw new Error(`"${options.name}" is not a rule kind: use kebab-case (letters, digits and '-')`)
  const directory = (options.directory ?? "packages").replace(/\/+$/, "")
  return {
    kind: options.name,
    packageName: `@spark-etl/runner-${options.name}`,
    projectRoot: joinPathFragments(directory, `runner-${options.name}`),
    className: names(options.name).className
  }
}

const templates = path.join(import.meta.dirname, "..", "..", "files", "runner")

// The generated package depends on the versions this workspace has, read from its packages.
const versionsOf = (tree: Tree) => {
  const read = (file: string) => {
    if (!tree.exists(file))
      throw new Error(`${file} is missing: run the generator in the spark-etl workspace`)
    return readJson<{
      version: string
      peerDependencies?: Record<string, string>
      devDependencies?: Record<string, string>
    }>(tree, file)
  }
  const core = read("packages/core/package.json")
  const sparkConnect = read("packages/runner-spark-connect/package.json")
  const effect = core.peerDependencies?.["effect"]
  const platformNode = core.devDependencies?.["@effect/platform-node"]
  if (effect === undefined || platformNode === undefined)
    throw new Error("packages/core/package.json no longer names effect and @effect/platform-node")
  return { core: core.version, sparkConnect: sparkConnect.version, effect, platformNode }
}

// npm workspaces: `packages/*` and `tools/*` cover the default; another folder is added.
// ESLint's module boundaries: a project whose tags match no constraint may import nothing of
// ours, so the kind gets the constraint runner-sql has (core and runner-spark-connect).
const wireWorkspace = (tree: Tree, target: Target): ReadonlyArray<string> => {
  const parent = path.posix.dirname(target.projectRoot)
  const notes: Array<string> = []
  updateJson<{ workspaces?: Array<string> }>(tree, "package.json", (json) => {
    const workspaces = json.workspaces ?? []
    if (!workspaces.includes(`${parent}/*`) && !workspaces.includes(target.projectRoot))
      json.workspaces = [...workspaces, target.projectRoot]
    return json
  })
  if (tree.exists("knip.config.ts") && !tree.read("knip.config.ts", "utf-8")?.includes(`"${parent}/*"`))
    notes.push(`add "${target.projectRoot}" to the workspaces of knip.config.ts (as "packages/*" is)`)
  const eslint = tree.read("eslint.config.js", "utf-8")
  const tag = `runner:${target.kind}`
  if (eslint !== null && !eslint.includes(`sourceTag: "${tag}"`)) {
    const anchor = /^( *)\{ sourceTag: "runner:sql",.*$/m.exec(eslint)
    if (anchor === null) notes.push(`add a module-boundaries constraint for tag "${tag}" to eslint.config.js`)
    else {
      const line = `${anchor[1]}{ sourceTag: "${tag}", onlyDependOnLibsWithTags: ["scope:core", "runner:spark-connect"] },`
      const at = anchor.index + anchor[0].length
      tree.write("eslint.config.js", `${eslint.slice(0, at)}\n${line}${eslint.slice(at)}`)
    }
  }
  return notes
}

export const runnerGenerator = async (tree: Tree, options: RunnerSchema): Promise<GeneratorCallback> => {
  const target = targetOf(options)
  if (tree.exists(target.projectRoot)) throw new Error(`${target.projectRoot} already exists`)
  generateFiles(tree, templates, target.projectRoot, {
    ...target,
    propertyName: names(target.kind).propertyName,
    offset: offsetFromRoot(target.projectRoot),
    versions: versionsOf(tree),
    tmpl: ""
  })
  const notes = wireWorkspace(tree, target)
  await formatFiles(tree)
  return () => {
    logger.info(
      [
        `${target.packageName} is in ${target.projectRoot} (rule kind "${target.kind}"). Next:`,
        "  npm install                 # links the new workspace package",
        `  npx nx run ${target.packageName}:test   # core's conformance kit against Spark`,
        `  then name it in a batch:    plugins: ["${target.packageName}"]`,
        ...notes.map((n) => `  ${n}`)
      ].join("\n")
    )
  }
}
