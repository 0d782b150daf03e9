// The viewer's test hook, window.__ticksyncReplay: what the page holds, as raw integers, so
// browser tests compare values with an independent client instead of pixels.

import type { Client } from "../src/index.js";
import { rowOf } from "../demo/hook.js";
import type { EntityRow } from "../demo/hook.js";

/** StatusView is the last ReplayStatus as plain values (marks from the first one). */
export interface StatusView {
  name: string;
  tick: number;
  firstTick: number;
  lastTick: number;
  playing: boolean;
  speedPct: number;
  marks: { tick: number; kind: "join" | "leave" | "reconnect"; player: number }[];
  /** events are the recording's game events (from the first status), with their recipients. */
  events: { tick: number; kind: number; values: number[]; to: number[] }[];
  /** result is how the game ended the match (null: it did not). */
  result: { tick: number; winners: number[]; summary: string } | null;
  /** eventsSeen counts game events the frames delivered while watching. */
  eventsSeen: number;
}

/** Phase is where the page is. */
export type Phase = "picking" | "connecting" | "joined" | "closed";

/** ReplayHook is window.__ticksyncReplay. */
export interface ReplayHook {
  phase: Phase;
  /** name is the recording being watched ("" while picking). */
  name: string;
  /** tick is the tick the mirror holds (0: none). */
  tick: number;
  /** status is the last replay status (null before the first). */
  status: StatusView | null;
  /** frames counts frames applied since the page joined. */
  frames: number;
  /** follow is the player whose view is shown ("Follow player"; 0: everyone). */
  follow: number;
  /** errors lists every error shown, oldest first. */
  errors: string[];
  /** entities returns every entity's int fields as on the wire, ascending id. */
  entities(): EntityRow[];
}

declare global {
  interface Window {
    /** __ticksyncReplay is the replay viewer's test hook. */
    __ticksyncReplay: ReplayHook;
  }
}

/** Hook keeps window.__ticksyncReplay up to date. */
export class Hook implements ReplayHook {
  phase: Phase = "picking";
  name = "";
  tick = 0;
  status: StatusView | null = null;
  frames = 0;
  follow = 0;
  errors: string[] = [];
  client: Client | null = null;

  entities(): EntityRow[] {
    const m = this.client?.mirror;
    if (m === null || m === undefined) return [];
    return m.ids().map((id) => rowOf(m, id) as EntityRow);
  }
}
