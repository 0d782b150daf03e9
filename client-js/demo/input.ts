// Steering: WASD / arrow keys, and a virtual stick for touch (or a mouse drag) on the canvas.
// The result is a velocity in units per second, at most MAX_SPEED on each axis.

import { MAX_SPEED } from "./arena.js";

const KEYS: Record<string, [number, number]> = {
  KeyW: [0, -1],
  ArrowUp: [0, -1],
  KeyS: [0, 1],
  ArrowDown: [0, 1],
  KeyA: [-1, 0],
  ArrowLeft: [-1, 0],
  KeyD: [1, 0],
  ArrowRight: [1, 0],
};

/** STICK_RADIUS is how far (CSS px) the stick goes for full speed. */
const STICK_RADIUS = 56;

/** Stick is the virtual stick's state, for drawing. */
export interface Stick {
  active: boolean;
  ox: number;
  oy: number;
  dx: number;
  dy: number;
}

/** Steering turns keys and the stick into a velocity. */
export class Steering {
  readonly stick: Stick = { active: false, ox: 0, oy: 0, dx: 0, dy: 0 };
  private readonly held = new Set<string>();
  private pointer = -1;
  /** onChange is called when the wanted velocity changes. */
  onChange: (() => void) | null = null;

  constructor(target: HTMLElement) {
    addEventListener("keydown", (e) => {
      if (!(e.code in KEYS) || isTyping(e.target)) return;
      e.preventDefault();
      if (!this.held.has(e.code)) {
        this.held.add(e.code);
        this.onChange?.();
      }
    });
    addEventListener("keyup", (e) => {
      if (this.held.delete(e.code)) this.onChange?.();
    });
    addEventListener("blur", () => {
      this.held.clear();
      this.onChange?.();
    });
    target.addEventListener("pointerdown", (e) => {
      if (this.pointer !== -1) return;
      this.pointer = e.pointerId;
      target.setPointerCapture(e.pointerId);
      const r = target.getBoundingClientRect();
      Object.assign(this.stick, { active: true, ox: e.clientX - r.left, oy: e.clientY - r.top, dx: 0, dy: 0 });
      this.onChange?.();
    });
    target.addEventListener("pointermove", (e) => {
      if (e.pointerId !== this.pointer) return;
      const r = target.getBoundingClientRect();
      let dx = e.clientX - r.left - this.stick.ox;
      let dy = e.clientY - r.top - this.stick.oy;
      const len = Math.hypot(dx, dy);
      if (len > STICK_RADIUS) {
        dx *= STICK_RADIUS / len;
        dy *= STICK_RADIUS / len;
      }
      this.stick.dx = dx;
      this.stick.dy = dy;
      this.onChange?.();
    });
    const end = (e: PointerEvent) => {
      if (e.pointerId !== this.pointer) return;
      this.pointer = -1;
      Object.assign(this.stick, { active: false, dx: 0, dy: 0 });
      this.onChange?.();
    };
    target.addEventListener("pointerup", end);
    target.addEventListener("pointercancel", end);
  }

  /** velocity returns the wanted velocity in units per second (screen y grows downwards, as world y). */
  velocity(): { vx: number; vy: number } {
    if (this.stick.active) {
      return { vx: Math.round((this.stick.dx / STICK_RADIUS) * MAX_SPEED), vy: Math.round((this.stick.dy / STICK_RADIUS) * MAX_SPEED) };
    }
    let x = 0;
    let y = 0;
    for (const k of this.held) {
      const d = KEYS[k];
      if (d !== undefined) {
        x += d[0];
        y += d[1];
      }
    }
    return { vx: Math.sign(x) * MAX_SPEED, vy: Math.sign(y) * MAX_SPEED };
  }

  /** stickRadius is the stick's reach in CSS pixels (for drawing). */
  get stickRadius(): number {
    return STICK_RADIUS;
  }
}

function isTyping(t: EventTarget | null): boolean {
  return t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
}
