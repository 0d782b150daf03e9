// The connection: socket, join, welcome, frames into the mirror, inputs (coalesced to one per
// tick interval), ping, stats, and automatic reconnect with the resume token.

import { create, equals, toBinary } from "@bufbuild/protobuf";
import { ClientMessageSchema } from "./gen/ticksync/v1/messages_pb.js";
import { ReplayAction } from "./gen/ticksync/v1/messages_pb.js";
import type { ClientMessage, ReplayStatus, ServerMessage, ViewGrid, Welcome } from "./gen/ticksync/v1/messages_pb.js";
import { StateSchemaSchema } from "./gen/ticksync/v1/schema_pb.js";
import { closeMessage, reconnectsLater, shouldReconnect } from "./close.js";
import { newDecoder } from "./decode.js";
import type { HandDecoder, ProtobufEsDecoder } from "./decode.js";
import type { DecoderKind } from "./decode.js";
import { Emitter } from "./emitter.js";
import type { FrameData, GameEventData, MatchResultData } from "./frame.js";
import { hashHex } from "./hash.js";
import { Interpolator } from "./interp.js";
import type { InterpolatedEntity } from "./interp.js";
import { FrameError, Mirror } from "./mirror.js";
import type { Entity } from "./mirror.js";
import { Predictor } from "./predict.js";
import type { PredictStep } from "./predict.js";
import { compileSchema, quantize } from "./schema.js";
import type { Schema } from "./schema.js";

/** SUBPROTOCOL is the WebSocket subprotocol the server requires. */
export const SUBPROTOCOL = "ticksync.v1";

/** WebSocketLike is the part of the browser WebSocket the client uses (the `ws` package fits). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** WebSocketCtor builds a WebSocketLike; pass `ws`'s WebSocket in Node. */
export type WebSocketCtor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Clock is where the client gets time and timers; tests inject a fake one. */
export interface Clock {
  /** now returns milliseconds on a monotonic clock. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** ReconnectOptions bound automatic reconnection. */
export interface ReconnectOptions {
  /** maxAttempts is how many reconnects may follow a drop before giving up (default 10). */
  maxAttempts?: number;
  /** baseDelayMs is the first backoff delay (default 250); it doubles per attempt. */
  baseDelayMs?: number;
  /** maxDelayMs caps the backoff (default 5000). */
  maxDelayMs?: number;
}

/** ConnectOptions configures connect. */
export interface ConnectOptions {
  /** room is the room id to join (omit it with quickPlay). */
  room?: string;
  /** game creates the room when it does not exist (with createIfMissing); with quickPlay, the game to play. */
  game?: string;
  /**
   * quickPlay lets the server pick the room (Colyseus's joinOrCreate): the fullest room of game
   * with a free seat, whose match is not over and that carries every pair of labels, else a new
   * room (with config and labels). Once welcomed, the client knows the room (roomId) and
   * reconnects to it. Anonymous mode, admin tokens and game-scoped tokens only (4001 with a
   * token for one room). See joinOrCreate.
   */
  quickPlay?: boolean;
  /**
   * labels are room labels (at most 16; keys of 1-32 of A-Z a-z 0-9 - _ ., values of at most 64
   * bytes): with quickPlay, the pairs the room must carry; on a join that creates the room, the
   * labels it gets (GET /rooms lists them).
   */
  labels?: Record<string, string>;
  /** token is the join token (token auth mode); sent as ?token=. */
  token?: string;
  /** spectator joins read-only. */
  spectator?: boolean;
  /**
   * follow makes a spectator see what that player sees (its view) in a room whose game has views,
   * sent as Join.follow; 0 or absent: the whole world.
   */
  follow?: number;
  /** createIfMissing creates the room when it does not exist (default: true when game is set). */
  createIfMissing?: boolean;
  /** WebSocket is the constructor to use (default: globalThis.WebSocket). */
  WebSocket?: WebSocketCtor;
  /** predict is the game's step for the own entity (no prediction without it). */
  predict?: PredictStep;
  /** interpolationDelayTicks is how far behind other entities are drawn (default 2). */
  interpolationDelayTicks?: number;
  /** reconnect bounds automatic reconnection; false turns it off. */
  reconnect?: ReconnectOptions | false;
  /** pingIntervalMs is how often RTT is measured (default 1000; 0: never). */
  pingIntervalMs?: number;
  /** decoder picks the frame decoder (default "hand"). */
  decoder?: DecoderKind;
  /** resyncOnDesync reconnects for a full snapshot when a view hash differs (default true). */
  resyncOnDesync?: boolean;
  /** clock injects time and timers (default: performance.now and the global timers). */
  clock?: Clock;
  /** random returns numbers in [0, 1) for backoff jitter (default Math.random). */
  random?: () => number;
  /**
   * meta is the player's metadata for the game (a name, a team), sent as Join.meta: a string as
   * is, an object as JSON. Anonymous mode only (with a token the token's meta claim counts); the
   * server closes with 1008 past its -max-join-meta bytes.
   */
  meta?: string | Record<string, unknown>;
  /**
   * config is the room's game config, sent as Join.config (UTF-8 JSON: an object is
   * JSON.stringify'd, a string sent as is). Only used when this join creates the room (see
   * createIfMissing); a config the game refuses closes with 4004.
   */
  config?: Record<string, unknown> | string;
}

/** WelcomeInfo is the welcome with the compiled schema. */
export interface WelcomeInfo {
  readonly welcome: Welcome;
  readonly schema: Schema;
  readonly playerId: number;
  /** resumed says the server gave back the same seat. */
  readonly resumed: boolean;
}

/** FrameEvent reports an applied frame. */
export interface FrameEvent {
  readonly tick: number;
  readonly baselineTick: number;
  readonly lastInputSeq: number;
  /** frame is the decoded frame (reused: read it in the handler). */
  readonly frame: FrameData;
}

/** CloseInfo describes a closed connection. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  /** message is a readable sentence for the player. */
  readonly message: string;
}

/** ReconnectingInfo describes a reconnect about to be tried. */
export interface ReconnectingInfo extends CloseInfo {
  readonly attempt: number;
  readonly delayMs: number;
}

/** DesyncInfo reports a view hash that differs from the mirror's. */
export interface DesyncInfo {
  readonly tick: number;
  /** expected is the server's view hash, actual the mirror's (16 hex digits each). */
  readonly expected: string;
  readonly actual: string;
}

/** PlayerInfo names a player and the entity it owns. */
export interface PlayerInfo {
  readonly playerId: number;
  readonly entityId: number;
}

/** ClientEvents are the events a Client emits. */
export interface ClientEvents {
  welcome: WelcomeInfo;
  frame: FrameEvent;
  spawn: Entity;
  despawn: { readonly id: number; readonly className: string };
  playerJoin: PlayerInfo;
  playerLeave: PlayerInfo;
  kick: { readonly code: number; readonly reason: string };
  /** replayStatus reports a replay session's position (welcome.replay sessions only). */
  replayStatus: ReplayStatus;
  desync: DesyncInfo;
  error: Error;
  reconnecting: ReconnectingInfo;
  reconnected: WelcomeInfo;
  /**
   * event is one game event addressed to this client, emitted after the frame that carries it
   * is applied (and after that frame's "frame" event), in order, each once.
   */
  event: GameEventData;
  /** matchEnd reports how the game ended the match, once; the room closes with 4002 soon after. */
  matchEnd: MatchResultData;
  /** close is final: no reconnect follows. */
  close: CloseInfo;
}

/** ClientStats are the connection's measurements. */
export interface ClientStats {
  /** rttMs is the last ping round trip (NaN before the first pong). */
  rttMs: number;
  /** rttSmoothedMs is an exponential average of rttMs. */
  rttSmoothedMs: number;
  /** inputRttMs is the last input's round trip: sent → the first frame that acknowledges it (NaN before one). */
  inputRttMs: number;
  /** decodeApplyMs is an exponential average of decoding and applying one frame (on the clock). */
  decodeApplyMs: number;
  bytesInPerSec: number;
  bytesOutPerSec: number;
  framesPerSec: number;
  /** lastTick is the tick the mirror holds. */
  lastTick: number;
  /** lastInputSeqAcked is the last input seq the server applied. */
  lastInputSeqAcked: number;
  /** inputSeq is the last input seq sent. */
  inputSeq: number;
  framesApplied: number;
  /** hashChecks counts view hashes compared; desyncs those that differed. */
  hashChecks: number;
  desyncs: number;
  /** desyncDetected says the last hash compared differed. */
  desyncDetected: boolean;
  reconnects: number;
}

/** ClientError is an error reported on the "error" event. */
export class ClientError extends Error {
  override name = "ClientError";
}

/** RateMeter counts per one-second window. */
class RateMeter {
  private start = 0;
  private count = 0;
  private last = 0;

  add(n: number, now: number): void {
    this.roll(now);
    this.count += n;
  }

  rate(now: number): number {
    this.roll(now);
    return this.last;
  }

  private roll(now: number): void {
    const dt = now - this.start;
    if (dt < 1000) return;
    this.last = dt < 2000 ? (this.count * 1000) / dt : 0;
    this.start = now;
    this.count = 0;
  }
}

const defaultClock: Clock = {
  now: () => (typeof performance !== "undefined" ? performance.now() : Date.now()),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** MAX_FAILED_OPENS is how often a socket that never opened is retried (docs/operations.md, "Bad input"). */
const MAX_FAILED_OPENS = 3;

/**
 * RESYNC_BUDGET resyncs per RESYNC_WINDOW_MS at most: a client whose mirror keeps disagreeing
 * with the server (a bug on one side) must not reconnect every few ticks forever.
 */
const RESYNC_BUDGET = 5;
const RESYNC_WINDOW_MS = 60_000;

type Phase = "connecting" | "joining" | "joined" | "waiting" | "closed";

/** Client is one session with a room: it reconnects by itself until closed. */
export class Client extends Emitter<ClientEvents> {
  /** mirror is the authoritative state (null before the first welcome). */
  mirror: Mirror | null = null;
  /** interpolator draws other entities in the past (null before the first welcome). */
  interpolator: Interpolator | null = null;
  /** predictor holds the own entity's predicted state (null before the first welcome). */
  predictor: Predictor | null = null;
  /** schema is the compiled schema of the last welcome. */
  schema: Schema | null = null;
  /** welcome is the last welcome. */
  welcome: Welcome | null = null;
  /** playerId is this client's player id (0 for spectators or before the welcome). */
  playerId = 0;
  /** roomId is the room joined: options.room, or the room quick play picked once welcomed ("" before). */
  roomId: string;
  /**
   * grid is the room's view grid (Welcome.grid) when its game has views: the mirror then holds
   * only the entities in the cells this client sees. undefined otherwise or before the welcome.
   */
  grid: ViewGrid | undefined = undefined;
  /** roomConfig is the game config the room was made with (Welcome.config parsed as JSON; {} when empty or not JSON). */
  roomConfig: unknown = {};

  private readonly opts: ConnectOptions;
  private readonly url: string;
  private readonly WS: WebSocketCtor;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly decoder: HandDecoder | ProtobufEsDecoder;
  private ws: WebSocketLike | null = null;
  private phase: Phase = "connecting";
  private opened = false;
  private everJoined = false;
  private failedOpens = 0;
  private attempts = 0;
  private resumeToken = "";
  private resync = false;
  private kick: { code: number; reason: string } | null = null;
  private timer: unknown = null;
  private pingTimer: unknown = null;
  private inputTimer: unknown = null;
  private seq = 0;
  private lastInputAt = -Infinity;
  private inputValues: Int32Array = new Int32Array(0);
  private inputDirty = false;
  private inputRenderTick = 0; // the render tick and sub-tick when the pending input was made
  private inputSubtick = 0;
  private eventsThrough = 0; // the tick through which game events were emitted
  private matchEnded = false;
  private quickPlay: boolean; // until the first welcome names the room
  private readonly joinMeta: string;
  private readonly joinConfig: Uint8Array;
  private owners = new Map<number, number>(); // entity id → player id, for join/leave events
  private readonly st: ClientStats = {
    rttMs: NaN,
    rttSmoothedMs: NaN,
    inputRttMs: NaN,
    decodeApplyMs: NaN,
    bytesInPerSec: 0,
    bytesOutPerSec: 0,
    framesPerSec: 0,
    lastTick: 0,
    lastInputSeqAcked: 0,
    inputSeq: 0,
    framesApplied: 0,
    hashChecks: 0,
    desyncs: 0,
    desyncDetected: false,
    reconnects: 0,
  };
  private readonly inMeter = new RateMeter();
  private readonly outMeter = new RateMeter();
  private readonly frameMeter = new RateMeter();
  private readonly hashOut = { hi: 0, lo: 0 };
  private sentSeqs: number[] = []; // seq, sent time, seq, sent time… of unacknowledged inputs
  private resyncTimes: number[] = [];

  constructor(url: string, opts: ConnectOptions) {
    super();
    this.opts = opts;
    this.url = url;
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
    if (WS === undefined) throw new ClientError("no WebSocket available: pass options.WebSocket (in Node, the ws package)");
    this.WS = WS;
    this.clock = opts.clock ?? defaultClock;
    this.random = opts.random ?? Math.random;
    this.decoder = newDecoder(opts.decoder ?? "hand");
    this.roomId = opts.quickPlay === true ? "" : (opts.room ?? "");
    this.quickPlay = opts.quickPlay === true;
    if (this.quickPlay && opts.room !== undefined && opts.room !== "") {
      throw new ClientError("room and quickPlay exclude each other: quick play picks the room");
    }
    if (!this.quickPlay && this.roomId === "") throw new ClientError("a room id is required (or quickPlay)");
    // Encoded once: a config or meta that cannot be JSON is the caller's mistake, reported here.
    try {
      this.joinMeta = opts.meta === undefined ? "" : typeof opts.meta === "string" ? opts.meta : JSON.stringify(opts.meta);
      const cfg = opts.config === undefined ? "" : typeof opts.config === "string" ? opts.config : JSON.stringify(opts.config);
      this.joinConfig = new TextEncoder().encode(cfg);
    } catch (e) {
      throw new ClientError(`meta or config is not JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** start opens the first connection (connect calls it). */
  start(): this {
    this.open();
    return this;
  }

  /** connected says a welcome was received on the current socket. */
  get connected(): boolean {
    return this.phase === "joined";
  }

  /** closed says the client is done (closed by the caller or given up). */
  get closed(): boolean {
    return this.phase === "closed";
  }

  /** stats returns a copy of the measurements. */
  stats(): ClientStats {
    const now = this.clock.now();
    this.st.bytesInPerSec = this.inMeter.rate(now);
    this.st.bytesOutPerSec = this.outMeter.rate(now);
    this.st.framesPerSec = this.frameMeter.rate(now);
    return { ...this.st };
  }

  private buildUrl(): string {
    const loc = (globalThis as { location?: { href: string } }).location;
    const u = new URL(this.url, loc?.href);
    if (u.protocol === "http:") u.protocol = "ws:";
    else if (u.protocol === "https:") u.protocol = "wss:";
    const token = this.resumeToken !== "" ? this.resumeToken : (this.opts.token ?? "");
    if (token !== "") u.searchParams.set("token", token);
    return u.toString();
  }

  private open(): void {
    this.phase = "connecting";
    this.opened = false;
    this.kick = null;
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.buildUrl(), SUBPROTOCOL);
    } catch (e) {
      // A bad URL is the caller's mistake: report it and stop.
      this.finish(1006, "", `could not connect: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.opened = true;
      this.failedOpens = 0;
      this.phase = "joining";
      this.sendJoin();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.onMessage(ev.data);
    };
    ws.onerror = () => {
      // The close event follows with the details the browser gives (usually 1006).
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.onClose(ev.code, ev.reason);
    };
  }

  private sendJoin(): void {
    const lastTick = this.resync ? 0 : (this.mirror?.tick ?? 0);
    this.resync = false;
    const o = this.opts;
    this.send(
      create(ClientMessageSchema, {
        kind: {
          case: "join",
          value: {
            room: this.roomId,
            quickPlay: this.quickPlay,
            labels: o.labels ?? {},
            game: o.game ?? "",
            createIfMissing: !this.quickPlay && (o.createIfMissing ?? (o.game !== undefined && o.game !== "")),
            spectator: o.spectator ?? false,
            views: true, // this client applies Frame.pieces
            follow: o.follow ?? 0,
            lastTick,
            config: this.joinConfig,
            meta: this.joinMeta,
          },
        },
      }),
    );
  }

  private send(msg: ClientMessage): boolean {
    const ws = this.ws;
    if (ws === null || !this.opened || ws.readyState !== 1) return false;
    const b = toBinary(ClientMessageSchema, msg);
    ws.send(b);
    this.outMeter.add(b.byteLength, this.clock.now());
    return true;
  }

  private onMessage(data: unknown): void {
    let b: Uint8Array;
    if (data instanceof ArrayBuffer) b = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else {
      this.emit("error", new ClientError("server sent a text message"));
      return;
    }
    const now = this.clock.now(); // also the start of decodeApplyMs, measured in onFrame
    this.inMeter.add(b.byteLength, now);
    let d;
    try {
      d = this.decoder.decode(b);
    } catch (e) {
      this.emit("error", e instanceof Error ? e : new ClientError(String(e)));
      this.restart(true);
      return;
    }
    if (d.kind === "frame") {
      this.onFrame(d.frame, now);
      return;
    }
    this.onOther(d.message, now);
  }

  private onOther(msg: ServerMessage, now: number): void {
    switch (msg.kind.case) {
      case "welcome":
        this.onWelcome(msg.kind.value);
        break;
      case "pong": {
        const rtt = now - Number(msg.kind.value.clientTimeUs) / 1000;
        if (rtt >= 0) {
          this.st.rttMs = rtt;
          this.st.rttSmoothedMs = Number.isNaN(this.st.rttSmoothedMs) ? rtt : this.st.rttSmoothedMs * 0.8 + rtt * 0.2;
        }
        break;
      }
      case "kick":
        this.kick = { code: msg.kind.value.code, reason: msg.kind.value.reason };
        this.emit("kick", this.kick);
        break;
      case "replayStatus":
        this.emit("replayStatus", msg.kind.value);
        break;
      default:
        break; // stats: for the benchmark, not the library
    }
  }

  private onWelcome(w: Welcome): void {
    if (w.state === undefined) {
      this.emit("error", new ClientError("welcome without a state schema"));
      this.restart(false);
      return;
    }
    const sameSchema =
      this.welcome !== null && this.welcome.state !== undefined && equals(StateSchemaSchema, this.welcome.state, w.state);
    if (!sameSchema || this.schema === null) {
      let schema: Schema;
      try {
        schema = compileSchema(w.state, w.input);
      } catch (e) {
        this.emit("error", e instanceof Error ? e : new ClientError(String(e)));
        this.finish(1000, "", "the server's schema cannot be used by this client");
        return;
      }
      this.schema = schema;
      this.mirror = new Mirror(schema);
      this.mirror.onSpawn = (e) => this.onSpawn(e);
      this.mirror.onDespawn = (id, className) => this.onDespawn(id, className);
      this.interpolator = new Interpolator(this.mirror, { delayTicks: this.opts.interpolationDelayTicks ?? 2 });
      this.predictor = new Predictor(schema, this.opts.predict ?? null, { tickRate: w.tickRate });
      this.inputValues = new Int32Array(schema.input.length);
      this.owners.clear();
    }
    this.predictor?.setTickRate(w.tickRate);
    if (!w.resumed) this.predictor?.reset(); // a new seat: old inputs mean nothing
    this.welcome = w;
    this.grid = w.grid;
    this.roomConfig = parseConfig(w.config);
    this.playerId = w.playerId;
    this.roomId = w.room; // a quick play's pick: reconnects go back to it
    this.quickPlay = false;
    this.resumeToken = w.resumeToken;
    this.phase = "joined";
    this.attempts = 0;
    const info: WelcomeInfo = { welcome: w, schema: this.schema as Schema, playerId: w.playerId, resumed: w.resumed };
    const again = this.everJoined;
    this.everJoined = true;
    this.schedulePing();
    if (again) {
      this.st.reconnects++;
      this.emit("reconnected", info);
    } else this.emit("welcome", info);
  }

  private onSpawn(e: Entity): void {
    this.emit("spawn", e);
    const m = this.mirror as Mirror;
    const c = m.classOf(e.id);
    if (c === undefined || c.ownerCol < 0) return;
    const p = m.raw(e.id, c.ownerCol);
    if (p === 0) return;
    this.owners.set(e.id, p);
    this.emit("playerJoin", { playerId: p, entityId: e.id });
  }

  private onDespawn(id: number, className: string): void {
    this.emit("despawn", { id, className });
    const p = this.owners.get(id);
    if (p === undefined) return;
    this.owners.delete(id);
    this.emit("playerLeave", { playerId: p, entityId: id });
  }

  private onFrame(f: FrameData, now: number): void {
    const m = this.mirror;
    if (m === null || this.phase !== "joined") {
      this.emit("error", new ClientError("frame before welcome"));
      this.restart(false);
      return;
    }
    const prevTick = m.tick;
    try {
      m.apply(f);
      const ms = this.clock.now() - now;
      this.st.decodeApplyMs = Number.isNaN(this.st.decodeApplyMs) ? ms : this.st.decodeApplyMs * 0.9 + ms * 0.1;
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      this.emit("error", new ClientError(`frame for tick ${f.tick} refused: ${e.message}; resyncing`));
      this.restart(true);
      return;
    }
    const ip = this.interpolator as Interpolator;
    if (f.baselineTick === 0 && prevTick !== 0 && f.tick <= prevTick) ip.reset();
    ip.record(now, this.welcome?.tickRate || 20);
    (this.predictor as Predictor).reconcile(m, this.playerId);
    this.frameMeter.add(1, now);
    this.st.framesApplied++;
    this.st.lastTick = f.tick;
    this.st.lastInputSeqAcked = f.lastInputSeq;
    const sent = this.sentSeqs;
    let k = 0;
    while (k < sent.length && sent[k] <= f.lastInputSeq) {
      this.st.inputRttMs = now - sent[k + 1];
      k += 2;
    }
    if (k > 0) sent.splice(0, k);
    if (f.hasViewHash) {
      const h = m.hash(this.hashOut);
      this.st.hashChecks++;
      const bad = h.hi !== f.viewHashHi || h.lo !== f.viewHashLo;
      this.st.desyncDetected = bad;
      if (bad) {
        this.st.desyncs++;
        this.emit("desync", { tick: f.tick, expected: hashHex(f.viewHashHi, f.viewHashLo), actual: hashHex(h.hi, h.lo) });
        if ((this.opts.resyncOnDesync ?? true) && this.resyncBudgetLeft()) {
          // The frame was applied: its events happened, and the resync's snapshot will not
          // carry them again (it has the events since the new join only).
          this.deliverEvents(f, prevTick);
          this.restart(true);
          return;
        }
      }
    }
    this.emit("frame", { tick: f.tick, baselineTick: f.baselineTick, lastInputSeq: f.lastInputSeq, frame: f });
    this.deliverEvents(f, prevTick);
  }

  /**
   * deliverEvents emits the applied frame's game events that were not emitted yet, then the
   * match result once. A frame carries the events of the ticks after its baseline, so while the
   * server has not seen this client's acknowledgement successive frames repeat them: only
   * ticks after the last frame's count. A snapshot that goes back in time (a replay seek) starts
   * the count again.
   */
  private deliverEvents(f: FrameData, prevTick: number): void {
    if (f.baselineTick === 0 && f.tick <= prevTick) this.eventsThrough = 0;
    const evs = f.events;
    const through = this.eventsThrough;
    if (f.tick > through) this.eventsThrough = f.tick;
    for (let i = 0; i < evs.length; i++) {
      if (evs[i].tick > through) this.emit("event", evs[i]);
    }
    if (f.result !== null && !this.matchEnded) {
      this.matchEnded = true;
      this.emit("matchEnd", f.result);
    }
  }

  /**
   * sendInput sets the player's input from named numbers (de-quantized: 1.5 for a fixed-point
   * field of scale 100 is sent as 150; clamped to the field's range). Fields not named keep
   * their last value. At most one input goes out per tick interval: calls in between are
   * coalesced into the next one. It returns false when nothing can be sent (spectator, no
   * welcome yet, or the connection is down).
   */
  sendInput(fields: Readonly<Record<string, number | boolean>>): boolean {
    const schema = this.schema;
    if (schema === null || this.phase !== "joined" || this.welcome?.spectator || this.opts.spectator) return false;
    for (const f of schema.input) {
      const x = fields[f.name];
      if (x !== undefined) this.inputValues[f.col] = quantize(f, x);
    }
    // Stamped now, when the player acted, not when the coalesced input goes out: the game
    // checks the input against the world the player saw (the latest call's stamp wins, like its values).
    const rt = this.interpolator?.renderTick ?? 0;
    const whole = rt > 0 && Number.isFinite(rt) ? Math.floor(rt) : 0;
    this.inputRenderTick = whole;
    this.inputSubtick = whole === 0 ? 0 : Math.min(65535, Math.max(0, Math.floor((rt - whole) * 65536)));
    this.inputDirty = true;
    const interval = 1000 / (this.welcome?.tickRate || 20);
    const now = this.clock.now();
    const wait = this.lastInputAt + interval - now;
    if (wait <= 0) this.flushInput();
    else if (this.inputTimer === null) {
      this.inputTimer = this.clock.setTimeout(() => {
        this.inputTimer = null;
        this.flushInput();
      }, wait);
    }
    return true;
  }

  private flushInput(): void {
    if (!this.inputDirty || this.phase !== "joined") return;
    const seq = this.seq + 1;
    const now = this.clock.now();
    const values = Array.from(this.inputValues);
    const ok = this.send(
      create(ClientMessageSchema, {
        kind: {
          case: "input",
          value: { seq, clientTimeUs: BigInt(Math.round(now * 1000)), values, renderTick: this.inputRenderTick, subtick: this.inputSubtick },
        },
      }),
    );
    if (!ok) return;
    this.seq = seq;
    this.st.inputSeq = seq;
    this.inputDirty = false;
    this.lastInputAt = now;
    this.sentSeqs.push(seq, now);
    if (this.sentSeqs.length > 256) this.sentSeqs.splice(0, 2);
    this.predictor?.addInput(seq, this.inputValues);
  }

  private schedulePing(): void {
    const every = this.opts.pingIntervalMs ?? 1000;
    if (every <= 0) return;
    this.clearTimer("pingTimer");
    const ping = () => {
      this.pingTimer = null;
      if (this.phase !== "joined") return;
      this.send(create(ClientMessageSchema, { kind: { case: "ping", value: { clientTimeUs: BigInt(Math.round(this.clock.now() * 1000)) } } }));
      this.pingTimer = this.clock.setTimeout(ping, every);
    };
    ping();
  }

  private clearTimer(which: "timer" | "pingTimer" | "inputTimer"): void {
    const h = this[which];
    if (h !== null) {
      this.clock.clearTimeout(h);
      this[which] = null;
    }
  }

  /** resyncBudgetLeft reports whether another resync fits the budget. */
  private resyncBudgetLeft(): boolean {
    const now = this.clock.now();
    this.resyncTimes = this.resyncTimes.filter((t) => now - t < RESYNC_WINDOW_MS);
    return this.resyncTimes.length < RESYNC_BUDGET;
  }

  /**
   * restart drops the current socket and connects again at once; full asks for a snapshot (a
   * resync). Past the resync budget it gives up instead.
   */
  private restart(full: boolean): void {
    const ws = this.ws;
    this.ws = null;
    this.clearTimer("pingTimer");
    this.clearTimer("inputTimer");
    if (ws !== null) {
      detach(ws);
      try {
        ws.close(4000, full ? "resync" : "protocol error");
      } catch {
        // already closing
      }
    }
    if (full) {
      if (!this.resyncBudgetLeft()) {
        this.finish(4000, "", `gave up: the server's frames keep failing to apply (${RESYNC_BUDGET} resyncs within a minute)`);
        return;
      }
      this.resyncTimes.push(this.clock.now());
    }
    this.resync = full;
    this.attempts++;
    const max = this.opts.reconnect === false ? 0 : (this.opts.reconnect?.maxAttempts ?? 10);
    if (this.attempts > max) {
      this.finish(1006, "", "gave up: the connection keeps failing");
      return;
    }
    this.phase = "waiting";
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.open();
    }, 0);
  }

  private onClose(code: number, reason: string): void {
    this.ws = null;
    this.clearTimer("pingTimer");
    this.clearTimer("inputTimer");
    if (this.phase === "closed") return;
    if (reason === "" && this.kick !== null && this.kick.code === code) reason = this.kick.reason;
    const r = this.opts.reconnect;
    const max = r === false ? 0 : (r?.maxAttempts ?? 10);
    let retry: boolean;
    let message = closeMessage(code, reason);
    if (!this.opened) {
      // The handshake failed: browsers hide the HTTP status, so retry a few times and then say so.
      this.failedOpens++;
      retry = r !== false && this.failedOpens <= MAX_FAILED_OPENS && this.attempts < max;
      message = "could not connect";
    } else {
      retry = r !== false && shouldReconnect(code, reason) && this.attempts < max;
    }
    if (!retry) {
      this.finish(code, reason, message);
      return;
    }
    // One backoff sequence per outage: failed handshakes while reconnecting keep doubling.
    this.attempts++;
    const n = this.attempts;
    const base = (r === false ? undefined : r?.baseDelayMs) ?? 250;
    const cap = (r === false ? undefined : r?.maxDelayMs) ?? 5000;
    let delay = Math.min(cap, base * 2 ** (n - 1) * (this.opened && reconnectsLater(code) ? 4 : 1));
    delay = Math.round(delay * (0.5 + 0.5 * this.random()));
    this.phase = "waiting";
    this.emit("reconnecting", { code, reason, message, attempt: n, delayMs: delay });
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      if (this.phase === "waiting") this.open();
    }, delay);
  }

  private finish(code: number, reason: string, message: string): void {
    if (this.phase === "closed") return;
    this.phase = "closed";
    this.clearTimer("timer");
    this.clearTimer("pingTimer");
    this.clearTimer("inputTimer");
    this.emit("close", { code, reason, message });
  }

  /** close ends the session without leaving: the seat is held for the reconnect grace. */
  close(code = 1000, reason = ""): void {
    const ws = this.ws;
    this.ws = null;
    if (ws !== null) {
      detach(ws);
      try {
        ws.close(code, reason);
      } catch {
        // already closed
      }
    }
    this.finish(code, reason, closeMessage(code, reason));
  }

  /** leave leaves the room (the seat is freed at once); the server then closes with 1000. */
  leave(): void {
    this.send(create(ClientMessageSchema, { kind: { case: "leave", value: {} } }));
    this.close(1000, "leave");
  }

  /**
   * replay drives a replay session: "play", "pause", "speed" (speedPct, 25..800) or "seek"
   * (seekTick; the next frame is a full snapshot of that tick). It returns false when not sent.
   */
  replay(action: "play" | "pause" | "speed" | "seek", arg: { speedPct?: number; seekTick?: number } = {}): boolean {
    const a = { play: ReplayAction.PLAY, pause: ReplayAction.PAUSE, speed: ReplayAction.SPEED, seek: ReplayAction.SEEK }[action];
    return this.replayControl({ action: a, speedPct: arg.speedPct ?? 0, seekTick: arg.seekTick ?? 0 });
  }

  /**
   * followPlayer makes a replay session show what player sees (its view; 0: the whole world) from
   * the next frame on, which is a full snapshot. It returns false when not sent.
   */
  followPlayer(player: number): boolean {
    return this.replayControl({ action: ReplayAction.FOLLOW, follow: player });
  }

  private replayControl(value: { action: ReplayAction; speedPct?: number; seekTick?: number; follow?: number }): boolean {
    return this.send(create(ClientMessageSchema, { kind: { case: "replayControl", value } }));
  }

  /** renderEntity returns how to draw entity id: the own entity predicted, others interpolated. */
  renderEntity(id: number): Entity | InterpolatedEntity | undefined {
    const m = this.mirror;
    const p = this.predictor;
    if (m === null || p === null) return undefined;
    if (id !== 0 && id === p.entityId) return this.predictedEntity();
    return this.interpolator?.entity(id);
  }

  /** ownEntityId is the id of the entity this player controls (0: none). */
  get ownEntityId(): number {
    return this.predictor?.entityId ?? 0;
  }

  private predictedView: { id: number; view: Entity } | null = null;

  /** predictedEntity returns the own entity with predicted values (undefined without one). */
  predictedEntity(): Entity | undefined {
    const m = this.mirror;
    const p = this.predictor;
    if (m === null || p === null || p.entityId === 0) return undefined;
    const id = p.entityId;
    const c = m.classOf(id);
    if (c === undefined) return undefined;
    if (this.predictedView !== null && this.predictedView.id === id && this.predictedView.view.className === c.name) {
      return this.predictedView.view;
    }
    const props: PropertyDescriptorMap = { id: { value: id }, className: { value: c.name } };
    for (const f of c.fields) props[f.name] = { enumerable: true, get: () => p.value(f, m) };
    const view = Object.create(Object.prototype, props) as Entity;
    this.predictedView = { id, view };
    return view;
  }

  /** sample sets the interpolation render time (default: now) and returns the render tick. */
  sample(nowMs?: number): number {
    return this.interpolator?.sample(nowMs ?? this.clock.now()) ?? 0;
  }
}

/**
 * detach silences a socket being dropped. onerror keeps a no-op handler: closing a socket that is
 * still connecting makes Node's ws emit an error that nobody listening would turn into a crash.
 */
function detach(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = null;
  ws.onerror = () => {};
}

/** parseConfig reads a welcome's game config: JSON, {} when empty or not JSON. */
function parseConfig(b: Uint8Array): unknown {
  if (b.length === 0) return {};
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b)) as unknown;
  } catch {
    return {};
  }
}

/** connect opens a session with a room; see Client for events. */
export function connect(url: string, opts: ConnectOptions): Client {
  return new Client(url, opts).start();
}

/**
 * joinOrCreate joins a room of game with a free seat (and every label of opts.labels), or
 * creates one with opts.config and opts.labels: connect with quickPlay. client.roomId names the
 * room once the welcome arrives.
 */
export function joinOrCreate(url: string, game: string, opts: Omit<ConnectOptions, "room" | "quickPlay" | "game"> = {}): Client {
  return connect(url, { ...opts, game, quickPlay: true });
}
