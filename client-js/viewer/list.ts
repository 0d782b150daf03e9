// The recordings directory: GET /replays lists the server's recordings.

/** ReplayInfo is one entry of GET /replays. */
export interface ReplayInfo {
  name: string;
  game: string;
  ticks: number;
  tickRate: number;
  /** duration is game time in seconds. */
  duration: number;
  size: number;
  players: number;
  complete: boolean;
  /** problem says why an incomplete recording ends early ("" when complete). */
  problem: string;
  /** error says why it cannot be played ("" when it can). */
  error: string;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** listReplays fetches the recordings of the server at base. */
export async function listReplays(base: string, signal?: AbortSignal): Promise<ReplayInfo[]> {
  const res = await fetch(new URL("replays", base), { signal, cache: "no-store" });
  if (!res.ok) throw new Error(`GET /replays: ${res.status} ${(await res.text()).trim()}`);
  const body: unknown = await res.json();
  if (!Array.isArray(body)) throw new Error("GET /replays: not a list");
  const out: ReplayInfo[] = [];
  for (const v of body) {
    if (typeof v !== "object" || v === null) continue;
    const r = v as Record<string, unknown>;
    if (typeof r.name !== "string") continue;
    out.push({
      name: r.name,
      game: str(r.game),
      ticks: num(r.ticks),
      tickRate: num(r.tick_rate),
      duration: num(r.duration),
      size: num(r.size),
      players: num(r.players),
      complete: r.complete === true,
      problem: str(r.problem),
      error: str(r.error),
    });
  }
  return out;
}

/** formatTime shows seconds of game time as m:ss.cc. */
export function formatTime(seconds: number): string {
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  return `${m}:${rest.toFixed(2).padStart(5, "0")}`;
}

/** formatSize shows a byte count. */
export function formatSize(b: number): string {
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} MB`;
  if (b >= 1e3) return `${(b / 1e3).toFixed(1)} kB`;
  return `${b} B`;
}
