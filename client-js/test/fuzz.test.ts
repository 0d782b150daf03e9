// Hostile bytes: the hand decoder throws DecodeError or yields a frame, and the mirror applies
// it or refuses it with FrameError, leaving its state unchanged. Nothing else, no hang.

import assert from "node:assert/strict";
import { test } from "node:test";
import { DecodeError, HandDecoder } from "../src/decode";
import { FrameError, Mirror } from "../src/mirror";
import { arenaProto, compiled, encodeFrame, frameBytes, mirrorRows, rand } from "./helpers";
import type { ModelState } from "./helpers";

const schema = compiled(arenaProto(20));

test("mutated frames: DecodeError or FrameError, never a crash; refused frames change nothing", () => {
  const seed = 99;
  const r = rand(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const s1: ModelState = { tick: 1, entities: new Map() };
  for (let id = 1; id <= 20; id++) s1.entities.set(id, { cls: id % 2, gen: 1, vals: id % 2 ? [id, id, -id, 3, 9, id] : [id, 5, 7, -9, 1], bytes: [] });
  const s2: ModelState = { tick: 2, entities: new Map([...s1.entities].filter(([id]) => id !== 4).map(([id, e]) => [id, { ...e, vals: e.vals.map((v, i) => (i === 2 ? v + 40 : v)) }])) };
  const snap = frameBytes(encodeFrame(schema, null, s1));
  const seeds = [snap, frameBytes(encodeFrame(schema, s1, s2, { withHash: true }))];
  const dec = new HandDecoder();
  let decoded = 0;
  let applied = 0;
  for (let i = 0; i < 3000; i++) {
    const b = seeds[i % 2].slice();
    const n = int(1, 4);
    for (let k = 0; k < n; k++) {
      const op = int(0, 2);
      const at = int(0, b.length - 1);
      if (op === 0) b[at] = int(0, 255);
      else if (op === 1) b[at] ^= 1 << int(0, 7);
      else b[at] = [0x00, 0x7f, 0x80, 0xff][int(0, 3)];
    }
    const m = new Mirror(schema);
    if (i % 2 === 1) m.apply((dec.decode(snap) as { frame: Parameters<Mirror["apply"]>[0] }).frame);
    const before = JSON.stringify(mirrorRows(m));
    let d;
    try {
      d = dec.decode(b);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `seed ${seed} case ${i}: ${String(e)}`);
      continue;
    }
    decoded++;
    if (d.kind !== "frame") continue;
    try {
      m.apply(d.frame);
      applied++;
      m.hash();
    } catch (e) {
      assert.ok(e instanceof FrameError, `seed ${seed} case ${i}: ${String(e)}`);
      assert.equal(JSON.stringify(mirrorRows(m)), before, `seed ${seed} case ${i}: refused frame changed the mirror`);
    }
  }
  assert.ok(decoded > 100 && applied > 10, `decoded ${decoded}, applied ${applied}: the mutations should not all fail`);
});
