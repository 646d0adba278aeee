export * as Event from "./Event.js"
export * from "./ExitCode.js"
