// The page's test hook, window.__skirmish: what the page shows, as plain values, so a browser
// test waits on conditions instead of reading pixels.

/** SkirmishHook is window.__skirmish. */
export interface SkirmishHook {
  /** status is where the page is: "lobby", "connecting", "joined", "reconnecting", "closed". */
  status: string;
  room: string;
  playerId: number;
  team: string;
  /** phase is the match's phase as shown ("" before the first frame). */
  phase: string;
  /** tick is the tick the mirror holds. */
  tick: number;
  /** events counts the game events received; hits, kills and hurts count those kinds. */
  events: number;
  hits: number;
  kills: number;
  hurts: number;
  /** feed is the event feed's lines, oldest first. */
  feed: string[];
  /** fired counts this player's tracers seen (its shots); landed its hits among the hit events. */
  fired: number;
  landed: number;
  /** result is the result banner's text ("" until the match ends); summary the game's own. */
  result: string;
  summary: string;
  winners: number[];
  /** closeCode and closeReason are the final close (0, "" while open); message what the page said. */
  closeCode: number;
  closeReason: string;
  message: string;
}

declare global {
  interface Window {
    /** __skirmish is the skirmish page's test hook. */
    __skirmish: SkirmishHook;
  }
}

/** newHook returns a fresh hook. */
export function newHook(): SkirmishHook {
  return {
    status: "lobby",
    room: "",
    playerId: 0,
    team: "",
    phase: "",
    tick: 0,
    events: 0,
    hits: 0,
    kills: 0,
    hurts: 0,
    feed: [],
    fired: 0,
    landed: 0,
    result: "",
    summary: "",
    winners: [],
    closeCode: 0,
    closeReason: "",
    message: "",
  };
}
