// The committed schema/<type>.json files are exactly what core's Schema generates (rendered
// the way the workspace's Prettier formats JSON, so `prettier --check` and this test agree).
// Regenerate with `npm run schema -w @spark-etl/kafka-reporter` after a payload change.
import * as fs from "node:fs"
import * as path from "node:path"
import * as prettier from "prettier"
import { describe, expect, it } from "vitest"
import * as CloudEvent from "../src/CloudEvent.js"
import { schemaDir } from "./support/schemaDir.js"

const render = async (type: CloudEvent.EventTypeName): Promise<string> => {
  const file = path.join(schemaDir, `${type}.json`)
  const options = (await prettier.resolveConfig(file)) ?? {}
  return prettier.format(JSON.stringify(CloudEvent.jsonSchema(type), null, 2), { ...options, parser: "json" })
}

describe("schema/*.json", () => {
  for (const type of CloudEvent.eventTypes) {
    it(`${type}.json equals the schema generated from core's Event`, async () => {
      await expect(await render(type)).toMatchFileSnapshot(path.join(schemaDir, `${type}.json`))
    })
  }

  // Last, so that `npm run schema` has (re)written every file before the listing is checked.
  it("holds one file per event type and nothing else", () => {
    expect(fs.readdirSync(schemaDir).sort()).toEqual(CloudEvent.eventTypes.map((t) => `${t}.json`).sort())
  })
})
