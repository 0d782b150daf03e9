// Interpolation: draw others a delay behind, smoothing only fields marked "interpolate".

import assert from "node:assert/strict";
import { test } from "node:test";
import { Interpolator } from "../src/interp";
import { Mirror } from "../src/mirror";
import type { ClassInfo } from "../src/schema";
import { compiled, encodeFrame, mirrorRows, rand, stateSchema } from "./helpers";
import type { ModelState } from "./helpers";
import { frameFromProto } from "../src/decode";
import { FrameData } from "../src/frame";

const schema = compiled(
  stateSchema([
    {
      name: "npc",
      fields: [{ name: "x", type: "fixed", scale: 100, interpolate: true }, { name: "vx", type: "fixed", scale: 100 }, { name: "hp" }, { name: "a", interpolate: true }],
    },
  ]),
);
const cls = schema.classes[0] as ClassInfo;
const X = cls.byName.get("x")!;
const VX = cls.byName.get("vx")!;
const HP = cls.byName.get("hp")!;
const A = cls.byName.get("a")!;

function world(ticks: [number, Record<number, [number, number[]]>][]): { m: Mirror; ip: Interpolator; apply: (i: number, now?: number) => void } {
  const m = new Mirror(schema);
  const ip = new Interpolator(m);
  let prev: ModelState | null = null;
  const fd = new FrameData();
  const states = ticks.map(([tick, ents]) => {
    const s: ModelState = { tick, entities: new Map() };
    for (const [id, [gen, vals]] of Object.entries(ents)) s.entities.set(Number(id), { cls: 0, gen, vals, bytes: [] });
    return s;
  });
  return {
    m,
    ip,
    apply: (i, now) => {
      m.apply(frameFromProto(encodeFrame(schema, prev, states[i]), fd));
      prev = states[i];
      ip.record(now, 20);
    },
  };
}

test("interpolates fields marked interpolate between the frames around the render tick", () => {
  const w = world([
    [10, { 1: [1, [0, 500, 5, 0]] }],
    [11, { 1: [1, [100, 600, 6, 10]] }],
    [12, { 1: [1, [300, 700, 7, -2147483648]] }],
  ]);
  for (let i = 0; i < 3; i++) w.apply(i);
  w.ip.at(10.5);
  assert.equal(w.ip.value(1, X), 0.5);
  assert.equal(w.ip.value(1, VX), 5); // not interpolated: the older frame's value
  assert.equal(w.ip.value(1, HP), 5);
  w.ip.at(11.25);
  assert.equal(w.ip.value(1, X), 1.5);
  assert.equal(w.ip.value(1, HP), 6);
  // int32 interpolation goes the short way round: 10 → -2^31 is +(2^31 - 10) mod 2^32... the
  // difference wraps to -2147483638, so a quarter of the way is 10 - 536870909.5.
  assert.equal(w.ip.value(1, A), 10 + ((-2147483648 - 10) | 0) * 0.25);
  w.ip.at(12);
  assert.equal(w.ip.value(1, X), 3);
  w.ip.at(20); // past the newest: hold the newest, never extrapolate
  assert.equal(w.ip.value(1, X), 3);
  w.ip.at(1); // before the oldest: the oldest
  assert.equal(w.ip.value(1, X), 0);
  const e = w.ip.entity(1)!;
  w.ip.at(10.5);
  assert.equal(e.x, 0.5);
  assert.equal(e.className, "npc");
});

test("render time runs a delay (default two ticks) behind the estimated server tick", () => {
  const w = world([
    [10, { 1: [1, [0, 0, 1, 0]] }],
    [11, { 1: [1, [100, 0, 1, 0]] }],
    [12, { 1: [1, [200, 0, 1, 0]] }],
  ]);
  // 20 Hz: a tick every 50 ms; frames arrive on time.
  w.apply(0, 1000);
  w.apply(1, 1050);
  w.apply(2, 1100);
  assert.equal(w.ip.delayTicks, 2);
  assert.equal(w.ip.sample(1100), 10);
  assert.equal(w.ip.value(1, X), 0);
  assert.equal(w.ip.sample(1125), 10.5);
  assert.equal(w.ip.value(1, X), 0.5);
  assert.equal(w.ip.sample(1150), 11);
  assert.equal(w.ip.value(1, X), 1);
  // A late frame moves the estimate only a little.
  const m2 = world([
    [1, { 1: [1, [0, 0, 1, 0]] }],
    [2, { 1: [1, [0, 0, 1, 0]] }],
  ]);
  m2.apply(0, 0);
  m2.apply(1, 50 + 40);
  // On time, tick 2 at 50 ms: render tick at 90 ms = 1.8 + 1 - 2 = 0.8. Arriving 40 ms late
  // pulls the offset a tenth of the way (0.8 ticks late → 0.08), not all of it.
  const t = m2.ip.renderTickAt(90);
  assert.ok(Math.abs(t - 0.72) < 1e-9, `render tick ${t}`);
});

test("a configurable delay", () => {
  const m = new Mirror(schema);
  const ip = new Interpolator(m, { delayTicks: 1 });
  m.apply(frameFromProto(encodeFrame(schema, null, { tick: 4, entities: new Map([[1, { cls: 0, gen: 1, vals: [0, 0, 0, 0], bytes: [] }]]) }), new FrameData()));
  ip.record(200, 20);
  assert.equal(ip.renderTickAt(200), 3);
});

test("no smoothing across a reused id, a spawn shows once the render tick reaches it, skipped ticks", () => {
  const w = world([
    [10, { 1: [1, [0, 0, 0, 0]] }],
    [11, { 1: [2, [1000, 0, 0, 0]], 2: [1, [0, 0, 0, 0]] }],
    [14, { 1: [2, [1300, 0, 0, 0]], 2: [1, [0, 0, 0, 0]] }],
  ]);
  for (let i = 0; i < 3; i++) w.apply(i);
  w.ip.at(10.5);
  assert.equal(w.ip.value(1, X), 0); // entity 1 was replaced at 11: no blend
  assert.equal(w.ip.value(2, X), undefined);
  assert.equal(w.ip.entity(2), undefined);
  assert.deepEqual(w.ip.ids(), [1]);
  w.ip.at(12.5); // between 11 and 14
  assert.equal(w.ip.value(1, X), 11.5);
  assert.deepEqual(w.ip.ids(), [1, 2]);
});

test("recorded states hold exactly the mirror's entities: sparse views of a big world, dense worlds, the switches between, a cleared mirror", () => {
  const seed = 5;
  const r = rand(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const m = new Mirror(schema);
  const ip = new Interpolator(m, { capacity: 6 });
  const recorded: { tick: number; rows: ReturnType<typeof mirrorRows> }[] = [];
  const fd = new FrameData();
  let held: ModelState | null = null;
  let gen = 1;
  let tick = 1;
  // Phases: a whole world (dense: copied wholesale), a view of a few entities among ids up to
  // 3,000 (sparse: row by row), a whole big world, a view again; then the mirror is cleared, a
  // small world starts over in slots that held higher ids, and a view of the big world again.
  const phases = [[500, 600, 8], [40, 3000, 10], [1600, 3000, 4], [30, 3000, 8], [60, 100, 6], [30, 3000, 8]] as const;
  for (const [n, maxId, ticks] of phases) {
    if (maxId === 100) {
      m.clear();
      held = null;
    }
    for (let t = 0; t < ticks; t++, tick++) {
      const cur: ModelState = { tick, entities: new Map() };
      for (const [id, e] of held?.entities ?? []) if (id <= maxId && r() < 0.9) cur.entities.set(id, { ...e, vals: e.vals.map((v) => v + int(-5, 5)) });
      while (cur.entities.size < n) {
        const id = int(1, maxId);
        if (!cur.entities.has(id)) cur.entities.set(id, { cls: 0, gen: gen++, vals: [int(0, 1e5), int(-99, 99), int(1, 9), int(-1e6, 1e6)], bytes: [] });
      }
      m.apply(frameFromProto(encodeFrame(schema, held, cur), fd));
      held = cur;
      ip.record();
      recorded.push({ tick, rows: mirrorRows(m) });
      // Every state still in the ring reads as the mirror did when it was recorded.
      for (const rec of recorded.slice(-6)) {
        ip.at(rec.tick);
        const where = `seed ${seed} tick ${tick}, state of tick ${rec.tick}`;
        assert.deepEqual(ip.ids(), rec.rows.map((x) => x.id), where);
        const got = [];
        for (let id = 0; id <= 3001; id++) {
          if (ip.has(id)) got.push({ id, class: 0, values: [ip.value(id, X), ip.value(id, VX), ip.value(id, HP), ip.value(id, A)].map((v, i) => (i < 2 ? Math.round((v as number) * 100) : v)), bytes: [] });
        }
        assert.deepEqual(got, rec.rows, where);
      }
    }
  }
});
