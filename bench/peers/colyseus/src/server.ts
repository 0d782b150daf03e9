// The "arena" reference workload (docs/benchmark.md) on Colyseus 0.18: the peer side of
// ticksync's benchmark comparison. One room, N NPCs + one entity per connected player, float64
// state in a @colyseus/schema MapSchema, one broadcastPatch() per tick.
// With --view > 0 (scenario D) each client has a StateView holding the entities in the grid
// cells around its player (src/interest.ts), updated every tick before the patch.
//
// Flags (or env): --scenario (SCENARIO, B) sets the defaults of --entities (ENTITIES),
// --hz (HZ), --world (WORLD, units), --view (VIEW, side of the square a player sees; 0 = every
// client gets everything) and --cell (CELL, grid cell side); --port (PORT, 2567),
// --k (INPUTS_PER_TICK, 2), --clock (CLOCK, auto; see below).
// Binds 127.0.0.1 only.
// HTTP: GET /stats (JSON, samples since the last reset), POST /stats/reset (starts a window).

import { readFileSync } from "node:fs";
import { defineRoom, defineServer, matchMaker, Room, type Client } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { Encoder, StateView } from "@colyseus/schema";
import { flag, flagStr, mulberry32, summarize } from "./common.ts";
import { Grid } from "./grid.ts";
import { Interest, type Mob, type Watcher } from "./interest.ts";
import { SCENARIOS } from "./scenarios.ts";
import { ArenaState, Entity, move, newNpc, stepNpc, ViewArenaState } from "./world.ts";

const SCENARIO_NAME = flagStr("scenario", "SCENARIO", "B");
const SCENARIO = SCENARIOS[SCENARIO_NAME];
if (SCENARIO === undefined) throw new Error(`unknown scenario ${SCENARIO_NAME}`);
const PORT = flag("port", "PORT", 2567);
const ENTITIES = flag("entities", "ENTITIES", SCENARIO.entities);
const HZ = flag("hz", "HZ", SCENARIO.hz);
const WORLD = flag("world", "WORLD", SCENARIO.world);
const VIEW = flag("view", "VIEW", SCENARIO.view);
const CELL = flag("cell", "CELL", SCENARIO.cell);
const K = flag("k", "INPUTS_PER_TICK", 2);
// "interval": Colyseus' setSimulationInterval (a Node setInterval, which truncates the period to
// whole ms: 60 Hz would run at 62.5 Hz, 128 Hz at 142.9 Hz). "deadline": setTimeout to absolute
// deadlines t0 + n/hz, the same tick callback, exact on average. "auto": interval when 1000/hz
// is a whole number of ms, else deadline.
const CLOCK = flagStr("clock", "CLOCK", "auto");
if (!["auto", "interval", "deadline"].includes(CLOCK)) throw new Error(`--clock: auto, interval or deadline`);
const USE_INTERVAL = CLOCK === "interval" || (CLOCK === "auto" && Number.isInteger(1000 / HZ));
const HOST = "127.0.0.1";

const INPUT_MAX = 200;
const MAX_QUEUED_INPUTS = 64; // per player; a client that floods loses its oldest inputs
const MAX_SAMPLES = 2_000_000; // per sample series per window

// The schema encoder's buffer (16 KiB by default) auto-grows with a console warning per
// overflow; a real deployment of this state size raises it, as the warning says. 512 KiB holds
// scenario C's full state (5,000 entities). With views the per-client encodings of a tick are
// appended to the same buffer, which grows (silently) to hold them all.
Encoder.BUFFER_SIZE = 512 * 1024;

// ---- stats ---------------------------------------------------------------------------------

class Series {
  v: number[] = [];
  push(x: number) {
    if (this.v.length < MAX_SAMPLES) this.v.push(x);
  }
  clear() {
    this.v = [];
  }
}

function vmHWMmb(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

const stats = {
  windowStart: process.hrtime.bigint(),
  cpuStart: process.cpuUsage(),
  ticks: 0,
  tickWork: new Series(), // ms: inputs + step + views + broadcastPatch
  tickView: new Series(), // ms: interest.update() (view.add / view.remove), views only
  tickPatch: new Series(), // ms: broadcastPatch()
  lateTicks: 0, // tick starts more than 1.5 periods after the previous one
  viewAdds: 0,
  viewRemoves: 0,
  tickInterval: new Series(), // ms between tick starts
  hold: new Series(), // ms: input received -> broadcastPatch() that carries it returned
  wait: new Series(), // ms: input received -> start of the tick that applies it
  inputsReceived: 0,
  inputsDropped: 0,
  rssPeakWindow: 0,
  reset() {
    this.windowStart = process.hrtime.bigint();
    this.cpuStart = process.cpuUsage();
    this.ticks = 0;
    this.tickWork.clear();
    this.tickView.clear();
    this.tickPatch.clear();
    this.lateTicks = 0;
    this.viewAdds = 0;
    this.viewRemoves = 0;
    this.tickInterval.clear();
    this.hold.clear();
    this.wait.clear();
    this.inputsReceived = 0;
    this.inputsDropped = 0;
    this.rssPeakWindow = process.memoryUsage.rss();
  },
};

// ---- the room ------------------------------------------------------------------------------

interface PendingInput {
  vx: number;
  vy: number;
  seq: number;
  recvNs: bigint;
}

interface Player {
  sessionId: string;
  e: Entity;
  queue: PendingInput[];
  mob?: Mob; // views only
  watcher?: Watcher;
}

let room: ArenaRoom | undefined;

export class ArenaRoom extends Room<{ state: ArenaState }> {
  autoDispose = false;

  private rnd = mulberry32(42);
  private npcs: Entity[] = [];
  private players: Player[] = [];
  private bySession = new Map<string, Player>();
  private dt = 1 / HZ;
  private lastTickStart = 0n;
  private applied: bigint[] = []; // receive times of the inputs delivered this tick
  // Views (VIEW > 0): which entities each client's StateView holds.
  private interest = VIEW > 0 ? new Interest(new Grid(WORLD, CELL), VIEW / 2) : undefined;

  onCreate() {
    room = this;
    this.state = VIEW > 0 ? new ViewArenaState() : new ArenaState();
    const r = this.rnd;
    for (let i = 0; i < ENTITIES; i++) {
      const e = newNpc(r, WORLD);
      this.npcs.push(e);
      this.state.entities.set(String(i), e);
      this.interest?.track(e);
    }

    this.onMessage("input", (client: Client, msg: any) => {
      const recvNs = process.hrtime.bigint();
      const p = this.bySession.get(client.sessionId);
      if (p === undefined || msg === null || typeof msg !== "object") return;
      stats.inputsReceived++;
      if (p.queue.length >= MAX_QUEUED_INPUTS) {
        p.queue.shift();
        stats.inputsDropped++;
      }
      p.queue.push({ vx: num(msg.vx), vy: num(msg.vy), seq: num(msg.seq) >>> 0, recvNs });
    });

    if (USE_INTERVAL) {
      this.setSimulationInterval(() => this.tick(), 1000 / HZ);
    } else {
      this.startDeadlineClock();
    }
    // No automatic patches: broadcastPatch() once per tick, at its end. Set after the
    // simulation interval exists, or Colyseus arms an extra 60 Hz clock-tick timer.
    this.patchRate = null;
  }

  onJoin(client: Client) {
    const r = this.rnd;
    const e = new Entity();
    e.x = r() * WORLD;
    e.y = r() * WORLD;
    e.vx = 0;
    e.vy = 0;
    e.hp = 100;
    e.seq = 0;
    const p: Player = { sessionId: client.sessionId, e, queue: [] };
    this.players.push(p);
    this.bySession.set(client.sessionId, p);
    this.state.entities.set(client.sessionId, e);
    if (this.interest !== undefined) {
      // The client's view: its own player and everything in the cells around it, filled now
      // so that the full state it gets on join already shows what it sees.
      client.view = new StateView();
      p.mob = this.interest.track(e);
      p.watcher = this.interest.watch(client.view, p.mob);
    }
  }

  onLeave(client: Client) {
    const p = this.bySession.get(client.sessionId);
    if (p === undefined) return;
    this.bySession.delete(client.sessionId);
    const i = this.players.indexOf(p);
    if (i >= 0) this.players.splice(i, 1);
    if (this.interest !== undefined && p.watcher !== undefined && p.mob !== undefined) {
      this.interest.unwatch(p.watcher);
      this.interest.untrack(p.mob);
      client.view?.dispose();
    }
    this.state.entities.delete(client.sessionId);
  }

  // What setSimulationInterval does (clock.tick(), then the callback), on absolute deadlines.
  // The pending timeout is kept in Room's _simulationInterval, so Colyseus treats it as the
  // simulation loop (no extra clock timer; clearInterval on dispose cancels it). A tick more
  // than one period late restarts the schedule instead of bursting to catch up.
  private startDeadlineClock() {
    const period = 1000 / HZ;
    let next = performance.now() + period;
    const self = this as unknown as { _simulationInterval: unknown };
    const loop = () => {
      this.clock.tick();
      this.tick();
      next += period;
      const now = performance.now();
      if (now - next > period) next = now + period;
      self._simulationInterval = setTimeout(loop, Math.max(0, next - now));
    };
    self._simulationInterval = setTimeout(loop, period);
  }

  private tick() {
    const t0 = process.hrtime.bigint();
    if (this.lastTickStart !== 0n) {
      const interval = Number(t0 - this.lastTickStart) / 1e6;
      stats.tickInterval.push(interval);
      if (interval > 1500 / HZ) stats.lateTicks++;
    }
    this.lastTickStart = t0;

    // 1. inputs: up to K per player, oldest first; the newest of them is applied.
    const applied = this.applied;
    applied.length = 0;
    for (const p of this.players) {
      const q = p.queue;
      if (q.length === 0) continue;
      const n = Math.min(K, q.length);
      for (let i = 0; i < n; i++) {
        applied.push(q[i].recvNs);
        stats.wait.push(Number(t0 - q[i].recvNs) / 1e6);
      }
      const last = q[n - 1];
      q.splice(0, n);
      p.e.vx = clamp(last.vx);
      p.e.vy = clamp(last.vy);
      p.e.seq = last.seq;
    }

    // 2. step: NPCs in index order, then players.
    const r = this.rnd;
    const dt = this.dt;
    for (const e of this.npcs) stepNpc(e, r, dt, WORLD);
    for (const p of this.players) move(p.e, dt, WORLD);

    // 3. views: add what entered each client's view, remove what left it.
    const tv = process.hrtime.bigint();
    const interest = this.interest;
    if (interest !== undefined) {
      interest.resetCounts();
      interest.update();
      stats.viewAdds += interest.adds;
      stats.viewRemoves += interest.removes;
    }

    // 4. diff + encode + send: one patch, shared by every client (with views: the shared part
    // plus each client's view, encoded per client).
    const tp = process.hrtime.bigint();
    this.broadcastPatch();

    const t1 = process.hrtime.bigint();
    stats.ticks++;
    stats.tickWork.push(Number(t1 - t0) / 1e6);
    if (interest !== undefined) stats.tickView.push(Number(tp - tv) / 1e6);
    stats.tickPatch.push(Number(t1 - tp) / 1e6);
    for (let i = 0; i < applied.length; i++) stats.hold.push(Number(t1 - applied[i]) / 1e6);
  }
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function clamp(v: number): number {
  return v > INPUT_MAX ? INPUT_MAX : v < -INPUT_MAX ? -INPUT_MAX : v;
}

// ---- stats endpoint ------------------------------------------------------------------------

function statsJSON() {
  const now = process.hrtime.bigint();
  const windowMs = Number(now - stats.windowStart) / 1e6;
  const cpu = process.cpuUsage(stats.cpuStart);
  const rss = process.memoryUsage.rss();
  if (rss > stats.rssPeakWindow) stats.rssPeakWindow = rss;
  return {
    server: "colyseus",
    pid: process.pid,
    entities: ENTITIES,
    hz: HZ,
    world: WORLD,
    view: VIEW,
    cell: VIEW > 0 ? CELL : 0,
    k: K,
    clock: USE_INTERVAL ? "interval" : "deadline",
    players: room ? room.clients.length : 0,
    window_ms: windowMs,
    ticks: stats.ticks,
    expected_ticks: Math.round((windowMs * HZ) / 1000),
    missed_ticks: Math.max(0, Math.round((windowMs * HZ) / 1000) - stats.ticks),
    tick_work_ms: summarize(stats.tickWork.v),
    tick_view_ms: summarize(stats.tickView.v),
    tick_patch_ms: summarize(stats.tickPatch.v),
    late_ticks: stats.lateTicks,
    view_adds: stats.viewAdds,
    view_removes: stats.viewRemoves,
    tick_interval_ms: summarize(stats.tickInterval.v),
    server_hold_ms: summarize(stats.hold.v),
    tick_wait_ms: summarize(stats.wait.v),
    inputs_received: stats.inputsReceived,
    inputs_dropped: stats.inputsDropped,
    cpu_user_us: cpu.user,
    cpu_system_us: cpu.system,
    cpu_util_pct: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
    rss_mb: rss / (1 << 20),
    rss_peak_window_mb: stats.rssPeakWindow / (1 << 20),
    rss_peak_mb: vmHWMmb(), // VmHWM: peak over the process lifetime
  };
}

interface JsonRes {
  json(body: unknown): void;
}

const server = defineServer({
  rooms: { arena: defineRoom(ArenaRoom) },
  transport: new WebSocketTransport(),
  greet: false,
  express: (app) => {
    // express types are not installed: the app is typed loosely on purpose.
    app.get("/stats", (_req: unknown, res: JsonRes) => {
      res.json(statsJSON());
    });
    app.post("/stats/reset", (_req: unknown, res: JsonRes) => {
      stats.reset();
      res.json({ ok: true });
    });
  },
});

// Peak RSS within the window: sample every 100 ms (unref'd, so it never keeps the process up).
setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss > stats.rssPeakWindow) stats.rssPeakWindow = rss;
}, 100).unref();

await server.listen(PORT, HOST);
await matchMaker.createRoom("arena", {}); // the world exists before anyone joins
console.error(
  `colyseus arena: listening on ${HOST}:${PORT} entities=${ENTITIES} hz=${HZ} k=${K} world=${WORLD} ` +
    (VIEW > 0 ? `view=${VIEW} cell=${CELL} ` : "") +
    `clock=${USE_INTERVAL ? "interval" : "deadline"} pid=${process.pid}`,
);
