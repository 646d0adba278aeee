import { describe, expect, it } from "vitest"
import * as Fence from "../src/Fence.js"

describe("Fence.withSessionId", () => {
  it("pins the session of an sc:// remote, keeping its other parameters", () => {
    expect(Fence.withSessionId("sc://h:15002", "U")).toBe("sc://h:15002/;session_id=U")
    expect(Fence.withSessionId("sc://h:15002/", "U")).toBe("sc://h:15002/;session_id=U")
    expect(Fence.withSessionId("sc://h:15002/;token=t;use_ssl=true", "U")).toBe(
      "sc://h:15002/;token=t;use_ssl=true;session_id=U"
    )
    expect(Fence.withSessionId("sc://h:15002/;session_id=OLD;user_id=etl;", "U")).toBe(
      "sc://h:15002/;user_id=etl;session_id=U"
    )
  })

  it("leaves an embedded local remote alone: its server ends with the run", () => {
    expect(Fence.withSessionId("local[2]", "U")).toBe("local[2]")
    expect(Fence.isShared("local")).toBe(false)
    expect(Fence.isShared("sc://h:1")).toBe(true)
  })
})
