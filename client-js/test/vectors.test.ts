// Contract vectors (sim/testdata/contract/contract-vectors.json): values computed outside the
// project that Go and JS must both match.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import { fnv1a64 } from "../src/hash";
import { Mirror } from "../src/mirror";
import { predictValue } from "../src/predictrule";
import { Mulberry32 } from "../src/rng";
import { FrameData } from "../src/frame";
import { compiled, hex, readJSON, repoRoot, stateLayout, stateSchema, unhex } from "./helpers";
import type { ModelState } from "./helpers";

interface Vectors {
  mulberry32: { seed: number; first_20_u32: number[] };
  fnv1a64: { cases: { bytes_hex: string; hash: string }[] };
  world_hash: { entities: { class: number; id: number; fields: number[]; bytes_hex?: string[] }[]; bytes_hex: string; hash: string };
  prediction: { cases: { f_prev: number; v: number; num: number; den: number; pred: number }[] };
}

const path = resolve(repoRoot, "sim/testdata/contract/contract-vectors.json");

function vectors(): Vectors {
  assert.ok(existsSync(path), `contract vectors missing: ${path}`);
  return readJSON(path) as Vectors;
}

test("mulberry32 draws match the vectors", () => {
  const v = vectors().mulberry32;
  const r = new Mulberry32(v.seed);
  const got = v.first_20_u32.map(() => r.next());
  assert.deepEqual(got, v.first_20_u32);
  assert.equal(v.first_20_u32.length, 20);
  const f = new Mulberry32(v.seed);
  assert.equal(f.float(), v.first_20_u32[0] / 2 ** 32);
});

test("FNV-1a 64 matches the vectors", () => {
  const cases = vectors().fnv1a64.cases;
  assert.ok(cases.length >= 3);
  for (const c of cases) assert.equal(fnv1a64(unhex(c.bytes_hex)), c.hash, `bytes ${c.bytes_hex}`);
});

test("world hash: layout and hash of a mirror built from the example", () => {
  const w = vectors().world_hash;
  // Class 0: 5 int fields; class 1: 5 int fields and a bytes field last.
  const ints = ["a", "b", "c", "d", "e"].map((name) => ({ name }));
  const proto = stateSchema([
    { name: "c0", fields: ints },
    { name: "c1", fields: [...ints, { name: "tag", type: "bytes", maxLen: 16 }] },
  ]);
  const schema = compiled(proto);
  const model: ModelState = { tick: 1, entities: new Map() };
  for (const e of w.entities) {
    model.entities.set(e.id, { cls: e.class, gen: 1, vals: e.fields, bytes: (e.bytes_hex ?? []).map(unhex) });
  }
  assert.equal(hex(stateLayout(schema, model)), w.bytes_hex);
  assert.equal(fnv1a64(unhex(w.bytes_hex)), w.hash);

  // The same state in a mirror, through a snapshot frame.
  const f = new FrameData();
  f.tick = 1;
  let n = 0;
  for (const e of w.entities) {
    f.spawnIds[n] = e.id;
    f.spawnClasses[n] = e.class;
    n++;
    for (const v of e.fields) f.spawnValues[f.nSpawnValues++] = v;
    (e.bytes_hex ?? []).forEach((b) => f.pushBytes(e.id, 5, unhex(b)));
  }
  f.nSpawn = f.nSpawnClasses = n;
  const m = new Mirror(schema);
  m.apply(f);
  const h = m.hash();
  assert.equal(h.hi.toString(16).padStart(8, "0") + h.lo.toString(16).padStart(8, "0"), w.hash);
});

test("prediction rule matches the vectors", () => {
  const cases = vectors().prediction.cases;
  assert.ok(cases.length >= 7);
  for (const c of cases) {
    assert.equal(predictValue(c.f_prev, c.v, c.num, c.den), c.pred, JSON.stringify(c));
  }
});

test("prediction rule truncates exactly for large quotients", () => {
  // v*num near 2^53.
  const a = 2 ** 53 - 1;
  const den = 3;
  const exact = (BigInt(a) / BigInt(den)) & 0xffffffffn;
  assert.equal(predictValue(0, a, 1, den), Number(BigInt.asIntN(32, exact)));
  // trunc toward zero for negatives with a negative denominator as well.
  assert.equal(predictValue(0, -7, 1, 2), -3);
  assert.equal(predictValue(0, 7, 1, -2), -3);
  assert.equal(predictValue(0, -7, 1, -2), 3);
  // A quotient just below an integer must not round up: (2^51 * 3 - 1) / 3.
  const b = 2 ** 51 * 3 - 1;
  assert.equal(predictValue(0, b, 1, 3), Number(BigInt.asIntN(32, BigInt(b) / 3n)));
});
