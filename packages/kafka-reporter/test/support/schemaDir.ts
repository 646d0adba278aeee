import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The package's `schema/` folder, where the generated JSON Schemas are committed. */
export const schemaDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "schema")
