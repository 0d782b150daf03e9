// The canvas: the world square with a grid, NPCs, other players (interpolated) and the own
// player (predicted, smoothed between ticks), plus the virtual stick while it is held.

import type { Client } from "../src/index.js";
import { worldOf } from "./arena.js";
import { asPlayer, npcEntities, playerEntities } from "./gen/arena.js";
import type { Stick } from "./input.js";

const COLORS = {
  bg: "#0b0f14",
  world: "#0f1620",
  grid: "#18222e",
  border: "#2a3a4d",
  npc: ["#3b4d63", "#4f6a88", "#6a8cb0"], // by hp: low, mid, high
  own: "#ffcc4d",
  label: "#c9d4e0",
};

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
  /** world is the last frame's world: its side in units (the welcome's schema says it) and where it is drawn, in canvas pixels. */
  world = { units: worldOf(null), ox: 0, oy: 0, side: 0 };
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

  /** draw renders one frame; client may be null (an empty world while picking a room). */
  draw(client: Client | null, now: number, stick: Stick, stickRadius: number): void {
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
    this.world = { units, ox, oy, side };
    const k = side / units; // px per unit
    g.fillStyle = COLORS.world;
    g.fillRect(ox, oy, side, side);
    g.strokeStyle = COLORS.grid;
    g.lineWidth = 1;
    g.beginPath();
    for (let u = 100; u < units; u += 100) {
      g.moveTo(ox + u * k, oy);
      g.lineTo(ox + u * k, oy + side);
      g.moveTo(ox, oy + u * k);
      g.lineTo(ox + side, oy + u * k);
    }
    g.stroke();
    g.strokeStyle = COLORS.border;
    g.lineWidth = 2 * dpr;
    g.strokeRect(ox, oy, side, side);

    if (client !== null && client.interpolator !== null) {
      client.sample(now);
      const ownId = client.ownEntityId;
      const npcs = npcEntities(client.interpolator);
      // NPCs first, batched by colour, then players on top.
      const rn = Math.max(1.5 * dpr, 4 * k);
      for (let bucket = 0; bucket < 3; bucket++) {
        g.fillStyle = COLORS.npc[bucket];
        g.beginPath();
        for (const e of npcs) {
          const hp = e.hp;
          if ((hp > 66 ? 2 : hp > 33 ? 1 : 0) !== bucket) continue;
          const x = ox + e.x * k;
          const y = oy + e.y * k;
          g.moveTo(x + rn, y);
          g.arc(x, y, rn, 0, Math.PI * 2);
        }
        g.fill();
      }
      const rp = Math.max(4 * dpr, 9 * k);
      g.font = `${11 * dpr}px ui-sans-serif, system-ui, sans-serif`;
      g.textAlign = "center";
      g.textBaseline = "middle";
      for (const e of playerEntities(client.interpolator)) {
        if (e.id === ownId) continue;
        const x = ox + e.x * k;
        const y = oy + e.y * k;
        const p = e.player;
        g.fillStyle = playerColor(p);
        g.beginPath();
        g.arc(x, y, rp, 0, Math.PI * 2);
        g.fill();
        this.label(`P${p}`, x, y, rp, 4 * dpr, COLORS.label);
      }
      const me = asPlayer(client.predictedEntity());
      if (me !== undefined) {
        const stepMs = 1000 / (client.welcome?.tickRate || 20);
        const [ux, uy] = this.own.at(me.x, me.y, now, stepMs);
        const x = ox + ux * k;
        const y = oy + uy * k;
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
      } else this.own.reset();
    }

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
}
