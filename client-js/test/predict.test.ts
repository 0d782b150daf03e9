// Prediction and reconciliation of the own entity.

import assert from "node:assert/strict";
import { test } from "node:test";
import { frameFromProto } from "../src/decode";
import { FrameData } from "../src/frame";
import { Mirror } from "../src/mirror";
import { Predictor } from "../src/predict";
import type { PredictStep } from "../src/predict";
import { predictValue } from "../src/predictrule";
import { arenaProto, compiled, encodeFrame } from "./helpers";
import type { ModelState } from "./helpers";

const schema = compiled(arenaProto(20));
// The arena's step for a player: the input sets the velocity, then the position moves.
const step: PredictStep = (row, input, ctx) => {
  const c = ctx.cls;
  const x = c.byName.get("x")!.col;
  const vx = c.byName.get("vx")!.col;
  row[vx] = input[0];
  row[x] = predictValue(row[x], row[vx], 1, ctx.tickRate);
};

function player(tick: number, x: number, vx: number): ModelState {
  return {
    tick,
    entities: new Map([
      [1, { cls: 0, gen: 1, vals: [0, 0, 0, 0, 100], bytes: [] }],
      [2, { cls: 1, gen: 1, vals: [x, 0, vx, 0, 100, 42], bytes: [] }],
    ]),
  };
}

test("unacknowledged inputs are replayed on top of the authoritative state; acked ones dropped", () => {
  const m = new Mirror(schema);
  const p = new Predictor(schema, step, { tickRate: 20 });
  const fd = new FrameData();
  let prev: ModelState | null = null;
  const frame = (s: ModelState, seq: number) => {
    m.apply(frameFromProto(encodeFrame(schema, prev, s, { lastInputSeq: seq }), fd));
    prev = s;
    p.reconcile(m, 42);
  };
  frame(player(1, 1000, 0), 0);
  assert.equal(p.entityId, 2);
  assert.equal(p.row[0], 1000);
  p.addInput(1, Int32Array.of(2000, 0)); // x += 100
  p.addInput(2, Int32Array.of(4000, 0)); // x += 200
  assert.equal(p.row[0], 1300);
  assert.deepEqual(p.pendingSeqs(), [1, 2]);
  // The server applied input 1 at tick 2, but moved a little differently (a wall): x = 1090.
  frame(player(2, 1090, 2000), 1);
  assert.deepEqual(p.pendingSeqs(), [2]);
  assert.equal(p.row[0], 1090 + 200);
  assert.equal(p.row[2], 4000);
  // A frame that acks nothing new replays the same inputs on the new authority.
  frame(player(3, 1190, 2000), 1);
  assert.equal(p.row[0], 1190 + 200);
  frame(player(4, 1390, 4000), 2);
  assert.deepEqual(p.pendingSeqs(), []);
  assert.equal(p.row[0], 1390);
  assert.equal(p.value(schema.classes[1].byName.get("x")!), 13.9);
});

test("without a step the own entity shows the authoritative state; no entity, no prediction", () => {
  const m = new Mirror(schema);
  const p = new Predictor(schema, null);
  m.apply(frameFromProto(encodeFrame(schema, null, player(1, 500, 0)), new FrameData()));
  p.reconcile(m, 42);
  p.addInput(1, Int32Array.of(2000, 0));
  assert.equal(p.row[0], 500);
  p.reconcile(m, 7);
  assert.equal(p.entityId, 0);
  assert.equal(p.value(schema.classes[1].byName.get("x")!), undefined);
});

test("pending inputs are bounded", () => {
  const p = new Predictor(schema, step, { maxPending: 3 });
  for (let s = 1; s <= 5; s++) p.addInput(s, Int32Array.of(s, 0));
  assert.deepEqual(p.pendingSeqs(), [3, 4, 5]);
});

test("the step's ctx.mirror is the mirror the Predictor last reconciled against, in replays and new inputs", () => {
  const seen: (Mirror | undefined)[] = [];
  const tickOf: number[] = [];
  const p = new Predictor(schema, (row, input, ctx) => {
    seen.push(ctx.mirror);
    tickOf.push(ctx.mirror?.tick ?? -1);
    step(row, input, ctx);
  });
  p.addInput(1, Int32Array.of(2000, 0)); // no entity yet: no step
  assert.deepEqual(seen, []);
  const a = new Mirror(schema);
  a.apply(frameFromProto(encodeFrame(schema, null, player(1, 500, 0)), new FrameData()));
  p.reconcile(a, 42); // replays input 1
  p.addInput(2, Int32Array.of(2000, 0));
  assert.equal(seen.length, 2);
  assert.ok(seen.every((m) => m === a));
  // Another mirror (a resync into a new one): the steps read it from then on.
  const b = new Mirror(schema);
  b.apply(frameFromProto(encodeFrame(schema, null, player(7, 900, 0)), new FrameData()));
  p.reconcile(b, 42); // replays inputs 1 and 2
  p.addInput(3, Int32Array.of(0, 0));
  assert.equal(seen.length, 5);
  assert.ok(seen.slice(2).every((m) => m === b));
  assert.deepEqual(tickOf, [1, 1, 7, 7, 7]);
  // setTickRate keeps the mirror.
  p.setTickRate(30);
  p.addInput(4, Int32Array.of(0, 0));
  assert.equal(seen.at(-1), b);
});
