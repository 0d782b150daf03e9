// Builds the demo page (demo/) into ../web/, the directory Go package web embeds:
// index.html, app.js, style.css. The output is byte-stable (no timestamps, no source maps,
// fixed names) because it is committed and `make test` rebuilds it and checks git sees no
// change. Files are rewritten only when their bytes differ.
// The replay viewer (viewer/) is built beside it: replay.html, replay.js (served at /replay).
// The skirmish example's page (../examples/skirmish/page/) goes to ../examples/skirmish/web/
// (index.html, app.js, style.css), importing the client as "@ticksync/client" like a page
// outside this repository would: the alias points that name at src/index.ts.
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = resolve(root, "../web");
const skirmishOut = resolve(root, "../examples/skirmish/web");
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
const skirmishJs = await build({
  ...common,
  entryPoints: ["../examples/skirmish/page/main.ts"],
  outfile: "app.js",
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome111", "firefox111", "safari16"],
  alias: { "@ticksync/client": "./src/index.ts" },
});
const skirmishCss = await build({ ...common, entryPoints: ["../examples/skirmish/page/style.css"], outfile: "style.css", target: ["chrome111", "firefox111", "safari16"] });
const css = await build({ ...common, entryPoints: ["demo/style.css"], outfile: "style.css", target: ["chrome111", "firefox111", "safari16"] });

// Output directory (relative to the repository root) → file name → bytes.
const outputs = {
  web: {
    dir: out,
    files: {
      "index.html": readFileSync(join(root, "demo/index.html")),
      "app.js": js.outputFiles[0].contents,
      "style.css": css.outputFiles[0].contents,
      "replay.html": readFileSync(join(root, "viewer/replay.html")),
      "replay.js": replayJs.outputFiles[0].contents,
      // The viewer's own copy of the stylesheet: a game's page may have its own style.css, and
      // every game server mounts the viewer beside it (Go package web, Viewer).
      "replay.css": css.outputFiles[0].contents,
    },
  },
  "examples/skirmish/web": {
    dir: skirmishOut,
    files: {
      "index.html": readFileSync(join(root, "../examples/skirmish/page/index.html")),
      "app.js": skirmishJs.outputFiles[0].contents,
      "style.css": skirmishCss.outputFiles[0].contents,
    },
  },
};

const stale = [];
for (const [rel, { dir, files }] of Object.entries(outputs)) {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) {
    const p = join(dir, name);
    const same = existsSync(p) && Buffer.compare(readFileSync(p), Buffer.from(bytes)) === 0;
    if (same) continue;
    stale.push({ path: `${rel}/${name}`, size: bytes.length });
    if (!check) writeFileSync(p, bytes);
  }
}
if (check && stale.length > 0) {
  console.error(`built pages are stale (${stale.map((s) => s.path).join(", ")}): run npm run build:web and commit them`);
  process.exit(1);
}
for (const s of stale) console.log(`wrote ${s.path} (${s.size} bytes)`);
