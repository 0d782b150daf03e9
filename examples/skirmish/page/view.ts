// The canvas: the field (red side left, blue side right), tracers, players as team-coloured
// circles with their names and hp, the own player ringed, its aim line, and the mouse cursor.

import { BLUE, RADIUS, RED } from "./game.js";
import type { PlayerView, Rules, Scene } from "./game.js";

const COLORS = {
  bg: "#0b0f14",
  field: "#101822",
  grid: "#172230",
  border: "#2a3a4d",
  team: ["#9aa7b5", "#f05d5e", "#4f9dff"], // none, red, blue
  teamSide: ["transparent", "rgba(240, 93, 94, 0.06)", "rgba(79, 157, 255, 0.06)"],
  label: "#dbe4ee",
  hpBack: "#2a3441",
  hp: "#4ade80",
  hpLow: "#fbbf24",
  own: "#ffffff",
};

/** Layout maps world units to canvas pixels. */
export interface Layout {
  ox: number;
  oy: number;
  /** k is pixels per unit. */
  k: number;
  dpr: number;
}

/** View draws a Scene on a canvas. */
export class View {
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  layout: Layout = { ox: 0, oy: 0, k: 1, dpr: 1 };

  constructor(canvas: HTMLCanvasElement) {
    this.canvas = canvas;
    const ctx = canvas.getContext("2d", { alpha: false });
    if (ctx === null) throw new Error("no 2D canvas");
    this.ctx = ctx;
  }

  /** toWorld turns a point in CSS pixels (relative to the canvas) into world units. */
  toWorld(px: number, py: number): [number, number] {
    const { ox, oy, k, dpr } = this.layout;
    return [(px * dpr - ox) / k, (py * dpr - oy) / k];
  }

  private fit(r: Rules): void {
    const box = this.canvas.getBoundingClientRect();
    const dpr = Math.min(devicePixelRatio || 1, 2);
    const w = Math.max(1, Math.round(box.width * dpr));
    const h = Math.max(1, Math.round(box.height * dpr));
    if (w !== this.canvas.width || h !== this.canvas.height) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    const pad = 12 * dpr;
    const k = Math.max(0.01, Math.min((w - 2 * pad) / r.width, (h - 2 * pad) / r.height));
    this.layout = { ox: (w - r.width * k) / 2, oy: (h - r.height * k) / 2, k, dpr };
  }

  /** draw renders one frame; aim is the mouse in world units (null: not over the field). */
  draw(scene: Scene, r: Rules, aim: [number, number] | null): void {
    this.fit(r);
    const g = this.ctx;
    const { ox, oy, k, dpr } = this.layout;
    const W = r.width * k;
    const H = r.height * k;
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.fillStyle = COLORS.bg;
    g.fillRect(0, 0, this.canvas.width, this.canvas.height);
    g.fillStyle = COLORS.field;
    g.fillRect(ox, oy, W, H);
    g.fillStyle = COLORS.teamSide[RED];
    g.fillRect(ox, oy, W / 4, H);
    g.fillStyle = COLORS.teamSide[BLUE];
    g.fillRect(ox + (W * 3) / 4, oy, W / 4, H);
    g.strokeStyle = COLORS.grid;
    g.lineWidth = 1;
    g.beginPath();
    for (let u = 5; u < r.width; u += 5) {
      g.moveTo(ox + u * k, oy);
      g.lineTo(ox + u * k, oy + H);
    }
    for (let u = 5; u < r.height; u += 5) {
      g.moveTo(ox, oy + u * k);
      g.lineTo(ox + W, oy + u * k);
    }
    g.stroke();
    g.strokeStyle = COLORS.border;
    g.lineWidth = 2 * dpr;
    g.strokeRect(ox, oy, W, H);

    // Tracers: a short streak behind the head, in the shooter's team colour.
    g.lineCap = "round";
    g.lineWidth = 2.5 * dpr;
    for (const s of scene.shots) {
      const v = Math.hypot(s.vx, s.vy);
      if (v === 0) continue;
      const tail = 2.5 / v;
      g.strokeStyle = COLORS.team[s.team] ?? COLORS.team[0];
      g.beginPath();
      g.moveTo(ox + (s.x - s.vx * tail) * k, oy + (s.y - s.vy * tail) * k);
      g.lineTo(ox + s.x * k, oy + s.y * k);
      g.stroke();
    }

    const rp = Math.max(4 * dpr, RADIUS * k);
    g.font = `${11 * dpr}px ui-sans-serif, system-ui, sans-serif`;
    g.textAlign = "center";
    const me = scene.players.find((p) => p.own);
    for (const p of scene.players) if (!p.own) this.player(p, rp, r.fullHP);
    if (me !== undefined) {
      if (me.alive && aim !== null) {
        g.strokeStyle = "rgba(255, 255, 255, 0.18)";
        g.lineWidth = 1 * dpr;
        g.setLineDash([4 * dpr, 6 * dpr]);
        g.beginPath();
        g.moveTo(ox + me.x * k, oy + me.y * k);
        g.lineTo(ox + aim[0] * k, oy + aim[1] * k);
        g.stroke();
        g.setLineDash([]);
      }
      this.player(me, rp, r.fullHP);
    }
  }

  private player(p: PlayerView, rp: number, fullHP: number): void {
    const g = this.ctx;
    const { ox, oy, k, dpr } = this.layout;
    const x = ox + p.x * k;
    const y = oy + p.y * k;
    const color = COLORS.team[p.team] ?? COLORS.team[0];
    g.globalAlpha = p.alive ? 1 : 0.25;
    if (p.own) {
      g.fillStyle = "rgba(255, 255, 255, 0.12)";
      g.beginPath();
      g.arc(x, y, rp * 2, 0, Math.PI * 2);
      g.fill();
    }
    g.fillStyle = color;
    g.beginPath();
    g.arc(x, y, rp, 0, Math.PI * 2);
    g.fill();
    if (p.own) {
      g.strokeStyle = COLORS.own;
      g.lineWidth = 2 * dpr;
      g.stroke();
    }
    // The barrel: where the player aims.
    const al = Math.hypot(p.aimX, p.aimY);
    if (p.alive && al > 0) {
      g.strokeStyle = color;
      g.lineWidth = 3 * dpr;
      g.beginPath();
      g.moveTo(x, y);
      g.lineTo(x + (p.aimX / al) * rp * 1.8, y + (p.aimY / al) * rp * 1.8);
      g.stroke();
    }
    g.fillStyle = COLORS.label;
    g.fillText(p.own ? `${p.name} (you)` : p.name, x, y - rp - 9 * dpr);
    if (p.alive) {
      const bw = rp * 2.4;
      const bh = 3 * dpr;
      const bx = x - bw / 2;
      const by = y - rp - 6 * dpr;
      g.fillStyle = COLORS.hpBack;
      g.fillRect(bx, by, bw, bh);
      g.fillStyle = p.hp > fullHP * 0.4 ? COLORS.hp : COLORS.hpLow;
      g.fillRect(bx, by, (bw * Math.max(0, p.hp)) / fullHP, bh);
    }
    g.globalAlpha = 1;
  }
}
