// The skirmish rules the page needs (examples/skirmish): what the schema does not say (the hit
// radius, the shot range), how the own player moves (the predict step, the server's steer and
// move for one tick) and reading the match and player entities.

import type { Client, FieldInfo, PredictContext, Schema } from "@ticksync/client";
import { InputMeta, PlayerMeta, asPlayer, checkSchema, matchEntities, playerEntities, shotEntities } from "./gen/skirmish.js";
import type { Input, Player } from "./gen/skirmish.js";

/** RADIUS is a player's hit circle in units (skirmish.Radius, 60/100). */
export const RADIUS = 0.6;
/** SHOT_RANGE is the hitscan reach in units, to the edge of a target's circle (skirmish.ShotRange). */
export const SHOT_RANGE = 40;

/** Phase is the match entity's phase field. */
export const Phase = { lobby: 0, countdown: 1, playing: 2, over: 3 } as const;
export const PHASE_NAMES = ["lobby", "countdown", "playing", "over"] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

/** Team numbers (the player's team field, the match's winner field). */
export const RED = 1;
export const BLUE = 2;
export const TEAM_NAMES = ["", "red", "blue"] as const;

/** Event kinds (skirmish.EventCountdown…EventHurt). */
export const EventKind = { countdown: 1, hit: 2, kill: 3, hurt: 4 } as const;

/** Rules are the numbers the page reads from the welcome's schema (ranges of fields and inputs). */
export interface Rules {
  /** width and height are the field's size in units (the player x and y ranges). */
  width: number;
  height: number;
  /** stickMax is the move_x/move_y input range (±), aimMax the aim_x/aim_y one. */
  stickMax: number;
  aimMax: number;
  /** reloadTicks is the reload field's top (ticks between shots); fullHP the hp field's. */
  reloadTicks: number;
  fullHP: number;
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`skirmish schema: ${what} missing`);
  return v;
}

function input(s: Schema, name: string): FieldInfo {
  return need(
    s.input.find((f) => f.name === name),
    `input ${name}`,
  );
}

/**
 * rulesOf checks a compiled schema against the page's (gen/skirmish.ts: a SchemaMismatch naming
 * the first difference when the server runs another game, or another version of skirmish) and
 * reads the Rules from its ranges.
 */
export function rulesOf(s: Schema): Rules {
  checkSchema(s);
  const p = s.classes[PlayerMeta.index].fields;
  const f = PlayerMeta.fields;
  return {
    width: p[f.x.index].max / p[f.x.index].scale,
    height: p[f.y.index].max / p[f.y.index].scale,
    stickMax: s.input[InputMeta.move_x.index].max,
    aimMax: s.input[InputMeta.aim_x.index].max,
    reloadTicks: p[f.reload.index].max,
    fullHP: p[f.hp.index].max,
  };
}

/** Stick is one input as the page means it: a move direction, an aim direction, the trigger. */
export interface Stick {
  /** mx, my: the move direction, each in [-1, 1] (the game caps the length at 1). */
  mx: number;
  my: number;
  /** ax, ay: the aim direction, any length (0, 0: keep the last aim). */
  ax: number;
  ay: number;
  fire: boolean;
}

/** inputOf turns a Stick into sendInput's fields, scaled to the schema's input ranges. */
export function inputOf(s: Stick, r: Rules): Input {
  const l = Math.max(Math.abs(s.ax), Math.abs(s.ay));
  const k = l > 0 ? r.aimMax / l : 0;
  return {
    move_x: Math.round(s.mx * r.stickMax),
    move_y: Math.round(s.my * r.stickMax),
    aim_x: Math.round(s.ax * k),
    aim_y: Math.round(s.ay * k),
    fire: s.fire,
  };
}

/** isqrt is floor(sqrt(n)) for integers n ≥ 0, as skirmish's isqrt. */
function isqrt(n: number): number {
  let r = Math.floor(Math.sqrt(n));
  while (r * r > n) r--;
  while ((r + 1) * (r + 1) <= n) r++;
  return r;
}

/** Cols are the player, input and match columns the predict step uses. */
interface Cols {
  x: FieldInfo;
  y: FieldInfo;
  vx: FieldInfo;
  vy: FieldInfo;
  aimX: number;
  aimY: number;
  alive: number;
  respawn: number;
  reload: FieldInfo;
  mx: FieldInfo;
  my: FieldInfo;
  ax: FieldInfo;
  ay: FieldInfo;
  fire: number;
  /** match is the match class's number, phase its phase column. */
  match: number;
  phase: number;
}

const colsCache = new WeakMap<object, Cols>();

function colsOf(ctx: PredictContext): Cols {
  let c = colsCache.get(ctx.cls);
  if (c === undefined) {
    const f = (n: string) => need(ctx.cls.byName.get(n), `player.${n}`);
    const match = need(ctx.schema.classByName.get("match"), "class match");
    c = {
      x: f("x"),
      y: f("y"),
      vx: f("vx"),
      vy: f("vy"),
      aimX: f("aim_x").col,
      aimY: f("aim_y").col,
      alive: f("alive").col,
      respawn: f("respawn").col,
      reload: f("reload"),
      mx: input(ctx.schema, "move_x"),
      my: input(ctx.schema, "move_y"),
      ax: input(ctx.schema, "aim_x"),
      ay: input(ctx.schema, "aim_y"),
      fire: input(ctx.schema, "fire").col,
      match: match.index,
      phase: need(match.byName.get("phase"), "match.phase").col,
    };
    colsCache.set(ctx.cls, c);
  }
  return c;
}

/** phaseOf reads the match phase from ctx.mirror, the authoritative state (lobby without one). */
function phaseOf(ctx: PredictContext, c: Cols): number {
  const m = ctx.mirror;
  if (m === undefined) return Phase.lobby;
  for (let id = 1; id < m.len; id++) if (m.cls[id] === c.match) return m.raw(id, c.phase);
  return Phase.lobby;
}

const clamp = (v: number, limit: number) => Math.min(Math.max(v, -limit), limit);

/**
 * predictSkirmish is skirmish's tick for the own player (Step's steer and fire's reload, then
 * move), in the same integer arithmetic: the stick sets the velocity (a diagonal is no faster)
 * and a non-zero aim the aim, a shot with an aim while reloaded and playing (the match phase
 * read from ctx.mirror) starts the reload, reload counts down, a live player moves by
 * trunc(v/hz) and stays on the field, a dead one counts down to its respawn (where it
 * respawns is the server's draw).
 */
export function predictSkirmish(row: Int32Array, inp: Int32Array, ctx: PredictContext): void {
  const c = colsOf(ctx);
  const alive = row[c.alive] !== 0;
  if (alive) {
    const stick = c.mx.max;
    let mx = clamp(inp[c.mx.col], stick);
    let my = clamp(inp[c.my.col], stick);
    const l2 = mx * mx + my * my;
    if (l2 > stick * stick) {
      const l = isqrt(l2);
      mx = Math.trunc((mx * stick) / l);
      my = Math.trunc((my * stick) / l);
    }
    const speed = c.vx.max;
    row[c.vx.col] = Math.trunc((mx * speed) / stick);
    row[c.vy.col] = Math.trunc((my * speed) / stick);
    const ax = clamp(inp[c.ax.col], c.ax.max);
    const ay = clamp(inp[c.ay.col], c.ay.max);
    const aimed = ax !== 0 || ay !== 0;
    if (aimed) {
      row[c.aimX] = ax;
      row[c.aimY] = ay;
    }
    if (inp[c.fire] !== 0 && aimed && row[c.reload.col] === 0 && phaseOf(ctx, c) === Phase.playing) {
      row[c.reload.col] = c.reload.max;
    }
  }
  if (row[c.reload.col] > 0) row[c.reload.col]--;
  if (alive) {
    row[c.x.col] = Math.min(Math.max(row[c.x.col] + Math.trunc(row[c.vx.col] / ctx.tickRate), c.x.min), c.x.max);
    row[c.y.col] = Math.min(Math.max(row[c.y.col] + Math.trunc(row[c.vy.col] / ctx.tickRate), c.y.min), c.y.max);
  } else row[c.respawn]--;
}

/** MatchView is the match entity's fields. */
export interface MatchView {
  phase: number;
  countdown: number;
  red: number;
  blue: number;
  goal: number;
  winner: number;
}

/** matchOf reads the match entity from the client's mirror (the authoritative present). */
export function matchOf(c: Client): MatchView | undefined {
  const e = c.mirror === null ? undefined : matchEntities(c.mirror)[0];
  if (e === undefined) return undefined;
  return { phase: e.phase, countdown: e.countdown, red: e.red_score, blue: e.blue_score, goal: e.score_to_win, winner: e.winner };
}

const utf8 = new TextDecoder();

/** nameOf decodes a bytes field holding a name ("" when empty). */
export function nameOf(v: Uint8Array | null): string {
  return v === null ? "" : utf8.decode(v);
}

/** PlayerView is a player as drawn (interpolated, or predicted for the own one). */
export interface PlayerView {
  id: number;
  player: number;
  team: number;
  name: string;
  x: number;
  y: number;
  hp: number;
  alive: boolean;
  aimX: number;
  aimY: number;
  reload: number;
  kills: number;
  deaths: number;
  own: boolean;
}

/** ShotView is a tracer as drawn. */
export interface ShotView {
  id: number;
  team: number;
  x: number;
  y: number;
  vx: number;
  vy: number;
}

/** Scene is what the page draws at one moment. */
export interface Scene {
  players: PlayerView[];
  shots: ShotView[];
}

function playerView(e: Player, own: boolean): PlayerView {
  return {
    id: e.id,
    player: e.player,
    team: e.team,
    name: nameOf(e.name),
    x: e.x,
    y: e.y,
    hp: e.hp,
    alive: e.alive,
    aimX: e.aim_x,
    aimY: e.aim_y,
    reload: e.reload,
    kills: e.kills,
    deaths: e.deaths,
    own,
  };
}

/**
 * sceneOf samples the client at nowMs (the render tick inputs are stamped with) and returns the
 * players and tracers as drawn: others interpolated, the own player predicted.
 */
export function sceneOf(c: Client, nowMs: number): Scene {
  const scene: Scene = { players: [], shots: [] };
  const ip = c.interpolator;
  if (ip === null) return scene;
  c.sample(nowMs);
  const own = c.ownEntityId;
  for (const e of playerEntities(ip)) if (e.id !== own) scene.players.push(playerView(e, false));
  for (const s of shotEntities(ip)) scene.shots.push({ id: s.id, team: s.team, x: s.x, y: s.y, vx: s.vx, vy: s.vy });
  const me = asPlayer(c.predictedEntity());
  if (me !== undefined) scene.players.push(playerView(me, true));
  return scene;
}
