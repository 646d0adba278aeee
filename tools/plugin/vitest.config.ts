import { project } from "../../vitest.shared.js"

// The workspace test generates a package into a copy of the workspace, installs, builds and tests it
// and runs a batch with it: minutes on a loaded machine, and one Spark server shared by the files.
export default project({ needs: ["spark"], testTimeoutMs: 600_000, fileParallelism: false })
