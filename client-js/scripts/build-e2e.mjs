// Bundles e2e/*.test.ts for Node 20 (which cannot run TypeScript) into build/e2e/.
import { build } from "esbuild";
import { readdirSync, rmSync } from "node:fs";

const tests = readdirSync("e2e").filter((f) => f.endsWith(".test.ts")).map((f) => `e2e/${f}`);
rmSync("build/e2e", { recursive: true, force: true });
await build({
  entryPoints: tests,
  outdir: "build",
  outbase: ".",
  bundle: true,
  platform: "node",
  format: "esm",
  packages: "external",
  target: "node20",
  sourcemap: "inline",
  logLevel: "warning",
});
