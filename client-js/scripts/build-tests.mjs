// Bundles test/*.test.ts (and scripts/*.ts) for Node 20, which cannot run TypeScript.
import { build } from "esbuild";
import { readdirSync, rmSync } from "node:fs";

const tests = readdirSync("test").filter((f) => f.endsWith(".test.ts")).map((f) => `test/${f}`);
rmSync("build/test", { recursive: true, force: true });
await build({
  entryPoints: [...tests, "scripts/bench-decode.ts"],
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
