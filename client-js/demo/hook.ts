// The page's test hook, window.__ticksync: what the page holds, as raw integers, so browser
// tests compare values with the server's instead of pixels.

import type { Client, ClientStats, Mirror } from "../src/index.js";
import { PlayerMeta } from "./gen/arena.js";
import type { Layout, LabelBox, View } from "./view.js";

/** EntityRow is one entity's int fields as on the wire (fixed-point integers), by name. */
export interface EntityRow {
  id: number;
  class: string;
  [field: string]: number | string;
}

/** TickRows is the players' rows the mirror held at one tick. */
export interface TickRows {
  tick: number;
  rows: EntityRow[];
}

/** Session is one welcome: the seat it gave and the tick of the first frame after it. */
export interface Session {
  playerId: number;
  resumed: boolean;
  /** firstTick is the tick of the first frame applied after this welcome (0: none yet). */
  firstTick: number;
}

/** Status is where the page is. */
export type Status = "picking" | "connecting" | "joined" | "reconnecting" | "closed";

/** TestHook is window.__ticksync. */
export interface TestHook {
  status: Status;
  room: string;
  /** tick is the tick the mirror holds. */
  tick: number;
  playerId: number;
  ownEntityId: number;
  /** resumed says the last welcome gave back the same seat. */
  resumed: boolean;
  welcomes: number;
  /** sessions lists every welcome, oldest first. */
  sessions: Session[];
  /** connectAttempts counts WebSocket handshakes started. */
  connectAttempts: number;
  /** message is the banner's text ("" when none is shown). */
  message: string;
  /** errors lists every message shown, oldest first. */
  errors: string[];
  entities(): EntityRow[];
  entity(id: number): EntityRow | undefined;
  /** history is the player-class rows of recent frames (the last 256 ticks), oldest first. */
  history(): TickRows[];
  /** predicted is the own entity's predicted row. */
  predicted(): EntityRow | undefined;
  stats(): ClientStats | null;
  /** labels is the last drawn frame's player labels and the canvas size, in canvas pixels. */
  labels(): { width: number; height: number; boxes: LabelBox[] };
  /**
   * world is the last drawn frame's world: its side in units (from the welcome's schema, which
   * a room's "world" config sets), where it is drawn (ox, oy, side: canvas pixels) and, in a
   * room with views, the part shown, the view and the minimap (view.ts, Layout).
   */
  world(): Layout | undefined;
}

declare global {
  interface Window {
    /** __ticksync is the demo page's test hook. */
    __ticksync: TestHook;
  }
}

const HISTORY = 256;

/** rowOf reads entity id's int fields from a mirror. */
export function rowOf(m: Mirror, id: number): EntityRow | undefined {
  const c = m.classOf(id);
  if (c === undefined) return undefined;
  const row: EntityRow = { id, class: c.name };
  for (const f of c.intFields) row[f.name] = m.raw(id, f.col);
  return row;
}

/** Hook keeps window.__ticksync up to date. */
export class Hook implements TestHook {
  status: Status = "picking";
  room = "";
  tick = 0;
  playerId = 0;
  ownEntityId = 0;
  resumed = false;
  welcomes = 0;
  sessions: Session[] = [];
  connectAttempts = 0;
  message = "";
  errors: string[] = [];
  client: Client | null = null;
  view: View | null = null;
  private readonly ring: TickRows[] = [];

  /** welcomed notes a welcome. */
  welcomed(playerId: number, resumed: boolean): void {
    this.playerId = playerId;
    this.resumed = resumed;
    this.welcomes++;
    this.sessions.push({ playerId, resumed, firstTick: 0 });
  }

  /** record keeps the player rows of the frame just applied. */
  record(): void {
    const c = this.client;
    const m = c?.mirror;
    if (c === null || m === null || m === undefined) return;
    this.tick = m.tick;
    const s = this.sessions[this.sessions.length - 1];
    if (s !== undefined && s.firstTick === 0) s.firstTick = m.tick;
    this.ownEntityId = c.ownEntityId;
    const rows: EntityRow[] = [];
    for (let id = 1; id < m.len; id++) {
      if (m.cls[id] === PlayerMeta.index) rows.push(rowOf(m, id) as EntityRow);
    }
    this.ring.push({ tick: m.tick, rows });
    if (this.ring.length > HISTORY) this.ring.shift();
  }

  entities(): EntityRow[] {
    const m = this.client?.mirror;
    if (m === null || m === undefined) return [];
    return m.ids().map((id) => rowOf(m, id) as EntityRow);
  }

  entity(id: number): EntityRow | undefined {
    const m = this.client?.mirror;
    return m === null || m === undefined ? undefined : rowOf(m, id);
  }

  history(): TickRows[] {
    return this.ring.slice();
  }

  predicted(): EntityRow | undefined {
    const c = this.client;
    const p = c?.predictor;
    const m = c?.mirror;
    if (p === null || p === undefined || m === null || m === undefined || p.entityId === 0) return undefined;
    const cls = m.classOf(p.entityId);
    if (cls === undefined) return undefined;
    const row: EntityRow = { id: p.entityId, class: cls.name };
    for (const f of cls.intFields) row[f.name] = p.row[f.col];
    return row;
  }

  stats(): ClientStats | null {
    return this.client?.stats() ?? null;
  }

  labels(): { width: number; height: number; boxes: LabelBox[] } {
    return this.view?.labels ?? { width: 0, height: 0, boxes: [] };
  }

  world(): Layout | undefined {
    return this.view?.world;
  }
}
