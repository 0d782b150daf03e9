// The arena game's rules the page needs (sim/arena/arena.go): the world's size, read from the
// welcome's schema (the x and y ranges, which a room's config sets), the input range, and the
// predict step that moves the own player exactly as the server does, bounces included.

import type { FieldInfo, PredictContext, Schema } from "../src/index.js";
import { InputCol, InputMeta, PlayerCol, PlayerMeta, schemaDifference } from "./gen/arena.js";

/** MAX_SPEED is the input clamp in units per second (±200). */
export const MAX_SPEED = InputMeta.vx.max / InputMeta.vx.scale;

/** DEFAULT_WORLD is the world's side in units in a room with the default config (drawn before a welcome). */
export const DEFAULT_WORLD = PlayerMeta.fields.x.max / PlayerMeta.fields.x.scale;

let worldCache: { schema: Schema; units: number } | null = null;

/**
 * worldOf returns the world's side in units from a compiled arena schema: the player's x
 * range (a room's "world" config sets it). Another game's schema (the replay viewer draws any
 * recording with this view), or none, gives the default.
 */
export function worldOf(s: Schema | null): number {
  if (s === null) return DEFAULT_WORLD;
  if (worldCache?.schema !== s) {
    const x = schemaDifference(s) === undefined ? s.classes[PlayerMeta.index].fields[PlayerMeta.fields.x.index] : undefined;
    worldCache = { schema: s, units: x !== undefined && x.hasRange && x.max > 0 ? x.max / x.scale : DEFAULT_WORLD };
  }
  return worldCache.units;
}

/**
 * viewOf returns the side in units of the square each player sees when the room has views
 * (grid: the welcome's, set only then; config: the room's, whose "view" arena reads), else 0.
 */
export function viewOf(grid: unknown, config: unknown): number {
  if (grid === undefined || grid === null || typeof config !== "object" || config === null) return 0;
  const v = (config as { view?: unknown }).view;
  return typeof v === "number" && v > 0 ? v : 0;
}

/** move advances one coordinate by trunc(v/hz) and mirrors it off the borders 0 and max (Go's move). */
export function move(p: number, v: number, hz: number, max: number): [number, number] {
  p = (p + Math.trunc(v / hz)) | 0;
  if (p < 0) return [-p | 0, -v | 0];
  if (p > max) return [(2 * max - p) | 0, -v | 0];
  return [p, v];
}

function clamp(v: number, f: FieldInfo): number {
  return f.hasRange ? Math.min(Math.max(v | 0, f.min), f.max) : v | 0;
}

/**
 * predictArena is the client's copy of one arena tick for the own player: the input sets the
 * velocity (clamped to the input's range), then x and y move, bouncing off the world's borders
 * (x's and y's ranges in ctx.cls). row holds the player class's int columns; input is (vx, vy).
 * A schema without those ranges or that input is not arena's: nothing is predicted.
 */
export function predictArena(row: Int32Array, input: Int32Array, ctx: PredictContext): void {
  const x = ctx.cls.intFields[PlayerCol.x];
  const y = ctx.cls.intFields[PlayerCol.y];
  const ivx = ctx.schema.input[InputCol.vx];
  const ivy = ctx.schema.input[InputCol.vy];
  if (x === undefined || y === undefined || !x.hasRange || !y.hasRange || ivx === undefined || ivy === undefined) return;
  row[PlayerCol.vx] = clamp(input[InputCol.vx], ivx);
  row[PlayerCol.vy] = clamp(input[InputCol.vy], ivy);
  [row[PlayerCol.x], row[PlayerCol.vx]] = move(row[PlayerCol.x], row[PlayerCol.vx], ctx.tickRate, x.max);
  [row[PlayerCol.y], row[PlayerCol.vy]] = move(row[PlayerCol.y], row[PlayerCol.vy], ctx.tickRate, y.max);
}
