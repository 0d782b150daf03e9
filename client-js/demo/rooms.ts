// The room directory: GET /rooms lists rooms, POST /rooms creates one (an admin call: loopback
// only in anonymous mode, an admin token otherwise).

/** RoomInfo is one entry of GET /rooms. */
export interface RoomInfo {
  id: string;
  game: string;
  players: number;
  max: number;
  tick: number;
}

function isRoom(v: unknown): v is RoomInfo {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.id === "string" && typeof r.game === "string" && typeof r.players === "number" && typeof r.max === "number";
}

/** listRooms fetches the room list from the server at base. */
export async function listRooms(base: string, signal?: AbortSignal): Promise<RoomInfo[]> {
  const res = await fetch(new URL("rooms", base), { signal, cache: "no-store" });
  if (!res.ok) throw new Error(`GET /rooms: ${res.status} ${(await res.text()).trim()}`);
  const body: unknown = await res.json();
  if (!Array.isArray(body)) throw new Error("GET /rooms: not a list");
  return body.filter(isRoom).map((r) => ({ id: r.id, game: r.game, players: r.players, max: r.max, tick: Number(r.tick) || 0 }));
}

/** CreateRefused says POST /rooms is not allowed here: join with create_if_missing instead. */
export class CreateRefused extends Error {
  override name = "CreateRefused";
}

/** createRoom creates an arena room (id may be empty: the server picks one) and returns its id. */
export async function createRoom(base: string, id: string, npcs: number): Promise<string> {
  const res = await fetch(new URL("rooms", base), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ game: "arena", id: id || undefined, config: { npcs } }),
  });
  const text = (await res.text()).trim();
  if (res.status === 401 || res.status === 403) throw new CreateRefused(text);
  if (!res.ok) throw new Error(`could not create the room: ${text || res.status}`);
  const body: unknown = JSON.parse(text);
  if (typeof body === "object" && body !== null && typeof (body as { id?: unknown }).id === "string") return (body as { id: string }).id;
  throw new Error("POST /rooms: no id in the answer");
}
