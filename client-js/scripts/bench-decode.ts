// Decode+apply micro-benchmark (not a test): a scenario-B-like frame sequence (1,000 NPCs + 200
// players; each tick ~220 entities change vx/vy, ~10 change hp, positions predicted from
// velocity with num=1, den=20 so most need no residual), encoded with protobuf-es, then
// decoded and applied with each decoder. Prints ms per frame. Usage: node build/scripts/bench-decode.js [rounds]

import { performance } from "node:perf_hooks";
import { HandDecoder, ProtobufEsDecoder } from "../src/decode";
import type { Decoded } from "../src/decode";
import type { FrameData } from "../src/frame";
import { Mirror } from "../src/mirror";
import { arenaProto, compiled, mirrorRows } from "../test/helpers";
import { scenarioB } from "./scenario-b";

const NPCS = 1000;
const PLAYERS = 200;
const TICKS = 200;
const HZ = 20;
const rounds = Number(process.argv[2] ?? 20);

const schema = compiled(arenaProto(HZ));
const sc = scenarioB(NPCS, PLAYERS, TICKS, HZ);
const frames = sc.frames;
const deltaBytes = frames.slice(1).reduce((a, b) => a + b.length, 0) / TICKS;
console.log(`scenario B-like: ${NPCS} NPCs + ${PLAYERS} players, ${TICKS} delta frames`);
console.log(`  per tick: ${sc.changedVelPerTick.toFixed(0)} velocity changes, ${sc.changedHpPerTick.toFixed(1)} hp changes`);
console.log(`  snapshot ${frames[0].length} B, delta frame mean ${deltaBytes.toFixed(0)} B`);

type Dec = { decode(b: Uint8Array): Decoded };
const kinds: [string, () => Dec][] = [
  ["hand", () => new HandDecoder()],
  ["protobuf-es", () => new ProtobufEsDecoder()],
];

function frameOf(d: Decoded): FrameData {
  if (d.kind !== "frame") throw new Error("not a frame");
  return d.frame;
}

// Check once that both decoders end in the model's state.
for (const [name, mk] of kinds) {
  const dec = mk();
  const m = new Mirror(schema);
  for (const b of frames) m.apply(frameOf(dec.decode(b)));
  if (JSON.stringify(mirrorRows(m)) !== JSON.stringify(sc.final)) throw new Error(`${name}: final state differs from the model`);
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
}

const results: Record<string, Record<string, number>> = {};
for (const [name, mk] of kinds) {
  const dec = mk();
  const m = new Mirror(schema);
  const perDelta: number[] = [];
  const perDecode: number[] = [];
  const perSnap: number[] = [];
  for (let r = 0; r < rounds + 3; r++) {
    let t0 = performance.now();
    m.apply(frameOf(dec.decode(frames[0])));
    const snap = performance.now() - t0;
    t0 = performance.now();
    for (let i = 1; i < frames.length; i++) m.apply(frameOf(dec.decode(frames[i])));
    const delta = (performance.now() - t0) / TICKS;
    t0 = performance.now();
    for (let i = 1; i < frames.length; i++) dec.decode(frames[i]);
    const decodeOnly = (performance.now() - t0) / TICKS;
    if (r >= 3) {
      // the first rounds warm the JIT up
      perSnap.push(snap);
      perDelta.push(delta);
      perDecode.push(decodeOnly);
    }
  }
  results[name] = {
    "delta decode+apply ms/frame (median)": median(perDelta),
    "delta decode+apply ms/frame (best round)": Math.min(...perDelta),
    "delta decode only ms/frame": median(perDecode),
    "snapshot decode+apply ms": median(perSnap),
  };
}
const hashM = new Mirror(schema);
const hd = new HandDecoder();
for (const b of frames) hashM.apply(frameOf(hd.decode(b)));
for (let i = 0; i < 50; i++) hashM.hash(); // warm up
let t0 = performance.now();
for (let i = 0; i < 200; i++) hashM.hash();
const hashMs = (performance.now() - t0) / 200;

for (const [name, r] of Object.entries(results)) {
  console.log(`${name}:`);
  for (const [k, v] of Object.entries(r)) console.log(`  ${k.padEnd(38)} ${v.toFixed(3)}`);
}
console.log(`state hash of 1200 entities: ${hashMs.toFixed(3)} ms (every hash_every ticks, default 20)`);
console.log(`target: <= 0.2 ms decode+apply per frame (scenario B)`);
console.log(`load average: ${(await import("node:os")).loadavg().map((x) => x.toFixed(2)).join(" ")} (figures are noisy on a busy machine)`);
