// Browser end-to-end tests of the demo page against a real `ticksync serve`: two pages in one
// room agree with a Node observer value for value at the same ticks; an admin close (1001)
// is followed by a resume of the same seat with the server's state; a page from a foreign
// origin gets 403s, no retry storm, and says it could not connect; a screenshot is not blank.

import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import type { EntityRow, TickRows } from "../demo/hook.js";
import { buildBinary, launchBrowser, metric, observe, removeScratch, repoRoot, serveStatic, startServer, until } from "./harness.js";
import type { Browser, Observer, RunningServer } from "./harness.js";

const SPEED = 200 * 100; // a held key asks for MAX_SPEED units/s, in 1/100 units
const WORLD = 1000 * 100;

let server: RunningServer;
let browser: Browser;
let observer: Observer;
let page1: Page;
let page2: Page;
const room = `e2e-${process.pid}`;

/**
 * open loads the demo in a new page, does act (a click that joins; none: ?room= joins), and
 * waits until it holds frames and its own entity.
 */
async function open(url: string, act?: (page: Page) => Promise<void>): Promise<Page> {
  const page = await browser.ctx.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(url);
  if (act !== undefined) await act(page);
  await page.waitForFunction(() => {
    const h = window.__ticksync;
    return h !== undefined && h.status === "joined" && h.tick > 0 && h.ownEntityId > 0;
  }, null, { timeout: 10_000 });
  return page;
}

const hookOf = (page: Page) =>
  page.evaluate(() => {
    const h = window.__ticksync;
    return { playerId: h.playerId, ownEntityId: h.ownEntityId, tick: h.tick, status: h.status, resumed: h.resumed, welcomes: h.welcomes, sessions: h.sessions, message: h.message, errors: h.errors, connectAttempts: h.connectAttempts };
  });

const historyOf = (page: Page): Promise<TickRows[]> => page.evaluate(() => window.__ticksync.history());

/** towardsMiddle returns the direction (±1 per axis) from an entity towards the world's middle. */
function towardsMiddle(r: EntityRow): [number, number] {
  return [Number(r.x) < WORLD / 2 ? 1 : -1, Number(r.y) < WORLD / 2 ? 1 : -1];
}

function rowIn(rows: EntityRow[] | undefined, id: number): EntityRow | undefined {
  return rows?.find((r) => r.id === id);
}

/**
 * compare checks that at every tick both the page and the observer applied, entity id has the
 * same values in both (from tick `from` on), and returns those ticks.
 */
function compare(pageHist: TickRows[], obs: Observer, id: number, from = 0): number[] {
  const common: number[] = [];
  for (const h of pageHist) {
    if (h.tick < from) continue;
    const theirs = obs.rowsAt(h.tick);
    if (theirs === undefined) continue;
    const ours = rowIn(h.rows, id);
    assert.ok(ours !== undefined, `entity ${id} missing on the page at tick ${h.tick}`);
    assert.deepEqual(ours, rowIn(theirs, id), `entity ${id} at tick ${h.tick}: page vs server (observer)`);
    common.push(h.tick);
  }
  return common;
}

let bin: string;

before(async () => {
  bin = buildBinary();
  [server, browser] = await Promise.all([startServer(bin), launchBrowser()]);
  observer = await observe(server.url, room);
}, { timeout: 90_000 }); // a cold `go build` takes a while

after(async () => {
  observer?.close();
  await browser?.close();
  await server?.stop();
  removeScratch();
});

describe("demo page", { timeout: 90_000 }, () => {
  test("page 2 shows page 1's entity at the server's values, tick for tick", { timeout: 30_000 }, async () => {
    page1 = await open(`${server.url}?room=${room}`);
    page2 = await open(`${server.url}?room=${room}&decoder=protobuf-es`); // both decoders against the real server
    const h1 = await hookOf(page1);
    const h2 = await hookOf(page2);
    assert.notEqual(h1.playerId, h2.playerId);
    const id = h1.ownEntityId;

    // Page 1 holds two keys: its player moves diagonally at full speed, towards the middle so
    // that no border bounce flips the velocity during the test.
    const start = await until("page 1's entity at the observer", () => rowIn(observer.history[observer.history.length - 1]?.rows, id));
    const [sx, sy] = towardsMiddle(start);
    const keys = [sx > 0 ? "KeyD" : "KeyA", sy > 0 ? "KeyS" : "KeyW"];
    await page1.bringToFront();
    for (const k of keys) await page1.keyboard.down(k);
    try {
      await until("the server to apply page 1's input", () => {
        const last = observer.history[observer.history.length - 1];
        const r = rowIn(last?.rows, id);
        return r !== undefined && r.vx === sx * SPEED && r.vy === sy * SPEED;
      });
      const pred = await page1.evaluate(() => window.__ticksync.predicted());
      assert.equal(pred?.vx, sx * SPEED, "page 1 predicts its own velocity");
      // Let several moving ticks pass, then compare page 2's mirror with the observer's.
      const startTick = observer.history[observer.history.length - 1].tick;
      await until("page 2 to hold 10 moving ticks", async () => (await page2.evaluate(() => window.__ticksync.tick)) >= startTick + 10);
    } finally {
      for (const k of keys) await page1.keyboard.up(k);
    }
    const hist2 = await historyOf(page2);
    const common = compare(hist2, observer, id);
    assert.ok(common.length >= 10, `only ${common.length} ticks in common between page 2 and the observer`);
    // Values, not merely "it moved": along those ticks x advances by vx/hz (or bounces).
    const moving = hist2.map((h) => rowIn(h.rows, id)).filter((r): r is EntityRow => r !== undefined && r.vx === sx * SPEED);
    assert.ok(moving.length >= 5, "page 2 saw page 1 moving");
    assert.notEqual(moving[0].x, moving[moving.length - 1].x);
    // Page 1's own mirror agrees with the observer too.
    assert.ok(compare(await historyOf(page1), observer, id).length >= 10);
    // Keys released: page 1's prediction comes to rest exactly where the server has it.
    const rest = await until("page 1's prediction to settle on the server's values", async () => {
      const [pred, tick] = await page1.evaluate(() => [window.__ticksync.predicted(), window.__ticksync.tick] as const);
      const server = rowIn(observer.rowsAt(tick), id);
      return pred !== undefined && server !== undefined && server.vx === 0 && server.vy === 0 && pred.x === server.x && pred.y === server.y && pred.vx === 0 ? { pred, server } : undefined;
    });
    assert.deepEqual(rest.pred, rest.server);
  });

  test("page 2 resumes as the same player with the server's state after an admin close (1001)", { timeout: 30_000 }, async () => {
    const before = await hookOf(page2);
    const id = before.ownEntityId;
    const res = await fetch(new URL(`admin/close?room=${room}&player=${before.playerId}&code=1001&reason=e2e`, server.url), { method: "POST" });
    assert.equal(res.status, 204, await res.text());
    await page2.waitForFunction((n) => {
      const h = window.__ticksync;
      const s = h.sessions[h.sessions.length - 1];
      return h.welcomes > n && h.status === "joined" && s !== undefined && s.firstTick > 0;
    }, before.welcomes, { timeout: 10_000 });
    const now = await hookOf(page2);
    assert.ok(now.errors.some((e) => /reconnecting/i.test(e)), `page 2 told the player it was reconnecting: ${JSON.stringify(now.errors)}`);
    const s = now.sessions[now.sessions.length - 1];
    assert.equal(s.resumed, true, "the welcome resumed the seat");
    assert.equal(s.playerId, before.playerId, "same player id");
    assert.equal(now.ownEntityId, id, "same entity");
    // The first frame after the resume and the ticks after it match the server's values.
    await until("the observer to pass the resumed tick", () => observer.history.some((h) => h.tick > s.firstTick + 5));
    const hist = await historyOf(page2);
    const first = hist.find((h) => h.tick === s.firstTick);
    assert.ok(first !== undefined);
    const theirs = observer.rowsAt(s.firstTick);
    if (theirs !== undefined) assert.deepEqual(rowIn(first.rows, id), rowIn(theirs, id), "own entity at the resumed tick");
    const common = compare(hist, observer, id, s.firstTick);
    assert.ok(common.length >= 3, `only ${common.length} ticks in common after the resume`);
    compare(hist, observer, (await hookOf(page1)).ownEntityId, s.firstTick);
  });

  test("a page from another origin gets no connection, retries at most 4 times and says so", { timeout: 20_000 }, async () => {
    const foreign = await serveStatic(join(repoRoot, "web"));
    try {
      const sample = 'ticksync_handshake_rejects_total{status="403"}';
      const rejectsBefore = await metric(server.url, sample);
      const page = await browser.ctx.newPage();
      await page.goto(`${foreign.url}?server=${encodeURIComponent(server.url)}&room=${room}`);
      await page.waitForFunction(() => window.__ticksync?.status === "closed", null, { timeout: 10_000 });
      const text = await page.locator("#banner").innerText();
      assert.match(text, /could not connect/i);
      assert.ok(await page.locator("#banner").isVisible());
      const attempts = await page.evaluate(() => window.__ticksync.connectAttempts);
      assert.ok(attempts >= 1 && attempts <= 4, `${attempts} handshake attempts`);
      await new Promise((r) => setTimeout(r, 1500)); // no attempt comes later
      assert.equal(await page.evaluate(() => window.__ticksync.connectAttempts), attempts, "no retry after giving up");
      const rejected = (await metric(server.url, sample)) - rejectsBefore;
      assert.equal(rejected, attempts, "every handshake was refused with 403 before the upgrade");
      await page.close();
    } finally {
      await foreign.close();
    }
  });

  test("a full room says so, keeps trying, and lets the player in when a seat frees", { timeout: 30_000 }, async () => {
    const small = await startServer(bin, ["-max-players", "1"]);
    try {
      const a = await open(`${small.url}?room=tiny`);
      const b = await browser.ctx.newPage();
      await b.goto(`${small.url}?room=tiny`);
      await b.waitForFunction(() => window.__ticksync?.status === "reconnecting", null, { timeout: 10_000 });
      assert.match(await b.locator("#banner").innerText(), /room full/i);
      await a.click("#leave"); // the seat frees at once
      await b.waitForFunction(() => window.__ticksync.status === "joined" && window.__ticksync.ownEntityId > 0, null, { timeout: 15_000 });
      assert.ok(await b.locator("#banner").isHidden());
      await a.close();
      await b.close();
    } finally {
      await small.stop();
    }
  });

  test("the room picker: a listed room has its own \"Join <room>\", the form's button another name, and it joins that room", { timeout: 30_000 }, async () => {
    const lobby = await startServer(bin);
    try {
      const res = await fetch(new URL("rooms", lobby.url), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ game: "arena", id: "lobby" }) });
      assert.equal(res.status, 201, await res.text());
      const page = await browser.ctx.newPage();
      await page.goto(lobby.url);
      const join = page.getByRole("button", { name: "Join lobby", exact: true });
      await join.waitFor({ timeout: 10_000 });
      assert.equal(await join.count(), 1, "one listed room, one action for it");
      assert.equal(await join.textContent(), "Join");
      assert.equal(await page.getByRole("button", { name: "Join", exact: true }).count(), 0, "no button is just \"Join\"");
      assert.equal(await page.getByRole("button", { name: "Join or create", exact: true }).count(), 1, "the form's button");
      assert.equal(await page.locator("#room-list").getByRole("button").count(), 1);
      await join.click();
      await page.waitForFunction(() => window.__ticksync.status === "joined" && window.__ticksync.ownEntityId > 0, null, { timeout: 10_000 });
      assert.equal(await page.evaluate(() => window.__ticksync.room), "lobby");
      const rooms = (await (await fetch(new URL("rooms", lobby.url))).json()) as { id: string; players: number }[];
      assert.deepEqual(rooms.map((r) => [r.id, r.players]), [["lobby", 1]], "the page sits in the listed room, and no other room was made");
      await page.close();
    } finally {
      await lobby.stop();
    }
  });

  test("quick play twice lands both pages in the same room, which the server made; a full room sends the next elsewhere", { timeout: 30_000 }, async () => {
    const qs = await startServer(bin, ["-max-players", "2"]);
    try {
      const quick = () => open(qs.url, (page) => page.getByRole("button", { name: "Quick play", exact: true }).click());
      const roomOf = (page: Page) => page.evaluate(() => ({ room: window.__ticksync.room, hud: document.getElementById("hud-room")?.textContent, url: location.search }));
      const a = await quick();
      const b = await quick();
      const ra = await roomOf(a);
      const rb = await roomOf(b);
      assert.notEqual(ra.room, "", "the page learnt the room from the welcome");
      assert.equal(rb.room, ra.room, "the second quick play joins the first's room");
      assert.equal(ra.hud, ra.room);
      assert.equal(new URLSearchParams(ra.url).get("room"), ra.room, "a reload rejoins the room");
      let rooms = (await (await fetch(new URL("rooms", qs.url))).json()) as { id: string; players: number }[];
      assert.deepEqual(rooms.map((r) => [r.id, r.players]), [[ra.room, 2]]);
      const c = await quick(); // the room is full (-max-players 2): a new one
      const rc = await roomOf(c);
      assert.notEqual(rc.room, ra.room);
      rooms = (await (await fetch(new URL("rooms", qs.url))).json()) as { id: string; players: number }[];
      assert.equal(rooms.length, 2);
      for (const p of [a, b, c]) await p.close();
    } finally {
      await qs.stop();
    }
  });

  test("dragging on the canvas steers like a virtual stick", { timeout: 20_000 }, async () => {
    const id = (await hookOf(page1)).ownEntityId;
    const start = await until("page 1's entity at the observer", () => rowIn(observer.history[observer.history.length - 1]?.rows, id));
    const [sx] = towardsMiddle(start);
    await page1.bringToFront();
    const box = await page1.locator("#view").boundingBox();
    assert.ok(box !== null);
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    await page1.mouse.move(cx, cy);
    await page1.mouse.down();
    try {
      await page1.mouse.move(cx + sx * 200, cy, { steps: 4 }); // past the stick's reach: full speed
      await until("the server to apply the stick's input", () => {
        const r = rowIn(observer.history[observer.history.length - 1]?.rows, id);
        return r !== undefined && r.vx === sx * SPEED && r.vy === 0;
      });
    } finally {
      await page1.mouse.up();
    }
    await until("the stick's release to stop the player", () => {
      const r = rowIn(observer.history[observer.history.length - 1]?.rows, id);
      return r !== undefined && r.vx === 0 && r.vy === 0;
    });
  });

  test("a player at the top border keeps its label inside the canvas, drawn below it", { timeout: 30_000 }, async () => {
    await page1.bringToFront();
    await page1.keyboard.down("KeyW");
    try {
      // Held up, the player bounces off the top border: y stays within one step of 0.
      await page1.waitForFunction((step) => {
        const r = window.__ticksync.predicted();
        return r !== undefined && r.vy !== 0 && Number(r.y) <= step;
      }, SPEED / 20, { timeout: 20_000 });
      await page1.keyboard.up("KeyW");
      // A frame drawn with the player at rest near the border (no smoothing in flight).
      let last: unknown;
      await until("page 1 at rest at the top border, predicted where the server has it", async () => {
        const s = await page1.evaluate(() => ({ predicted: window.__ticksync.predicted(), server: window.__ticksync.entity(window.__ticksync.ownEntityId) }));
        last = s;
        const r = s.predicted;
        return r !== undefined && r.vy === 0 && Number(r.y) <= SPEED / 20 && s.server?.y === r.y;
      }).catch((e: Error) => {
        throw new Error(`${e.message}; last seen ${JSON.stringify(last)}`);
      });
      const drawn = await until("a drawn frame with the own label", () =>
        page1.evaluate(() => {
          const l = window.__ticksync.labels();
          const you = l.boxes.find((b) => b.text === "you");
          if (you === undefined) return undefined;
          // The label's own pixels: white text inside its box (nothing else there is white).
          const c = document.getElementById("view") as HTMLCanvasElement;
          const d = (c.getContext("2d") as CanvasRenderingContext2D).getImageData(Math.floor(you.x), Math.floor(you.y), Math.ceil(you.w), Math.ceil(you.h)).data;
          let white = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] > 200 && d[i + 2] > 200) white++;
          return { ...l, you, white, canvas: [c.width, c.height] };
        }),
      );
      assert.deepEqual(drawn.canvas, [drawn.width, drawn.height], "labels measured on the canvas as drawn");
      assert.ok(drawn.boxes.length >= 2, `labels of both players: ${JSON.stringify(drawn.boxes)}`);
      for (const b of drawn.boxes) {
        assert.ok(b.w > 0 && b.h > 0, `label ${b.text} has a size`);
        assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.w <= drawn.width && b.y + b.h <= drawn.height, `label ${JSON.stringify(b)} inside the ${drawn.width}×${drawn.height} canvas`);
      }
      assert.ok(drawn.white >= 10, `the "you" label is drawn in its box (${drawn.white} white pixels)`);
      const dir = join(repoRoot, "test-results");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "demo-top-label.png"), await page1.screenshot());
    } finally {
      await page1.keyboard.up("KeyW");
    }
  });

  test("a screenshot of the demo is not blank", { timeout: 20_000 }, async () => {
    await page1.bringToFront();
    await page1.waitForTimeout(300); // a few drawn frames
    const png = await page1.screenshot({ fullPage: false });
    const dir = join(repoRoot, "test-results");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "demo.png"), png);
    assert.ok(png.length > 20_000, `screenshot is only ${png.length} bytes`);
    // Decode the PNG in the page and measure it: many colours and real contrast.
    const stats = await page1.evaluate(async (b64) => {
      const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
      const bmp = await createImageBitmap(blob);
      const c = new OffscreenCanvas(bmp.width, bmp.height);
      const g = c.getContext("2d") as OffscreenCanvasRenderingContext2D;
      g.drawImage(bmp, 0, 0);
      const d = g.getImageData(0, 0, bmp.width, bmp.height).data;
      const colours = new Set<number>();
      let sum = 0;
      let sum2 = 0;
      const n = d.length / 4;
      for (let i = 0; i < d.length; i += 4) {
        const l = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
        sum += l;
        sum2 += l * l;
        if (colours.size < 5000) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      }
      const mean = sum / n;
      return { width: bmp.width, height: bmp.height, colours: colours.size, stddev: Math.sqrt(sum2 / n - mean * mean) };
    }, png.toString("base64"));
    assert.ok(stats.colours >= 50, `only ${stats.colours} colours`);
    assert.ok(stats.stddev > 5, `luminance stddev ${stats.stddev.toFixed(2)}`);
    // The canvas itself holds the world: NPCs drawn over the background.
    const canvasColours = await page1.evaluate(() => {
      const c = document.getElementById("view") as HTMLCanvasElement;
      const d = (c.getContext("2d") as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
      const s = new Set<number>();
      for (let i = 0; i < d.length && s.size < 1000; i += 4) s.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return s.size;
    });
    assert.ok(canvasColours >= 20, `canvas has only ${canvasColours} colours`);
  });

  test("both pages checked the server's view hashes and never disagreed", { timeout: 10_000 }, async () => {
    for (const page of [page1, page2]) {
      const st = await page.evaluate(() => window.__ticksync.stats());
      assert.ok(st !== null);
      assert.ok(st.hashChecks >= 1, `no view hash checked in ${st.framesApplied} frames`);
      assert.equal(st.desyncs, 0);
    }
  });
});
