/**
 * The `yaml` library, loaded on first use. A batch file in the fast reader's subset needs it only
 * when an issue is reported (for its position), so most runs never load its 72 modules; it is
 * CommonJS for Node, so `require` loads it synchronously and the callers stay synchronous.
 */
import { createRequire } from "node:module"
import type * as YamlModule from "yaml"

let loaded: typeof YamlModule | undefined

export const yaml = (): typeof YamlModule =>
  (loaded ??= createRequire(import.meta.url)("yaml") as typeof YamlModule)
