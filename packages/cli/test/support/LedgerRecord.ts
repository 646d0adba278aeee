import type { Ledger } from "@spark-etl/core"

/** A run left `running` (as a crashed one is), with the engine session it used, if any. */
export const runningRecord = (runId: string, engineSessionId?: string): Ledger.Record => ({
  version: 1,
  runId,
  batch: "b",
  batchFile: "b.yaml",
  parameters: {},
  pid: 1,
  host: "h",
  status: "running",
  startedAt: "2026-01-01T00:00:00.000Z",
  heartbeatAt: "2026-01-01T00:00:00.000Z",
  rules: {},
  ...(engineSessionId !== undefined ? { engineSessionId } : {})
})
