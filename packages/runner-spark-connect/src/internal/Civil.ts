/**
 * Exact ISO 8601 text of Spark's dates, timestamps and times over their whole range, in the
 * proleptic Gregorian calendar Spark uses. JS Date cannot do it: it stops at ±275,760 years
 * (Spark's dates reach ±5.8 million) and has milliseconds only.
 *
 * Years 0000–9999 have four digits; other years a sign and at least six digits (ISO 8601's
 * expanded form, as `Date.prototype.toISOString` and Temporal write them): `+010000-01-01`,
 * `-000001-12-31` (year 0 is 1 BCE).
 */

const daysPer400Years = 146_097
// Days from 0000-03-01 (a cycle starts in March so leap days end it) to 1970-01-01.
const epochShift = 719_468
const microsPerDay = 86_400_000_000n

const pad = (n: number, width: number): string => String(n).padStart(width, "0")

/** An ISO 8601 year: four digits within 0000–9999, else signed and at least six. */
const yearText = (year: number): string =>
  year >= 0 && year <= 9999 ? pad(year, 4) : `${year < 0 ? "-" : "+"}${pad(Math.abs(year), 6)}`

/** `YYYY-MM-DD` of a day count since 1970-01-01 (any int32, exact). */
export const dateText = (days: number): string => {
  const shifted = days + epochShift
  const cycle = Math.floor(shifted / daysPer400Years)
  const dayOfCycle = shifted - cycle * daysPer400Years
  // Years of 365 days within the cycle, less the leap days before each (every 4th, not every
  // 100th, the 400th falls outside the cycle's last day).
  const yearOfCycle = Math.floor(
    (dayOfCycle -
      Math.floor(dayOfCycle / 1460) +
      Math.floor(dayOfCycle / 36_524) -
      Math.floor(dayOfCycle / (daysPer400Years - 1))) /
      365
  )
  const dayOfYear =
    dayOfCycle - (365 * yearOfCycle + Math.floor(yearOfCycle / 4) - Math.floor(yearOfCycle / 100))
  // Months from March: 31,30,31,30,31 repeats every 153 days.
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153)
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
  const year = cycle * 400 + yearOfCycle + (month <= 2 ? 1 : 0)
  return `${yearText(year)}-${pad(month, 2)}-${pad(day, 2)}`
}

/** `HH:MM:SS.ffffff` of microseconds since midnight. */
export const timeOfDayText = (micros: number): string => {
  const seconds = Math.floor(micros / 1_000_000)
  return `${pad(Math.floor(seconds / 3600), 2)}:${pad(Math.floor(seconds / 60) % 60, 2)}:${pad(seconds % 60, 2)}.${pad(micros % 1_000_000, 6)}`
}

/** `YYYY-MM-DDTHH:MM:SS.ffffff` of microseconds since the epoch (no zone; any int64, exact). */
export const timestampText = (micros: bigint): string => {
  let days = micros / microsPerDay
  let ofDay = micros % microsPerDay
  if (ofDay < 0n) {
    days -= 1n
    ofDay += microsPerDay
  }
  return `${dateText(Number(days))}T${timeOfDayText(Number(ofDay))}`
}
