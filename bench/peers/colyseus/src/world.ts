// The arena world of docs/benchmark.md as @colyseus/schema state: the Entity schema, the two
// room states (every entity to every client, or per-client views), and the NPC rules.
// Shared by the server and the views test.

import { schema, t, type SchemaType } from "@colyseus/schema";

const TWO_PI = 2 * Math.PI;
const P_TURN = 0.02;
const P_HP = 0.01;

export const Entity = schema(
  {
    x: t.float64(),
    y: t.float64(),
    vx: t.float64(),
    vy: t.float64(),
    hp: t.uint8(),
    seq: t.uint32(), // players only: the last applied input seq (left undefined on NPCs)
  },
  "Entity",
);
export type Entity = SchemaType<typeof Entity>;

// Every client receives every entity (scenarios A–C).
export const ArenaState = schema(
  {
    entities: t.map(Entity),
  },
  "ArenaState",
);

// Interest management (scenario D): the map is tagged with the default @view() tag, so each
// entity (and every field of it) reaches only the clients whose StateView holds it
// (`client.view.add(entity)`); nothing of the map is shared.
export const ViewArenaState = schema(
  {
    entities: t.map(Entity).view(),
  },
  "ViewArenaState",
);
export type ArenaState = SchemaType<typeof ArenaState> | SchemaType<typeof ViewArenaState>;

// A new NPC, drawn in index order: position, heading and speed (hp 100).
export function newNpc(r: () => number, world: number): Entity {
  const e = new Entity();
  e.x = r() * world;
  e.y = r() * world;
  const a = r() * TWO_PI;
  const s = 20 + r() * 80;
  e.vx = Math.cos(a) * s;
  e.vy = Math.sin(a) * s;
  e.hp = 100;
  return e;
}

// One NPC's tick: 2% new heading and speed, move and reflect, 1% hp − 1 (1 → 100).
export function stepNpc(e: Entity, r: () => number, dt: number, world: number) {
  if (r() < P_TURN) {
    const a = r() * TWO_PI;
    const s = 20 + r() * 80;
    e.vx = Math.cos(a) * s;
    e.vy = Math.sin(a) * s;
  }
  move(e, dt, world);
  if (r() < P_HP) e.hp = e.hp === 1 ? 100 : e.hp - 1;
}

// Move by v*dt, reflecting off [0, world]: mirror the position, flip the velocity's sign.
// Assignments only when the value changes, so the schema change tracker sees real changes only.
export function move(e: Entity, dt: number, world: number) {
  let x = e.x + e.vx * dt;
  let y = e.y + e.vy * dt;
  if (x < 0) {
    x = -x;
    e.vx = -e.vx;
  } else if (x > world) {
    x = 2 * world - x;
    e.vx = -e.vx;
  }
  if (y < 0) {
    y = -y;
    e.vy = -e.vy;
  } else if (y > world) {
    y = 2 * world - y;
    e.vy = -e.vy;
  }
  if (x !== e.x) e.x = x;
  if (y !== e.y) e.y = y;
}
