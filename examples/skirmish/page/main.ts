// The skirmish page: a lobby form (name, team, room; ?room= ?name= ?team= ?config= prefill it,
// ?bot=1 joins at once and plays by itself), the field, a HUD with the phase and the scores,
// an event feed, and the result when the match ends. It uses only @ticksync/client's public API.

import { connect } from "@ticksync/client";
import type { Client, CloseInfo, GameEventData, MatchResultData } from "@ticksync/client";
import { botStick } from "./bot.js";
import { asShot, playerEntities } from "./gen/skirmish.js";
import { EventKind, PHASE_NAMES, Phase, TEAM_NAMES, inputOf, matchOf, nameOf, predictSkirmish, rulesOf, sceneOf } from "./game.js";
import type { MatchView, Rules, Stick } from "./game.js";
import { newHook } from "./hook.js";
import { Controls } from "./input.js";
import { View } from "./view.js";

const params = new URLSearchParams(location.search);
const bot = params.get("bot") === "1";
const serverBase = new URL(params.get("server") ?? "/", location.href).toString();

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} missing`);
  return el as T;
}

const ui = {
  canvas: byId<HTMLCanvasElement>("view"),
  stage: byId("stage"),
  status: byId("status"),
  lobby: byId("lobby"),
  form: byId<HTMLFormElement>("join-form"),
  name: byId<HTMLInputElement>("name"),
  team: byId<HTMLSelectElement>("team"),
  room: byId<HTMLInputElement>("room"),
  config: byId<HTMLInputElement>("config"),
  hud: byId("hud"),
  hudRoom: byId("hud-room"),
  red: byId("score-red"),
  blue: byId("score-blue"),
  goal: byId("score-goal"),
  phase: byId("phase"),
  you: byId("you"),
  leave: byId<HTMLButtonElement>("leave"),
  feed: byId<HTMLOListElement>("feed"),
  result: byId("result"),
  resultSummary: byId("result-summary"),
  resultYou: byId("result-you"),
  again: byId<HTMLButtonElement>("again"),
  banner: byId("banner"),
  bannerText: byId("banner-text"),
  bannerAction: byId<HTMLButtonElement>("banner-action"),
};

const hook = newHook();
window.__skirmish = hook;

/** DEFAULT_RULES draws an empty field before the first welcome (skirmish's own numbers). */
const DEFAULT_RULES: Rules = { width: 60, height: 40, stickMax: 100, aimMax: 1000, reloadTicks: 6, fullHP: 100 };

let client: Client | null = null;
let rules: Rules = DEFAULT_RULES;
let match: MatchView | undefined;

ui.name.value = params.get("name") ?? "";
ui.team.value = params.get("team") === "blue" ? "blue" : "red";
ui.room.value = params.get("room") ?? "skirmish";
ui.config.value = params.get("config") ?? "";

function setStatus(s: string, text: string): void {
  hook.status = s;
  ui.status.textContent = text;
  ui.status.dataset.state = s;
  document.body.dataset.state = s;
}

function showBanner(text: string, kind: "error" | "warn" | "info", action?: { label: string; run: () => void }): void {
  hook.message = text;
  ui.bannerText.textContent = text;
  ui.banner.dataset.kind = kind;
  ui.banner.hidden = false;
  ui.bannerAction.hidden = action === undefined;
  ui.bannerAction.onclick = action === undefined ? null : () => action.run();
  if (action !== undefined) ui.bannerAction.textContent = action.label;
}

function hideBanner(): void {
  hook.message = "";
  ui.banner.hidden = true;
}

/** playerName is a player's name as its entity has it, or "player N" once it is gone. */
function playerName(c: Client, player: number): string {
  const e = c.mirror === null ? undefined : playerEntities(c.mirror).find((p) => p.player === player);
  return (e !== undefined ? nameOf(e.name) : "") || `player ${player}`;
}

const FEED_SHOWN = 14;

function addFeed(text: string, kind: string): void {
  hook.feed.push(text);
  if (hook.feed.length === 1) ui.feed.replaceChildren();
  const li = document.createElement("li");
  li.textContent = text;
  li.className = kind;
  ui.feed.prepend(li);
  while (ui.feed.children.length > FEED_SHOWN) ui.feed.lastElementChild?.remove();
}

/** eventText turns a game event into a feed line (and counts it). */
function onEvent(c: Client, ev: GameEventData): void {
  hook.events++;
  const v = ev.values;
  const who = (p: number) => (p === c.playerId ? "you" : playerName(c, p));
  switch (ev.kind) {
    case EventKind.countdown:
      if (v[0] > 0) addFeed(`Match starts in ${v[0]}…`, "info");
      else if (v[0] === 0) addFeed("Fight!", "info");
      else addFeed("Countdown cancelled: waiting for players", "info");
      break;
    case EventKind.hit:
      hook.hits++;
      if (v[0] === c.playerId) hook.landed++;
      addFeed(`${who(v[0])} hit ${who(v[1])} (−${v[2]}, ${v[3]} hp left)`, "hit");
      break;
    case EventKind.kill:
      hook.kills++;
      addFeed(`${who(v[0])} killed ${who(v[1])} · red ${v[3]} : ${v[4]} blue`, `kill team-${TEAM_NAMES[v[2]] ?? ""}`);
      break;
    case EventKind.hurt:
      hook.hurts++;
      addFeed(`You were hit by ${playerName(c, v[0])} (−${v[1]})`, "hurt");
      ui.stage.classList.remove("hurt");
      void ui.stage.offsetWidth; // restart the flash
      ui.stage.classList.add("hurt");
      break;
    default:
      addFeed(`event ${ev.kind} [${v.join(", ")}]`, "info");
  }
}

function onMatchEnd(c: Client, r: MatchResultData): void {
  const won = r.winners.includes(c.playerId);
  const you = c.playerId === 0 ? "" : won ? "You won!" : "You lost.";
  hook.summary = r.summary;
  hook.winners = r.winners.slice();
  hook.result = you === "" ? r.summary : `${r.summary} · ${you}`;
  ui.resultSummary.textContent = r.summary;
  ui.resultYou.textContent = you;
  ui.result.dataset.outcome = won ? "won" : "lost";
  ui.result.hidden = false;
  addFeed(`Match over: ${r.summary}`, "info");
}

function onClose(info: CloseInfo): void {
  hook.closeCode = info.code;
  hook.closeReason = info.reason;
  setStatus("closed", "disconnected");
  const back = { label: "Back to the lobby", run: () => showLobby() };
  if (info.code === 4005) {
    // The game refused the join (team full, match over…): its reason is for the player.
    showBanner(`Could not join room ${hook.room}: ${info.reason || "refused by the game"}.`, "error", back);
    showLobby(false);
  } else if (info.code === 4002 && hook.result !== "") {
    showBanner(`The match is over and room ${hook.room} has closed.`, "info", back);
  } else if (info.code === 4004 && info.reason !== "" && info.reason !== "unknown game") {
    showBanner(`Could not create room ${hook.room}: ${info.reason}.`, "error", back);
    showLobby(false);
  } else {
    showBanner(`Disconnected: ${info.message}.`, "error", back);
  }
}

function join(room: string, name: string, team: string, config: string): void {
  leaveRoom();
  hideBanner();
  ui.result.hidden = true;
  ui.feed.replaceChildren();
  Object.assign(hook, newHook(), { room, team });
  window.__skirmish = hook;
  match = undefined;
  ui.hudRoom.textContent = room;
  ui.lobby.hidden = true;
  ui.hud.hidden = false;
  setStatus("connecting", "connecting…");
  const q = new URLSearchParams(location.search);
  q.set("room", room);
  q.set("name", name);
  q.set("team", team);
  history.replaceState(null, "", `?${q.toString()}`);
  let c: Client;
  try {
    c = connect(new URL("ws", serverBase).toString(), {
      room,
      game: "skirmish",
      meta: { name, team },
      config: config.trim() === "" ? undefined : config.trim(),
      predict: predictSkirmish,
    });
  } catch (e) {
    showBanner(e instanceof Error ? e.message : String(e), "error");
    showLobby(false);
    return;
  }
  client = c;
  const welcomed = (playerId: number) => {
    if (client !== c || c.schema === null) return;
    try {
      rules = rulesOf(c.schema);
    } catch (e) {
      // rulesOf checks the schema against the page's types (gen/skirmish.ts) first.
      showBanner(`Cannot play in room ${room} from this page: ${e instanceof Error ? e.message : String(e)}`, "error");
      leaveRoom();
      return;
    }
    hook.playerId = playerId;
    ui.you.textContent = `${name || "(no name)"} · ${team} · player ${playerId}`;
    setStatus("joined", "in the room");
    hideBanner();
  };
  c.on("welcome", (w) => welcomed(w.playerId));
  c.on("reconnected", (w) => welcomed(w.playerId));
  c.on("frame", (f) => {
    if (client !== c) return;
    hook.tick = f.tick;
    match = matchOf(c);
    if (match !== undefined) hook.phase = PHASE_NAMES[match.phase] ?? String(match.phase);
    if (bot) {
      // The bot decides on each frame (not on animation frames, which a hidden tab may not
      // get): it looks at the scene as drawn now, and the input is stamped with that moment.
      const stick = botStick(sceneOf(c, performance.now()), match?.phase ?? Phase.lobby);
      c.sendInput(inputOf(stick, rules));
    }
  });
  c.on("spawn", (e) => {
    if (client === c && asShot(e)?.shooter === c.playerId) hook.fired++;
  });
  c.on("event", (ev) => {
    if (client === c) onEvent(c, ev);
  });
  c.on("matchEnd", (r) => {
    if (client === c) onMatchEnd(c, r);
  });
  c.on("reconnecting", (r) => {
    if (client !== c) return;
    setStatus("reconnecting", "reconnecting…");
    showBanner(`${r.message} — reconnecting in ${(r.delayMs / 1000).toFixed(1)} s…`, "warn");
  });
  c.on("close", (info) => {
    if (client === c) onClose(info);
  });
}

function leaveRoom(): void {
  const c = client;
  client = null;
  if (c !== null && !c.closed) c.leave();
}

function showLobby(hide = true): void {
  leaveRoom();
  if (hide) hideBanner();
  if (hook.status !== "closed") setStatus("lobby", "not in a room");
  ui.lobby.hidden = false;
  ui.hud.hidden = true;
  ui.result.hidden = true;
}

ui.form.addEventListener("submit", (e) => {
  e.preventDefault();
  const room = ui.room.value.trim();
  if (room !== "") join(room, ui.name.value.trim(), ui.team.value, ui.config.value);
});
ui.leave.addEventListener("click", () => showLobby());
ui.again.addEventListener("click", () => showLobby());

const controls = new Controls(ui.canvas);
const view = new View(ui.canvas);

/** humanStick is the player's input: keys move, the mouse aims from the own player. */
function humanStick(meX: number, meY: number): Stick {
  const [mx, my] = controls.move();
  const aim = controls.mouse === null ? null : view.toWorld(controls.mouse[0], controls.mouse[1]);
  return { mx, my, ax: aim === null ? 0 : aim[0] - meX, ay: aim === null ? 0 : aim[1] - meY, fire: controls.firing && aim !== null };
}

function renderHud(): void {
  const m = match;
  if (m === undefined) return;
  ui.red.textContent = String(m.red);
  ui.blue.textContent = String(m.blue);
  ui.goal.textContent = `first to ${m.goal}`;
  const hz = client?.welcome?.tickRate || 30;
  let text: string;
  switch (m.phase) {
    case Phase.lobby:
      text = "Lobby: waiting for players";
      break;
    case Phase.countdown:
      text = `Starting in ${Math.ceil(m.countdown / hz)}…`;
      break;
    case Phase.playing:
      text = "Playing";
      break;
    default:
      text = `Over: ${TEAM_NAMES[m.winner] ?? "nobody"} won`;
  }
  if (ui.phase.textContent !== text) ui.phase.textContent = text;
  ui.phase.dataset.phase = PHASE_NAMES[m.phase] ?? "";
}

function loop(now: number): void {
  const c = client;
  const scene = c !== null ? sceneOf(c, now) : { players: [], shots: [] };
  const me = scene.players.find((p) => p.own);
  if (!bot && c !== null && c.connected && me !== undefined) c.sendInput(inputOf(humanStick(me.x, me.y), rules));
  const aim = !bot && controls.mouse !== null ? view.toWorld(controls.mouse[0], controls.mouse[1]) : null;
  view.draw(scene, rules, aim);
  renderHud();
  requestAnimationFrame(loop);
}
requestAnimationFrame(loop);

if (bot && ui.room.value.trim() !== "") join(ui.room.value.trim(), ui.name.value.trim(), ui.team.value, ui.config.value);
else if (params.get("join") === "1" && ui.room.value.trim() !== "") join(ui.room.value.trim(), ui.name.value.trim(), ui.team.value, ui.config.value);
