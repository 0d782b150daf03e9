// The canvas: the world square with a grid, NPCs, other players (interpolated) and the own
// player (predicted, smoothed between ticks), plus the virtual stick while it is held. In a
// room with views the camera follows the player (or the followed player) over twice its view,
// the view's square is outlined, and a minimap in the corner shows the whole world with what
// the client holds.

import type { Client } from "../src/index.js";
import { viewOf, worldOf } from "./arena.js";
import { asPlayer, npcEntities, playerEntities } from "./gen/arena.js";
import type { Npc, Player } from "./gen/arena.js";
import type { Stick } from "./input.js";

const COLORS = {
  bg: "#0b0f14",
  world: "#0f1620",
  grid: "#18222e",
  border: "#2a3a4d",
  npc: ["#3b4d63", "#4f6a88", "#6a8cb0"], // by hp: low, mid, high
  own: "#ffcc4d",
  label: "#c9d4e0",
  view: "rgba(255, 204, 77, 0.7)",
  unseen: "rgba(0, 0, 0, 0.35)",
  minimap: "rgba(11, 15, 20, 0.82)",
};

/**
 * Layout is where the last frame drew the world, for the test hook. The canvas square at
 * (ox, oy), side pixels wide, shows the world's part [x0, x0 + span] × [y0, y0 + span] in
 * units (the whole world, span = units, unless the room has views and there is a player to
 * follow). view is the side of a player's view in units (0: the room has no views); focus the
 * view's centre in units (null: no player shown); minimap the minimap's square in canvas pixels.
 */
export interface Layout {
  units: number;
  ox: number;
  oy: number;
  side: number;
  x0: number;
  y0: number;
  span: number;
  view: number;
  focus: { x: number; y: number } | null;
  minimap: { x: number; y: number; side: number } | null;
}

/** camera returns the start of the span-wide part of a units-wide axis centred on c, kept inside. */
export function camera(c: number, span: number, units: number): number {
  return Math.min(Math.max(c - span / 2, 0), units - span);
}

/** playerColor picks a stable hue for a player id. */
export function playerColor(id: number): string {
  const hue = (Math.imul(id, 2654435761) >>> 0) % 360;
  return `hsl(${hue} 70% 60%)`;
}

/** LabelBox is where a player's name label is drawn, in canvas pixels (x, y: top left). */
export interface LabelBox {
  text: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * labelBox places a w×h label for a circle of radius r at (cx, cy) on a width×height canvas:
 * centred gap above the circle, or gap below it when the canvas has no room above, and moved
 * sideways as far as needed to stay inside the canvas.
 */
export function labelBox(text: string, cx: number, cy: number, r: number, gap: number, w: number, h: number, width: number, height: number): LabelBox {
  const above = cy - r - gap - h;
  const y = above >= 0 ? above : Math.min(cy + r + gap, height - h);
  const x = Math.max(0, Math.min(cx - w / 2, width - w));
  return { text, x, y: Math.max(0, y), w, h };
}

/** OwnSmoother draws the predicted own position moving evenly between predicted steps. */
class OwnSmoother {
  private fromX = 0;
  private fromY = 0;
  private toX = NaN;
  private toY = NaN;
  private start = 0;

  at(x: number, y: number, now: number, stepMs: number): [number, number] {
    if (x !== this.toX || y !== this.toY) {
      const [cx, cy] = Number.isNaN(this.toX) ? [x, y] : this.pos(now, stepMs);
      // A long jump (a correction after a resync, a respawn) snaps rather than slides.
      const far = Math.hypot(x - cx, y - cy) > 60;
      this.fromX = far ? x : cx;
      this.fromY = far ? y : cy;
      this.toX = x;
      this.toY = y;
      this.start = now;
    }
    return this.pos(now, stepMs);
  }

  private pos(now: number, stepMs: number): [number, number] {
    const a = Math.min(1, Math.max(0, (now - this.start) / stepMs));
    return [this.fromX + (this.toX - this.fromX) * a, this.fromY + (this.toY - this.fromY) * a];
  }

  reset(): void {
    this.toX = this.toY = NaN;
  }
}

/** View draws a client's room on a canvas. */
export class View {
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly own = new OwnSmoother();
  private w = 0;
  private h = 0;
  private dpr = 1;
  /** world is the last frame's layout: the world's side in units (the welcome's schema says it), the part shown and where. */
  world: Layout = { units: worldOf(null), ox: 0, oy: 0, side: 0, x0: 0, y0: 0, span: worldOf(null), view: 0, focus: null, minimap: null };
  /** labels are the last frame's player labels (canvas pixels; the canvas is width × height). */
  labels: { width: number; height: number; boxes: LabelBox[] } = { width: 0, height: 0, boxes: [] };

  constructor(canvas: HTMLCanvasElement) {
    this.canvas = canvas;
    const ctx = canvas.getContext("2d", { alpha: false });
    if (ctx === null) throw new Error("no 2D canvas");
    this.ctx = ctx;
  }

  private fit(): void {
    const r = this.canvas.getBoundingClientRect();
    const dpr = Math.min(devicePixelRatio || 1, 2);
    const w = Math.max(1, Math.round(r.width * dpr));
    const h = Math.max(1, Math.round(r.height * dpr));
    if (w !== this.canvas.width || h !== this.canvas.height) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.w = w;
    this.h = h;
    this.dpr = dpr;
  }

  /** label draws a player's label beside its circle (labelBox) and keeps its box. */
  private label(text: string, cx: number, cy: number, r: number, gap: number, color: string): void {
    const g = this.ctx;
    const box = labelBox(text, cx, cy, r, gap, Math.ceil(g.measureText(text).width), Math.ceil(13 * this.dpr), this.w, this.h);
    g.fillStyle = color;
    g.fillText(text, box.x + box.w / 2, box.y + box.h / 2);
    this.labels.boxes.push(box);
  }

  /**
   * draw renders one frame; client may be null (an empty world while picking a room). follow
   * is the player whose view a spectator is shown (the replay viewer's "Follow player"; 0:
   * none): with views the camera follows its entity as it follows the own one.
   */
  draw(client: Client | null, now: number, stick: Stick, stickRadius: number, follow = 0): void {
    this.fit();
    const g = this.ctx;
    const { w, h, dpr } = this;
    this.labels = { width: w, height: h, boxes: [] };
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.fillStyle = COLORS.bg;
    g.fillRect(0, 0, w, h);
    const pad = 12 * dpr;
    const side = Math.min(w, h) - 2 * pad;
    const ox = (w - side) / 2;
    const oy = (h - side) / 2;
    const units = worldOf(client?.schema ?? null); // the world's side in units
    const view = client === null ? 0 : viewOf(client.grid, client.roomConfig);

    let npcs: Npc[] = [];
    let players: Player[] = [];
    let ownId = 0;
    let focus: { x: number; y: number } | null = null; // in units
    let me: Player | undefined;
    if (client !== null && client.interpolator !== null) {
      client.sample(now);
      ownId = client.ownEntityId;
      npcs = npcEntities(client.interpolator);
      players = playerEntities(client.interpolator);
      me = asPlayer(client.predictedEntity());
      if (me !== undefined) {
        const [ux, uy] = this.own.at(me.x, me.y, now, 1000 / (client.welcome?.tickRate || 20));
        focus = { x: ux, y: uy };
      } else {
        this.own.reset();
        const f = follow > 0 ? players.find((p) => p.player === follow) : undefined;
        if (f !== undefined) focus = { x: f.x, y: f.y };
      }
    } else this.own.reset();

    // With views the canvas shows twice the view around the focus; otherwise the whole world.
    const span = view > 0 && focus !== null ? Math.min(units, 2 * view) : units;
    const x0 = focus === null ? 0 : camera(focus.x, span, units);
    const y0 = focus === null ? 0 : camera(focus.y, span, units);
    const k = side / span; // px per unit
    const px = (u: number) => ox + (u - x0) * k;
    const py = (u: number) => oy + (u - y0) * k;
    this.world = { units, ox, oy, side, x0, y0, span, view, focus, minimap: null };

    g.save();
    if (span < units) {
      g.beginPath();
      g.rect(ox, oy, side, side);
      g.clip();
    }
    g.fillStyle = COLORS.world;
    g.fillRect(px(0), py(0), units * k, units * k);
    g.strokeStyle = COLORS.grid;
    g.lineWidth = 1;
    g.beginPath();
    for (let u = 100; u < units; u += 100) {
      g.moveTo(px(u), py(0));
      g.lineTo(px(u), py(units));
      g.moveTo(px(0), py(u));
      g.lineTo(px(units), py(u));
    }
    g.stroke();
    g.strokeStyle = COLORS.border;
    g.lineWidth = 2 * dpr;
    g.strokeRect(px(0), py(0), units * k, units * k);

    // NPCs first, batched by colour, then players on top.
    const rn = Math.max(1.5 * dpr, 4 * k);
    for (let bucket = 0; bucket < 3; bucket++) {
      g.fillStyle = COLORS.npc[bucket];
      g.beginPath();
      for (const e of npcs) {
        const hp = e.hp;
        if ((hp > 66 ? 2 : hp > 33 ? 1 : 0) !== bucket) continue;
        const x = px(e.x);
        const y = py(e.y);
        g.moveTo(x + rn, y);
        g.arc(x, y, rn, 0, Math.PI * 2);
      }
      g.fill();
    }
    const rp = Math.max(4 * dpr, 9 * k);
    g.font = `${11 * dpr}px ui-sans-serif, system-ui, sans-serif`;
    g.textAlign = "center";
    g.textBaseline = "middle";
    for (const e of players) {
      if (e.id === ownId) continue;
      const x = px(e.x);
      const y = py(e.y);
      const p = e.player;
      g.fillStyle = playerColor(p);
      g.beginPath();
      g.arc(x, y, rp, 0, Math.PI * 2);
      g.fill();
      this.label(`P${p}`, x, y, rp, 4 * dpr, COLORS.label);
    }
    if (me !== undefined && focus !== null) {
      const x = px(focus.x);
      const y = py(focus.y);
      g.fillStyle = "rgba(255, 204, 77, 0.18)";
      g.beginPath();
      g.arc(x, y, rp * 2.2, 0, Math.PI * 2);
      g.fill();
      g.fillStyle = COLORS.own;
      g.beginPath();
      g.arc(x, y, rp * 1.2, 0, Math.PI * 2);
      g.fill();
      g.strokeStyle = "#fff";
      g.lineWidth = 2 * dpr;
      g.stroke();
      this.label("you", x, y, rp * 1.2, 5 * dpr, "#fff");
    }
    if (view > 0 && focus !== null) {
      // Outside the view's square the client holds nothing: dim it, outline the square.
      const vx = px(focus.x - view / 2);
      const vy = py(focus.y - view / 2);
      g.fillStyle = COLORS.unseen;
      g.beginPath();
      g.rect(ox, oy, side, side);
      g.rect(vx, vy, view * k, view * k);
      g.fill("evenodd");
      g.strokeStyle = COLORS.view;
      g.lineWidth = 1.5 * dpr;
      g.setLineDash([6 * dpr, 4 * dpr]);
      g.strokeRect(vx, vy, view * k, view * k);
      g.setLineDash([]);
    }
    g.restore();

    if (view > 0) this.minimap(units, view, focus, npcs, players, ownId, span);

    if (stick.active) {
      const sx = stick.ox * dpr;
      const sy = stick.oy * dpr;
      g.strokeStyle = "rgba(255,255,255,0.35)";
      g.lineWidth = 2 * dpr;
      g.beginPath();
      g.arc(sx, sy, stickRadius * dpr, 0, Math.PI * 2);
      g.stroke();
      g.fillStyle = "rgba(255,255,255,0.5)";
      g.beginPath();
      g.arc(sx + stick.dx * dpr, sy + stick.dy * dpr, 18 * dpr, 0, Math.PI * 2);
      g.fill();
    }
  }

  /**
   * minimap draws the whole world small in the canvas square's top right corner: the entities
   * the client holds as dots (it knows no others), the part the canvas shows, the view's
   * square and the focus.
   */
  private minimap(units: number, view: number, focus: { x: number; y: number } | null, npcs: Npc[], players: Player[], ownId: number, span: number): void {
    const g = this.ctx;
    const { dpr } = this;
    const { ox, oy, side, x0, y0 } = this.world;
    const m = Math.round(Math.min(160 * dpr, side * 0.3));
    const mx = ox + side - m - 8 * dpr;
    const my = oy + 8 * dpr;
    this.world.minimap = { x: mx, y: my, side: m };
    const k = m / units;
    g.fillStyle = COLORS.minimap;
    g.fillRect(mx, my, m, m);
    g.fillStyle = COLORS.npc[1];
    const d = Math.max(1, dpr);
    for (const e of npcs) g.fillRect(mx + e.x * k - d / 2, my + e.y * k - d / 2, d, d);
    for (const e of players) {
      if (e.id === ownId) continue;
      g.fillStyle = playerColor(e.player);
      g.fillRect(mx + e.x * k - d, my + e.y * k - d, 2 * d, 2 * d);
    }
    if (focus !== null) {
      if (span < units) {
        g.strokeStyle = COLORS.border;
        g.lineWidth = 1;
        g.strokeRect(mx + x0 * k, my + y0 * k, span * k, span * k);
      }
      g.strokeStyle = COLORS.view;
      g.lineWidth = 1;
      g.strokeRect(mx + (focus.x - view / 2) * k, my + (focus.y - view / 2) * k, view * k, view * k);
      g.fillStyle = COLORS.own;
      g.beginPath();
      g.arc(mx + focus.x * k, my + focus.y * k, 2.5 * d, 0, Math.PI * 2);
      g.fill();
    }
    g.strokeStyle = COLORS.label;
    g.lineWidth = 1;
    g.strokeRect(mx + 0.5, my + 0.5, m - 1, m - 1);
  }
}
