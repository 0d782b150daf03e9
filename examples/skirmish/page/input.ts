// The human's controls: WASD or the arrow keys move, the mouse aims, the left button (held)
// fires. Keys typed into the lobby form are left alone.

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

/** Controls tracks the keys held and the mouse over the canvas. */
export class Controls {
  private readonly held = new Set<string>();
  /** mouse is the pointer in CSS pixels relative to the canvas (null: not over it). */
  mouse: [number, number] | null = null;
  firing = false;

  constructor(canvas: HTMLCanvasElement) {
    addEventListener("keydown", (e) => {
      if (!(e.code in KEYS) || isTyping(e.target)) return;
      e.preventDefault();
      this.held.add(e.code);
    });
    addEventListener("keyup", (e) => this.held.delete(e.code));
    addEventListener("blur", () => {
      this.held.clear();
      this.firing = false;
    });
    const at = (e: PointerEvent) => {
      const r = canvas.getBoundingClientRect();
      this.mouse = [e.clientX - r.left, e.clientY - r.top];
    };
    canvas.addEventListener("pointermove", at);
    canvas.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      at(e);
      canvas.setPointerCapture(e.pointerId);
      this.firing = true;
    });
    const up = (e: PointerEvent) => {
      if (e.button === 0 || e.type === "pointercancel") this.firing = false;
    };
    canvas.addEventListener("pointerup", up);
    canvas.addEventListener("pointercancel", up);
    canvas.addEventListener("pointerleave", () => {
      if (!this.firing) this.mouse = null;
    });
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  /** move returns the held keys' direction, each axis in {-1, 0, 1}. */
  move(): [number, number] {
    let x = 0;
    let y = 0;
    for (const k of this.held) {
      const d = KEYS[k];
      if (d !== undefined) {
        x += d[0];
        y += d[1];
      }
    }
    return [Math.sign(x), Math.sign(y)];
  }
}

function isTyping(t: EventTarget | null): boolean {
  return t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
}
