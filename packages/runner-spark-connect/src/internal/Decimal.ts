/** The exact decimal text of an unscaled integer and a scale (`1234n`, 2 → `"12.34"`). */
export const decimalText = (unscaled: bigint | number, scale: number): string => {
  if (scale <= 0) return (BigInt(unscaled) * 10n ** BigInt(-scale)).toString()
  const negative = unscaled < 0
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0")
  return `${negative ? "-" : ""}${digits.slice(0, -scale)}.${digits.slice(-scale)}`
}
