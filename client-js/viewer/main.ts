// The replay viewer: pick a recording (GET /replays), watch it through the live protocol and
// client as a spectator of room "replay:<name>", with play, pause, speed, a seek bar and marks
// for joins, leaves and reconnects, and in a room with views a "Follow player" choice (that
// player's view instead of the whole world). Query parameters: name (watch at once), server (another
// server's base URL), token (token auth mode).

import { connect } from "../src/index.js";
import type { Client, Clock, CloseInfo, WebSocketCtor } from "../src/index.js";
import { ReplayMarkKind } from "../src/gen/ticksync/v1/messages_pb.js";
import type { ReplayStatus } from "../src/gen/ticksync/v1/messages_pb.js";
import { Banner, byId } from "../demo/page.js";
import type { BannerAction } from "../demo/page.js";
import { View } from "../demo/view.js";
import { Hook } from "./hook.js";
import type { Phase, StatusView } from "./hook.js";
import { formatSize, formatTime, listReplays } from "./list.js";
import type { ReplayInfo } from "./list.js";
import { groupMarks } from "./markbar.js";
import type { MarkGroup } from "./markbar.js";

const params = new URLSearchParams(location.search);
const serverBase = new URL(params.get("server") ?? "/", location.href).toString();
const token = params.get("token") ?? undefined;

/** SEEK_EVERY_MS throttles seeks while the bar is dragged (each costs the server a re-simulation). */
const SEEK_EVERY_MS = 100;


const ui = {
  canvas: byId<HTMLCanvasElement>("view"),
  status: byId("status"),
  picker: byId("picker"),
  list: byId<HTMLUListElement>("replay-list"),
  pickerMsg: byId("picker-msg"),
  player: byId("player"),
  recName: byId("rec-name"),
  seek: byId<HTMLInputElement>("seek"),
  markbar: byId("markbar"),
  markmenu: byId<HTMLUListElement>("markmenu"),
  time: byId("time"),
  play: byId<HTMLButtonElement>("play"),
  speed: byId<HTMLSelectElement>("speed"),
  followRow: byId("follow-row"),
  follow: byId<HTMLSelectElement>("follow"),
  marks: byId<HTMLUListElement>("marks"),
  events: byId<HTMLUListElement>("events"),
  result: byId("result"),
  back: byId<HTMLButtonElement>("back"),
  stat: { tick: byId("s-tick"), time: byId("s-time"), players: byId("s-players"), entities: byId("s-entities") },
};

const hook = new Hook();
window.__ticksyncReplay = hook;

let client: Client | null = null;
let tickRate = 20;

/**
 * PlaybackClock is the client's clock, running at the playback speed while playing, so the
 * interpolator's tick clock keeps pace with frames at 0.25×–8× (at a fixed real-time rate it
 * would fall behind and snap). Timers stay real.
 */
class PlaybackClock implements Clock {
  private at = performance.now();
  private virt = this.at;
  private rate = 1;

  now(): number {
    const t = performance.now();
    this.virt += (t - this.at) * this.rate;
    this.at = t;
    return this.virt;
  }

  setRate(r: number): void {
    this.now();
    this.rate = r;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    return setTimeout(fn, ms);
  }

  clearTimeout(h: unknown): void {
    clearTimeout(h as ReturnType<typeof setTimeout>);
  }
}

let clock = new PlaybackClock();

const PHASE_TEXT: Record<Phase, string> = {
  picking: "no recording",
  connecting: "connecting…",
  joined: "watching",
  closed: "disconnected",
};

function setPhase(p: Phase): void {
  hook.phase = p;
  ui.status.textContent = PHASE_TEXT[p];
  ui.status.dataset.state = p === "joined" ? "joined" : p;
  document.body.dataset.state = p;
}

const banner = new Banner();

function showBanner(text: string, action?: BannerAction): void {
  hook.errors.push(text);
  banner.show(text, "error", action);
}

function hideBanner(): void {
  banner.hide();
}

function closeText(c: CloseInfo): string {
  if (c.code === 4004) return "This recording cannot be played (unknown, or not a readable recording).";
  if (c.message === "could not connect") return `Could not connect to ${new URL(serverBase).host}.`;
  return `Disconnected: ${c.message}.`;
}

const KIND: Record<number, "join" | "leave" | "reconnect"> = {
  [ReplayMarkKind.JOIN]: "join",
  [ReplayMarkKind.LEAVE]: "leave",
  [ReplayMarkKind.RECONNECT]: "reconnect",
};

const VERB = { join: "joined", leave: "left", reconnect: "reconnected" } as const;

function seconds(tick: number): number {
  return tick / (tickRate || 20);
}

// ---- watching ----

let dragging = false;
let lastSeekAt = 0;
let pendingSeek = 0;
let seekTimer: ReturnType<typeof setTimeout> | null = null;

function seek(tick: number): void {
  const c = client;
  if (c === null) return;
  pendingSeek = 0;
  lastSeekAt = performance.now();
  c.replay("seek", { seekTick: tick });
}

/** seekThrottled sends at most one seek per SEEK_EVERY_MS while dragging; the last one wins. */
function seekThrottled(tick: number): void {
  const wait = SEEK_EVERY_MS - (performance.now() - lastSeekAt);
  if (wait <= 0) {
    seek(tick);
    return;
  }
  pendingSeek = tick;
  if (seekTimer === null) {
    seekTimer = setTimeout(() => {
      seekTimer = null;
      if (pendingSeek !== 0) seek(pendingSeek);
    }, wait);
  }
}

function watch(name: string): void {
  stop();
  hideBanner();
  hook.name = name;
  hook.status = null;
  hook.frames = 0;
  hook.tick = 0;
  hook.follow = 0;
  followable = "";
  ui.follow.replaceChildren(new Option("everyone", "0"));
  ui.followRow.hidden = true;
  ui.recName.textContent = name;
  ui.picker.hidden = true;
  ui.player.hidden = false;
  ui.marks.replaceChildren();
  ui.events.replaceChildren();
  ui.result.textContent = "";
  ui.markbar.replaceChildren();
  closeMarkMenu();
  setPhase("connecting");
  clock = new PlaybackClock();
  const c = connect(new URL("ws", serverBase).toString(), {
    room: `replay:${name}`,
    clock,
    token,
    spectator: true,
    createIfMissing: false,
    WebSocket: WebSocket as unknown as WebSocketCtor,
  });
  client = c;
  hook.client = c;
  const q = new URLSearchParams(location.search);
  q.set("name", name);
  window.history.replaceState(null, "", `?${q.toString()}`);
  const welcomed = (w: { welcome: { tickRate: number } }) => {
    if (client !== c) return;
    tickRate = w.welcome.tickRate;
    setPhase("joined");
    hideBanner();
  };
  c.on("welcome", welcomed);
  c.on("reconnected", (w) => {
    // A new connection is a new session from the first tick: carry the position over.
    const s = hook.status;
    const at = hook.tick;
    hook.status = null; // the new session's first status brings the marks again
    welcomed(w);
    if (client !== c || s === null) return;
    if (hook.follow !== 0) c.followPlayer(hook.follow);
    if (s.speedPct !== 100) c.replay("speed", { speedPct: s.speedPct });
    if (!s.playing) c.replay("pause");
    if (at > 0) c.replay("seek", { seekTick: at });
  });
  c.on("frame", (f) => {
    if (client !== c) return;
    hook.frames++;
    hook.tick = f.tick;
    if (!dragging) ui.seek.value = String(f.tick);
  });
  c.on("event", () => {
    if (client === c && hook.status !== null) hook.status.eventsSeen++;
  });
  c.on("replayStatus", (s) => {
    if (client === c) onStatus(s);
  });
  c.on("close", (info) => {
    if (client !== c) return;
    setPhase("closed");
    showBanner(closeText(info), { label: "Back to recordings", run: () => showPicker() });
  });
  c.on("error", (e) => {
    if (client === c) hook.errors.push(`error: ${e.message}`);
  });
}

function onStatus(s: ReplayStatus): void {
  const first = hook.status === null;
  const marks = first ? s.marks.map((m) => ({ tick: m.tick, kind: KIND[m.kind] ?? "join", player: m.player })) : (hook.status?.marks ?? []);
  const events = first ? s.events.map((e) => ({ tick: e.tick, kind: e.kind, values: [...e.values], to: [...e.to] })) : (hook.status?.events ?? []);
  const result = first ? (s.result === undefined ? null : { tick: s.result.tick, winners: [...s.result.winners], summary: s.result.summary }) : (hook.status?.result ?? null);
  const eventsSeen = hook.status?.eventsSeen ?? 0;
  const v: StatusView = { name: s.name, tick: s.tick, firstTick: s.firstTick, lastTick: s.lastTick, playing: s.playing, speedPct: s.speedPct, marks, events, result, eventsSeen };
  hook.status = v;
  clock.setRate(s.playing ? s.speedPct / 100 : 1);
  ui.seek.min = String(Math.max(1, s.firstTick));
  ui.seek.max = String(Math.max(1, s.lastTick));
  if (!dragging) ui.seek.value = String(s.tick);
  ui.play.textContent = s.playing ? "Pause" : "Play";
  ui.play.dataset.playing = String(s.playing);
  if (ui.speed.value !== String(s.speedPct)) ui.speed.value = String(s.speedPct);
  if (first) {
    renderMarks(v);
    renderEvents(v);
  }
}

/** renderEvents lists the recording's game events (click: seek to the tick) and its result. */
function renderEvents(s: StatusView): void {
  ui.events.replaceChildren();
  for (const e of s.events) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.tick = String(e.tick);
    b.dataset.kind = String(e.kind);
    const text = document.createElement("span");
    text.textContent = `kind ${e.kind} [${e.values.join(", ")}]${e.to.length > 0 ? ` → P${e.to.join(", P")}` : ""}`;
    const at = document.createElement("span");
    at.className = "when";
    at.textContent = `${formatTime(seconds(e.tick))} · ${e.tick}`;
    b.append(text, at);
    b.onclick = () => seek(e.tick);
    li.append(b);
    ui.events.append(li);
  }
  if (s.events.length === 0) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "No game events.";
    ui.events.append(li);
  }
  ui.result.textContent = s.result === null ? "The match did not end in this recording." : `${s.result.summary} (tick ${s.result.tick}; winners ${s.result.winners.map((p) => `P${p}`).join(", ") || "none"})`;
}

type Mark = StatusView["marks"][number];

function markTitle(m: Mark): string {
  return `P${m.player} ${VERB[m.kind]} at ${formatTime(seconds(m.tick))} (tick ${m.tick})`;
}

/** markItem is a mark as a list entry (dot, who did what, when); a click seeks to its tick, then runs after. */
function markItem(m: Mark, after?: () => void): HTMLLIElement {
  const li = document.createElement("li");
  const b = document.createElement("button");
  b.type = "button";
  b.dataset.tick = String(m.tick);
  b.dataset.kind = m.kind;
  const dot = document.createElement("span");
  dot.className = `dot mark-${m.kind}`;
  const text = document.createElement("span");
  text.textContent = `P${m.player} ${VERB[m.kind]}`;
  const at = document.createElement("span");
  at.className = "when";
  at.textContent = `${formatTime(seconds(m.tick))} · ${m.tick}`;
  b.append(dot, text, at);
  b.onclick = () => {
    seek(m.tick);
    after?.();
  };
  li.append(b);
  return li;
}

function renderMarks(s: StatusView): void {
  ui.marks.replaceChildren(...s.marks.map((m) => markItem(m)));
  if (s.marks.length === 0) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "No joins, leaves or reconnects.";
    ui.marks.append(li);
  }
  renderMarkbar();
}

let markbarWidth = 0;

/**
 * renderMarkbar draws the marks on the seek bar: one marker per mark, or where marks fall
 * closer than MARK_GAP pixels, one numbered marker for them that opens a menu of them.
 */
function renderMarkbar(): void {
  closeMarkMenu();
  ui.markbar.replaceChildren();
  const s = hook.status;
  markbarWidth = ui.markbar.clientWidth;
  if (s === null || markbarWidth === 0) return;
  for (const g of groupMarks(s.marks, s.firstTick, s.lastTick, markbarWidth)) {
    const b = document.createElement("button");
    b.type = "button";
    const kinds = new Set(g.marks.map((m) => m.kind));
    b.className = `mark-${kinds.size === 1 ? g.marks[0].kind : "mixed"}`;
    b.style.left = `${g.x}px`;
    b.dataset.tick = g.marks.map((m) => m.tick).join(" ");
    b.title = g.marks.map(markTitle).join("\n");
    if (g.marks.length === 1) {
      b.setAttribute("aria-label", b.title);
      b.onclick = () => seek(g.marks[0].tick);
    } else {
      b.classList.add("group");
      b.textContent = String(g.marks.length);
      b.setAttribute("aria-label", `${g.marks.length} marks: ${g.marks.map(markTitle).join("; ")}`);
      b.setAttribute("aria-haspopup", "true");
      b.setAttribute("aria-expanded", "false");
      b.onclick = () => toggleMarkMenu(b, g);
    }
    ui.markbar.append(b);
  }
}

let markMenuFor: HTMLButtonElement | null = null;

/** toggleMarkMenu opens (or closes) the menu of a group's marks under its marker. */
function toggleMarkMenu(b: HTMLButtonElement, g: MarkGroup<Mark>): void {
  const open = markMenuFor === b;
  closeMarkMenu();
  if (open) return;
  markMenuFor = b;
  b.setAttribute("aria-expanded", "true");
  ui.markmenu.replaceChildren(...g.marks.map((m) => markItem(m, closeMarkMenu)));
  ui.markmenu.hidden = false;
  ui.markmenu.style.left = `${Math.max(0, Math.min(g.x, ui.markbar.clientWidth - ui.markmenu.offsetWidth))}px`;
  ui.markmenu.querySelector("button")?.focus();
}

function closeMarkMenu(): void {
  markMenuFor?.setAttribute("aria-expanded", "false");
  markMenuFor = null;
  ui.markmenu.hidden = true;
  ui.markmenu.replaceChildren();
}

// The bar's width decides which marks share a marker.
new ResizeObserver(() => {
  if (ui.markbar.clientWidth !== markbarWidth) renderMarkbar();
}).observe(ui.markbar);

document.addEventListener("click", (e) => {
  if (markMenuFor !== null && e.target instanceof Node && !ui.markmenu.contains(e.target) && !markMenuFor.contains(e.target)) closeMarkMenu();
});

function stop(): void {
  const c = client;
  client = null;
  hook.client = null;
  if (c !== null && !c.closed) c.close();
}

ui.play.addEventListener("click", () => {
  const c = client;
  if (c === null) return;
  c.replay(hook.status?.playing === true ? "pause" : "play");
});

ui.speed.addEventListener("change", () => {
  client?.replay("speed", { speedPct: Number(ui.speed.value) });
});

ui.follow.addEventListener("change", () => {
  hook.follow = Number(ui.follow.value);
  client?.followPlayer(hook.follow);
});

let followable = ""; // the player ids the follow choice lists, joined

/**
 * listFollowable offers the players of the recording (its join marks) and of the state held,
 * when the room has views; the choice stays listed even when it is not (any more) in the view.
 */
function listFollowable(): void {
  const c = client;
  ui.followRow.hidden = c === null || c.grid === undefined;
  if (ui.followRow.hidden) return;
  const ids = new Set<number>((hook.status?.marks ?? []).map((m) => m.player));
  const m = c?.mirror ?? null;
  const pc = m?.schema.classByName.get("player");
  const own = pc?.byName.get("player");
  if (m !== null && pc !== undefined && own !== undefined) {
    for (let id = 1; id < m.len; id++) if (m.cls[id] === pc.index) ids.add(m.raw(id, own.col));
  }
  if (hook.follow !== 0) ids.add(hook.follow);
  ids.delete(0);
  const sorted = [...ids].sort((a, b) => a - b);
  const key = sorted.join(",");
  if (key === followable) return;
  followable = key;
  ui.follow.replaceChildren(new Option("everyone", "0"), ...sorted.map((p) => new Option(`P${p}`, String(p))));
  ui.follow.value = String(hook.follow);
}

ui.seek.addEventListener("input", () => {
  dragging = true;
  seekThrottled(Number(ui.seek.value));
});

ui.seek.addEventListener("change", () => {
  dragging = false;
  if (seekTimer !== null) {
    clearTimeout(seekTimer);
    seekTimer = null;
  }
  seek(Number(ui.seek.value));
});

// Keyboard: space plays or pauses, arrows step a tick (paused) or a second.
window.addEventListener("keydown", (e) => {
  const c = client;
  const s = hook.status;
  if (c === null || s === null || e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
  if (e.key === "Escape" && markMenuFor !== null) {
    markMenuFor.focus();
    closeMarkMenu();
  } else if (e.key === " ") {
    e.preventDefault();
    c.replay(s.playing ? "pause" : "play");
  } else if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
    const step = s.playing ? tickRate : 1;
    const to = hook.tick + (e.key === "ArrowRight" ? step : -step);
    seek(Math.min(Math.max(to, s.firstTick), s.lastTick));
  }
});

ui.back.addEventListener("click", () => showPicker());

// ---- picking ----

function showPicker(): void {
  stop();
  hideBanner();
  hook.name = "";
  setPhase("picking");
  ui.picker.hidden = false;
  ui.player.hidden = true;
  const q = new URLSearchParams(location.search);
  q.delete("name");
  const s = q.toString();
  window.history.replaceState(null, "", s === "" ? location.pathname : `?${s}`);
  void refresh();
}

function render(list: ReplayInfo[]): void {
  ui.list.replaceChildren();
  if (list.length === 0) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "No recordings.";
    ui.list.append(li);
    return;
  }
  for (const r of list) {
    const li = document.createElement("li");
    li.dataset.name = r.name;
    const name = document.createElement("span");
    name.className = "room-id";
    name.textContent = r.name;
    const meta = document.createElement("span");
    meta.className = "room-meta";
    const b = document.createElement("button");
    b.textContent = "Watch";
    if (r.error !== "") {
      li.className = "bad";
      meta.textContent = `unreadable: ${r.error}`;
      b.disabled = true;
    } else {
      const torn = r.complete ? "" : " · incomplete";
      meta.textContent = `${r.game} · ${formatTime(r.duration)} · ${r.players} players · ${formatSize(r.size)}${torn}`;
      if (!r.complete) meta.title = r.problem;
      b.onclick = () => watch(r.name);
    }
    li.append(name, meta, b);
    ui.list.append(li);
  }
}

let refreshing = false;
async function refresh(): Promise<void> {
  if (refreshing || hook.phase !== "picking") return;
  refreshing = true;
  try {
    render(await listReplays(serverBase));
    ui.pickerMsg.textContent = "";
  } catch (e) {
    ui.pickerMsg.textContent = `Could not list recordings: ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    refreshing = false;
  }
}

// ---- drawing and HUD ----

const view = new View(ui.canvas);
const noStick = { active: false, ox: 0, oy: 0, dx: 0, dy: 0 };

setInterval(() => {
  const s = hook.status;
  const m = client?.mirror ?? null;
  let players = 0;
  const pc = m?.schema.classByName.get("player");
  if (m !== null && pc !== undefined) for (let id = 1; id < m.len; id++) if (m.cls[id] === pc.index) players++;
  const tick = dragging ? Number(ui.seek.value) : hook.tick;
  ui.stat.tick.textContent = tick > 0 ? String(tick) : "–";
  ui.stat.time.textContent = tick > 0 ? formatTime(seconds(tick)) : "–";
  ui.stat.players.textContent = m !== null ? String(players) : "–";
  ui.stat.entities.textContent = m !== null ? String(m.size) : "–";
  listFollowable();
  ui.time.textContent = s === null ? "–" : `tick ${tick} / ${s.lastTick} · ${formatTime(seconds(tick))} / ${formatTime(seconds(s.lastTick))}`;
}, 100);

function loop(): void {
  view.draw(client, clock.now(), noStick, 0, hook.follow);
  requestAnimationFrame(loop);
}
requestAnimationFrame(loop);

setInterval(() => void refresh(), 5000);

const first = params.get("name");
if (first !== null && first !== "") watch(first);
else showPicker();
