// Browser end-to-end test of the demo's world size: a room made with arena's config
// {"world": 300} sends x and y ranges of [0, 300] units in its schema, and the page draws to
// that scale (it reads the size from the welcome, not from a constant): its world is 300 units,
// and its own player, driven to the right border (x near 300), is drawn at the world's right
// edge, where a page drawing a 1000-unit world would have put it at three tenths of the way.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { buildBinary, createRoom, launchBrowser, observe, removeScratch, startServer, until } from "./harness.js";
import type { Browser, Observer, RunningServer } from "./harness.js";

const WORLD = 300; // units: the room's config
const SCALE = 100; // arena's fixed-point scale

let server: RunningServer;
let browser: Browser;
let observer: Observer;
const room = `world-${process.pid}`;

before(async () => {
  const bin = buildBinary();
  [server, browser] = await Promise.all([startServer(bin), launchBrowser()]);
  await createRoom(server.url, "arena", room, { world: WORLD, npcs: 20 });
  observer = await observe(server.url, room);
}, { timeout: 90_000 }); // a cold `go build` takes a while

after(async () => {
  observer?.close();
  await browser?.close();
  await server?.stop();
  removeScratch();
});

/** ownPixel reads the canvas pixel where the page's world layout puts (x, y) in wire units, and where a 1000-unit world would. */
function ownPixels(page: Page, x: number, y: number) {
  return page.evaluate(
    ([x, y, scale]) => {
      const w = window.__ticksync.world();
      if (w === undefined) return undefined;
      const c = document.getElementById("view") as HTMLCanvasElement;
      const g = c.getContext("2d") as CanvasRenderingContext2D;
      const at = (units: number) => {
        const px = w.ox + ((x / scale) * w.side) / units;
        const py = w.oy + ((y / scale) * w.side) / units;
        return { px, py, rgb: Array.from(g.getImageData(Math.round(px), Math.round(py), 1, 1).data.slice(0, 3)) };
      };
      return { world: w, here: at(w.units), thousand: at(1000) };
    },
    [x, y, SCALE] as const,
  );
}

const OWN = [0xff, 0xcc, 0x4d]; // the own player's fill (view.ts COLORS.own)

describe("demo page in a 300-unit world", { timeout: 60_000 }, () => {
  test("the page's world is the room's, and its own player at x = max is drawn at the right edge", { timeout: 45_000 }, async () => {
    const st = observer.client.schema;
    assert.ok(st !== null);
    const x = st.classByName.get("player")?.byName.get("x");
    assert.deepEqual([x?.hasRange, x?.min, x?.max], [true, 0, WORLD * SCALE], "the server's schema carries the config's world");

    const page = await browser.ctx.newPage();
    page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
    await page.goto(`${server.url}?room=${room}`);
    await page.waitForFunction(() => {
      const h = window.__ticksync;
      return h !== undefined && h.status === "joined" && h.tick > 0 && h.ownEntityId > 0;
    }, null, { timeout: 10_000 });
    const world = await until("the page to draw its world", () => page.evaluate(() => window.__ticksync.world()));
    assert.equal(world.units, WORLD, "the page's world size is the room's");
    for (const e of await page.evaluate(() => window.__ticksync.entities())) {
      assert.ok(Number(e.x) >= 0 && Number(e.x) <= WORLD * SCALE && Number(e.y) >= 0 && Number(e.y) <= WORLD * SCALE, `entity ${e.id} at ${e.x}, ${e.y}`);
    }

    // Full speed right until the player bounces on the right border, then let go: it stops there.
    await page.bringToFront();
    await page.keyboard.down("KeyD");
    try {
      await until("the player at the right border", async () => Number((await page.evaluate(() => window.__ticksync.predicted()))?.x) >= (WORLD - 10) * SCALE);
    } finally {
      await page.keyboard.up("KeyD");
    }
    const id = (await page.evaluate(() => window.__ticksync.ownEntityId)) as number;
    const rest = await until("the player to stop where the server has it", async () => {
      const [pred, server] = await page.evaluate((id) => [window.__ticksync.predicted(), window.__ticksync.entity(id)] as const, id);
      return pred !== undefined && server !== undefined && server.vx === 0 && pred.vx === 0 && pred.x === server.x && pred.y === server.y ? pred : undefined;
    });
    const rx = Number(rest.x);
    const ry = Number(rest.y);
    assert.ok(rx >= (WORLD - 10) * SCALE && rx <= WORLD * SCALE, `stopped at x = ${rx}`);

    // The page draws it where its layout says, which is the world's right edge (within the
    // last step of 10 units), and not where a 1000-unit world would have it.
    const drawn = await until("the own player drawn at its place", async () => {
      const p = await ownPixels(page, rx, ry);
      return p !== undefined && p.here.rgb.every((v, i) => Math.abs(v - OWN[i]) <= 2) ? p : undefined;
    });
    const edge = drawn.world.ox + drawn.world.side;
    assert.ok(edge - drawn.here.px <= (10 * drawn.world.side) / WORLD + 1, `drawn at ${drawn.here.px}, the world's right edge is at ${edge}`);
    assert.notDeepEqual(drawn.thousand.rgb, drawn.here.rgb, "nothing of the own player where a 1000-unit world would put it");
    await page.close();
  });
});
