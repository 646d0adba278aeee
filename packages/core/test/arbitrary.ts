/** Generators shared by the property tests. */
import * as fc from "fast-check"

/**
 * A random DAG of `n` rules, as dependency lists by index: rule i depends on at most `maxDeps`
 * rules before it, so it is acyclic.
 */
export const arbitraryDeps = (n: number, maxDeps: number) =>
  fc.tuple(
    ...Array.from({ length: n }, (_, i) =>
      i === 0
        ? fc.constant<Array<number>>([])
        : fc.uniqueArray(fc.integer({ min: 0, max: i - 1 }), { maxLength: maxDeps })
    )
  )

/** The indexes 0 … n-1 in a random order (the order rules are listed in). */
export const arbitraryOrder = (n: number) =>
  fc.shuffledSubarray(
    Array.from({ length: n }, (_, i) => i),
    { minLength: n, maxLength: n }
  )
