// Interest management for scenario D with Colyseus' own StateView, written the way a Colyseus
// user would: a grid of cells, each holding the entities in it and the clients that see it.
// Every tick, after the simulation, `update()` moves the entities that crossed a cell border,
// moves each client's rectangle of visible cells with its player, and then, per client, calls
// `view.add(entity)` for what entered its view and `view.remove(entity)` for what left it.
//
// Only entities that may have changed side for a client are looked at ("touched"): one that
// crossed a border between cells, for the clients seeing either cell; every entity of a cell
// that entered or left a client's rectangle. A touched entity is settled against
// `view.has(entity)` once, at the end, so an entity that left and came back in the same tick
// costs nothing (Colyseus would otherwise send a DELETE and a full ADD).

import type { StateView } from "@colyseus/schema";
import { emptyRect, type Grid, type Rect, sameRect } from "./grid.ts";
import type { Entity } from "./world.ts";

// An entity on the grid.
export interface Mob {
  e: Entity;
  cell: number; // -1 once untracked
  i: number; // index in Interest.mobs
}

// A client: its StateView holds exactly the entities in the cells of `rect`.
export interface Watcher {
  view: StateView;
  own: Mob; // the player's entity: the view is centred on it (and always holds it)
  rect: Rect;
  touched: Mob[];
  i: number; // index in Interest.watchers
}

export class Interest {
  private members: Set<Mob>[] = [];
  private watching: Set<Watcher>[] = [];
  private mobs: Mob[] = [];
  private watchers: Watcher[] = [];
  private next: Rect = emptyRect();
  // view.add / view.remove calls since the last resetCounts().
  adds = 0;
  removes = 0;

  constructor(
    readonly grid: Grid,
    readonly half: number, // half the side of the square a player sees
  ) {
    for (let c = 0; c < grid.cells; c++) {
      this.members.push(new Set());
      this.watching.push(new Set());
    }
  }

  // Puts an entity (already in the state) on the grid.
  track(e: Entity): Mob {
    const m: Mob = { e, cell: this.grid.cellAt(e.x, e.y), i: this.mobs.length };
    this.mobs.push(m);
    this.members[m.cell].add(m);
    for (const w of this.watching[m.cell]) w.touched.push(m);
    return m;
  }

  // Takes an entity off the grid and out of every view that holds it (before it leaves the state).
  untrack(m: Mob) {
    if (m.cell < 0) return;
    this.members[m.cell].delete(m);
    for (const w of this.watching[m.cell]) {
      if (w.view.has(m.e)) {
        w.view.remove(m.e);
        this.removes++;
      }
    }
    m.cell = -1;
    swapRemove(this.mobs, m);
  }

  // Registers a client's view centred on `own` (tracked) and fills it right away, so the full
  // state the client gets on join already holds what it sees.
  watch(view: StateView, own: Mob): Watcher {
    const w: Watcher = { view, own, rect: emptyRect(), touched: [], i: this.watchers.length };
    this.watchers.push(w);
    this.moveRect(w, this.grid.square(own.e.x, own.e.y, this.half, this.next));
    this.settle(w);
    return w;
  }

  unwatch(w: Watcher) {
    this.forCells(w.rect, (c) => this.watching[c].delete(w));
    w.rect = emptyRect();
    w.touched.length = 0;
    swapRemove(this.watchers, w);
  }

  // After the simulation: entities to their new cells, views to their players, then add/remove.
  update() {
    const grid = this.grid;
    for (const m of this.mobs) {
      const c = grid.cellAt(m.e.x, m.e.y);
      if (c === m.cell) continue;
      this.members[m.cell].delete(m);
      this.members[c].add(m);
      for (const w of this.watching[m.cell]) w.touched.push(m);
      for (const w of this.watching[c]) w.touched.push(m);
      m.cell = c;
    }
    for (const w of this.watchers) {
      const r = grid.square(w.own.e.x, w.own.e.y, this.half, this.next);
      if (!sameRect(r, w.rect)) this.moveRect(w, r);
    }
    for (const w of this.watchers) this.settle(w);
  }

  resetCounts() {
    this.adds = 0;
    this.removes = 0;
  }

  // The cells that left the rectangle and those that entered it: their entities are touched.
  private moveRect(w: Watcher, next: Rect) {
    const old = w.rect;
    this.forCells(old, (c) => {
      if (this.grid.has(next, c)) return;
      this.watching[c].delete(w);
      for (const m of this.members[c]) w.touched.push(m);
    });
    this.forCells(next, (c) => {
      if (this.grid.has(old, c)) return;
      this.watching[c].add(w);
      for (const m of this.members[c]) w.touched.push(m);
    });
    w.rect = { c0: next.c0, c1: next.c1, r0: next.r0, r1: next.r1 };
  }

  // Each touched entity: in the view if and only if its cell is in the rectangle.
  private settle(w: Watcher) {
    const t = w.touched;
    for (let i = 0; i < t.length; i++) {
      const m = t[i];
      const want = m.cell >= 0 && this.grid.has(w.rect, m.cell);
      if (want === w.view.has(m.e)) continue;
      if (want) {
        w.view.add(m.e);
        this.adds++;
      } else {
        w.view.remove(m.e);
        this.removes++;
      }
    }
    t.length = 0;
  }

  private forCells(r: Rect, f: (cell: number) => void) {
    const cols = this.grid.cols;
    for (let row = r.r0; row <= r.r1; row++) {
      for (let col = r.c0; col <= r.c1; col++) f(row * cols + col);
    }
  }
}

function swapRemove<T extends { i: number }>(a: T[], x: T) {
  const last = a.pop()!;
  if (last !== x) {
    a[x.i] = last;
    last.i = x.i;
  }
}
