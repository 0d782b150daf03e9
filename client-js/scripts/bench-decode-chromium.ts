// Decode+apply benchmark in Chromium (not a test): scenario B's frames (1,000 NPCs + 200
// players, scripts/scenario-b.ts) decoded and applied in a page by both decoders, timed with
// performance.now(). Chromium per docs/development.md, "Browser tests". Target: <= 0.2 ms per delta frame.
// Usage: node build/scripts/bench-decode-chromium.js [rounds]

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchBrowser } from "../e2e/harness";
import type { BenchInput, BenchResult } from "./bench-page";
import { scenarioB } from "./scenario-b";

const TARGET_MS = 0.2;
const rounds = Number(process.argv[2] ?? 20);
const here = dirname(fileURLToPath(import.meta.url));
const pageJs = readFileSync(join(here, "bench-page.js"), "utf8");

const sc = scenarioB();
const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
const input = { schema: b64(sc.schema), frames: sc.frames.map(b64), rounds };
const want = JSON.stringify(sc.final);
const deltaBytes = sc.frames.slice(1).reduce((a, b) => a + b.length, 0) / sc.ticks;
console.log(`scenario B-like: ${sc.npcs} NPCs + ${sc.players} players, ${sc.ticks} delta frames`);
console.log(`  per tick: ${sc.changedVelPerTick.toFixed(0)} velocity changes, ${sc.changedHpPerTick.toFixed(1)} hp changes`);
console.log(`  snapshot ${sc.frames[0].length} B, delta frame mean ${deltaBytes.toFixed(0)} B`);

const browser = await launchBrowser();
const results: BenchResult[] = [];
try {
  const page = browser.ctx.pages()[0] ?? (await browser.ctx.newPage());
  await page.setContent("<!doctype html><title>ticksync decode bench</title>");
  await page.addScriptTag({ content: pageJs });
  console.log(`  browser: ${await page.evaluate(() => navigator.userAgent)}`);
  for (const decoder of ["hand", "protobuf-es"] as const) {
    const r = await page.evaluate((i: BenchInput) => window.__bench(i), { ...input, decoder });
    if (r.final !== want) throw new Error(`${decoder}: final state differs from the model`);
    results.push(r);
  }
} finally {
  await browser.close();
}
for (const r of results) {
  console.log(`${r.decoder} (Chromium):`);
  console.log(`  ${"delta decode+apply ms/frame (median)".padEnd(38)} ${r.deltaMedian.toFixed(3)}`);
  console.log(`  ${"delta decode+apply ms/frame (best round)".padEnd(38)} ${r.deltaBest.toFixed(3)}`);
  console.log(`  ${"delta decode only ms/frame".padEnd(38)} ${r.decodeOnly.toFixed(3)}`);
  console.log(`  ${"snapshot decode+apply ms".padEnd(38)} ${r.snapshot.toFixed(3)}`);
  console.log(`  ${"state hash of 1200 entities ms".padEnd(38)} ${r.hash.toFixed(3)}`);
}
console.log(`timer resolution in the page: ${results[0]?.timerResolutionMs.toFixed(3)} ms (each figure times ${sc.ticks} frames at once)`);
for (const r of results) {
  const ok = r.deltaMedian <= TARGET_MS;
  console.log(`target <= ${TARGET_MS} ms decode+apply per frame: ${r.decoder} ${ok ? "met" : "MISSED"} (${r.deltaMedian.toFixed(3)} ms)`);
}
console.log(`load average: ${(await import("node:os")).loadavg().map((x) => x.toFixed(2)).join(" ")} (figures are noisy on a busy machine)`);
