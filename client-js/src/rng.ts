// mulberry32: the PRNG of the simulation (docs/benchmark.md; DESIGN.md, "Determinism"). A game's
// predict step may use it to draw exactly what the server draws.

/** Mulberry32 is the mulberry32 generator; its whole state is one uint32. */
export class Mulberry32 {
  private a: number;

  constructor(seed: number) {
    this.a = seed >>> 0;
  }

  /** next returns the next draw as a uint32 (0 .. 2^32-1). */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** float returns the next draw as a number in [0, 1): u32 / 2^32. */
  float(): number {
    return this.next() / 4294967296;
  }

  /** state returns the generator's state, for saving and restoring. */
  get state(): number {
    return this.a;
  }

  set state(s: number) {
    this.a = s >>> 0;
  }
}
