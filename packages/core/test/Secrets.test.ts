// Secret parameters: Redacted in memory, `***` wherever a run shows parameters, never taken from
// a command line, and scrubbed by value from texts that quote them back.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Batch from "../src/Batch.js"
import * as Event from "../src/Event.js"
import * as Run from "../src/Run.js"
import * as Failure from "../src/Failure.js"
import * as Parameter from "../src/Parameter.js"
import { layer } from "./support.js"

const token = "sk-live-0a1b'2c\"3d"

const batchText = `batch: secrets
parameters:
  api_token: { type: string, env: ETL_API_TOKEN }
  region: { type: string, env: ETL_REGION }
  public_key: { type: string, env: ETL_PUBLIC_KEY, secret: false }
  pin: { type: int, env: ETL_PIN, secret: true }
rules:
  - id: a
    kind: scripted
`

const load = (params: Record<string, string>, env: Record<string, string>) =>
  Batch.parse(batchText, "/tmp/secrets.yaml", { params, env }).pipe(Effect.provide(layer()))

describe("secret parameters", () => {
  it.effect("are Redacted, shown as ***, and revealed only on purpose", () =>
    Effect.gen(function* () {
      const batch = yield* load(
        {},
        { ETL_API_TOKEN: token, ETL_REGION: "eu", ETL_PUBLIC_KEY: "pk", ETL_PIN: "1234" }
      )
      expect(Parameter.toText(batch.parameters)).toEqual({
        api_token: "***",
        region: "eu",
        public_key: "pk",
        pin: "***"
      })
      const apiToken = batch.parameters["api_token"]!
      expect(Redacted.isRedacted(apiToken.value)).toBe(true)
      expect(String(apiToken.value)).not.toContain(token)
      expect(JSON.stringify(batch.parameters)).not.toContain("sk-live")
      expect(Parameter.reveal(apiToken)).toBe(token)
      expect(Parameter.reveal(batch.parameters["pin"]!)).toBe(1234)
    })
  )

  it.effect("are refused on the command line, and when declared without env", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(load({ api_token: token }, { ETL_PIN: "1" }))
      expect(Exit.isFailure(exit)).toBe(true)
      const text = JSON.stringify(exit)
      expect(text).toContain("is secret: give it through $ETL_API_TOKEN")
      expect(text).not.toContain("sk-live")
      const noEnv = yield* Effect.exit(
        Batch.parse(
          "batch: b\nparameters:\n  p: { type: string, secret: true, default: x }\nrules:\n  - id: a\n    kind: scripted\n",
          "/tmp/b.yaml"
        ).pipe(Effect.provide(layer()))
      )
      expect(JSON.stringify(noEnv)).toContain('secret parameter \\"p\\" needs \\"env\\"')
    })
  )

  it.effect("do not echo an ill-typed value", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(load({}, { ETL_API_TOKEN: "t", ETL_PIN: "12ab-secret" }))
      const text = JSON.stringify(exit)
      expect(text).toContain('expected an integer, got \\"***\\"')
      expect(text).not.toContain("12ab-secret")
    })
  )

  it.effect("are scrubbed from failures that quote them back, in their quoted forms too", () =>
    Effect.gen(function* () {
      const batch = yield* load(
        {},
        { ETL_API_TOKEN: token, ETL_PIN: "1", ETL_REGION: "eu", ETL_PUBLIC_KEY: "pk" }
      )
      const scrub = Parameter.scrubber(batch.parameters)
      const sqlQuoted = token.replaceAll("'", "''")
      const jsonQuoted = JSON.stringify(token).slice(1, -1)
      const failure = new Failure.DataError({
        code: "CAST_INVALID_INPUT",
        message: `The value '${sqlQuoted}' of the type "STRING" cannot be cast to "INT"`,
        engineDetail: `{"value":"${jsonQuoted}"} and raw ${token}`,
        ruleId: "a"
      })
      const clean = Failure.mapText(failure, scrub)
      expect(clean._tag).toBe("DataError")
      expect(clean.code).toBe("CAST_INVALID_INPUT")
      expect(clean.message).toBe(`The value '***' of the type "STRING" cannot be cast to "INT"`)
      expect(clean.engineDetail).toBe('{"value":"***"} and raw ***')
      expect(JSON.stringify(Failure.toEventPayload(clean))).not.toContain("sk-live")
    })
  )

  it.effect("stay masked in the event of a run that refused them (the batch rejected before it loaded)", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-secrets-"))
      const file = path.join(dir, "batch.yaml")
      fs.writeFileSync(
        file,
        batchText.replace("  pin:", "  partner:  { type: string, env: ETL_PARTNER, secret: true }\n  pin:")
      )
      const sink = Event.memory()
      const outcome = yield* Run.run({
        batchFile: file,
        ledgerDir: path.join(dir, "ledger"),
        params: { api_token: token, partner: "acme-secret-id", region: "eu", other_password: "hunter2" },
        env: {}
      }).pipe(Effect.provide(Layer.merge(layer(), sink.layer)))
      expect(outcome.status).toBe("rejected")
      expect(sink.events).toHaveLength(1)
      expect(sink.events[0]?.parameters).toEqual({
        api_token: "***",
        partner: "***",
        region: "eu",
        other_password: "***"
      })
      expect(JSON.stringify(sink.events)).not.toMatch(/sk-live|acme-secret|hunter2/)
    })
  )
})
