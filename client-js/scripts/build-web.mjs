// Builds the demo page (demo/) into ../web/, the directory Go package web embeds:
// index.html, app.js, style.css. The output is byte-stable (no timestamps, no source maps,
// fixed names) because it is committed and `make test` rebuilds it and checks git sees no
// change. Files are rewritten only when their bytes differ.
// The replay viewer (viewer/) is built beside it: replay.html, replay.js (served at /replay).
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = resolve(root, "../web");
const check = process.argv.includes("--check");

const common = {
  absWorkingDir: root,
  bundle: true,
  write: false,
  minify: true,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
};

const js = await build({
  ...common,
  entryPoints: ["demo/main.ts"],
  outfile: "app.js",
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome111", "firefox111", "safari16"],
});
const replayJs = await build({
  ...common,
  entryPoints: ["viewer/main.ts"],
  outfile: "replay.js",
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome111", "firefox111", "safari16"],
});
const css = await build({ ...common, entryPoints: ["demo/style.css"], outfile: "style.css", target: ["chrome111", "firefox111", "safari16"] });

const files = {
  "index.html": readFileSync(join(root, "demo/index.html")),
  "app.js": js.outputFiles[0].contents,
  "style.css": css.outputFiles[0].contents,
  "replay.html": readFileSync(join(root, "viewer/replay.html")),
  "replay.js": replayJs.outputFiles[0].contents,
};

mkdirSync(out, { recursive: true });
let stale = [];
for (const [name, bytes] of Object.entries(files)) {
  const p = join(out, name);
  const same = existsSync(p) && Buffer.compare(readFileSync(p), Buffer.from(bytes)) === 0;
  if (same) continue;
  stale.push(name);
  if (!check) writeFileSync(p, bytes);
}
if (check && stale.length > 0) {
  console.error(`web/ is stale (${stale.join(", ")}): run npm run build:web and commit it`);
  process.exit(1);
}
for (const name of stale) console.log(`wrote web/${name} (${files[name].length} bytes)`);
