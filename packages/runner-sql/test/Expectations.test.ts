import { describe, expect, it } from "vitest"
import * as Expectations from "../src/Expectations.js"

describe("Expectations helpers", () => {
  it("renders rows as compact JSON with bigints as integers", () => {
    expect(
      Expectations.renderRow({
        id: 9007199254740993n,
        neg: -2n,
        name: 'a "b"',
        tags: new Map([["k", 1]]),
        raw: new Uint8Array(3),
        none: null
      })
    ).toBe('{"id":9007199254740993,"neg":-2,"name":"a \\"b\\"","tags":{"k":1},"raw":"<3 bytes>","none":null}')
  })

  it("quotes names for SQL text, doubling backticks", () => {
    expect(Expectations.quote("order id")).toBe("`order id`")
    expect(Expectations.quote("a`b")).toBe("`a``b`")
  })
})
