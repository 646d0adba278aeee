/** Checks of a rule's write options against its target, shared by `run` and preflight. */
import { Failure } from "@spark-etl/core"
import type { TargetStore } from "@spark-etl/core"
import * as SparkTableStore from "../SparkTableStore.js"
import type * as SqlOptions from "../SqlOptions.js"
import * as Script from "./script.js"

/** Whether a target is a table (the table store gives names, the filesystem store paths). */
export const isTable = (target: TargetStore.Target): boolean => !Script.isPathLike(target.location)

/** Why a rule's write options do not fit its target, if they do not. */
export const optionsProblem = (
  ruleId: string,
  target: TargetStore.Target | undefined,
  options: SqlOptions.SqlOptions
): Failure.TargetError | undefined => {
  if (target === undefined) {
    const writeOption = (["format", "mode", "partition_by", "write_options", "table"] as const).find(
      (k) => options[k] !== undefined
    )
    return writeOption === undefined
      ? undefined
      : new Failure.TargetError({
          code: "TARGET_NOT_DECLARED",
          message: `rule "${ruleId}" sets "${writeOption}" but declares no target`,
          ruleId
        })
  }
  if (options.table !== undefined && !isTable(target)) {
    return new Failure.TargetError({
      code: "TARGET_NOT_A_TABLE",
      message: `rule "${ruleId}" writes a table ("table: ${options.table}") but its target ${target.location} is a path; use targets.store: ${SparkTableStore.name}`,
      ruleId
    })
  }
  return undefined
}
