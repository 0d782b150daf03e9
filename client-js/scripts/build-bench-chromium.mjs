// Bundles the Chromium decode benchmark: the Node driver (build/scripts/bench-decode-chromium.js)
// and the page script it loads (build/scripts/bench-page.js, an IIFE for the browser).
import { build } from "esbuild";

const common = { bundle: true, outbase: ".", outdir: "build", logLevel: "warning" };
await build({
  ...common,
  entryPoints: ["scripts/bench-decode-chromium.ts"],
  platform: "node",
  format: "esm",
  packages: "external",
  target: "node20",
  sourcemap: "inline",
});
await build({ ...common, entryPoints: ["scripts/bench-page.ts"], platform: "browser", format: "iife", target: "es2022" });
