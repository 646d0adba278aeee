/**
 * Paths of the Spark cluster's filesystems as the path store judges them: a URI
 * (`hdfs://nn:8020/data/sales`, `s3a://bucket/x`, `abfss://c@acct.dfs.core.windows.net/x`,
 * `file:/x`) or an absolute path (the cluster's default filesystem). Judged lexically and
 * strictly: anything that another reader could resolve differently — `.` or `..` segments,
 * empty segments, percent-encoding, backslashes, a query, a fragment, user info, control
 * characters — is refused rather than normalized away.
 */

/** A path split into what decides where it is: filesystem (scheme, authority) and segments. */
export interface Parsed {
  /** Lower-cased; empty for a path without scheme (the cluster's default filesystem). */
  readonly scheme: string
  /** Lower-cased host[:port] (or container@account…); empty when the URI has none. */
  readonly authority: string
  readonly segments: ReadonlyArray<string>
}

const schemeAndRest = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/

/** The path parsed, or why it cannot be a location of the store. */
export const parse = (text: string): Parsed | string => {
  if (text.trim() !== text || text === "") return "has leading or trailing blanks, or is empty"
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\s]/.test(text)) return "holds a blank or a control character"
  if (text.includes("\\")) return "holds a backslash"
  if (text.includes("%")) return "holds percent-encoding (write the characters themselves)"
  if (/[?#]/.test(text)) return "holds a query or a fragment"
  const matched = schemeAndRest.exec(text)
  const scheme = matched?.[1]?.toLowerCase() ?? ""
  let rest = matched?.[2] ?? text
  let authority = ""
  if (rest.startsWith("//")) {
    const end = rest.indexOf("/", 2)
    authority = (end < 0 ? rest.slice(2) : rest.slice(2, end)).toLowerCase()
    rest = end < 0 ? "/" : rest.slice(end)
    if (
      authority.includes("@") &&
      scheme !== "abfs" &&
      scheme !== "abfss" &&
      scheme !== "wasb" &&
      scheme !== "wasbs"
    )
      return "holds user information in its authority"
  }
  if (!rest.startsWith("/")) return "is not absolute (a URI with a path from its root, or /a/path)"
  const segments = rest.slice(1).split("/")
  if (segments.at(-1) === "") segments.pop()
  if (segments.some((s) => s === "")) return 'holds an empty segment ("//")'
  if (segments.some((s) => s === "." || s === "..")) return 'holds a "." or ".." segment'
  return { scheme, authority, segments }
}

/** The canonical text: what Spark is given, and what two locations are compared by. */
export const format = (p: Parsed): string =>
  p.scheme === "" ? `/${p.segments.join("/")}` : `${p.scheme}://${p.authority}/${p.segments.join("/")}`

/** Whether `inner` lies strictly below `outer`, on the same filesystem. */
export const isBelow = (outer: Parsed, inner: Parsed): boolean =>
  outer.scheme === inner.scheme &&
  outer.authority === inner.authority &&
  inner.segments.length > outer.segments.length &&
  outer.segments.every((s, i) => inner.segments[i] === s)

/** Whether two locations are the same. */
export const same = (a: Parsed, b: Parsed): boolean => format(a) === format(b)
