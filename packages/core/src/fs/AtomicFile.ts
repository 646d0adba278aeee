/** The public face of `internal/atomicFile.ts` (see there for how a write is made durable). */
export { append, remove, write } from "../internal/atomicFile.js"
