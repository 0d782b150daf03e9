// Load client for the Colyseus "arena" peer: M @colyseus/sdk connections to one room, each
// sending {vx, vy, seq, t} every 50 ms; measures what docs/benchmark.md asks for and prints ONE
// JSON object on stdout (progress goes to stderr).
//
// Flags (or env): --scenario (SCENARIO, B) sets the defaults of --entities, --clients, --hz;
// --duration (DURATION_S, 20), --warmup (WARMUP_S, 3), --port (PORT, 2567),
// --server-pid (SERVER_PID; if given, server CPU comes from /proc/<pid>/stat),
// --probes (PROBES, per scenario: A 50, B 10, B60 4, B128 2, C 2, D 20; 0 = all): how many clients decode the patches (RTT and decode time are
// measured on those); the others count bytes and patches but skip the decode, so that the load
// generator does not saturate on a 2-core box. Every client sends inputs.
// With views (the server's /stats says view > 0: scenario D) every decoding client checks after
// each patch that it holds its own player and nothing outside the grid cells it sees.

import { readFileSync } from "node:fs";
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Client, Room, Protocol } from "@colyseus/sdk";
import { flag, flagStr, round, summarize } from "./common.ts";
import { emptyRect, Grid } from "./grid.ts";
import { SCENARIOS } from "./scenarios.ts";

const SCENARIO_NAME = flagStr("scenario", "SCENARIO", "B");
const SCENARIO = SCENARIOS[SCENARIO_NAME];
if (SCENARIO === undefined) throw new Error(`unknown scenario ${SCENARIO_NAME}`);
const CLIENTS = flag("clients", "CLIENTS", SCENARIO.clients);
const ENTITIES = flag("entities", "ENTITIES", SCENARIO.entities);
const HZ = flag("hz", "HZ", SCENARIO.hz);
const DURATION_S = flag("duration", "DURATION_S", 20);
const WARMUP_S = flag("warmup", "WARMUP_S", 3);
const PORT = flag("port", "PORT", 2567);
const SERVER_PID = flag("server-pid", "SERVER_PID", 0);
const PROBES_FLAG = flag("probes", "PROBES", SCENARIO.probes);
const PROBES = PROBES_FLAG <= 0 || PROBES_FLAG > CLIENTS ? CLIENTS : PROBES_FLAG;
const JOIN_CONCURRENCY = flag("join-concurrency", "JOIN_CONCURRENCY", 10);
// Joining stops (and the window runs with the clients that joined) once JOIN_CONCURRENCY
// clients failed all their attempts, or after JOIN_BUDGET_S: a server that cannot keep up
// lets seat reservations expire, and would otherwise keep the run joining for many minutes.
const JOIN_BUDGET_S = flag("join-budget", "JOIN_BUDGET_S", 180);
const INPUT_INTERVAL_MS = 50;
const MAX_PENDING = 256; // inputs awaiting their ack, per client
const MAX_SAMPLES = 2_000_000;
const HOST = "127.0.0.1";
const BASE = `http://${HOST}:${PORT}`;
const CODE_MASK = 31; // PROTOCOL_CODE_MASK of @colyseus/shared-types

const log = (...a: unknown[]) => console.error("[loadclient]", ...a);

// ---- per-connection bookkeeping, hooked under the SDK's frame dispatch ---------------------

interface Conn {
  decode: boolean; // probe: decode patches, measure RTT
  sessionId: string;
  fullStateBytes: number;
  bytes: number; // window counters
  patches: number;
  patchBytes: number;
  seq: number;
  pendSeq: number[];
  pendT: number[];
  timer?: NodeJS.Timeout;
  room?: Room;
}

const connOf = new WeakMap<object, Conn>();
let measuring = false;
const rtt: number[] = [];
let decodeNs = 0n;
let decodedPatches = 0;
const fullStates: number[] = [];
let inputsSent = 0;
let disconnects = 0;
let leaving = false;

// Views (set from the server's /stats before any join): what a decoding client may hold.
let viewGrid: Grid | undefined;
let viewHalf = 0;
const viewRect = emptyRect();
const viewCheck = { patches: 0, held: 0, outside: 0, ownMissing: 0 };

function connFor(room: object): Conn {
  let c = connOf.get(room);
  if (c === undefined) {
    c = {
      decode: true, sessionId: "", fullStateBytes: 0, bytes: 0, patches: 0, patchBytes: 0,
      seq: 0, pendSeq: [], pendT: [],
    };
    connOf.set(room, c);
  }
  return c;
}

// Every frame a Room receives passes through Room.prototype.onMessageCallback (bound at
// connect time, so patch the prototype before any join).
const proto = Room.prototype as any;
const originalOnMessage: (this: any, event: { data: ArrayBuffer }) => void = proto.onMessageCallback;
proto.onMessageCallback = function (this: any, event: { data: ArrayBuffer }) {
  const c = connFor(this);
  const data = event.data;
  const n = data.byteLength;
  const code = n > 0 ? new Uint8Array(data, 0, 1)[0] & CODE_MASK : -1;
  if (measuring) c.bytes += n;
  if (code === Protocol.ROOM_STATE_PATCH) {
    if (measuring) {
      c.patches++;
      c.patchBytes += n;
    }
    if (!c.decode) return; // bytes counted; decode skipped on non-probe clients
    const t0 = process.hrtime.bigint();
    originalOnMessage.call(this, event);
    const t1 = process.hrtime.bigint();
    if (measuring) {
      decodeNs += t1 - t0;
      decodedPatches++;
    }
    ackCheck(this, c);
    if (viewGrid !== undefined) checkView(this);
    return;
  }
  if (code === Protocol.ROOM_STATE && c.fullStateBytes === 0) {
    c.fullStateBytes = n;
    fullStates.push(n);
  }
  originalOnMessage.call(this, event);
};

// RTT: input sent -> first decoded patch whose own entity shows seq >= the input's seq.
function ackCheck(room: any, c: Conn) {
  if (c.pendSeq.length === 0) return;
  const e = room.state?.entities?.get(room.sessionId);
  if (e === undefined || typeof e.seq !== "number") return;
  const acked = e.seq;
  const now = performance.now();
  let i = 0;
  while (i < c.pendSeq.length && c.pendSeq[i] <= acked) {
    if (measuring && rtt.length < MAX_SAMPLES) rtt.push(now - c.pendT[i]);
    i++;
  }
  if (i > 0) {
    c.pendSeq.splice(0, i);
    c.pendT.splice(0, i);
  }
}

// With views: the client must hold its own player, and every entity it holds must lie in a cell
// of the square around that player (the server's rule, src/interest.ts, with the same floats).
// Counted from the first patch after join to the end of the window.
function checkView(room: any) {
  const grid = viewGrid!;
  const entities = room.state?.entities;
  if (entities === undefined) return;
  viewCheck.patches++;
  const own = entities.get(room.sessionId);
  if (own === undefined) {
    viewCheck.ownMissing++;
    return;
  }
  grid.square(own.x, own.y, viewHalf, viewRect);
  for (const e of entities.values()) {
    viewCheck.held++;
    if (!grid.has(viewRect, grid.cellAt(e.x, e.y))) viewCheck.outside++;
  }
}

function sendInput(c: Conn) {
  const room = c.room;
  if (room === undefined) return;
  c.seq++;
  const t = performance.now();
  try {
    room.send("input", { vx: Math.random() * 200 - 100, vy: Math.random() * 200 - 100, seq: c.seq, t: Date.now() });
  } catch {
    return;
  }
  if (measuring) inputsSent++;
  if (c.decode) {
    if (c.pendSeq.length >= MAX_PENDING) {
      c.pendSeq.shift();
      c.pendT.shift();
    }
    c.pendSeq.push(c.seq);
    c.pendT.push(t);
  }
}

// ---- helpers --------------------------------------------------------------------------------

function procCpuTicks(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
    return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15), in clock ticks
  } catch {
    return null;
  }
}

// All CPUs' busy time (user+nice+system+irq+softirq+steal), in clock ticks, from /proc/stat.
function machineBusyTicks(): number | null {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f;
    return user + nice + system + irq + softirq + (steal ?? 0);
  } catch {
    return null;
  }
}

function machine(): string {
  let model = "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) model = m[1].trim();
  } catch {
    /* not Linux */
  }
  return `${os.availableParallelism()} cores, ${model}`;
}

async function http(method: string, path: string): Promise<any> {
  const res = await fetch(BASE + path, { method, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}`);
  return res.json();
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- main -----------------------------------------------------------------------------------

async function main() {
  // Hard stop: whatever happens, this process ends.
  const hardStopMs = (WARMUP_S + DURATION_S) * 1000 + 120_000 + CLIENTS * 500;
  setTimeout(() => {
    log(`hard stop after ${hardStopMs} ms`);
    process.exit(2);
  }, hardStopMs).unref();

  log(`scenario=${SCENARIO_NAME} clients=${CLIENTS} probes=${PROBES} duration=${DURATION_S}s warmup=${WARMUP_S}s -> ${BASE}`);
  // Make sure we talk to the server we were told about (not a stale one on the same port).
  const hello = await http("GET", "/stats");
  if (SERVER_PID > 0 && hello.pid !== SERVER_PID) {
    throw new Error(`the server on port ${PORT} has pid ${hello.pid}, expected ${SERVER_PID}`);
  }
  if (hello.players !== 0) log(`WARNING: ${hello.players} players already in the room`);
  if (hello.view > 0) {
    viewGrid = new Grid(hello.world, hello.cell);
    viewHalf = hello.view / 2;
  }
  const sdk = new Client(BASE);
  const conns: Conn[] = [];
  let next = 0;
  let failed = 0;
  const joinOne = async (i: number) => {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const room = await sdk.join("arena", {});
        const c = connFor(room);
        c.decode = i < PROBES;
        c.sessionId = room.sessionId;
        c.room = room;
        conns.push(c);
        room.onLeave(() => {
          if (!leaving) disconnects++;
        });
        // 20 Hz inputs with a random phase.
        const phase = Math.random() * INPUT_INTERVAL_MS;
        setTimeout(() => {
          sendInput(c);
          c.timer = setInterval(() => sendInput(c), INPUT_INTERVAL_MS);
        }, phase);
        return;
      } catch (err) {
        log(`join ${i} attempt ${attempt + 1} failed: ${(err as Error).message}`);
        await sleep(200);
      }
    }
    failed++;
  };
  const t0 = Date.now();
  const joining = () => next < CLIENTS && failed < JOIN_CONCURRENCY && Date.now() - t0 < JOIN_BUDGET_S * 1000;
  await Promise.all(
    Array.from({ length: Math.min(JOIN_CONCURRENCY, CLIENTS) }, async () => {
      while (joining()) await joinOne(next++);
    }),
  );
  const joinS = (Date.now() - t0) / 1000;
  log(`${conns.length} joined in ${joinS.toFixed(1)} s (${failed} failed)`);
  if (conns.length === 0) throw new Error("no client could join");

  await sleep(WARMUP_S * 1000);

  // ---- measurement window ----
  const lag = monitorEventLoopDelay({ resolution: 1 });
  await http("POST", "/stats/reset");
  const srvTicks0 = SERVER_PID > 0 ? procCpuTicks(SERVER_PID) : null;
  const busy0 = machineBusyTicks();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  for (const c of conns) {
    c.bytes = 0;
    c.patches = 0;
    c.patchBytes = 0;
  }
  rtt.length = 0;
  decodeNs = 0n;
  decodedPatches = 0;
  inputsSent = 0;
  disconnects = 0;
  lag.enable();
  measuring = true;
  log(`measuring for ${DURATION_S} s`);
  await sleep(DURATION_S * 1000);
  measuring = false;
  lag.disable();
  const windowS = (performance.now() - w0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const srvTicks1 = SERVER_PID > 0 ? procCpuTicks(SERVER_PID) : null;
  const busy1 = machineBusyTicks();
  const srv = await http("GET", "/stats");

  for (const c of conns) clearInterval(c.timer);

  // ---- results ----
  // Bytes are counted per connection as received, so with views (a different patch for each
  // client) the means below are per client, and the spread is reported too.
  let bytes = 0;
  let patches = 0;
  let patchBytes = 0;
  const perClientPatch: number[] = [];
  for (const c of conns) {
    bytes += c.bytes;
    patches += c.patches;
    patchBytes += c.patchBytes;
    if (c.patches > 0) perClientPatch.push(c.patchBytes / c.patches);
  }
  const pcp = summarize(perClientPatch);
  const m = conns.length;
  const clkTck = 100; // USER_HZ on Linux
  let serverCpu: number;
  if (srvTicks0 !== null && srvTicks1 !== null) {
    serverCpu = ((srvTicks1 - srvTicks0) / clkTck / windowS) * 100;
  } else {
    serverCpu = srv.cpu_util_pct;
  }
  const loadgenCpu = ((cpu.user + cpu.system) / 1e6 / windowS) * 100;
  // CPU used on the machine by everything except the server and the load client: other work on
  // a shared box makes the run noisy.
  const otherCpu =
    busy0 !== null && busy1 !== null ? ((busy1 - busy0) / clkTck / windowS) * 100 - serverCpu - loadgenCpu : null;
  const notes: string[] = [];
  if (otherCpu !== null && otherCpu > 10) {
    notes.push(`other processes used ${otherCpu.toFixed(0)}% of a core during the window: figures are noisy`);
  }
  if (m < CLIENTS) {
    notes.push(`only ${m} of ${CLIENTS} clients joined (${failed} failed every attempt; joining took ${joinS.toFixed(0)} s): the server did not hold the scenario`);
  }
  if (PROBES < m) notes.push(`${PROBES} of ${m} clients decode patches (RTT, decode time); the others count bytes only`);
  if (srv.missed_ticks > 1 || srv.late_ticks > 0) {
    notes.push(
      `the server fell behind: ${srv.missed_ticks} of ${srv.expected_ticks} ticks missing ` +
        `(${Math.round((srv.missed_ticks * 1000) / srv.hz)} ms), ${srv.late_ticks} tick starts over 1.5 periods after the previous`,
    );
  }
  if (disconnects > 0) notes.push(`${disconnects} clients were disconnected during the window`);
  if (viewGrid !== undefined && (viewCheck.outside > 0 || viewCheck.ownMissing > 0)) {
    notes.push(`VIEW CHECK FAILED: ${viewCheck.outside} entities held outside the view, own player missing in ${viewCheck.ownMissing} patches`);
  }
  const lagP99Ms = lag.percentile(99) / 1e6;
  const intervalMs = 1000 / HZ;
  const saturated = loadgenCpu >= 90 || lagP99Ms > intervalMs / 4;
  const r = summarize(rtt);
  const fs = summarize(fullStates);
  if (srv.entities !== ENTITIES || srv.hz !== HZ) {
    log(`WARNING: server runs entities=${srv.entities} hz=${srv.hz}, client expected ${ENTITIES}/${HZ}`);
  }
  log(
    `window ${windowS.toFixed(2)} s; ${rtt.length} RTT samples; loadgen event-loop lag p99 ${lagP99Ms.toFixed(1)} ms; ` +
      `server ticks ${srv.ticks}/${srv.expected_ticks}; inputs ${srv.inputs_received} (dropped ${srv.inputs_dropped}); ` +
      `full state on join min/max ${fs.p50 === null ? "-" : `${Math.min(...fullStates)}/${fs.max}`} B`,
  );

  const out = {
    server: "colyseus",
    version: "0.18.17",
    scenario: SCENARIO_NAME,
    entities: srv.entities,
    clients: m,
    hz: srv.hz,
    duration_s: DURATION_S,
    warmup_s: WARMUP_S,
    date: new Date().toISOString(),
    machine: machine(),
    patches_per_s_per_client: round(patches / windowS / m, 2),
    bytes_per_s_per_client: round(bytes / windowS / m, 0),
    bytes_per_patch_mean: round(patches > 0 ? patchBytes / patches : null, 0),
    full_state_bytes_on_join: round(fs.mean, 0),
    rtt_ms: { p50: round(r.p50), p90: round(r.p90), p99: round(r.p99), max: round(r.max) },
    server_hold_ms: {
      p50: round(srv.server_hold_ms.p50),
      p90: round(srv.server_hold_ms.p90),
      p99: round(srv.server_hold_ms.p99),
      max: round(srv.server_hold_ms.max),
    },
    tick_wait_ms: { p50: round(srv.tick_wait_ms.p50), p99: round(srv.tick_wait_ms.p99) },
    tick_work_ms: {
      mean: round(srv.tick_work_ms.mean),
      p50: round(srv.tick_work_ms.p50),
      p99: round(srv.tick_work_ms.p99),
      max: round(srv.tick_work_ms.max),
    },
    tick_interval_ms: { p99: round(srv.tick_interval_ms.p99), max: round(srv.tick_interval_ms.max) },
    missed_ticks: srv.missed_ticks,
    server_cpu_util_pct: round(serverCpu, 1),
    server_rss_mb: round(srv.rss_mb, 1),
    server_rss_peak_mb: round(srv.rss_peak_mb ?? srv.rss_peak_window_mb, 1),
    loadgen_cpu_util_pct: round(loadgenCpu, 1),
    loadgen_saturated: saturated,
    client_decode_ms_per_patch: decodedPatches > 0 ? round(Number(decodeNs) / 1e6 / decodedPatches, 4) : null,
    // Additions (names as in ticksync's bench where they exist).
    decoding_clients: Math.min(PROBES, m),
    clients_target: CLIENTS,
    join_failed: failed,
    join_s: round(joinS, 1),
    ticks: srv.ticks,
    patches,
    full_states: fullStates.length,
    inputs_sent: inputsSent,
    hold_samples: srv.server_hold_ms.n,
    rtt_samples: r.n,
    loadgen_procs: 1,
    loadgen_lag_p99_ms: round(lagP99Ms, 2),
    disconnects,
    other_cpu_util_pct: round(otherCpu, 1),
    // Falling behind, and where the tick's time goes.
    expected_ticks: srv.expected_ticks,
    late_ticks: srv.late_ticks,
    behind_ms: round((srv.missed_ticks * 1000) / srv.hz, 0),
    tick_patch_ms: { mean: round(srv.tick_patch_ms.mean), p99: round(srv.tick_patch_ms.p99) },
    bytes_per_patch_per_client: { min: round(pcp.p50 === null ? null : Math.min(...perClientPatch), 0), p50: round(pcp.p50, 0), max: round(pcp.max, 0) },
    // Views (0 / null without them): world and view in units; what the views cost and hold.
    world: srv.world,
    view: srv.view,
    cell: srv.cell,
    tick_view_ms: { mean: round(srv.tick_view_ms.mean), p99: round(srv.tick_view_ms.p99) },
    view_adds_per_tick: srv.view > 0 && srv.ticks > 0 ? round(srv.view_adds / srv.ticks, 1) : null,
    view_removes_per_tick: srv.view > 0 && srv.ticks > 0 ? round(srv.view_removes / srv.ticks, 1) : null,
    view_entities_mean: viewCheck.patches > 0 ? round(viewCheck.held / (viewCheck.patches - viewCheck.ownMissing), 1) : null,
    view_checks: viewCheck.patches,
    view_outside: viewCheck.outside,
    view_own_missing: viewCheck.ownMissing,
    notes,
  };
  process.stdout.write(JSON.stringify(out) + "\n");

  // Leave (bounded), then exit.
  leaving = true;
  await Promise.race([
    Promise.allSettled(conns.map((c) => c.room?.leave(true))),
    sleep(5000),
  ]);
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`error: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
