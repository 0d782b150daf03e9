// The browser half of the Chromium decode benchmark: window.__bench decodes and applies
// scenario B's frames with a decoder and times it. Loaded into a blank page by
// bench-decode-chromium.ts.

import { fromBinary } from "@bufbuild/protobuf";
import { StateSchemaSchema } from "../src/gen/ticksync/v1/schema_pb";
import { HandDecoder, ProtobufEsDecoder } from "../src/decode";
import type { Decoded } from "../src/decode";
import type { FrameData } from "../src/frame";
import { Mirror } from "../src/mirror";
import { compileSchema } from "../src/schema";

/** BenchInput is what the driver passes (bytes as base64: page.evaluate takes JSON). */
export interface BenchInput {
  schema: string;
  frames: string[];
  rounds: number;
  decoder: "hand" | "protobuf-es";
}

/** BenchResult is one decoder's figures, in ms. */
export interface BenchResult {
  decoder: string;
  deltaMedian: number;
  deltaBest: number;
  decodeOnly: number;
  snapshot: number;
  hash: number;
  /** final is the mirror's state after the run, as mirrorRows lists it (checked by the driver). */
  final: string;
  timerResolutionMs: number;
}

declare global {
  interface Window {
    __bench: (input: BenchInput) => BenchResult;
  }
}

function unbase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function frameOf(d: Decoded): FrameData {
  if (d.kind !== "frame") throw new Error("not a frame");
  return d.frame;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
}

function resolution(): number {
  let min = Infinity;
  for (let i = 0; i < 50; i++) {
    const a = performance.now();
    let b = a;
    while (b === a) b = performance.now();
    min = Math.min(min, b - a);
  }
  return min;
}

window.__bench = (input: BenchInput): BenchResult => {
  const schema = compileSchema(fromBinary(StateSchemaSchema, unbase64(input.schema)));
  const frames = input.frames.map(unbase64);
  const ticks = frames.length - 1;
  const dec = input.decoder === "hand" ? new HandDecoder() : new ProtobufEsDecoder();
  const m = new Mirror(schema);
  const perDelta: number[] = [];
  const perDecode: number[] = [];
  const perSnap: number[] = [];
  for (let r = 0; r < input.rounds + 3; r++) {
    // Ten snapshots per round: one is too short for the page's 0.1 ms timer.
    let t0 = performance.now();
    for (let k = 0; k < 10; k++) m.apply(frameOf(dec.decode(frames[0])));
    const snap = (performance.now() - t0) / 10;
    t0 = performance.now();
    for (let i = 1; i < frames.length; i++) m.apply(frameOf(dec.decode(frames[i])));
    const delta = (performance.now() - t0) / ticks;
    t0 = performance.now();
    for (let i = 1; i < frames.length; i++) dec.decode(frames[i]);
    const decodeOnly = (performance.now() - t0) / ticks;
    if (r >= 3) {
      // the first rounds warm the JIT up
      perSnap.push(snap);
      perDelta.push(delta);
      perDecode.push(decodeOnly);
    }
  }
  for (let i = 0; i < 50; i++) m.hash();
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) m.hash();
  const hash = (performance.now() - t0) / 200;
  const final = JSON.stringify(
    m.ids().map((id) => {
      const c = m.classOf(id);
      if (c === undefined) throw new Error("vanished");
      return { id, class: c.index, values: c.intFields.map((f) => m.raw(id, f.col)), bytes: c.bytesFields.map(() => "") };
    }),
  );
  return {
    decoder: input.decoder,
    deltaMedian: median(perDelta),
    deltaBest: Math.min(...perDelta),
    decodeOnly: median(perDecode),
    snapshot: median(perSnap),
    hash,
    final,
    timerResolutionMs: resolution(),
  };
};
