import { project } from "../../vitest.shared.js"

// test/containers/ needs a Docker engine: it runs in `npm run test:containers`
// (vitest.containers.config.ts), not here.
export default project({ needs: ["postgres", "spark"], include: ["test/*.test.ts"] })
