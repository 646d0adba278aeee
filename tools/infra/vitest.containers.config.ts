import { project } from "../../vitest.shared.js"

// The container path itself (a Docker engine required): `npm run test:containers`.
export default project({ include: ["test/containers/**/*.test.ts"], testTimeoutMs: 300_000 })
