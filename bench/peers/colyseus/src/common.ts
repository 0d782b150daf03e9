// Helpers shared by the server and the load client.

// --name value / --name=value on the command line, else the env var, else the default.
export function flagStr(name: string, env: string, def: string): string {
  const argv = process.argv;
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === `--${name}` && i + 1 < argv.length) return argv[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  const v = process.env[env];
  return v !== undefined && v !== "" ? v : def;
}

export function flag(name: string, env: string, def: number): number {
  const s = flagStr(name, env, String(def));
  const n = Number(s);
  if (!Number.isFinite(n)) throw new Error(`--${name}: not a number: ${s}`);
  return n;
}

// mulberry32 exactly as in docs/benchmark.md: floats in [0, 1).
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Summary {
  n: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

// Nearest-rank percentiles.
export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  if (n === 0) return { n: 0, mean: null, p50: null, p90: null, p99: null, max: null };
  const a = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[i];
  const q = (p: number) => a[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))];
  return { n, mean: sum / n, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: a[n - 1] };
}

export function round(v: number | null | undefined, digits = 3): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
