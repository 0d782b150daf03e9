// Browser end-to-end test of the replay viewer against a real `ticksync replay serve` of the
// golden recording: the page lists it, plays it, seeks by the bar and by a mark, and at each
// tick holds exactly the state an independent Node client (the TS client over `ws`, seeking
// the same recording in its own replay session) holds, field by field. A second recording
// (e2e/recfixture) has marks one tick apart: the seek bar keeps every mark apart and seekable.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { WebSocket } from "ws";
import { connect } from "../src/index.js";
import type { Client, WebSocketCtor } from "../src/index.js";
import { rowOf } from "../demo/hook.js";
import type { EntityRow } from "../demo/hook.js";
import { buildBinary, launchBrowser, removeScratch, repoRoot, scratch, until } from "./harness.js";
import type { Browser } from "./harness.js";

const NAME = "golden-v1";
/** CLOSE is e2e/recfixture's recording: joins at ticks 1, 100 and 101, a leave at 150. */
const CLOSE = "close-marks";

let browser: Browser;
let base = "";
let stopServer: () => Promise<void> = async () => {};
let page: Page;
let observer: Client;

/** replayServe runs `bin replay serve -addr 127.0.0.1:0 files…` and returns its base URL. */
async function replayServe(bin: string, files: string[]): Promise<string> {
  const child = spawn(bin, ["replay", "serve", "-addr", "127.0.0.1:0", "-log-level", "warn", ...files], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  process.once("exit", () => child.exitCode === null && child.kill("SIGKILL"));
  stopServer = async () => {
    if (child.exitCode !== null) return;
    child.kill("SIGTERM");
    const t = setTimeout(() => child.exitCode === null && child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  };
  return new Promise<string>((res, rej) => {
    let out = "";
    const timer = setTimeout(() => rej(new Error(`ticksync replay serve printed no address; stderr:\n${err}`)), 10_000);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const m = /ticksync serving on (http:\/\/[0-9.]+:\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        res(`${m[1]}/`);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`ticksync replay serve exited (${code}); stderr:\n${err}`));
    });
  });
}

/** rowsOf reads every entity of a client's mirror, ascending id. */
function rowsOf(c: Client): EntityRow[] {
  const m = c.mirror;
  if (m === null) return [];
  return m.ids().map((id) => rowOf(m, id) as EntityRow);
}

/** expectedAt seeks the observer's own session to tick and returns its state there. */
async function expectedAt(tick: number): Promise<EntityRow[]> {
  observer.replay("seek", { seekTick: tick });
  await until(`the observer at tick ${tick}`, () => observer.mirror?.tick === tick);
  return rowsOf(observer);
}

const pageState = () =>
  page.evaluate(() => {
    const h = window.__ticksyncReplay;
    return { tick: h.tick, status: h.status, errors: h.errors, entities: h.entities(), phase: h.phase };
  });

/** pageAt waits until the page holds tick, paused, and returns what it holds. */
async function pageAt(tick: number) {
  await page.waitForFunction((t) => {
    const h = window.__ticksyncReplay;
    return h.tick === t && h.status !== null && h.status.tick === t && !h.status.playing;
  }, tick, { timeout: 10_000 });
  return pageState();
}

/** seekBar drags the seek bar to tick as a user would: input events, then change. */
async function seekBar(tick: number): Promise<void> {
  await page.evaluate((t) => {
    const el = document.getElementById("seek") as HTMLInputElement;
    el.value = String(t);
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }, tick);
}

before(async () => {
  const bin = buildBinary();
  const file = join(scratch(), `${NAME}.tsrec`);
  copyFileSync(join(repoRoot, "sim/replay/testdata/golden-v1.tsrec"), file);
  const close = join(scratch(), `${CLOSE}.tsrec`);
  execFileSync("go", ["run", "./client-js/e2e/recfixture", close], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
  [base, browser] = await Promise.all([replayServe(bin, [file, close]), launchBrowser()]);
  observer = connect(new URL("ws", base).toString(), {
    room: `replay:${NAME}`,
    spectator: true,
    createIfMissing: false,
    reconnect: false,
    WebSocket: WebSocket as unknown as WebSocketCtor,
  });
  await new Promise<void>((res, rej) => {
    observer.on("welcome", () => res());
    observer.on("close", (c) => rej(new Error(`observer closed: ${c.message}`)));
  });
  observer.replay("pause");
}, { timeout: 90_000 });

after(async () => {
  observer?.close();
  await browser?.close();
  await stopServer();
  removeScratch();
});

describe("replay viewer", { timeout: 90_000 }, () => {
  test("lists the recording and plays it", { timeout: 20_000 }, async () => {
    page = await browser.ctx.newPage();
    page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
    await page.goto(new URL("replay", base).toString());
    const item = page.locator(`#replay-list li[data-name="${NAME}"]`);
    await item.waitFor({ timeout: 10_000 });
    assert.match((await item.textContent()) ?? "", /arena/);
    await item.locator("button").click();
    await page.waitForFunction(() => {
      const h = window.__ticksyncReplay;
      return h.phase === "joined" && h.status !== null && h.tick > 0;
    }, null, { timeout: 10_000 });
    const s = await pageState();
    assert.equal(s.status?.name, NAME);
    assert.equal(s.status?.firstTick, 1);
    assert.ok((s.status?.lastTick ?? 0) > 10, "the golden recording has ticks");
    assert.ok((s.status?.marks.length ?? 0) > 0, "it has marks (players join)");
    assert.deepEqual(s.errors, []);
  });

  test("seek bar: the page holds the recording's state at the tick, field by field", { timeout: 20_000 }, async () => {
    await page.locator("#play").click(); // pause
    await page.waitForFunction(() => window.__ticksyncReplay.status?.playing === false, null, { timeout: 5000 });
    const last = (await pageState()).status?.lastTick ?? 0;
    for (const tick of [Math.floor(last / 2), 3, last, last - 1]) {
      await seekBar(tick);
      const got = await pageAt(tick);
      const want = await expectedAt(tick);
      assert.ok(want.length > 0, `entities at tick ${tick}`);
      assert.deepEqual(got.entities, want, `state at tick ${tick}: page vs observer`);
      // The HUD says where it is.
      await until(`the HUD at tick ${tick}`, async () => (await page.locator("#s-tick").textContent()) === String(tick));
    }
    assert.deepEqual((await pageState()).errors, []);
  });

  test("a mark jumps to its tick", { timeout: 20_000 }, async () => {
    const marks = (await pageState()).status?.marks ?? [];
    const mark = marks[marks.length - 1];
    await page.locator(`#marks button[data-tick="${mark.tick}"]`).first().click();
    const got = await pageAt(mark.tick);
    assert.deepEqual(got.entities, await expectedAt(mark.tick), `state at mark tick ${mark.tick}`);
    if (mark.kind === "join") {
      assert.ok(got.entities.some((e) => e.class === "player" && e.player === mark.player), `P${mark.player} is in after joining`);
    }
  });

  test("plays to the end at 8x and stops there", { timeout: 20_000 }, async () => {
    await seekBar(1);
    await pageAt(1);
    await page.selectOption("#speed", "800");
    await page.waitForFunction(() => window.__ticksyncReplay.status?.speedPct === 800, null, { timeout: 5000 });
    const before = await pageState();
    const framesBefore = await page.evaluate(() => window.__ticksyncReplay.frames);
    await page.locator("#play").click();
    const last = before.status?.lastTick ?? 0;
    const got = await pageAt(last);
    assert.ok((await page.evaluate(() => window.__ticksyncReplay.frames)) > framesBefore + 1, "frames arrived while playing");
    assert.deepEqual(got.entities, await expectedAt(last), "state at the last tick after playing");
    assert.deepEqual(got.errors, []);
  });

  test("marks one tick apart stay apart on the seek bar, and each one seeks to its tick", { timeout: 30_000 }, async () => {
    const p = await browser.ctx.newPage();
    p.on("pageerror", (e) => console.error(`page error: ${e.message}`));
    await p.goto(new URL(`replay?name=${CLOSE}`, base).toString());
    await p.waitForFunction(() => window.__ticksyncReplay.phase === "joined" && window.__ticksyncReplay.status !== null, null, { timeout: 10_000 });
    await p.locator("#play").click(); // pause
    await p.waitForFunction(() => window.__ticksyncReplay.status?.playing === false, null, { timeout: 5000 });
    const marks = (await p.evaluate(() => window.__ticksyncReplay.status?.marks)) ?? [];
    assert.deepEqual(marks.map((m) => [m.tick, m.kind, m.player]), [[1, "join", 1], [100, "join", 2], [101, "join", 3], [150, "leave", 1]]);
    const bar = p.locator("#markbar > button");
    await until("the marks on the bar", async () => (await bar.count()) > 0);
    // No marker covers another: every box is clear of the next one.
    const boxes = await bar.evaluateAll((els) => els.map((e) => {
      const r = e.getBoundingClientRect();
      return { ticks: (e as HTMLElement).dataset.tick ?? "", text: e.textContent ?? "", left: r.left, right: r.right };
    }));
    for (let i = 1; i < boxes.length; i++) {
      assert.ok(boxes[i].left >= boxes[i - 1].right + 2, `markers ${JSON.stringify(boxes[i - 1])} and ${JSON.stringify(boxes[i])} overlap`);
    }
    // Every mark is on the bar once: alone, or in a group that says how many it holds.
    assert.deepEqual(boxes.flatMap((b) => b.ticks.split(" ").map(Number)), [1, 100, 101, 150]);
    for (const b of boxes) assert.equal(b.text, b.ticks.includes(" ") ? String(b.ticks.split(" ").length) : "");
    assert.deepEqual(boxes.find((b) => b.ticks.includes("100"))?.text, "2", "ticks 100 and 101 share one marker showing 2");
    /** at waits until the page holds tick, paused. */
    const at = (tick: number) => p.waitForFunction((t) => {
      const h = window.__ticksyncReplay;
      return h.tick === t && h.status?.tick === t;
    }, tick, { timeout: 10_000 });
    for (const tick of [100, 101]) {
      await p.locator('#markbar > button[data-tick="100 101"]').click();
      const item = p.locator(`#markmenu button[data-tick="${tick}"]`);
      await item.waitFor({ timeout: 5000 });
      assert.equal(await p.locator("#markmenu button").count(), 2, "the group's menu lists both marks");
      await item.click();
      await at(tick);
      assert.ok(await p.locator("#markmenu").isHidden(), "the menu closes after a seek");
    }
    for (const tick of [150, 1]) {
      await p.locator(`#markbar > button[data-tick="${tick}"]`).click();
      await at(tick);
    }
    await p.close();
  });
});
