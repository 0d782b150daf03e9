// The demo page: pick a room, join it, steer your player, watch everyone else. Query
// parameters: room (join at once), server (another server's base URL), token (token auth
// mode), spectate=1 (watch only), decoder (hand | protobuf-es).

import { connect } from "../src/index.js";
import type { Client, CloseInfo, DecoderKind, WebSocketCtor, WelcomeInfo } from "../src/index.js";
import { predictArena } from "./arena.js";
import { PlayerMeta, checkSchema } from "./gen/arena.js";
import { Hook } from "./hook.js";
import type { Status } from "./hook.js";
import { Steering } from "./input.js";
import { CreateRefused, createRoom, listRooms } from "./rooms.js";
import type { RoomInfo } from "./rooms.js";
import { Banner, byId } from "./page.js";
import type { BannerAction } from "./page.js";
import { View } from "./view.js";

const params = new URLSearchParams(location.search);
const serverBase = new URL(params.get("server") ?? "/", location.href).toString();
const token = params.get("token") ?? undefined;
const spectate = params.get("spectate") === "1";
const decoder: DecoderKind = params.get("decoder") === "protobuf-es" ? "protobuf-es" : "hand";


const ui = {
  canvas: byId<HTMLCanvasElement>("view"),
  status: byId("status"),
  picker: byId("picker"),
  roomList: byId<HTMLUListElement>("room-list"),
  pickerMsg: byId("picker-msg"),
  joinForm: byId<HTMLFormElement>("join-form"),
  roomName: byId<HTMLInputElement>("room-name"),
  create: byId<HTMLButtonElement>("create"),
  quick: byId<HTMLButtonElement>("quick"),
  hud: byId("hud"),
  hudRoom: byId("hud-room"),
  leave: byId<HTMLButtonElement>("leave"),
  stat: {
    tick: byId("s-tick"),
    rtt: byId("s-rtt"),
    bytes: byId("s-bytes"),
    decode: byId("s-decode"),
    players: byId("s-players"),
    entities: byId("s-entities"),
    you: byId("s-you"),
    fps: byId("s-fps"),
  },
};

const hook = new Hook();
window.__ticksync = hook;

/** CountingWebSocket counts handshakes for the test hook (docs/operations.md, "Bad input": no retry storm). */
class CountingWebSocket extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    hook.connectAttempts++;
  }
}

let client: Client | null = null;

const STATUS_TEXT: Record<Status, string> = {
  picking: "not in a room",
  connecting: "connecting…",
  joined: "connected",
  reconnecting: "reconnecting…",
  closed: "disconnected",
};

function setStatus(s: Status): void {
  hook.status = s;
  ui.status.textContent = STATUS_TEXT[s];
  ui.status.dataset.state = s;
  document.body.dataset.state = s;
}

const banner = new Banner();

function showBanner(text: string, kind: "error" | "warn" | "info", action?: BannerAction): void {
  hook.message = text;
  hook.errors.push(text);
  banner.show(text, kind, action);
  if (kind === "info") {
    setTimeout(() => {
      if (hook.message === text) hideBanner();
    }, 6000);
  }
}

function hideBanner(): void {
  hook.message = "";
  banner.hide();
}

function serverName(): string {
  return new URL(serverBase).host;
}

/** closeText turns a final close into what the player reads. */
function closeText(c: CloseInfo): string {
  if (c.message === "could not connect") {
    return `Could not connect to ${serverName()}: the server is unreachable or refused this page (origin not allowed).`;
  }
  return `Disconnected: ${c.message}.`;
}

/** roomParam puts room in the address bar's ?room= (a reload rejoins it), or removes it with "". */
function roomParam(room: string): void {
  const q = new URLSearchParams(location.search);
  if (room === "") q.delete("room");
  else q.set("room", room);
  const qs = q.toString();
  window.history.replaceState(null, "", qs === "" ? location.pathname : `?${qs}`);
}

/** showRoom names the room joined in the HUD, the hook and the address bar ("": not known yet). */
function showRoom(room: string): void {
  hook.room = room;
  ui.hudRoom.textContent = room === "" ? "(quick play…)" : room;
  roomParam(room);
}

/** join joins room, or with undefined lets the server pick one (quick play: joinOrCreate). */
function join(room: string | undefined): void {
  leaveRoom();
  hideBanner();
  showRoom(room ?? "");
  ui.picker.hidden = true;
  ui.hud.hidden = false;
  setStatus("connecting");
  const c = connect(new URL("ws", serverBase).toString(), {
    ...(room === undefined ? { quickPlay: true } : { room }),
    game: "arena",
    token,
    spectator: spectate,
    decoder,
    predict: predictArena,
    WebSocket: CountingWebSocket as unknown as WebSocketCtor,
  });
  client = c;
  hook.client = c;
  /** welcomed takes a welcome; false when the room is not for this page. */
  const welcomed = (w: WelcomeInfo): boolean => {
    if (client !== c) return false;
    try {
      checkSchema(w.schema); // the page's types (gen/arena.ts) against the server's arena
    } catch (e) {
      leaveRoom();
      setStatus("closed");
      showBanner(`Cannot show room ${c.roomId}: ${e instanceof Error ? e.message : String(e)}`, "error", { label: "Back to rooms", run: () => showPicker() });
      return false;
    }
    if (hook.room !== c.roomId) showRoom(c.roomId); // the room quick play picked
    hook.welcomed(w.playerId, w.resumed);
    setStatus("joined");
    hideBanner();
    return true;
  };
  c.on("welcome", welcomed);
  c.on("reconnected", (w) => {
    if (welcomed(w) && !w.resumed) showBanner("Reconnected with a new seat: the old one had expired.", "info");
  });
  c.on("frame", () => {
    if (client === c) hook.record();
  });
  c.on("reconnecting", (r) => {
    if (client !== c) return;
    setStatus("reconnecting");
    const secs = (r.delayMs / 1000).toFixed(1);
    const why = r.code === 4009 ? "Room full" : r.message.charAt(0).toUpperCase() + r.message.slice(1);
    showBanner(`${why} — reconnecting in ${secs} s (attempt ${r.attempt})…`, "warn", { label: "Back to rooms", run: () => showPicker() });
  });
  c.on("close", (info) => {
    if (client !== c) return;
    setStatus("closed");
    showBanner(closeText(info), "error", { label: "Back to rooms", run: () => showPicker() });
  });
  c.on("error", (e) => {
    if (client === c) hook.errors.push(`error: ${e.message}`);
  });
}

function leaveRoom(): void {
  const c = client;
  client = null;
  hook.client = null;
  if (c !== null && !c.closed) c.leave();
}

function showPicker(): void {
  leaveRoom();
  hideBanner();
  setStatus("picking");
  ui.picker.hidden = false;
  ui.hud.hidden = true;
  roomParam("");
  void refreshRooms();
}

function renderRooms(rooms: RoomInfo[]): void {
  ui.roomList.replaceChildren();
  if (rooms.length === 0) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "No rooms yet: create one or join by name.";
    ui.roomList.append(li);
    return;
  }
  for (const r of rooms) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "room-id";
    name.textContent = r.id;
    const meta = document.createElement("span");
    meta.className = "room-meta";
    meta.textContent = `${r.game} · ${r.players}/${r.max} · tick ${r.tick}`;
    const b = document.createElement("button");
    b.textContent = r.players >= r.max ? "Full" : "Join";
    // Named for its room: every row has its own "Join <room>", apart from the form's button.
    b.setAttribute("aria-label", r.players >= r.max ? `${r.id} is full` : `Join ${r.id}`);
    b.disabled = r.players >= r.max;
    b.onclick = () => join(r.id);
    li.append(name, meta, b);
    ui.roomList.append(li);
  }
}

let refreshing = false;
async function refreshRooms(): Promise<void> {
  if (refreshing || hook.status !== "picking") return;
  refreshing = true;
  try {
    renderRooms(await listRooms(serverBase));
    ui.pickerMsg.textContent = "";
  } catch (e) {
    ui.pickerMsg.textContent = `Could not list rooms on ${serverName()}: ${e instanceof Error ? e.message : String(e)}. You can still join by name.`;
  } finally {
    refreshing = false;
  }
}

ui.joinForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const name = ui.roomName.value.trim();
  if (name !== "") join(name);
});

ui.quick.addEventListener("click", () => join(undefined));

ui.create.addEventListener("click", () => {
  const name = ui.roomName.value.trim() || `arena-${Math.random().toString(36).slice(2, 7)}`;
  ui.create.disabled = true;
  createRoom(serverBase, name, 200)
    .then((id) => join(id))
    .catch((e: unknown) => {
      // POST /rooms is an admin call; anyone may still create a room by joining it.
      if (e instanceof CreateRefused) join(name);
      else ui.pickerMsg.textContent = e instanceof Error ? e.message : String(e);
    })
    .finally(() => {
      ui.create.disabled = false;
    });
});

ui.leave.addEventListener("click", () => showPicker());

const steering = new Steering(ui.canvas);
const view = new View(ui.canvas);
hook.view = view;

function steer(): void {
  if (client === null || !client.connected) return;
  client.sendInput(steering.velocity()); // coalesced by the client to one per tick
}
steering.onChange = steer;

// HUD: four times a second is plenty for numbers.
let frames = 0;
let fpsAt = performance.now();
let fps = 0;
setInterval(() => {
  const now = performance.now();
  fps = (frames * 1000) / (now - fpsAt);
  frames = 0;
  fpsAt = now;
  const c = client;
  const st = c?.stats();
  const m = c?.mirror ?? null;
  let players = 0;
  if (m !== null) for (let id = 1; id < m.len; id++) if (m.cls[id] === PlayerMeta.index) players++;
  ui.stat.tick.textContent = st !== undefined && st.lastTick > 0 ? String(st.lastTick) : "–";
  ui.stat.rtt.textContent = st !== undefined && !Number.isNaN(st.rttSmoothedMs) ? `${st.rttSmoothedMs.toFixed(1)} ms` : "–";
  ui.stat.bytes.textContent = st !== undefined ? formatRate(st.bytesInPerSec) : "–";
  ui.stat.decode.textContent = st !== undefined && !Number.isNaN(st.decodeApplyMs) ? `${st.decodeApplyMs.toFixed(2)} ms` : "–";
  ui.stat.players.textContent = m !== null ? String(players) : "–";
  ui.stat.entities.textContent = m !== null ? String(m.size) : "–";
  ui.stat.you.textContent = c !== null && c.playerId !== 0 ? `P${c.playerId}` : "–";
  ui.stat.fps.textContent = fps.toFixed(0);
}, 250);

function formatRate(b: number): string {
  if (b >= 1e6) return `${(b / 1e6).toFixed(2)} MB/s`;
  if (b >= 1e3) return `${(b / 1e3).toFixed(1)} kB/s`;
  return `${b.toFixed(0)} B/s`;
}

function loop(now: number): void {
  frames++;
  steer();
  view.draw(client, now, steering.stick, steering.stickRadius);
  requestAnimationFrame(loop);
}
requestAnimationFrame(loop);

setInterval(() => void refreshRooms(), 3000);

const first = params.get("room");
if (first !== null && first !== "") join(first);
else showPicker();
