// The uniform grid of cells that scenario D's views are made of (the same rule as ticksync's
// sim.Grid): a world of `world` × `world` units cut into square cells of `cell` units; a
// player sees the cells that overlap the square of side `view` centred on its entity.
// Used by the server (interest management) and by the load client (checking what it holds).

// An inclusive rectangle of cells: columns c0..c1, rows r0..r1.
export interface Rect {
  c0: number;
  c1: number;
  r0: number;
  r1: number;
}

export class Grid {
  readonly cols: number;
  readonly rows: number;

  constructor(
    readonly world: number,
    readonly cell: number,
  ) {
    if (!(cell > 0 && world > 0)) throw new Error(`grid: world ${world} and cell ${cell} must be > 0`);
    this.cols = Math.ceil(world / cell);
    this.rows = this.cols;
  }

  get cells(): number {
    return this.cols * this.rows;
  }

  // Column (or row) of a coordinate, clamped into the grid.
  axis(v: number): number {
    const c = Math.floor(v / this.cell);
    return c < 0 ? 0 : c >= this.cols ? this.cols - 1 : c;
  }

  cellAt(x: number, y: number): number {
    return this.axis(y) * this.cols + this.axis(x);
  }

  // The cells overlapping the square [x − half, x + half] × [y − half, y + half], into r.
  square(x: number, y: number, half: number, r: Rect): Rect {
    r.c0 = this.axis(x - half);
    r.c1 = this.axis(x + half);
    r.r0 = this.axis(y - half);
    r.r1 = this.axis(y + half);
    return r;
  }

  has(r: Rect, cell: number): boolean {
    const row = Math.floor(cell / this.cols);
    const col = cell - row * this.cols;
    return col >= r.c0 && col <= r.c1 && row >= r.r0 && row <= r.r1;
  }
}

export function sameRect(a: Rect, b: Rect): boolean {
  return a.c0 === b.c0 && a.c1 === b.c1 && a.r0 === b.r0 && a.r1 === b.r1;
}

export function emptyRect(): Rect {
  return { c0: 0, c1: -1, r0: 0, r1: -1 };
}
