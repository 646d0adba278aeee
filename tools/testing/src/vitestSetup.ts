/** Runs in every test worker. */
import { quietKafkajsTimerWarning } from "./Warnings.js"

quietKafkajsTimerWarning()
