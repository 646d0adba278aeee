/** What the runner reads from, and adds to, a JDBC URL. */

/** Whether the URL is PostgreSQL's: its backends can be cancelled, its properties go in the URL. */
export const isPostgres = (url: string): boolean => url.toLowerCase().startsWith("jdbc:postgresql:")

/**
 * The URL with `parameters` appended to its query, URL-encoded. A driver reads a property there
 * with its name's case, which Spark's options lose (it lower-cases them).
 */
export const withParameters = (url: string, parameters: ReadonlyArray<readonly [string, string]>): string =>
  parameters.length === 0
    ? url
    : `${url}${url.includes("?") ? "&" : "?"}${parameters
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
        .join("&")}`
