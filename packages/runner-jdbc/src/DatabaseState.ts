/**
 * The database's own error code, recovered from the text Spark gives back. This is the ONE
 * place where the runner reads message text, and why: Spark Connect reports a JDBC driver's
 * `SQLException` by class and message only — its `getSQLState()` is not in the error, nor in
 * the cause chain FetchErrorDetails returns (Spark 4.2). What is left is the driver's message,
 * which for PostgreSQL is the server's primary message (`ERROR: relation "x" does not exist`),
 * or pgjdbc's own text for a connection that never opened (`Connection to h:p refused`).
 *
 * The table maps PostgreSQL's primary messages, as its server writes them in English
 * (`lc_messages` C or en_*), to the SQLSTATE and condition name of PostgreSQL's errcodes
 * appendix. A server speaking another language, or another database, yields no state: the
 * classification then falls back on what Spark says structurally (its errorClass, the Java
 * classes of the causes), and the failure carries Spark's code.
 *
 * @example
 * DatabaseState.find(['ERROR: relation "orders" does not exist\n  Position: 15'])
 * // { sqlState: "42P01", condition: "undefined_table", line: 'ERROR: relation "orders" does not exist' }
 */

/** What the database said: its SQLSTATE, PostgreSQL's name for it, and its one-line message. */
export interface State {
  readonly sqlState: string
  readonly condition: string
  /** The database's primary message line, e.g. `ERROR: duplicate key value violates …`. */
  readonly line: string
}

// [pattern of the primary message (after "ERROR: " / "FATAL: "), SQLSTATE, condition]
const server: ReadonlyArray<readonly [RegExp, string, string]> = [
  [/^relation ".*" does not exist/, "42P01", "undefined_table"],
  [/^column ".*" (of relation ".*" )?does not exist/, "42703", "undefined_column"],
  [/^function .* does not exist/, "42883", "undefined_function"],
  [/^schema ".*" does not exist/, "3F000", "invalid_schema_name"],
  [/^syntax error at or near/, "42601", "syntax_error"],
  [/^permission denied for/, "42501", "insufficient_privilege"],
  [/^duplicate key value violates unique constraint/, "23505", "unique_violation"],
  [/^null value in column .* violates not-null constraint/, "23502", "not_null_violation"],
  [/violates foreign key constraint/, "23503", "foreign_key_violation"],
  [/violates check constraint/, "23514", "check_violation"],
  [/^division by zero/, "22012", "division_by_zero"],
  [/^invalid input syntax for/, "22P02", "invalid_text_representation"],
  [/^value too long for type/, "22001", "string_data_right_truncation"],
  [/^(numeric field overflow|(smallint|integer|bigint) out of range)/, "22003", "numeric_value_out_of_range"],
  [/^password authentication failed for user/, "28P01", "invalid_password"],
  [/^(no pg_hba\.conf entry|role ".*" does not exist)/, "28000", "invalid_authorization_specification"],
  [/^database ".*" does not exist/, "3D000", "invalid_catalog_name"],
  [/^terminating connection due to administrator command/, "57P01", "admin_shutdown"],
  [/^the database system is (starting up|shutting down|in recovery mode)/, "57P03", "cannot_connect_now"],
  [/^canceling statement due to (statement timeout|user request)/, "57014", "query_canceled"],
  [/^(sorry, too many clients already|too many connections)/, "53300", "too_many_connections"],
  [/^deadlock detected/, "40P01", "deadlock_detected"],
  [/^could not serialize access/, "40001", "serialization_failure"]
]

// pgjdbc's own messages when it cannot open or keep a connection (its PSQLState codes).
const client: ReadonlyArray<readonly [RegExp, string, string]> = [
  [/Connection to \S+ refused/, "08001", "sqlclient_unable_to_establish_sqlconnection"],
  [/The connection attempt failed/, "08001", "sqlclient_unable_to_establish_sqlconnection"],
  [/This connection has been closed/, "08003", "connection_does_not_exist"],
  [/An I\/O error occurred while sending to the backend/, "08006", "connection_failure"]
]

// A server message: "ERROR: …" at the start of a line or after the driver's "…: " prefix
// (a batch insert's "Batch entry 0 INSERT … was aborted: ERROR: …").
const serverLine = /(?:^|: )((?:ERROR|FATAL|PANIC): +([^\n]*))/m

const inServerMessage = (text: string): State | undefined => {
  const m = serverLine.exec(text)
  if (m === null) return undefined
  const [, line = "", primary = ""] = m
  const hit = server.find(([pattern]) => pattern.test(primary))
  // The line is cut before pgjdbc's batch hint, which is not the database's.
  const own = line.replace(/ +Call getNextException to see other errors in the batch\.?$/, "").trim()
  return hit !== undefined ? { sqlState: hit[1], condition: hit[2], line: own } : undefined
}

const inClientMessage = (text: string): State | undefined => {
  for (const [pattern, sqlState, condition] of client) {
    const m = pattern.exec(text)
    if (m !== null) return { sqlState, condition, line: text.slice(m.index).split("\n")[0]!.trim() }
  }
  return undefined
}

/** The first database state found in these texts (an error's message, then its causes'). */
export const find = (texts: ReadonlyArray<string>): State | undefined => {
  for (const text of texts) {
    const found = inServerMessage(text) ?? inClientMessage(text)
    if (found !== undefined) return found
  }
  return undefined
}
