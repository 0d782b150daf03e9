// Browser end-to-end test of views (interest management) with the demo page: in an arena room
// made with {"world": 2000, "view": 400}, two pages' players, apart, do not hold each other's
// entity; walked together by their inputs they both do, at the server's values (a Node
// spectator, which sees the whole world, is the reference); every view hash their frames
// carried was checked with no mismatch; the page draws the view's square and a minimap; and
// the replay viewer's "Follow player" shows one player's view of the room's recording, then
// everyone again.

import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import type { EntityRow } from "../demo/hook.js";
import { buildBinary, createRoom, launchBrowser, observe, removeScratch, repoRoot, startServer, until } from "./harness.js";
import type { Browser, Observer, RunningServer } from "./harness.js";

const SCALE = 100; // arena's fixed-point scale
const WORLD = 2000; // units: the room's config
const VIEW = 400; // units: the side of each player's view (cells of VIEW/4 = 100)

let server: RunningServer;
let browser: Browser;
let observer: Observer;
const room = `views-${process.pid}`;

before(async () => {
  const bin = buildBinary();
  [server, browser] = await Promise.all([startServer(bin), launchBrowser()]);
  await createRoom(server.url, "arena", room, { world: WORLD, view: VIEW, npcs: 300 });
  observer = await observe(server.url, room); // a spectator: the whole world
}, { timeout: 90_000 }); // a cold `go build` takes a while

after(async () => {
  observer?.close();
  await browser?.close();
  await server?.stop();
  removeScratch();
});

/** open joins the room in a new page and waits for its own entity. */
async function open(): Promise<Page> {
  const page = await browser.ctx.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${server.url}?room=${room}`);
  await page.waitForFunction(() => {
    const h = window.__ticksync;
    return h !== undefined && h.status === "joined" && h.tick > 0 && h.ownEntityId > 0;
  }, null, { timeout: 10_000 });
  return page;
}

const ownId = (page: Page) => page.evaluate(() => window.__ticksync.ownEntityId);
const holds = (page: Page, id: number) => page.evaluate((id) => window.__ticksync.entity(id) !== undefined, id);
const statsOf = async (page: Page) => {
  const st = await page.evaluate(() => window.__ticksync.stats());
  assert.ok(st !== null);
  return st;
};

/** at returns entity id's position in units at the observer's newest frame (the server's truth). */
function at(id: number): { x: number; y: number } {
  const last = observer.history[observer.history.length - 1];
  const r = last?.rows.find((r) => r.id === id);
  assert.ok(r !== undefined, `entity ${id} not at the observer`);
  return { x: Number(r.x) / SCALE, y: Number(r.y) / SCALE };
}

/** Walker holds a page's arrow keys so that its player walks towards a target. */
class Walker {
  private held = new Set<string>();
  constructor(
    readonly page: Page,
    readonly id: number,
  ) {}

  /**
   * step presses the keys towards target (units) on each axis farther than within, releases
   * the others, and returns whether the player is within on both axes.
   */
  async step(target: { x: number; y: number }, within: number): Promise<boolean> {
    const p = at(this.id);
    const want = new Set<string>();
    if (Math.abs(target.x - p.x) > within) want.add(target.x > p.x ? "KeyD" : "KeyA");
    if (Math.abs(target.y - p.y) > within) want.add(target.y > p.y ? "KeyS" : "KeyW");
    for (const k of this.held) if (!want.has(k)) await this.page.keyboard.up(k);
    for (const k of want) if (!this.held.has(k)) await this.page.keyboard.down(k);
    this.held = want;
    return want.size === 0;
  }

  async stop(): Promise<void> {
    for (const k of this.held) await this.page.keyboard.up(k);
    this.held.clear();
  }
}

/** walk steps both walkers towards their targets (re-read each poll) until both are there. */
async function walk(what: string, walkers: Walker[], target: (w: Walker) => { x: number; y: number }, within: number): Promise<void> {
  try {
    await until(what, async () => {
      let there = true;
      for (const w of walkers) there = (await w.step(target(w), within)) && there;
      return there;
    }, 40_000);
  } finally {
    for (const w of walkers) await w.stop();
  }
}

describe("views in the demo page", { timeout: 100_000 }, () => {
  let a: Page;
  let b: Page;
  let ida: number;
  let idb: number;

  test("apart, neither page holds the other's player; walked together, both do, at the server's values", { timeout: 90_000 }, async () => {
    const grid = observer.client.grid;
    assert.ok(grid !== undefined, "the welcome carries the room's grid");
    assert.deepEqual([grid.width, grid.height, grid.cell, grid.cols, grid.rows], [WORLD * SCALE, WORLD * SCALE, (VIEW / 4) * SCALE, WORLD / (VIEW / 4), WORLD / (VIEW / 4)]);
    a = await open();
    b = await open();
    [ida, idb] = [await ownId(a), await ownId(b)];
    await until("both players at the observer", () => observer.history.at(-1)?.rows.some((r) => r.id === idb));
    const wa = new Walker(a, ida);
    const wb = new Walker(b, idb);

    // The spawn points come from the room's seed: when they are less than two views apart,
    // walk the players to opposite quarters first.
    const [pa, pb] = [at(ida), at(idb)];
    if (Math.max(Math.abs(pa.x - pb.x), Math.abs(pa.y - pb.y)) < 2 * VIEW) {
      await walk("the players to walk apart", [wa, wb], (w) => (w === wa ? { x: 400, y: 400 } : { x: 1600, y: 1600 }), 50);
    }
    const [fa, fb] = [at(ida), at(idb)];
    assert.ok(Math.max(Math.abs(fa.x - fb.x), Math.abs(fa.y - fb.y)) >= 2 * VIEW, `apart: ${JSON.stringify([fa, fb])}`);
    const apart = await until("both pages to hold their own player but not the other", async () =>
      (await holds(a, ida)) && (await holds(b, idb)) && !(await holds(a, idb)) && !(await holds(b, ida)) ? [at(ida), at(idb)] : undefined,
    );
    const [ea, eb] = await Promise.all([a, b].map((p) => p.evaluate(() => window.__ticksync.entities().length)));
    const all = observer.client.mirror?.size ?? 0;
    assert.ok(ea < all && eb < all, `each page holds part of the world: ${ea} and ${eb} of ${all} entities (apart at ${JSON.stringify(apart)})`);

    // Each walks towards where the other is now, until they are within a quarter view on each axis.
    await walk("the players to meet", [wa, wb], (w) => at(w === wa ? idb : ida), VIEW / 4);
    await until("both pages to hold the other's player", async () => (await holds(a, idb)) && (await holds(b, ida)));

    // The other's entity on each page has the server's values at the ticks both applied.
    for (const [page, other] of [[a, idb], [b, ida]] as const) {
      const last = (await page.evaluate(() => window.__ticksync.history())).at(-1);
      assert.ok(last !== undefined);
      const rows = await until(`the observer to apply tick ${last.tick}`, () => observer.rowsAt(last.tick));
      const ours = last.rows.find((r: EntityRow) => r.id === other);
      const theirs = rows.find((r) => r.id === other);
      assert.ok(ours !== undefined && theirs !== undefined, `entity ${other} at tick ${last.tick} on the page and at the observer`);
      assert.deepEqual(ours, theirs, `entity ${other} at tick ${last.tick}: page vs server`);
    }
  });

  test("both pages checked their view hashes, the last ones while holding each other, with no mismatch", { timeout: 20_000 }, async () => {
    const before = await Promise.all([a, b].map(statsOf));
    for (const st of before) assert.ok(st.hashChecks >= 1, `view hashes checked apart: ${st.hashChecks}`);
    // Two more checks each (one every 20 ticks, at each client's own phase) while together.
    await until("two more view hash checks on each page", async () => {
      const now = await Promise.all([a, b].map(statsOf));
      return now.every((st, i) => st.hashChecks >= before[i].hashChecks + 2);
    });
    for (const page of [a, b]) {
      const st = await statsOf(page);
      assert.equal(st.desyncs, 0, `page ${page === a ? "a" : "b"}: ${st.hashChecks} checks, ${st.desyncs} mismatches`);
    }
    assert.ok((await holds(a, idb)) && (await holds(b, ida)), "still together");
  });

  test("the page draws its view: the camera spans twice the view around its player, the square and a minimap", { timeout: 20_000 }, async () => {
    await a.bringToFront();
    const w = await until("page a to draw a frame with its view", () => a.evaluate(() => window.__ticksync.world()).then((w) => (w?.focus !== null ? w : undefined)));
    assert.equal(w.units, WORLD);
    assert.equal(w.view, VIEW, "the view from the room's config");
    assert.equal(w.span, 2 * VIEW, "the camera shows twice the view");
    const p = at(ida);
    assert.ok(w.focus !== null && Math.abs(w.focus.x - p.x) < 20 && Math.abs(w.focus.y - p.y) < 20, `focus ${JSON.stringify(w.focus)} on the player at ${JSON.stringify(p)}`);
    for (const [c, lo] of [[w.focus.x, w.x0], [w.focus.y, w.y0]]) {
      const inWorld = [Math.max(0, c - VIEW / 2), Math.min(WORLD, c + VIEW / 2)];
      assert.ok(lo <= inWorld[0] && inWorld[1] <= lo + w.span, `the view's square (its part in the world) inside the camera: ${JSON.stringify(w)}`);
    }
    assert.ok(w.minimap !== null && w.minimap.side > 20, "a minimap");
    // The minimap's own dot is drawn where the world layout puts the player (the own colour).
    const rgb = await a.evaluate(() => {
      const l = window.__ticksync.world();
      const c = document.getElementById("view") as HTMLCanvasElement;
      const g = c.getContext("2d") as CanvasRenderingContext2D;
      if (l === undefined || l.minimap === null || l.focus === null) return [];
      const k = l.minimap.side / l.units;
      return Array.from(g.getImageData(Math.round(l.minimap.x + l.focus.x * k), Math.round(l.minimap.y + l.focus.y * k), 1, 1).data.slice(0, 3));
    });
    assert.deepEqual(rgb, [0xff, 0xcc, 0x4d], "the player's dot on the minimap");
    const dir = join(repoRoot, "test-results");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "demo-views.png"), await a.screenshot());
  });

  test("the replay viewer follows a player of the recording, then everyone", { timeout: 40_000 }, async () => {
    const list = (await (await fetch(new URL("replays", server.url))).json()) as { name: string }[];
    const rec = list.find((r) => r.name.startsWith(room));
    assert.ok(rec !== undefined, `the room's recording in ${JSON.stringify(list.map((r) => r.name))}`);
    const pa = await a.evaluate(() => window.__ticksync.playerId);
    const npcs = 300;
    const v = await browser.ctx.newPage();
    v.on("pageerror", (e) => console.error(`viewer page error: ${e.message}`));
    await v.goto(`${server.url}replay?name=${encodeURIComponent(rec.name)}`);
    await v.waitForFunction(() => window.__ticksyncReplay?.phase === "joined" && window.__ticksyncReplay.frames > 0, null, { timeout: 10_000 });
    const count = () => v.evaluate(() => window.__ticksyncReplay.entities().length);
    await until("the viewer to show everyone", async () => (await count()) >= npcs);
    await v.locator("#follow-row").waitFor({ state: "visible" });
    await until(`P${pa} among the players to follow`, async () => (await v.locator("#follow option").allTextContents()).includes(`P${pa}`));
    await v.selectOption("#follow", String(pa));
    assert.equal(await v.evaluate(() => window.__ticksyncReplay.follow), pa);
    // From the next frame on, the viewer holds what player a saw: its own entity and part of the world.
    await until(`the viewer to hold P${pa}'s view`, async () => {
      const rows = await v.evaluate(() => window.__ticksyncReplay.entities());
      return rows.length < npcs && rows.some((r) => r.id === ida && r.class === "player") ? rows : undefined;
    }, 20_000);
    const drawn = await v.evaluate(() => window.__ticksyncReplay.errors);
    assert.deepEqual(drawn, [], "no errors on the viewer");
    await v.selectOption("#follow", "0");
    await until("the viewer to show everyone again", async () => (await count()) >= npcs);
    await v.close();
  });
});
