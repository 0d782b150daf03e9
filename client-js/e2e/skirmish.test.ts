// Browser end-to-end test of the skirmish example's page (examples/skirmish/page) against the
// example's own binary: two pages in ?bot=1 mode, one red and one blue, join one room with a
// short match config and play it to the end by themselves; both show the same result and the
// hits and kills, both sockets are closed with 4002 "match over", and the recording the
// server wrote verifies and describes the same result. A third page, refused by the game
// (the room is full), says why and does not retry.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import type { SkirmishHook } from "../../examples/skirmish/page/hook.js";
import { buildSkirmish, launchBrowser, removeScratch, scratch, startServer, until } from "./harness.js";
import type { Browser, RunningServer } from "./harness.js";

let bin: string;
let server: RunningServer;
let browser: Browser;
let recDir: string;
const room = `skirmish-e2e-${process.pid}`;
const config = JSON.stringify({ score_to_win: 2, countdown_ticks: 30, max_players: 2 });

before(async () => {
  bin = buildSkirmish();
  recDir = join(scratch(), "recordings");
  mkdirSync(recDir, { recursive: true });
  [server, browser] = await Promise.all([startServer(bin, ["-record-dir", recDir, "-log-level", "warn"]), launchBrowser()]);
}, { timeout: 90_000 }); // a cold `go build` takes a while

after(async () => {
  await browser?.close();
  await server?.stop();
  removeScratch();
});

const hookOf = (page: Page): Promise<SkirmishHook> => page.evaluate(() => ({ ...window.__skirmish, feed: window.__skirmish.feed.slice() }));

/** sockets counts the WebSockets each page opened. */
const sockets = new WeakMap<Page, number>();

/** open loads the page for name in the room: a bot (?bot=1) or a human who joins at once (?join=1). */
async function open(name: string, team: string, mode: "bot" | "join" = "bot"): Promise<Page> {
  const page = await browser.ctx.newPage();
  page.on("pageerror", (e) => console.error(`page error (${name}): ${e.message}`));
  page.on("websocket", () => sockets.set(page, (sockets.get(page) ?? 0) + 1));
  const q = new URLSearchParams({ [mode]: "1", room, name, team, config });
  await page.goto(`${server.url}?${q.toString()}`);
  return page;
}

describe("skirmish page", { timeout: 95_000 }, () => {
  test("two bot pages play a match to its result; the recording verifies", { timeout: 95_000 }, async () => {
    const started = Date.now();
    const pages = [await open("ann", "red"), await open("bob", "blue")];
    // Both join (different players, the teams asked for), then play: the match is short (first
    // to 2 kills) but includes walking across the field, so allow a loaded machine its time.
    const joined = await Promise.all(
      pages.map((p) => p.waitForFunction(() => window.__skirmish?.status === "joined" && window.__skirmish.playerId > 0, null, { timeout: 15_000 })),
    );
    assert.equal(joined.length, 2);
    const [h1, h2] = await Promise.all(pages.map(hookOf));
    assert.notEqual(h1.playerId, h2.playerId);
    assert.deepEqual([h1.team, h2.team], ["red", "blue"]);

    // A third player: the game refuses it (4005, max_players 2) and the page says why, once.
    const third = await open("cat", "red", "join");
    await third.waitForFunction(() => window.__skirmish.closeCode !== 0, null, { timeout: 15_000 });
    const h3 = await hookOf(third);
    assert.equal(h3.closeCode, 4005, `third page closed with ${h3.closeCode} ${h3.closeReason}`);
    assert.equal(h3.closeReason, "room is full (2 players)");
    assert.match(await third.locator("#banner-text").textContent() ?? "", /room is full \(2 players\)/);
    assert.ok(await third.locator("#lobby").isVisible(), "the refused page is back at the lobby form");
    assert.equal(sockets.get(third), 1, "the refused page does not try again");
    await third.close();

    await Promise.all(pages.map((p) => p.waitForFunction(() => window.__skirmish.result !== "", null, { timeout: 75_000 })));
    // The room closes once the result reached every client (the server's match-over grace).
    await Promise.all(pages.map((p) => p.waitForFunction(() => window.__skirmish.closeCode !== 0, null, { timeout: 15_000 })));
    const hooks = await Promise.all(pages.map(hookOf));
    const summary = hooks[0].summary;
    assert.match(summary, /^(red|blue) wins 2-\d$/);
    for (const [i, h] of hooks.entries()) {
      assert.equal(h.summary, summary, `page ${i + 1} shows the same result`);
      assert.equal(h.phase, "over", `page ${i + 1}'s HUD shows the match over`);
      assert.ok(h.kills >= 2, `page ${i + 1} got ${h.kills} kill events`);
      assert.ok(h.hits >= 3 * h.kills, `page ${i + 1} got ${h.hits} hit events for ${h.kills} kills`);
      assert.ok(h.feed.some((l) => / killed /.test(l)) && h.feed.some((l) => / hit /.test(l)), `page ${i + 1}'s feed: ${h.feed.join(" | ")}`);
      assert.equal(h.closeCode, 4002, `page ${i + 1} closed with ${h.closeCode} ${h.closeReason}`);
      assert.equal(h.closeReason, "match over");
      const winner = summary.startsWith(h.team);
      assert.equal(h.winners.includes(h.playerId), winner, `page ${i + 1} (${h.team}) is among the winners iff its team won`);
      // What the player sees: the result banner with the summary, and the feed.
      assert.equal(await pages[i].locator("#result-summary").textContent(), summary);
      assert.ok(await pages[i].locator("#result").isVisible());
      assert.equal(await pages[i].locator("#result-you").textContent(), winner ? "You won!" : "You lost.");
      assert.ok((await pages[i].locator("#feed li.kill").count()) >= 1);
    }
    // Each event kind reached both pages the same number of times (hurts only the victim's).
    assert.equal(hooks[0].kills, hooks[1].kills);
    assert.equal(hooks[0].hits, hooks[1].hits);
    assert.equal(hooks[0].hurts + hooks[1].hurts, hooks[0].hits, "every hit hurt one of the two");
    const played = Date.now() - started;

    // The server writes the recording's end when the room closes; SIGINT shuts it down.
    await server.stop("SIGINT");
    assert.equal(server.exitCode(), 0, server.log());
    const files = readdirSync(recDir).filter((f) => f.endsWith(".tsrec"));
    assert.equal(files.length, 1, `recordings: ${files.join(", ")}`);
    const file = join(recDir, files[0]);
    execFileSync(bin, ["replay", "verify", file], { stdio: ["ignore", "pipe", "pipe"] }); // throws unless exit 0
    const info = JSON.parse(execFileSync(bin, ["replay", "info", "-json", file]).toString()) as {
      game: string;
      room: string;
      events: number;
      complete: boolean;
      result?: { summary: string; winners: number[] };
    };
    assert.equal(info.game, "skirmish");
    assert.equal(info.room, room);
    assert.ok(info.complete);
    assert.equal(info.result?.summary, summary);
    assert.deepEqual(info.result?.winners, hooks[0].winners);
    assert.ok(info.events >= hooks[0].events, `recording has ${info.events} events, a page saw ${hooks[0].events}`);

    // The binary's `replay serve` has the replay viewer (every game server mounts it): it lists
    // the recording's events and its result, and playing it delivers the events.
    const rs = await startServer(bin, ["-log-level", "warn", file], 10_000, ["replay", "serve"]);
    try {
      const viewer = await browser.ctx.newPage();
      viewer.on("pageerror", (e) => console.error(`viewer page error: ${e.message}`));
      const name = files[0].replace(/\.tsrec$/, "");
      await viewer.goto(`${rs.url}replay?name=${encodeURIComponent(name)}`);
      await viewer.waitForFunction((n) => (window.__ticksyncReplay?.status?.events.length ?? 0) === n, info.events, { timeout: 15_000 });
      const listed = await viewer.evaluate(() => ({
        rows: document.querySelectorAll("#events button").length,
        result: document.getElementById("result")?.textContent ?? "",
        summary: window.__ticksyncReplay.status?.result?.summary ?? "",
      }));
      assert.equal(listed.rows, info.events, "one row per recorded event");
      assert.equal(listed.summary, summary);
      assert.ok(listed.result.startsWith(summary), listed.result);
      await viewer.locator("#speed").selectOption("800");
      await viewer.waitForFunction(() => (window.__ticksyncReplay?.status?.eventsSeen ?? 0) > 0, null, { timeout: 30_000 });
      await viewer.close();
    } finally {
      await rs.stop();
    }
    const acc = hooks.map((h) => `${h.team} ${h.landed}/${h.fired}`).join(", ");
    console.log(`skirmish e2e: ${summary}, ${hooks[0].kills} kills, ${hooks[0].hits} hits (hit/fired: ${acc}), match played in ${played} ms`);
  });
});
