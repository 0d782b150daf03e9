// Browser end-to-end test of the trimmed empty tail (docs/operations.md, "Recordings on
// disk"): a real `ticksync serve` with a short -room-grace records a room in which one player
// (the TS client over `ws`) plays and leaves. The room runs on through its grace with nobody
// in it and is disposed; its recording ends at the tick of the leave, as the server logged it,
// and the replay viewer at /replay, opened on that recording, ends there too.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import { connect } from "../src/index.js";
import type { WebSocketCtor } from "../src/index.js";
import { buildBinary, launchBrowser, removeScratch, scratch, startServer, until } from "./harness.js";
import type { Browser, RunningServer } from "./harness.js";

let bin: string;
let server: RunningServer;
let browser: Browser;
const room = `trim-e2e-${process.pid}`;
const graceMs = 1000; // 20 ticks at the default 20 Hz

before(async () => {
  bin = buildBinary();
  [server, browser] = await Promise.all([startServer(bin, ["-room-grace", `${graceMs}ms`]), launchBrowser()]);
}, { timeout: 90_000 }); // a cold `go build` takes a while

after(async () => {
  await browser?.close();
  await server?.stop();
  removeScratch();
});

interface RoomRow {
  id: string;
}

interface ReplayRow {
  name: string;
  room?: string;
  ticks: number;
  complete: boolean;
}

const getJSON = async <T>(path: string): Promise<T> => (await fetch(new URL(path, server.url))).json() as Promise<T>;

/** logged returns the tick of the first info line msg="<msg>" of the room in the server's log. */
function logged(msg: string): number | undefined {
  const line = server.log().split("\n").find((l) => l.includes(`msg="${msg}"`) && l.includes(` room=${room} `));
  const m = line === undefined ? null : / tick=(\d+)/.exec(line);
  return m === null ? undefined : Number(m[1]);
}

describe("empty room's recording", { timeout: 60_000 }, () => {
  test("ends at the tick the last player left, in replay info and in the viewer", { timeout: 60_000 }, async () => {
    // One player plays a little (a few dozen ticks) and leaves.
    const player = connect(new URL("ws", server.url).toString(), {
      room,
      game: "arena",
      reconnect: false,
      WebSocket: WebSocket as unknown as WebSocketCtor,
    });
    let seen = 0;
    player.on("frame", () => (seen = player.mirror?.tick ?? 0));
    await until("the player's frames", () => seen >= 30);
    player.leave();
    const left = await until("the server's \"player left\" log line", () => logged("player left"));
    assert.ok(left > 30, `left at tick ${left}`);

    // The room lives on for the grace, then is disposed; its recording is finished by then.
    await until("the room disposed", async () => !(await getJSON<RoomRow[]>("rooms")).some((r) => r.id === room), 10_000);
    const rec = (await getJSON<ReplayRow[]>("replays")).find((r) => r.room === room);
    assert.ok(rec !== undefined, "the recording is listed");
    assert.equal(rec.ticks, left, "GET /replays: the recording ends at the leave");
    assert.ok(rec.complete);

    // replay info and verify agree with the file.
    const file = join(scratch(), "recordings", `${rec.name}.tsrec`);
    const info = JSON.parse(execFileSync(bin, ["replay", "info", "-json", file], { encoding: "utf8" })) as { ticks: number; end_reason: string };
    assert.equal(info.ticks, left, "replay info: ticks");
    assert.equal(info.end_reason, "room empty");
    execFileSync(bin, ["replay", "verify", "-q", file], { stdio: ["ignore", "ignore", "inherit"] }); // throws unless exit 0

    // The viewer opened on it ends there too, with the leave's mark at its last tick.
    const page = await browser.ctx.newPage();
    page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
    await page.goto(new URL("replay", server.url).toString());
    const item = page.locator(`#replay-list li[data-name="${rec.name}"]`);
    await item.waitFor({ timeout: 10_000 });
    await item.locator("button").click();
    await page.waitForFunction(() => {
      const h = window.__ticksyncReplay;
      return h.phase === "joined" && h.status !== null;
    }, null, { timeout: 10_000 });
    const status = await page.evaluate(() => window.__ticksyncReplay.status);
    assert.ok(status !== null);
    assert.equal(status.lastTick, left, "the viewer's last tick is the leave's");
    assert.ok(status.marks.some((m) => m.kind === "leave" && m.tick === left), "the leave is marked at the last tick");
    assert.deepEqual(await page.evaluate(() => window.__ticksyncReplay.errors), []);
    await page.close();
    assert.ok(server.log().includes('msg="recording trimmed to the tick the room became empty"'), "the trim is logged");
  });
});
