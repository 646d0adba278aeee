// A throwaway copy of this workspace, as its working tree stands (uncommitted changes and this
// package included), made in seconds: sources, configs and built `dist` folders are copied;
// installed packages are linked to this workspace's (they are only read), except the
// `@spark-etl/*` links, which point into the copy as npm's workspace links do.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const repoRoot = path.resolve(import.meta.dirname, "..", "..", "..")

// Not copied: VCS and Nx state, local runs, vite caches, coverage; node_modules is linked below.
const skipped = new Set([".git", ".nx", ".spark-etl", "node_modules", "coverage", ".vite", ".vite-temp"])

// Links every entry of `from` (a node_modules folder) into `to`; the workspace scope is relinked.
const linkModules = (from: string, to: string) => {
  fs.mkdirSync(to, { recursive: true })
  for (const entry of fs.readdirSync(from)) {
    if (skipped.has(entry) || entry === ".package-lock.json") continue
    const source = path.join(from, entry)
    if (entry === "@spark-etl") {
      fs.mkdirSync(path.join(to, entry))
      // npm's links are relative (../../packages/core), so the same target lands in the copy.
      for (const pkg of fs.readdirSync(source))
        fs.symlinkSync(fs.readlinkSync(path.join(source, pkg)), path.join(to, entry, pkg))
    } else fs.symlinkSync(source, path.join(to, entry))
  }
}

/** Copies the workspace into a new temporary folder; returns its path. */
export const copyWorkspace = (): string => {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-plugin-"))
  for (const entry of fs.readdirSync(repoRoot)) {
    // The root's dist is the release (`npm run release`), not a package's build.
    if (skipped.has(entry) || entry === "dist") continue
    fs.cpSync(path.join(repoRoot, entry), path.join(copy, entry), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (source) => !skipped.has(path.basename(source))
    })
  }
  linkModules(path.join(repoRoot, "node_modules"), path.join(copy, "node_modules"))
  // Packages' own node_modules (a version apart from the root's, e.g. this package's @nx/devkit).
  for (const group of ["packages", "tools"])
    for (const pkg of fs.readdirSync(path.join(repoRoot, group))) {
      const own = path.join(repoRoot, group, pkg, "node_modules")
      if (fs.existsSync(own) && fs.existsSync(path.join(copy, group, pkg)))
        linkModules(own, path.join(copy, group, pkg, "node_modules"))
    }
  return copy
}

/** Links a workspace package generated into the copy, as `npm install` does. */
export const linkPackage = (copy: string, name: string, projectRoot: string): void => {
  const link = path.join(copy, "node_modules", ...name.split("/"))
  fs.symlinkSync(path.relative(path.dirname(link), path.join(copy, projectRoot)), link)
}

export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/** Runs a command to its end (bounded by `timeoutMs`, then killed); its output and exit code. */
export const exec = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: NodeJS.ProcessEnv; readonly timeoutMs: number }
): Promise<Result> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMs,
      killSignal: "SIGKILL"
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }))
  })
