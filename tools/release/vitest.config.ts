import { project } from "../../vitest.shared.js"

// Each test builds or installs a whole release: minutes, not seconds, on a loaded 2-core machine.
export default project({ needs: ["spark", "kafka"], testTimeoutMs: 300_000, fileParallelism: false })
