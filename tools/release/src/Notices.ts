/**
 * THIRD-PARTY-NOTICES.txt: the name, version, licence and licence text of every npm package
 * whose code esbuild put into the bundle (read from its metafile, so a dependency dropped by
 * tree shaking is not listed and one added later cannot be forgotten).
 */
import type { Metafile } from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"

export interface Bundled {
  readonly name: string
  readonly version: string
  readonly license: string
  /** The package's own licence file, if it ships one. */
  readonly text: string | undefined
}

const licenseFiles = /^(licen[cs]e|copying)(\.(md|txt))?$/i

/** The package folder of a bundled file: the last `node_modules/<name>` or `node_modules/@scope/<name>`. */
const packageDirOf = (input: string): string | undefined => {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
  return match?.[1]
}

/** Every package with code in the bundle, by name; workspace packages of ours are not listed. */
export const collect = (metafile: Metafile, cwd: string): ReadonlyArray<Bundled> => {
  const dirs = new Set<string>()
  for (const input of Object.keys(metafile.inputs)) {
    const dir = packageDirOf(input)
    if (dir !== undefined) dirs.add(path.resolve(cwd, dir))
  }
  const byName = new Map<string, Bundled>()
  for (const dir of dirs) {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {
      name?: string
      version?: string
      license?: string
    }
    const file = fs.readdirSync(dir).find((f) => licenseFiles.test(f))
    const name = pkg.name ?? path.basename(dir)
    byName.set(`${name}@${pkg.version}`, {
      name,
      version: pkg.version ?? "unknown",
      license: pkg.license ?? "see the package",
      text: file === undefined ? undefined : fs.readFileSync(path.join(dir, file), "utf8").trim()
    })
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name))
}

export const render = (
  bundled: ReadonlyArray<Bundled>,
  runtime: { readonly name: string; readonly licenseFile: string }
): string => {
  const rule = "-".repeat(78)
  const sections = [
    `${runtime.name} (node/bin/node)\n\n${fs.readFileSync(runtime.licenseFile, "utf8").trim()}`,
    ...bundled.map(
      (b) =>
        `${b.name} ${b.version} — ${b.license}\n\n${b.text ?? `(no licence file in the package; its licence is ${b.license})`}`
    )
  ]
  return `spark-etl bundles the following third-party software.\n\n${sections.join(`\n\n${rule}\n\n`)}\n`
}
