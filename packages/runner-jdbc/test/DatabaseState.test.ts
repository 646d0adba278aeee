// The database's state from the texts Spark gives back, as the real server wrote them.
import { describe, expect, it } from "vitest"
import * as DatabaseState from "../src/DatabaseState.js"

describe("DatabaseState.find", () => {
  it.each([
    ['ERROR: relation "no_such_table" does not exist\n  Position: 15', "42P01", "undefined_table"],
    ['ERROR: column "nope" does not exist\n  Position: 23', "42703", "undefined_column"],
    ['ERROR: schema "nosuchschema" does not exist\n  Position: 14', "3F000", "invalid_schema_name"],
    ["ERROR: division by zero", "22012", "division_by_zero"],
    ['FATAL: password authentication failed for user "spark_etl"', "28P01", "invalid_password"],
    [
      "Connection to 127.0.0.1:1 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.",
      "08001",
      "sqlclient_unable_to_establish_sqlconnection"
    ]
  ])("%s", (text, sqlState, condition) => {
    expect(DatabaseState.find([text])).toMatchObject({ sqlState, condition })
  })

  it("finds the server's line inside a batch insert's wrapper, without pgjdbc's hint", () => {
    const text =
      'Job aborted due to stage failure: Task 0 in stage 1.0 failed 1 times, most recent failure: Lost task 0.0 (TID 2): java.sql.BatchUpdateException: Batch entry 0 INSERT INTO probe_w ("id","name") VALUES ((\'1\'::int4),(\'x\')) was aborted: ERROR: duplicate key value violates unique constraint "probe_w_pkey"\n  Detail: Key (id)=(1) already exists.  Call getNextException to see other errors in the batch.\n\tat org.postgresql.jdbc.BatchResultHandler.handleError(BatchResultHandler.java:167)'
    expect(DatabaseState.find([text])).toEqual({
      sqlState: "23505",
      condition: "unique_violation",
      line: 'ERROR: duplicate key value violates unique constraint "probe_w_pkey"'
    })
  })

  it("says nothing for a message it does not know (another language, another database)", () => {
    expect(
      DatabaseState.find(["FEHLER: Relation »x« existiert nicht", "ORA-00942: table or view does not exist"])
    ).toBeUndefined()
    expect(DatabaseState.find(["ERROR: something new"])).toBeUndefined()
  })
})
