/** Flattens a Schema decoding error into leaf issues with their paths. */
import * as SchemaIssue from "effect/SchemaIssue"
import type * as Schema from "effect/Schema"

/** A leaf problem at a path inside the decoded value. */
export interface PathIssue {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

// Schema's wording for the two commonest mistakes, said the way a batch author thinks.
const messages: Record<string, string> = {
  "Missing key": "required field is missing",
  "Expected no excess property": "unknown field"
}

/** Every leaf of a schema error, each with its path. */
export const fromSchemaError = (error: Schema.SchemaError): ReadonlyArray<PathIssue> =>
  formatter(error.issue).issues.map((issue) => ({
    path: (issue.path ?? []).map((segment) => {
      const key = typeof segment === "object" ? segment.key : segment
      return typeof key === "number" ? key : String(key)
    }),
    message: messages[issue.message] ?? issue.message
  }))

/** Renders a path as `rules[2].depends_on[0]`. */
export const pathToField = (path: ReadonlyArray<string | number>): string =>
  path.reduce<string>(
    (acc, seg) => (typeof seg === "number" ? `${acc}[${seg}]` : acc === "" ? seg : `${acc}.${seg}`),
    ""
  ) || "(document)"
