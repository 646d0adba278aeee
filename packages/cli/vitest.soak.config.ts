import { project } from "../../vitest.shared.js"

// The soak (test/soak), beside the other tests of the package (`npm test` starts both): it runs
// a Spark and a Kafka of its own, kills and freezes them, and touches nothing the others use,
// so it needs none of the shared servers. Alone it takes about ten minutes; beside the
// end-to-end tests, which wait on deadlines much of the time, it adds little to their time.
export default project({ include: ["test/soak/**/*.test.ts"] })
