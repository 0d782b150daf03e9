// The connection against a scripted server on 127.0.0.1:0 (the ws package): join, welcome,
// frames, inputs, ping, close codes, reconnect with the resume token, resync.

import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { after, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { WebSocket, WebSocketServer } from "ws";
import type { WebSocket as WsSocket } from "ws";
import { ClientMessageSchema, GameEventSchema, MatchResultSchema, ServerMessageSchema } from "../src/gen/ticksync/v1/messages_pb";
import type { ClientMessage } from "../src/gen/ticksync/v1/messages_pb";
import { InputSchemaSchema } from "../src/gen/ticksync/v1/schema_pb";
import { connect, joinOrCreate } from "../src/client";
import type { Client, ClientEvents, Clock, ConnectOptions, WebSocketCtor } from "../src/client";
import { compileSchema } from "../src/schema";
import { arenaProto, encodeFrame, frameBytes, splitFrame, stateSchema } from "./helpers";
import type { ModelState } from "./helpers";

const WS = WebSocket as unknown as WebSocketCtor;
const schemaProto = arenaProto(20);
const schema = compileSchema(schemaProto);
const inputProto = create(InputSchemaSchema, {
  fields: stateSchema([{ name: "in", fields: [{ name: "vx", type: "fixed", scale: 100, min: -20000, max: 20000 }, { name: "vy", type: "fixed", scale: 100, min: -20000, max: 20000 }] }]).classes[0].fields,
});

/** Queue hands out items to waiters in order. */
class Queue<T> {
  private items: T[] = [];
  private waiters: ((t: T) => void)[] = [];
  push(t: T): void {
    const w = this.waiters.shift();
    if (w !== undefined) w(t);
    else this.items.push(t);
  }
  next(ms = 3000): Promise<T> {
    const t = this.items.shift();
    if (t !== undefined) return Promise.resolve(t);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting")), ms);
      this.waiters.push((v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  }
  get length(): number {
    return this.items.length;
  }
}

/** Conn is one server-side connection. */
class Conn {
  readonly msgs = new Queue<ClientMessage>();
  readonly closed: Promise<{ code: number; reason: string }>;
  constructor(
    readonly ws: WsSocket,
    readonly url: URL,
    readonly protocol: string,
  ) {
    ws.on("message", (d: Buffer) => this.msgs.push(fromBinary(ClientMessageSchema, new Uint8Array(d))));
    this.closed = new Promise((resolve) => ws.on("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
  }
  send(kind: MessageInitShape<typeof ServerMessageSchema>["kind"]): void {
    this.ws.send(toBinary(ServerMessageSchema, create(ServerMessageSchema, { kind })));
  }
  sendRaw(b: Uint8Array): void {
    this.ws.send(b);
  }
  welcome(over: Record<string, unknown> = {}): void {
    this.send({
      case: "welcome",
      value: { playerId: 42, room: "r1", game: "arena", tickRate: 20, state: schemaProto, input: inputProto, resumeToken: "resume-1", hashEvery: 20, tick: 1, ...over },
    });
  }
  async next(kind: string): Promise<ClientMessage> {
    for (;;) {
      const m = await this.msgs.next();
      if (m.kind.case === kind) return m;
      if (m.kind.case !== "ping") throw new Error(`expected ${kind}, got ${m.kind.case}`);
    }
  }
}

/** Server is a scripted ticksync stand-in. */
class Server {
  readonly wss: WebSocketServer;
  readonly conns = new Queue<Conn>();
  handshakes = 0;
  reject = 0; // answer the next n handshakes with 401
  ready: Promise<void>;
  constructor() {
    this.wss = new WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      handleProtocols: (protocols: Set<string>) => (protocols.has("ticksync.v1") ? "ticksync.v1" : false),
      verifyClient: (_info: unknown, cb: (ok: boolean, code?: number) => void) => {
        this.handshakes++;
        if (this.reject > 0) {
          this.reject--;
          cb(false, 401);
        } else cb(true);
      },
    });
    this.wss.on("connection", (ws: WsSocket, req: IncomingMessage) => {
      this.conns.push(new Conn(ws, new URL(req.url ?? "/", "ws://x"), ws.protocol));
    });
    this.ready = new Promise((resolve) => this.wss.on("listening", () => resolve()));
  }
  /** accept takes the next connection, reads its join and welcomes it (over: welcome fields). */
  async accept(over: Record<string, unknown> = {}): Promise<Conn> {
    const conn = await this.conns.next();
    await conn.next("join");
    conn.welcome(over);
    return conn;
  }
  get url(): string {
    const a = this.wss.address();
    if (typeof a === "string" || a === null) throw new Error("no address");
    return `ws://127.0.0.1:${a.port}/ws`;
  }
  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

/** FakeClock runs timers when told to. */
class FakeClock implements Clock {
  t = 1000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (next === undefined || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

function events<K extends keyof ClientEvents>(c: Client, name: K): Queue<ClientEvents[K]> {
  const q = new Queue<ClientEvents[K]>();
  c.on(name, (p) => q.push(p));
  return q;
}

function world(tick: number, x = 1000): ModelState {
  return {
    tick,
    entities: new Map([
      [1, { cls: 0, gen: 1, vals: [5000, 5000, -2000, 300, 100], bytes: [] }],
      [2, { cls: 1, gen: 1, vals: [x, 0, 0, 0, 100, 42], bytes: [] }],
      [3, { cls: 1, gen: 1, vals: [0, 0, 0, 0, 100, 43], bytes: [] }],
    ]),
  };
}

function advance(s: ModelState, tick: number): ModelState {
  const n: ModelState = { tick, entities: new Map() };
  for (const [id, e] of s.entities) {
    const v = [...e.vals];
    v[0] = (v[0] + Math.trunc(v[2] / 20)) | 0;
    v[1] = (v[1] + Math.trunc(v[3] / 20)) | 0;
    n.entities.set(id, { ...e, vals: v });
  }
  return n;
}

const frame = (base: ModelState | null, cur: ModelState, o: { lastInputSeq?: number; withHash?: boolean } = {}) => frameBytes(encodeFrame(schema, base, cur, o));

const servers: Server[] = [];
async function server(): Promise<Server> {
  const s = new Server();
  servers.push(s);
  await s.ready;
  return s;
}
after(async () => {
  for (const s of servers) await s.close();
});

function open(s: Server, o: Partial<ConnectOptions> = {}): Client {
  return connect(s.url, { room: "r1", game: "arena", WebSocket: WS, pingIntervalMs: 0, reconnect: { baseDelayMs: 1, maxDelayMs: 5 }, ...o });
}

describe("client", () => {
  test("join, welcome, snapshot and delta frames into the mirror, spawn and player events", async () => {
    const s = await server();
    const c = open(s, { token: "tok en" });
    const welcome = events(c, "welcome");
    const frames = events(c, "frame");
    const joins = events(c, "playerJoin");
    const leaves = events(c, "playerLeave");
    const conn = await s.conns.next();
    assert.equal(conn.protocol, "ticksync.v1");
    assert.equal(conn.url.searchParams.get("token"), "tok en");
    const join = await conn.next("join");
    assert.deepEqual(join.kind.value, { ...join.kind.value, room: "r1", game: "arena", createIfMissing: true, spectator: false, lastTick: 0, views: true, follow: 0 });
    conn.welcome();
    const w = await welcome.next();
    assert.equal(w.playerId, 42);
    assert.deepEqual(w.schema.classes.map((x) => x.name), ["npc", "player"]);
    const s1 = world(1);
    conn.sendRaw(frame(null, s1, { withHash: true }));
    assert.equal((await frames.next()).tick, 1);
    assert.deepEqual([(await joins.next()).playerId, (await joins.next()).playerId], [42, 43]);
    assert.equal(c.mirror?.size, 3);
    assert.equal(c.ownEntityId, 2);
    assert.equal(c.mirror?.entity(1)?.vx, -20);
    const s2 = advance(s1, 2);
    s2.entities.delete(3);
    conn.sendRaw(frame(s1, s2));
    assert.equal((await frames.next()).tick, 2);
    assert.equal(c.mirror?.entity(1)?.x, 49);
    assert.deepEqual(await leaves.next(), { playerId: 43, entityId: 3 });
    const st = c.stats();
    assert.equal(st.lastTick, 2);
    assert.equal(st.hashChecks, 1);
    assert.equal(st.desyncs, 0);
    assert.equal(st.framesApplied, 2);
    c.close();
    assert.equal((await conn.closed).code, 1000);
  });

  test("inputs: quantized, clamped, sequenced, at most one per tick interval, predicted", async () => {
    const s = await server();
    const clock = new FakeClock();
    const c = open(s, {
      clock,
      predict: (row, input, ctx) => {
        const vx = ctx.cls.byName.get("vx")!.col;
        const x = ctx.cls.byName.get("x")!.col;
        row[vx] = input[0];
        row[x] = (row[x] + Math.trunc(row[vx] / ctx.tickRate)) | 0;
      },
    });
    const frames = events(c, "frame");
    const conn = await s.accept();
    const s1 = world(1);
    conn.sendRaw(frame(null, s1));
    await frames.next();
    assert.equal(c.sendInput({ vx: 1.5, vy: -500 }), true);
    const in1 = await conn.next("input");
    assert.equal(in1.kind.case, "input");
    if (in1.kind.case !== "input") return;
    assert.equal(in1.kind.value.seq, 1);
    assert.deepEqual(in1.kind.value.values, [150, -20000]);
    assert.equal(c.predictedEntity()?.x, 10 + 0.07); // 1000 + trunc(150/20) = 1007
    // Within the same 50 ms: coalesced into one message carrying the latest values.
    clock.advance(10);
    c.sendInput({ vx: 2 });
    c.sendInput({ vx: 3 });
    clock.advance(20);
    assert.equal(conn.msgs.length, 0);
    clock.advance(20);
    const in2 = await conn.next("input");
    if (in2.kind.case !== "input") return;
    assert.equal(in2.kind.value.seq, 2);
    assert.deepEqual(in2.kind.value.values, [300, -20000]); // vy kept its last value
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(conn.msgs.length, 0);
    assert.equal(c.stats().inputSeq, 2);
    // The server applied input 1 only: the client replays input 2 on top.
    const s2: ModelState = world(2, 1007);
    s2.entities.get(2)!.vals[2] = 150;
    conn.sendRaw(frame(s1, s2, { lastInputSeq: 1 }));
    await frames.next();
    assert.deepEqual(c.predictor?.pendingSeqs(), [2]);
    assert.equal(c.predictedEntity()?.x, (1007 + 15) / 100);
    assert.equal(c.renderEntity(2)?.x, (1007 + 15) / 100);
    // Stats over a one-second window.
    c.stats();
    clock.advance(1000);
    const st = c.stats();
    assert.ok(st.framesPerSec > 1.8 && st.framesPerSec <= 2, `frames/s ${st.framesPerSec}`); // 2 frames in the window
    assert.ok(st.bytesInPerSec > 0 && st.bytesOutPerSec > 0, JSON.stringify(st));
    assert.equal(st.lastInputSeqAcked, 1);
    assert.equal(st.inputRttMs, 50); // input 1 sent at t=1000, acknowledged by the frame at t=1050
    assert.ok(st.decodeApplyMs >= 0);
    c.close();
  });

  test("a spectator sends no inputs", async () => {
    const s = await server();
    const c = open(s, { spectator: true });
    const welcome = events(c, "welcome");
    const conn = await s.conns.next();
    const join = await conn.next("join");
    assert.equal(join.kind.case === "join" && join.kind.value.spectator, true);
    conn.welcome({ spectator: true, playerId: 0 });
    await welcome.next();
    assert.equal(c.sendInput({ vx: 1 }), false);
    c.close();
  });

  test("replay sessions: controls out, status in, a seek back is a fresh snapshot", async () => {
    const s = await server();
    const c = open(s);
    const frames = events(c, "frame");
    const statuses = events(c, "replayStatus");
    const conn = await s.accept({ replay: true, spectator: true, playerId: 0 });
    conn.send({
      case: "replayStatus",
      value: {
        tick: 1,
        firstTick: 1,
        lastTick: 900,
        playing: true,
        speedPct: 100,
        name: "m1",
        events: [{ tick: 5, kind: 2, values: [-3], to: [42] }],
        result: { tick: 900, winners: [42], summary: "42 wins" },
      },
    });
    const st = await statuses.next();
    assert.equal(st.lastTick, 900);
    // The recording's events (with their recipients) and result reach the handler, typed.
    assert.deepEqual([st.events[0].tick, st.events[0].kind, st.events[0].values, st.events[0].to], [5, 2, [-3], [42]]);
    assert.equal(st.result?.summary, "42 wins");
    const s1 = world(1);
    const s2 = advance(s1, 2);
    conn.sendRaw(frame(null, s2));
    await frames.next();
    assert.equal(c.replay("seek", { seekTick: 1 }), true);
    const m = await conn.next("replayControl");
    assert.deepEqual(m.kind.case === "replayControl" && [m.kind.value.action, m.kind.value.seekTick], [4, 1]);
    conn.sendRaw(frame(null, s1));
    assert.equal((await frames.next()).tick, 1);
    assert.equal(c.mirror?.tick, 1);
    c.close();
  });

  test("views: pieces and follow asked for in the join, grid and config from each welcome, a frame with pieces, followPlayer", async () => {
    const s = await server();
    const c = open(s, { spectator: true, follow: 7 });
    const welcome = events(c, "welcome");
    const reconnected = events(c, "reconnected");
    const frames = events(c, "frame");
    const conn = await s.conns.next();
    const join = await conn.next("join");
    assert.equal(join.kind.case, "join");
    if (join.kind.case !== "join") return;
    assert.deepEqual([join.kind.value.views, join.kind.value.follow, join.kind.value.spectator], [true, 7, true]);
    const gridOf = (cl: Client) => cl.grid; // read anew after each welcome (no narrowing)
    assert.equal(gridOf(c), undefined);
    assert.deepEqual(c.roomConfig, {});
    const grid = { width: 400000, height: 400000, cell: 10000, cols: 40, rows: 40 };
    conn.welcome({ spectator: true, playerId: 0, replay: true, grid, config: new TextEncoder().encode(`{"npcs":20000,"view":400}`) });
    await welcome.next();
    const g = gridOf(c);
    assert.deepEqual([g?.width, g?.height, g?.cell, g?.cols, g?.rows], [400000, 400000, 10000, 40, 40]);
    assert.deepEqual(c.roomConfig, { npcs: 20000, view: 400 });
    // A snapshot and a t-1 frame whose changes are spread over the own fields and three pieces.
    const s1 = world(1);
    const s2 = advance(s1, 2);
    s2.entities.delete(1);
    s2.entities.set(9, { cls: 0, gen: 2, vals: [1, 2, 3, 4, 5], bytes: [] });
    conn.sendRaw(frameBytes(splitFrame(schema, encodeFrame(schema, null, s1), 3, (id) => id % 4)));
    await frames.next();
    conn.sendRaw(frameBytes(splitFrame(schema, encodeFrame(schema, s1, s2, { withHash: true }), 3, (id) => (id + 1) % 4)));
    assert.equal((await frames.next()).tick, 2);
    assert.deepEqual(c.mirror?.ids(), [2, 3, 9]);
    assert.equal(c.mirror?.entity(2)?.x, 10);
    assert.deepEqual([c.stats().hashChecks, c.stats().desyncs], [1, 0]);
    assert.equal(c.followPlayer(42), true);
    const m = await conn.next("replayControl");
    assert.deepEqual(m.kind.case === "replayControl" && [m.kind.value.action, m.kind.value.follow], [5, 42]);
    // The next welcome (a reconnect) sets both again: no grid, a config that is not JSON.
    conn.ws.close(1001, "going away");
    const conn2 = await s.conns.next();
    const rejoin = await conn2.next("join");
    assert.deepEqual(rejoin.kind.case === "join" && [rejoin.kind.value.views, rejoin.kind.value.follow], [true, 7]);
    conn2.welcome({ spectator: true, playerId: 0, resumed: true, config: new TextEncoder().encode("{npcs") });
    await reconnected.next();
    assert.equal(gridOf(c), undefined);
    assert.deepEqual(c.roomConfig, {});
    c.close();
  });

  test("ping and pong give the RTT", async () => {
    const s = await server();
    const c = open(s, { pingIntervalMs: 1000 });
    const welcome = events(c, "welcome");
    const conn = await s.accept();
    await welcome.next();
    const ping = await conn.msgs.next();
    assert.equal(ping.kind.case, "ping");
    if (ping.kind.case !== "ping") return;
    conn.send({ case: "pong", value: { clientTimeUs: ping.kind.value.clientTimeUs, serverTimeUs: 0n, tick: 1 } });
    for (let i = 0; i < 100 && Number.isNaN(c.stats().rttMs); i++) await new Promise((r) => setTimeout(r, 5));
    const rtt = c.stats().rttMs;
    assert.ok(rtt >= 0 && rtt < 1000, `rtt ${rtt}`);
    c.close();
  });

  test("reconnects after 1001 with the resume token and the last tick held", async () => {
    const s = await server();
    const c = open(s, { token: "join-token" });
    const frames = events(c, "frame");
    const reconnecting = events(c, "reconnecting");
    const reconnected = events(c, "reconnected");
    const conn = await s.accept();
    const s1 = world(1);
    conn.sendRaw(frame(null, s1));
    const s2 = advance(s1, 2);
    conn.sendRaw(frame(s1, s2));
    await frames.next();
    await frames.next();
    conn.ws.close(1001, "server shutting down");
    const r = await reconnecting.next();
    assert.equal(r.code, 1001);
    assert.equal(r.attempt, 1);
    assert.match(r.message, /shutting down/);
    const conn2 = await s.conns.next();
    assert.equal(conn2.url.searchParams.get("token"), "resume-1");
    const join = await conn2.next("join");
    assert.equal(join.kind.case === "join" && join.kind.value.lastTick, 2);
    conn2.welcome({ resumed: true, resumeToken: "resume-2" });
    const info = await reconnected.next();
    assert.equal(info.resumed, true);
    const s5 = advance(advance(advance(s2, 3), 4), 5);
    conn2.sendRaw(frame(s2, s5)); // a delta from the tick the client holds
    assert.equal((await frames.next()).baselineTick, 2);
    assert.equal(c.mirror?.entity(1)?.x, 5000 / 100 - 4 * 1);
    assert.equal(c.stats().reconnects, 1);
    c.close();
  });

  test("quick play: the join lets the server pick; once welcomed, reconnects go to the room it picked", async () => {
    const s = await server();
    const c = joinOrCreate(s.url, "arena", {
      WebSocket: WS,
      pingIntervalMs: 0,
      reconnect: { baseDelayMs: 1, maxDelayMs: 5 },
      labels: { mode: "ffa" },
      config: { npcs: 3 },
    });
    const welcomes = events(c, "welcome");
    const reconnected = events(c, "reconnected");
    assert.equal(c.roomId, "");
    const conn = await s.conns.next();
    const join = await conn.next("join");
    assert.equal(join.kind.case, "join");
    if (join.kind.case !== "join") return;
    assert.equal(join.kind.value.quickPlay, true);
    assert.equal(join.kind.value.room, "");
    assert.equal(join.kind.value.game, "arena");
    assert.equal(join.kind.value.createIfMissing, false, "quick play creates by itself");
    assert.deepEqual(join.kind.value.labels, { mode: "ffa" });
    assert.equal(new TextDecoder().decode(join.kind.value.config), `{"npcs":3}`);
    conn.welcome({ room: "qp-7" });
    await welcomes.next();
    assert.equal(c.roomId, "qp-7");
    conn.ws.close(1001, "server shutting down");
    const conn2 = await s.conns.next();
    assert.equal(conn2.url.searchParams.get("token"), "resume-1");
    const rejoin = await conn2.next("join");
    assert.equal(rejoin.kind.case === "join" && rejoin.kind.value.quickPlay, false);
    assert.equal(rejoin.kind.case === "join" && rejoin.kind.value.room, "qp-7");
    conn2.welcome({ room: "qp-7", resumed: true });
    await reconnected.next();
    c.close();
    assert.throws(() => connect(s.url, { room: "r1", quickPlay: true, WebSocket: WS }), /exclude each other/);
    assert.throws(() => connect(s.url, { WebSocket: WS }), /room id is required/);
  });

  test("close codes: which reconnect and how they read", async () => {
    const cases: [number, string, boolean, RegExp][] = [
      [1006, "", true, /lost/],
      [1011, "room failed", true, /server error/],
      [4003, "", true, /server full/],
      [4009, "", true, /room full/],
      [4029, "too many seats from your address", true, /too many players from your address/],
      [1008, "too slow", true, /too slow/],
      [1008, "join timeout", true, /join took too long/],
      [1008, "ping timeout", true, /timed out: the server heard nothing/],
      [1000, "", false, /closed/],
      [1002, "", false, /protocol error/],
      [1003, "binary frames only", false, /binary frames only/],
      [1008, "malformed message", false, /malformed message/],
      [1009, "", false, /too big/],
      [4001, "superseded", false, /new token/],
      [4002, "match over", false, /room closed: match over/],
      [4004, "", false, /room not found/],
      [4004, "room not found", false, /^room not found$/],
      [4004, "unknown game", false, /^unknown game/],
      [4005, "the match has started", false, /^the game refused to let you join: the match has started$/],
      [4005, "", false, /^the game refused to let you join$/],
      [4010, "", false, /replaced/],
    ];
    for (const [code, reason, retry, msg] of cases) {
      const s = await server();
      const c = open(s);
      const welcome = events(c, "welcome");
      const closes = events(c, "close");
      const reconnecting = events(c, "reconnecting");
      const conn = await s.accept();
      await welcome.next();
      if (code === 1006) conn.ws.terminate();
      else if (code === 1002 || code === 1011 || code === 1009) conn.ws.close(code, reason); // ws may send these
      else conn.ws.close(code, reason);
      if (retry) {
        const r = await reconnecting.next();
        assert.equal(r.code, code, `${code} ${reason}`);
        assert.match(r.message, msg, `${code} ${reason}`);
        await s.conns.next();
      } else {
        const cl = await closes.next();
        assert.equal(cl.code, code, `${code} ${reason}`);
        assert.match(cl.message, msg, `${code} ${reason}`);
        assert.equal(reconnecting.length, 0);
        assert.equal(c.closed, true);
      }
      c.close();
      await s.close();
    }
  });

  test("a join refused by the game (4005) is final: no reconnect, the game's reason in the message", async () => {
    const s = await server();
    const clock = new FakeClock();
    let sockets = 0;
    const Counting = class extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        sockets++;
      }
    } as unknown as WebSocketCtor;
    const c = open(s, { clock, WebSocket: Counting, reconnect: { maxAttempts: 10, baseDelayMs: 1, maxDelayMs: 1 } });
    const closes = events(c, "close");
    const reconnecting = events(c, "reconnecting");
    const conn = await s.conns.next();
    await conn.next("join");
    conn.ws.close(4005, "team red is full");
    const cl = await closes.next();
    assert.deepEqual(cl, { code: 4005, reason: "team red is full", message: "the game refused to let you join: team red is full" });
    assert.equal(c.closed, true);
    // Any reconnect would be a timer on the fake clock: run them all, no socket may open.
    clock.advance(60_000);
    assert.equal(reconnecting.length, 0);
    assert.equal(sockets, 1, "no second socket");
  });

  test("meta and config reach the Join: objects as JSON, strings as they are, nothing by default", async () => {
    const s = await server();
    const utf8 = new TextDecoder();
    const cases: [Partial<ConnectOptions>, string, string][] = [
      [{}, "", ""],
      [{ meta: { name: "Ann", team: "red" }, config: { mode: "ffa", rounds: 3 } }, '{"name":"Ann","team":"red"}', '{"mode":"ffa","rounds":3}'],
      [{ meta: "plain ✓", config: '{"mode":"ctf"}' }, "plain ✓", '{"mode":"ctf"}'],
    ];
    for (const [o, meta, config] of cases) {
      const c = open(s, o);
      const conn = await s.conns.next();
      const join = await conn.next("join");
      assert.equal(join.kind.case, "join");
      if (join.kind.case !== "join") return;
      assert.equal(join.kind.value.meta, meta);
      assert.equal(utf8.decode(join.kind.value.config), config);
      c.close();
    }
    assert.throws(() => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      open(s, { meta: cyclic });
    }, /meta or config is not JSON/);
  });

  test("inputs carry the render tick and sub-tick of when they were made, not when sent", async () => {
    const s = await server();
    const clock = new FakeClock();
    const c = open(s, { clock });
    const frames = events(c, "frame");
    const conn = await s.accept();
    const s1 = world(1);
    conn.sendRaw(frame(null, s1));
    await frames.next();
    // Nothing drawn yet: unknown.
    c.sendInput({ vx: 1 });
    const in0 = await conn.next("input");
    assert.deepEqual(in0.kind.case === "input" && [in0.kind.value.renderTick, in0.kind.value.subtick], [0, 0]);
    const s2 = advance(s1, 2);
    conn.sendRaw(frame(s1, s2));
    await frames.next();
    const s3 = advance(s2, 3);
    conn.sendRaw(frame(s2, s3));
    await frames.next();
    const ip = c.interpolator!;
    clock.advance(50);
    ip.at(1.25);
    c.sendInput({ vx: 2 });
    const in1 = await conn.next("input");
    assert.deepEqual(in1.kind.case === "input" && [in1.kind.value.seq, in1.kind.value.renderTick, in1.kind.value.subtick], [2, 1, 16384]);
    // Coalesced: made at 2.999…, the drawing moves on before it goes out; the stamp stays.
    clock.advance(10);
    ip.at(3 - 1 / 131072);
    c.sendInput({ vx: 3 });
    ip.at(3);
    clock.advance(40);
    const in2 = await conn.next("input");
    assert.deepEqual(in2.kind.case === "input" && [in2.kind.value.seq, in2.kind.value.renderTick, in2.kind.value.subtick], [3, 2, 65535]);
    // A whole tick: sub-tick 0.
    clock.advance(50);
    c.sendInput({ vx: 4 });
    const in3 = await conn.next("input");
    assert.deepEqual(in3.kind.case === "input" && [in3.kind.value.renderTick, in3.kind.value.subtick], [3, 0]);
    c.close();
  });

  test("game events are emitted in order, once, after their frame; the result once", async () => {
    const s = await server();
    const c = open(s);
    const log: string[] = [];
    const got: ClientEvents["event"][] = [];
    const ends: ClientEvents["matchEnd"][] = [];
    c.on("frame", (f) => log.push(`frame ${f.tick}`));
    c.on("event", (e) => {
      log.push(`event ${e.tick}/${e.kind}`);
      got.push(e);
    });
    c.on("matchEnd", (r) => {
      log.push(`end ${r.tick}`);
      ends.push(r);
    });
    const frames = events(c, "frame");
    const conn = await s.accept();
    const ev = (tick: number, kind: number, values: number[] = [], data: number[] = []) => create(GameEventSchema, { tick, kind, values, data: Uint8Array.from(data) });
    const result = create(MatchResultSchema, { tick: 4, winners: [42], summary: "you win", data: Uint8Array.from([9]) });
    const states = [world(1)];
    for (let t = 2; t <= 6; t++) states.push(advance(states[t - 2], t));
    const send = (base: ModelState | null, cur: ModelState, evs: ReturnType<typeof ev>[], withResult = false) => {
      const f = encodeFrame(schema, base, cur);
      f.events = evs;
      if (withResult) f.result = result;
      conn.sendRaw(frameBytes(f));
    };
    send(null, states[0], [ev(1, 1, [5])]);
    send(states[0], states[1], [ev(2, 2, [-1, -2]), ev(2, 3, [], [0, 255])]);
    send(states[1], states[2], []);
    send(states[2], states[3], [ev(4, 4, [-7])], true);
    send(states[3], states[4], [], true); // every frame after the end carries the result
    send(null, states[5], [ev(4, 4, [-7])], true); // a snapshot that carries an emitted event again
    for (let i = 0; i < 6; i++) await frames.next();
    assert.deepEqual(log, ["frame 1", "event 1/1", "frame 2", "event 2/2", "event 2/3", "frame 3", "frame 4", "event 4/4", "end 4", "frame 5", "frame 6"]);
    assert.deepEqual(
      got.map((e) => [e.tick, e.kind, e.values, Array.from(e.data)]),
      [
        [1, 1, [5], []],
        [2, 2, [-1, -2], []],
        [2, 3, [], [0, 255]],
        [4, 4, [-7], []],
      ],
    );
    assert.ok(got[2].data instanceof Uint8Array);
    assert.equal(ends.length, 1);
    assert.deepEqual([ends[0].tick, ends[0].winners, ends[0].summary, Array.from(ends[0].data)], [4, [42], "you win", [9]]);
    c.close();
  });

  test("a kick's reason is kept for the close", async () => {
    const s = await server();
    const c = open(s);
    const welcome = events(c, "welcome");
    const closes = events(c, "close");
    const kicks = events(c, "kick");
    const conn = await s.accept();
    await welcome.next();
    conn.send({ case: "kick", value: { code: 4010, reason: "replaced by a newer session" } });
    assert.equal((await kicks.next()).code, 4010);
    conn.ws.close(4010);
    const cl = await closes.next();
    assert.equal(cl.reason, "replaced by a newer session");
  });

  test("a socket that never opens is retried 3 times, then 'could not connect'", async () => {
    const s = await server();
    s.reject = 100;
    const c = open(s);
    const closes = events(c, "close");
    const reconnecting = events(c, "reconnecting");
    const cl = await closes.next();
    assert.equal(cl.message, "could not connect");
    assert.equal(s.handshakes, 4);
    assert.equal(reconnecting.length, 3);
  });

  test("a refused handshake that later succeeds goes on", async () => {
    const s = await server();
    s.reject = 2;
    const c = open(s);
    const welcome = events(c, "welcome");
    const conn = await s.accept();
    await welcome.next();
    assert.equal(s.handshakes, 3);
    c.close();
  });

  test("a view hash mismatch is reported and resynced with a full snapshot", async () => {
    const s = await server();
    const c = open(s);
    const frames = events(c, "frame");
    const desyncs = events(c, "desync");
    const conn = await s.accept();
    const s1 = world(1);
    conn.sendRaw(frame(null, s1));
    await frames.next();
    const s2 = advance(s1, 2);
    const f = encodeFrame(schema, s1, s2, { withHash: true });
    f.viewHash = (f.viewHash as bigint) ^ 1n;
    conn.sendRaw(frameBytes(f));
    const d = await desyncs.next();
    assert.equal(d.tick, 2);
    assert.notEqual(d.expected, d.actual);
    assert.equal(c.stats().desyncs, 1);
    assert.equal(c.stats().desyncDetected, true);
    const conn2 = await s.conns.next();
    const join = await conn2.next("join");
    assert.equal(join.kind.case === "join" && join.kind.value.lastTick, 0);
    assert.equal(conn2.url.searchParams.get("token"), "resume-1");
    conn2.welcome({ resumed: true });
    conn2.sendRaw(frame(null, s2, { withHash: true }));
    assert.equal((await frames.next()).tick, 2);
    assert.equal(c.stats().desyncDetected, false);
    c.close();
  });

  test("the events of a frame whose view hash differs are still emitted, once, before the resync", async () => {
    const s = await server();
    const c = open(s);
    const frames = events(c, "frame");
    const evs = events(c, "event");
    const desyncs = events(c, "desync");
    const conn = await s.accept();
    const s1 = world(1);
    conn.sendRaw(frame(null, s1));
    await frames.next();
    const f = encodeFrame(schema, s1, advance(s1, 2), { withHash: true });
    f.viewHash = (f.viewHash as bigint) ^ 1n;
    f.events = [create(GameEventSchema, { tick: 2, kind: 7 })];
    conn.sendRaw(frameBytes(f));
    await desyncs.next();
    assert.equal((await evs.next()).kind, 7);
    const conn2 = await s.conns.next();
    await conn2.next("join");
    conn2.welcome({ resumed: true });
    conn2.sendRaw(frame(null, advance(s1, 2)));
    await frames.next();
    assert.equal(evs.length, 0);
    c.close();
  });

  test("resyncs are budgeted: past 5 a minute, a desync is only reported", async () => {
    const s = await server();
    const c = open(s);
    const desyncs = events(c, "desync");
    const s1 = world(1);
    const bad = encodeFrame(schema, null, s1, { withHash: true });
    bad.viewHash = (bad.viewHash as bigint) ^ 1n;
    for (let i = 0; i <= 5; i++) {
      const conn = await s.conns.next();
      const join = await conn.next("join");
      assert.equal(join.kind.case === "join" && join.kind.value.lastTick, 0);
      conn.welcome({ resumed: i > 0 });
      conn.sendRaw(frameBytes(bad));
      await desyncs.next();
    }
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(s.conns.length, 0, "no 7th connection");
    assert.equal(c.connected, true);
    assert.equal(c.stats().desyncs, 6);
    c.close();
  });

  test("a frame that does not apply is an error and a resync", async () => {
    const s = await server();
    const c = open(s);
    const frames = events(c, "frame");
    const errors = events(c, "error");
    const conn = await s.accept();
    const s1 = world(1);
    conn.sendRaw(frame(null, s1));
    await frames.next();
    const s3 = advance(advance(s1, 2), 3);
    conn.sendRaw(frame(advance(s1, 2), s3)); // baseline 2: not held
    assert.match((await errors.next()).message, /baseline 2, mirror holds 1/);
    const conn2 = await s.conns.next();
    const join = await conn2.next("join");
    assert.equal(join.kind.case === "join" && join.kind.value.lastTick, 0);
    c.close();
  });
});
