// Shared pieces of the browser tests: the Go binary, a real `ticksync serve` on 127.0.0.1:0
// (stopped by PID), Chromium per docs/development.md, "Browser tests", a static server for a second origin, and a
// Node observer client (the TS client library over `ws`) that records what the server sent.

import { execFileSync, execSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import type { BrowserContext } from "playwright-core";
import { WebSocket } from "ws";
import { connect } from "../src/index.js";
import type { Client, WebSocketCtor } from "../src/index.js";
import { rowOf } from "../demo/hook.js";
import type { EntityRow, TickRows } from "../demo/hook.js";

/** repoRoot is the repository root (the bundle runs from client-js/build/e2e/). */
export const repoRoot: string = process.env.TICKSYNC_ROOT ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

let tmp = "";

/** scratch returns this run's scratch directory (made on first use; removeScratch deletes it). */
export function scratch(): string {
  if (tmp === "") tmp = mkdtempSync(join(tmpdir(), "ticksync-e2e-"));
  return tmp;
}

/** removeScratch deletes the scratch directory, if one was made. */
export function removeScratch(): void {
  if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
  tmp = "";
}

/** buildBinary builds cmd/ticksync once into the scratch directory and returns its path. */
export function buildBinary(): string {
  return buildCommand("./cmd/ticksync", "ticksync");
}

/** buildSkirmish builds the skirmish example (examples/skirmish/cmd/skirmish) into the scratch directory. */
export function buildSkirmish(): string {
  return buildCommand("./examples/skirmish/cmd/skirmish", "skirmish");
}

function buildCommand(pkg: string, name: string): string {
  const bin = join(scratch(), name);
  execFileSync("go", ["build", "-o", bin, pkg], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
  return bin;
}

/** RunningServer is a `ticksync serve` child process. */
export interface RunningServer {
  /** url is the base URL it printed, with a trailing slash: http://127.0.0.1:PORT/ */
  url: string;
  pid: number;
  /** log returns what it wrote to stderr so far. */
  log(): string;
  /** stop sends signal (default SIGTERM; both shut down gracefully) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** exitCode is the process's exit status once it exited (null before). */
  exitCode(): number | null;
}

const children = new Set<ChildProcess>();
function killChildren(): void {
  for (const c of children) if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, "SIGKILL");
}
process.on("exit", killChildren);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    killChildren();
    process.exit(130);
  });
}

/** startServer runs `bin serve -addr 127.0.0.1:0 …args` and waits for the address line ("NAME serving on …"). */
export async function startServer(bin: string, args: string[] = [], timeoutMs = 10_000, command: string[] = ["serve"]): Promise<RunningServer> {
  // cwd: the scratch dir, so the default ./recordings lands there and not in the checkout.
  const child = spawn(bin, [...command, "-addr", "127.0.0.1:0", ...args], { cwd: scratch(), stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  const url = await new Promise<string>((res, rej) => {
    let out = "";
    const timer = setTimeout(() => rej(new Error(`ticksync serve printed no address in ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const m = /^\S+ serving on (http:\/\/[0-9.]+:\d+)/m.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        res(`${m[1]}/`);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`ticksync serve exited (${code}) before printing its address; stderr:\n${err}`));
    });
  });
  const pid = child.pid as number;
  return {
    url,
    pid,
    log: () => err,
    exitCode: () => child.exitCode,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode !== null) return;
      process.kill(pid, signal);
      const t = setTimeout(() => child.exitCode === null && process.kill(pid, "SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
      children.delete(child);
    },
  };
}

/** Browser is a Chromium persistent context on a fresh profile. */
export interface Browser {
  ctx: BrowserContext;
  close(): Promise<void>;
}

/** launchBrowser starts Debian's Chromium headless exactly as docs/development.md, "Browser tests" says. */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = execSync("command -v chromium").toString().trim();
  const profile = mkdtempSync(join(tmpdir(), "ticksync-pw-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1100, height: 720 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    ctx,
    async close() {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/** StaticServer serves a directory on 127.0.0.1 (a second origin for the Origin test). */
export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** serveStatic serves dir's files (GET only, no listing) on a free loopback port. */
export async function serveStatic(dir: string): Promise<StaticServer> {
  const srv: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const file = normalize(join(dir, path === "/" ? "index.html" : path));
    try {
      if (!file.startsWith(dir) || !statSync(file).isFile()) throw new Error("not found");
      res.writeHead(200, { "Content-Type": MIME[extname(file)] ?? "application/octet-stream" });
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise<void>((res) => srv.listen(0, "127.0.0.1", res));
  const port = (srv.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((res) => {
        srv.close(() => res());
        srv.closeAllConnections(); // the browser keeps its connections alive
      }),
  };
}

/** Observer is a Node spectator that keeps the player rows of every frame it applies. */
export interface Observer {
  client: Client;
  history: TickRows[];
  /** rowsAt returns the rows the observer held at tick, if it applied that tick. */
  rowsAt(tick: number): EntityRow[] | undefined;
  close(): void;
}

/** observe joins room as a spectator over `ws`. */
/** createRoom makes a room with POST /rooms (open to loopback callers in anonymous mode). */
export async function createRoom(serverUrl: string, game: string, id: string, config?: object): Promise<void> {
  const res = await fetch(new URL("rooms", serverUrl), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ game, id, config }),
  });
  assert.ok(res.ok, `POST /rooms: ${res.status} ${await res.text()}`);
}

export async function observe(serverUrl: string, room: string, timeoutMs = 5000): Promise<Observer> {
  const client = connect(new URL("ws", serverUrl).toString(), {
    room,
    game: "arena",
    spectator: true,
    WebSocket: WebSocket as unknown as WebSocketCtor,
  });
  const history: TickRows[] = [];
  client.on("frame", () => {
    const m = client.mirror;
    if (m === null) return;
    const player = m.schema.classByName.get("player");
    const rows: EntityRow[] = [];
    for (let id = 1; id < m.len; id++) if (player !== undefined && m.cls[id] === player.index) rows.push(rowOf(m, id) as EntityRow);
    history.push({ tick: m.tick, rows });
    if (history.length > 2048) history.shift();
  });
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error("observer: no welcome")), timeoutMs);
    client.on("welcome", () => {
      clearTimeout(t);
      res();
    });
    client.on("close", (c) => {
      clearTimeout(t);
      rej(new Error(`observer closed: ${c.message}`));
    });
  });
  return {
    client,
    history,
    rowsAt: (tick) => history.find((h) => h.tick === tick)?.rows,
    close: () => client.close(),
  };
}

/** until polls fn until it returns a value other than undefined/false, or throws after ms. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last !== undefined ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** metric reads one sample of a Prometheus counter from /metrics (0 when absent). */
export async function metric(serverUrl: string, sample: string): Promise<number> {
  const text = await (await fetch(new URL("metrics", serverUrl))).text();
  for (const line of text.split("\n")) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return 0;
}
