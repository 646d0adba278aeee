import { project } from "../../vitest.shared.js"

// Kafka, and a broker that requires SASL_SSL with SCRAM-SHA-512 for the secured delivery tests.
export default project({ needs: ["kafka", "kafka-secure"] })
