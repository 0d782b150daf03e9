// The arena game's rules the page needs (sim/arena/arena.go): world size, input range, and the
// predict step that moves the own player exactly as the server does, bounces included.

import type { PredictContext } from "../src/index.js";

/** SCALE is arena's fixed-point scale: positions in 1/100 unit, velocities in 1/100 unit/s. */
export const SCALE = 100;
/** WORLD is the world's side in wire units: positions are in [0, WORLD]. */
export const WORLD = 1000 * SCALE;
/** MAX_SPEED is the input clamp in units per second (±200). */
export const MAX_SPEED = 200;
const MAX_INPUT = MAX_SPEED * SCALE;

/** move advances one coordinate by trunc(v/hz) and mirrors it off the borders (Go's move). */
export function move(p: number, v: number, hz: number): [number, number] {
  p = (p + Math.trunc(v / hz)) | 0;
  if (p < 0) return [-p | 0, -v | 0];
  if (p > WORLD) return [(2 * WORLD - p) | 0, -v | 0];
  return [p, v];
}

function clamp(v: number): number {
  return Math.min(Math.max(v | 0, -MAX_INPUT), MAX_INPUT);
}

/**
 * predictArena is the client's copy of one arena tick for the own player: the input sets the
 * velocity (clamped), then x and y move. row holds the class's int columns; input is (vx, vy).
 */
export function predictArena(row: Int32Array, input: Int32Array, ctx: PredictContext): void {
  const f = ctx.cls.byName;
  const x = f.get("x")?.col;
  const y = f.get("y")?.col;
  const vx = f.get("vx")?.col;
  const vy = f.get("vy")?.col;
  if (x === undefined || y === undefined || vx === undefined || vy === undefined) return;
  const inp = ctx.schema.input;
  row[vx] = clamp(input[inp.find((i) => i.name === "vx")?.col ?? 0]);
  row[vy] = clamp(input[inp.find((i) => i.name === "vy")?.col ?? 1]);
  [row[x], row[vx]] = move(row[x], row[vx], ctx.tickRate);
  [row[y], row[vy]] = move(row[y], row[vy], ctx.tickRate);
}
