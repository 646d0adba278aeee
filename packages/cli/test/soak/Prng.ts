/**
 * A tiny seeded PRNG (mulberry32): the soak's fault sequence and timings come from one seed, so
 * a failing soak can be replayed with SOAK_SEED.
 */
export interface Prng {
  /** Uniform in [0, 1). */
  readonly next: () => number
  /** Uniform integer in [min, max]. */
  readonly int: (min: number, max: number) => number
  /** One element of a non-empty list. */
  readonly pick: <A>(items: ReadonlyArray<A>) => A
}

export const mulberry32 = (seed: number): Prng => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  const pick = <A>(items: ReadonlyArray<A>): A => {
    const item = items[int(0, items.length - 1)]
    if (item === undefined) throw new Error("pick from an empty list")
    return item
  }
  return { next, int, pick }
}
