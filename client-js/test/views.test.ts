// Frames with pieces (rooms with views, docs/protocol.md "Views"): the frame is the union of its
// own fields and every piece; all despawns, then all spawns, then all updates (with prediction of
// every held entity the frame does not spawn), then bytes values; a frame that names an id twice
// is refused whole. Hand-built frames with both decoders, and a large sparse-id mirror.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { FramePieceSchema, FrameSchema } from "../src/gen/ticksync/v1/messages_pb";
import type { FrameData } from "../src/frame";
import { FrameError, MAX_ENTITY_ID, Mirror } from "../src/mirror";
import { predictValue } from "../src/predictrule";
import { compiled, decodeFrame, decoders, encodeFrame, flatRows, frameBytes, mirrorRows, modelHash, modelRows, partFields, rand, splitFrame, stateSchema } from "./helpers";
import type { ModelEntity, ModelState, PartSpec } from "./helpers";

// Class 0 "npc": x, y predicted from vx, vy (1/20), hp. Class 1 "tag": n, name (bytes), on.
const schema = compiled(
  stateSchema([
    {
      name: "npc",
      fields: [
        { name: "x", type: "fixed", interpolate: true, predictFrom: "vx", num: 1, den: 20 },
        { name: "y", type: "fixed", interpolate: true, predictFrom: "vy", num: 1, den: 20 },
        { name: "vx", type: "fixed" },
        { name: "vy", type: "fixed" },
        { name: "hp" },
      ],
    },
    { name: "tag", fields: [{ name: "n" }, { name: "name", type: "bytes", maxLen: 8 }, { name: "on", type: "bool" }] },
  ]),
);

/** VF is a hand-built frame: its own part, its pieces, and raw pieces (for malformed ones). */
interface VF {
  tick: number;
  base?: number;
  own?: PartSpec;
  pieces?: PartSpec[];
  raw?: MessageInitShape<typeof FramePieceSchema>[];
}

function encode(f: VF): Uint8Array {
  return frameBytes(
    create(FrameSchema, {
      tick: f.tick,
      baselineTick: f.base ?? f.tick - 1,
      ...partFields(f.own ?? {}),
      pieces: [...(f.pieces ?? []).map((p) => create(FramePieceSchema, partFields(p))), ...(f.raw ?? []).map((p) => create(FramePieceSchema, p))],
    }),
  );
}

const npc = (x: number, y: number, vx: number, vy: number, hp: number): number[] => [x, y, vx, vy, hp];

/** state is what a test compares: rows, tick, size, the live list and the hash. */
function state(m: Mirror): string {
  return JSON.stringify({ rows: mirrorRows(m), tick: m.tick, size: m.size, ids: m.ids(), hash: m.hash() });
}

for (const [name, mk] of decoders) {
  describe(`frames with pieces (${name} decoder)`, () => {
    const dec = mk();
    const frame = (f: VF): FrameData => decodeFrame(dec, encode(f));
    const apply = (m: Mirror, f: VF): void => m.apply(frame(f));

    test("spawns split across two pieces and the own part", () => {
      const m = new Mirror(schema);
      const spawned: number[] = [];
      m.onSpawn = (e) => spawned.push(e.id);
      apply(m, {
        tick: 1,
        base: 0,
        own: { spawn: [[4, 0, npc(40, 41, 0, 0, 4)]] },
        pieces: [
          { spawn: [[1, 0, npc(10, 11, 20, -20, 1)], [9, 0, npc(90, 91, 0, 0, 9)]] },
          { spawn: [[2, 1, [7, 1]], [20000, 0, npc(1, 2, 3, 4, 5)]], bytes: [[2, 1, "6869"]] },
        ],
      });
      assert.deepEqual(flatRows(m), [
        [1, 0, 10, 11, 20, -20, 1],
        [2, 1, 7, 1, "6869"],
        [4, 0, 40, 41, 0, 0, 4],
        [9, 0, 90, 91, 0, 0, 9],
        [20000, 0, 1, 2, 3, 4, 5],
      ]);
      assert.equal(m.size, 5);
      assert.deepEqual(m.ids(), [1, 2, 4, 9, 20000]);
      assert.deepEqual(spawned.sort((a, b) => a - b), [1, 2, 4, 9, 20000]);
      const model: ModelState = { tick: 1, entities: new Map() };
      for (const r of mirrorRows(m)) model.entities.set(r.id, { cls: r.class, gen: 1, vals: r.values, bytes: r.class === 1 ? [Uint8Array.of(0x68, 0x69)] : [] });
      assert.deepEqual(m.hash(), modelHash(schema, model));
      // A gap frame: more spawns over the own part and both pieces, plain differences in two parts.
      apply(m, {
        tick: 3,
        base: 1,
        own: { spawn: [[5, 1, [5, 0]]], update: [[1, 0b1, [-10]]] },
        pieces: [{ spawn: [[3, 0, npc(3, 3, 3, 3, 3)], [19999, 1, [9, 1]]] }, { spawn: [[30, 0, npc(0, 0, 0, 0, 30)]], update: [[9, 0b10000, [1]]] }],
      });
      assert.deepEqual(m.ids(), [1, 2, 3, 4, 5, 9, 30, 19999, 20000]);
      assert.deepEqual(flatRows(m)[0], [1, 0, 0, 11, 20, -20, 1]);
      assert.deepEqual(flatRows(m)[5], [9, 0, 90, 91, 0, 0, 10]);
      assert.equal(m.size, 9);
      assert.equal(m.tick, 3);
    });

    test("an id despawned in one piece and spawned in another is a new entity (reuse)", () => {
      const m = new Mirror(schema);
      apply(m, { tick: 1, base: 0, own: { spawn: [[1, 0, npc(0, 0, 40, 0, 1)], [2, 1, [3, 0]], [6, 0, npc(0, 0, 20, 0, 6)]] } });
      const old = m.entity(1);
      const gen = m.gen[1];
      const events: string[] = [];
      m.onSpawn = (e) => events.push(`+${e.id}:${e.className}`);
      m.onDespawn = (id, c) => events.push(`-${id}:${c}`);
      // Entity 1 (an npc) leaves in piece 0; a tag with the same id arrives in piece 1, its bytes
      // in the own part. Entity 6 comes back in the own part after leaving in piece 1.
      apply(m, {
        tick: 2,
        own: { spawn: [[6, 0, npc(7, 7, 0, 0, 7)]], bytes: [[1, 1, "61"]] },
        pieces: [{ despawn: [1] }, { spawn: [[1, 1, [5, 1]]], despawn: [6] }],
      });
      assert.deepEqual(events, ["-1:npc", "-6:npc", "+6:npc", "+1:tag"]);
      assert.deepEqual(flatRows(m), [
        [1, 1, 5, 1, "61"],
        [2, 1, 3, 0, ""],
        [6, 0, 7, 7, 0, 0, 7], // spawned by this t-1 frame: as sent, not predicted
      ]);
      assert.equal(m.gen[1], gen + 1);
      assert.notEqual(m.entity(1), old);
      assert.equal(m.entity(1)?.className, "tag");
      assert.equal(m.size, 3);
      assert.deepEqual(m.ids(), [1, 2, 6]);
    });

    test("a t-1 frame advances every held entity it does not spawn, listed in any part or not", () => {
      const m = new Mirror(schema);
      apply(m, {
        tick: 1,
        base: 0,
        own: {
          spawn: [
            [1, 0, npc(1000, 1000, 2501, -2501, 9)],
            [2, 1, [4, 0]],
            [7, 0, npc(0, 0, 100, 100, 1)],
            [12, 0, npc(0, 0, 20, 0, 1)],
            [50, 0, npc(500, 500, -40, 60, 1)],
            [300, 0, npc(-7, 7, -19, 19, 1)],
          ],
        },
      });
      apply(m, {
        tick: 2,
        own: { update: [[50, 0b1, [3]]] }, // a residual on x
        pieces: [
          { update: [[12, 0b100, [20]]] }, // vx 20 → 40: x moves by the new velocity
          { despawn: [7], spawn: [[400, 0, npc(5, 5, 100, 100, 4)]] },
        ],
      });
      assert.deepEqual(flatRows(m), [
        [1, 0, predictValue(1000, 2501, 1, 20), predictValue(1000, -2501, 1, 20), 2501, -2501, 9],
        [2, 1, 4, 0, ""],
        [12, 0, 2, 0, 40, 0, 1],
        [50, 0, predictValue(500, -40, 1, 20) + 3, predictValue(500, 60, 1, 20), -40, 60, 1],
        [300, 0, predictValue(-7, -19, 1, 20), predictValue(7, 19, 1, 20), -19, 19, 1],
        [400, 0, 5, 5, 100, 100, 4],
      ]);
      // A gap frame with pieces: plain differences, nothing predicted.
      const before = flatRows(m);
      apply(m, { tick: 5, base: 2, pieces: [{ update: [[300, 0b1, [1]]] }, { update: [[1, 0b10000, [-9]]] }] });
      const after = flatRows(m);
      assert.deepEqual(after[0], [...before[0].slice(0, 6), 0]);
      assert.deepEqual(after[4], [300, 0, (before[4][2] as number) + 1, ...before[4].slice(3)]);
      assert.deepEqual([after[1], after[2], after[3], after[5]], [before[1], before[2], before[3], before[5]]);
    });

    test("every refusal leaves the mirror unchanged, and the mirror stays usable", () => {
      const m = new Mirror(schema);
      apply(m, { tick: 3, base: 0, own: { spawn: [[1, 0, npc(1, 1, 20, 20, 5)], [2, 1, [3, 0]], [3, 0, npc(0, 0, 0, 0, 9)]] } });
      const before = state(m);
      const z = npc(0, 0, 0, 0, 1);
      const bad: [string, VF, boolean][] = [
        ["baseline not held", { tick: 6, base: 5, pieces: [{ update: [[1, 1, [1]]] }] }, true],
        ["despawned in the own part and in a piece", { tick: 4, own: { despawn: [1] }, pieces: [{ despawn: [1] }] }, false],
        ["despawned in two pieces", { tick: 4, pieces: [{ despawn: [3] }, { despawn: [1, 3] }] }, false],
        ["despawned twice in one piece", { tick: 4, pieces: [{ despawn: [1, 1] }] }, false],
        ["despawn of an unknown entity in a piece", { tick: 4, pieces: [{}, { despawn: [8] }] }, false],
        ["spawned in two pieces", { tick: 4, pieces: [{ spawn: [[5, 0, z]] }, { spawn: [[5, 0, z]] }] }, false],
        ["spawned in the own part and a piece", { tick: 4, own: { spawn: [[5, 1, [0, 0]]] }, pieces: [{ spawn: [[5, 0, z]] }] }, false],
        ["reused id spawned twice", { tick: 4, own: { despawn: [1] }, pieces: [{ spawn: [[1, 0, z]] }, { spawn: [[1, 0, z]] }] }, false],
        ["spawn of a live entity in a piece", { tick: 4, pieces: [{ despawn: [3] }, { spawn: [[1, 0, z]] }] }, false],
        ["updated in two pieces", { tick: 4, pieces: [{ update: [[1, 1, [1]]] }, { update: [[1, 1, [1]]] }] }, false],
        ["updated in the own part and a piece", { tick: 4, own: { update: [[3, 0b10000, [1]]] }, pieces: [{ update: [[3, 1, [1]]] }] }, false],
        ["update of an entity despawned in another piece", { tick: 4, pieces: [{ despawn: [1] }, { update: [[1, 1, [1]]] }] }, false],
        ["update of an entity despawned in the own part", { tick: 4, own: { despawn: [3] }, pieces: [{ update: [[3, 1, [1]]] }] }, false],
        ["update of an entity spawned in another piece", { tick: 4, pieces: [{ spawn: [[5, 0, z]] }, { update: [[5, 1, [1]]] }] }, false],
        ["update of a reused id", { tick: 4, own: { update: [[1, 1, [1]]] }, pieces: [{ despawn: [1] }, { spawn: [[1, 0, z]] }] }, false],
        ["piece spawn value count", { tick: 4, pieces: [{ spawn: [[5, 0, [0, 0, 0]]] }] }, false],
        ["piece spawn class", { tick: 4, pieces: [{ spawn: [[5, 9, []]] }] }, false],
        ["piece spawn id 0", { tick: 4, pieces: [{ spawn: [[0, 1, [0, 0]]] }] }, false],
        ["piece spawn id past MAX_ENTITY_ID", { tick: 4, pieces: [{ spawn: [[MAX_ENTITY_ID, 1, [0, 0]]] }] }, false],
        ["piece spawn ids and classes differ", { tick: 4, raw: [{ spawnIds: [5], spawnClasses: [], spawnValues: [] }] }, false],
        ["piece update ids and masks differ", { tick: 4, raw: [{ updateIds: [1], updateMasks: [], updateValues: [] }] }, false],
        ["piece update value count", { tick: 4, pieces: [{ update: [[1, 0b11, [1]]] }] }, false],
        ["piece update mask names a bytes field", { tick: 4, pieces: [{ update: [[2, 0b10, [1]]] }] }, false],
        ["piece update mask 0", { tick: 4, pieces: [{ update: [[2, 0, []]] }] }, false],
        ["bytes value for an entity despawned in another piece", { tick: 4, pieces: [{ despawn: [2] }, { bytes: [[2, 1, "01"]] }] }, false],
        ["bytes value for an unknown entity in a piece", { tick: 4, pieces: [{ bytes: [[8, 1, "01"]] }] }, false],
        ["bytes value too long in a piece", { tick: 4, pieces: [{ bytes: [[2, 1, "000102030405060708"]] }] }, false],
        ["update in a piece of a snapshot", { tick: 4, base: 0, own: { spawn: [[1, 0, z]] }, pieces: [{ update: [[1, 1, [1]]] }] }, false],
        ["despawn in a piece of a snapshot", { tick: 4, base: 0, pieces: [{ despawn: [1] }] }, false],
        ["spawned twice in a snapshot's pieces", { tick: 4, base: 0, pieces: [{ spawn: [[4, 0, z]] }, { spawn: [[4, 0, z]] }] }, false],
      ];
      for (const [why, f, mismatch] of bad) {
        assert.throws(
          () => apply(m, f),
          (e: unknown) => e instanceof FrameError && e.baselineMismatch === mismatch,
          why,
        );
        assert.equal(state(m), before, why);
      }
      // The ids the refused frames named carry no marks into this one: 1 reused across pieces,
      // 3 updated in a piece, 5 spawned, 2 gets bytes, every unlisted entity predicted.
      apply(m, {
        tick: 4,
        own: { despawn: [1] },
        pieces: [{ spawn: [[1, 1, [4, 1]], [5, 0, z]], bytes: [[2, 1, "01"]] }, { update: [[3, 0b10000, [-1]]] }],
      });
      assert.deepEqual(flatRows(m), [
        [1, 1, 4, 1, ""],
        [2, 1, 3, 0, "01"],
        [3, 0, 0, 0, 0, 0, 8],
        [5, 0, 0, 0, 0, 0, 1],
      ]);
      assert.equal(m.tick, 4);
    });

    test("a large sparse-id mirror: a few hundred entities among ids up to 20,000, entering and leaving the view", () => {
      const seed = 16;
      const r = rand(seed);
      const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
      const MAX = 20000;
      const fresh = (s: ModelState): number => {
        for (;;) {
          const id = int(1, MAX - 1);
          if (!s.entities.has(id)) return id;
        }
      };
      let gen = 1;
      const newEntity = (): ModelEntity => {
        const cls = r() < 0.9 ? 0 : 1;
        return {
          cls,
          gen: gen++,
          vals: cls === 0 ? npc(int(-1e6, 1e6), int(-1e6, 1e6), int(-3000, 3000), int(-3000, 3000), int(1, 100)) : [int(0, 9), int(0, 1)],
          bytes: cls === 0 ? [] : [r() < 0.5 ? null : Uint8Array.from({ length: int(1, 8) }, () => int(0, 255))],
        };
      };
      let cur: ModelState = { tick: 1, entities: new Map([[MAX, newEntity()]]) }; // the highest id stays in view
      while (cur.entities.size < 300) cur.entities.set(fresh(cur), newEntity());
      const m = new Mirror(schema);
      let held: ModelState | null = null;
      let frames = 0;
      for (let t = 1; t <= 120; t++) {
        const next: ModelState = { tick: t, entities: new Map() };
        for (const [id, e] of cur.entities) {
          if (id !== MAX && r() < 0.04) continue; // left the view
          const v = [...e.vals];
          if (e.cls === 0) {
            if (r() < 0.1) v[2] = int(-3000, 3000);
            if (r() < 0.1) v[3] = int(-3000, 3000);
            v[0] = predictValue(v[0], v[2], 1, 20) + (r() < 0.05 ? int(-3, 3) : 0);
            v[1] = predictValue(v[1], v[3], 1, 20);
            if (r() < 0.05) v[4] = (v[4] - 1) | 0;
          } else if (r() < 0.2) v[0] = (v[0] + int(-2, 2)) | 0;
          next.entities.set(id, { ...e, vals: v });
        }
        // Entities entering the view: new ids, and now and then a freed id at once (reuse).
        const enter = int(0, 25);
        for (let i = 0; i < enter; i++) {
          const reuse = r() < 0.1 ? [...cur.entities.keys()].find((id) => id !== MAX && !next.entities.has(id)) : undefined;
          next.entities.set(reuse ?? fresh(next), newEntity());
        }
        cur = next;
        if (held !== null && r() < 0.15 && t < 120) continue; // a missed tick: the next frame is a gap
        const base = held === null || r() < 0.02 ? null : held;
        // Nine pieces (a 3×3 view of cells) and the own part; each change lands in any of them.
        const f = splitFrame(schema, encodeFrame(schema, base, cur, { withHash: true }), 9, () => int(0, 9));
        const fd = decodeFrame(dec, frameBytes(f));
        m.apply(fd);
        frames++;
        const where = `seed ${seed} tick ${t}`;
        assert.deepEqual(mirrorRows(m), modelRows(cur), where);
        assert.equal(m.size, cur.entities.size, where);
        const h = m.hash();
        assert.deepEqual([h.hi, h.lo], [fd.viewHashHi, fd.viewHashLo], `${where}: hash`);
        held = cur;
      }
      assert.ok(frames > 90);
      assert.ok(m.len > MAX && m.size < 400, `len ${m.len}, size ${m.size}`);

      // The per-frame work walks the held entities, not every id up to the highest: count the
      // reads of the class array while applying a t-1 frame and hashing.
      let reads = 0;
      const real = m.cls;
      m.cls = new Proxy(real, {
        get(target, key) {
          if (typeof key === "string" && key.charCodeAt(0) <= 57) reads++; // an index
          const v = Reflect.get(target, key) as unknown;
          return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
        set(target, key, value) {
          return Reflect.set(target, key, value);
        },
      });
      const last = cur;
      const nextTick = advanceModel(last);
      m.apply(decodeFrame(dec, frameBytes(splitFrame(schema, encodeFrame(schema, last, nextTick), 9, (id) => id % 10))));
      const applyReads = reads;
      reads = 0;
      const h = m.hash();
      const hashReads = reads;
      m.cls = real;
      assert.deepEqual(mirrorRows(m), modelRows(nextTick));
      assert.deepEqual(h, modelHash(schema, nextTick));
      assert.ok(applyReads < 10 * m.size, `applying a frame read the class array ${applyReads} times for ${m.size} entities (ids up to ${m.len - 1})`);
      assert.ok(hashReads < 4 * m.size, `hashing read the class array ${hashReads} times for ${m.size} entities (ids up to ${m.len - 1})`);
    });
  });
}

/** advanceModel moves every npc one tick by its velocity, and one entity leaves. */
function advanceModel(s: ModelState): ModelState {
  const n: ModelState = { tick: s.tick + 1, entities: new Map() };
  let dropped = false;
  for (const [id, e] of s.entities) {
    if (!dropped && e.cls === 0) {
      dropped = true;
      continue;
    }
    const v = [...e.vals];
    if (e.cls === 0) {
      v[0] = predictValue(v[0], v[2], 1, 20);
      v[1] = predictValue(v[1], v[3], 1, 20);
    }
    n.entities.set(id, { ...e, vals: v });
  }
  return n;
}
