// The mirror: applying frames as the contract says, with both decoders.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FrameSchema } from "../src/gen/ticksync/v1/messages_pb";
import type { FrameData } from "../src/frame";
import { FrameError, Mirror } from "../src/mirror";
import type { Entity } from "../src/mirror";
import { predictValue } from "../src/predictrule";
import { arenaProto, compiled, decodeFrame, decoders, encodeFrame, flatRows, frameBytes, hex, mirrorRows, modelHash, modelRows, partFields, rand, splitFrame, stateSchema, unhex } from "./helpers";
import type { ModelState, PartSpec } from "./helpers";

// Class 0 "npc": x, y predicted from vx, vy (1/20), hp. Class 1 "tag": n, name (bytes), k.
const proto = stateSchema([
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
]);
const schema = compiled(proto);

interface F extends PartSpec {
  tick: number;
  base?: number;
  seq?: number;
}

function encode(f: F): Uint8Array {
  return frameBytes(
    create(FrameSchema, {
      tick: f.tick,
      baselineTick: f.base ?? f.tick - 1,
      lastInputSeq: f.seq ?? 0,
      ...partFields(f),
    }),
  );
}

for (const [name, mk] of decoders) {
  describe(`mirror (${name} decoder)`, () => {
    const dec = mk();
    const frame = (f: F): FrameData => decodeFrame(dec, encode(f));
    const apply = (m: Mirror, f: F): void => m.apply(frame(f));

    test("snapshot, then spawn, despawn and updates with plain differences", () => {
      const m = new Mirror(schema);
      apply(m, { tick: 5, base: 0, spawn: [[1, 0, [100, 200, 0, 0, 50]], [3, 1, [7, 1]]], bytes: [[3, 1, "6869"]] });
      assert.deepEqual(flatRows(m), [[1, 0, 100, 200, 0, 0, 50], [3, 1, 7, 1, "6869"]]);
      assert.equal(m.tick, 5);
      assert.equal(m.size, 2);
      // Gap frame (baseline 5, tick 8): differences against the baseline, no prediction.
      apply(m, { tick: 8, base: 5, despawn: [3], spawn: [[2, 0, [1, 2, 3, 4, 5]]], update: [[1, 0b10101, [10, 20, -5]]] });
      assert.deepEqual(flatRows(m), [[1, 0, 110, 200, 20, 0, 45], [2, 0, 1, 2, 3, 4, 5]]);
      assert.equal(m.size, 2);
      assert.equal(m.has(3), false);
    });

    test("t-1 frame advances predicted fields of every live entity, listed or not, but not new spawns", () => {
      const m = new Mirror(schema);
      apply(m, { tick: 1, base: 0, spawn: [[1, 0, [1000, 1000, 2501, -2501, 9]], [2, 0, [0, 0, -19, 40, 9]], [4, 1, [3, 0]]] });
      // Entity 1 unlisted; entity 2 gets a new vx (+1 → -18) and a residual on y (+7); entity 5 spawns.
      apply(m, { tick: 2, spawn: [[5, 0, [500, 500, 100, 100, 1]]], update: [[2, 0b0110, [7, 1]]] });
      assert.deepEqual(flatRows(m), [
        [1, 0, predictValue(1000, 2501, 1, 20), predictValue(1000, -2501, 1, 20), 2501, -2501, 9],
        [2, 0, predictValue(0, -18, 1, 20), predictValue(0, 40, 1, 20) + 7, -18, 40, 9],
        [4, 1, 3, 0, ""],
        [5, 0, 500, 500, 100, 100, 1],
      ]);
      assert.equal(m.raw(1, 0), 1125);
      assert.equal(m.raw(1, 1), 875);
    });

    test("predicted fields read the velocity after this frame's update", () => {
      const m = new Mirror(schema);
      apply(m, { tick: 1, base: 0, spawn: [[1, 0, [0, 0, 20, 0, 1]]] });
      // vx: 20 → 40 (diff +20); x = 0 + trunc(40/20) = 2, residual 0 so x not listed.
      apply(m, { tick: 2, update: [[1, 0b100, [20]]] });
      assert.equal(m.raw(1, 0), 2);
      assert.equal(m.raw(1, 2), 40);
    });

    test("int32 arithmetic wraps", () => {
      const m = new Mirror(schema);
      apply(m, { tick: 1, base: 0, spawn: [[1, 0, [2147483600, 0, 2000, 0, 2147483647]]] });
      apply(m, { tick: 2, update: [[1, 0b10000, [1]]] });
      assert.equal(m.raw(1, 0), -2147483596); // 2147483600 + 100 wraps
      assert.equal(m.raw(1, 4), -2147483648);
      apply(m, { tick: 4, base: 2, update: [[1, 0b10001, [-1, -1]]] });
      assert.equal(m.raw(1, 0), -2147483597);
      assert.equal(m.raw(1, 4), 2147483647);
    });

    test("id reuse: despawn and spawn of the same id in one frame", () => {
      const m = new Mirror(schema);
      const spawned: string[] = [];
      const despawned: string[] = [];
      m.onSpawn = (e) => spawned.push(`${e.id}:${e.className}`);
      m.onDespawn = (id, c) => despawned.push(`${id}:${c}`);
      apply(m, { tick: 1, base: 0, spawn: [[7, 0, [0, 0, 20, 20, 3]]] });
      const before = m.entity(7) as Entity;
      assert.equal(before.hp, 3);
      apply(m, { tick: 2, despawn: [7], spawn: [[7, 1, [42, 1]]], bytes: [[7, 1, "616263"]] });
      assert.deepEqual(flatRows(m), [[7, 1, 42, 1, "616263"]]);
      assert.deepEqual(spawned, ["7:npc", "7:tag"]);
      assert.deepEqual(despawned, ["7:npc"]);
      const e = m.entity(7) as Entity;
      assert.notEqual(e, before);
      assert.equal(e.n, 42);
      assert.equal(e.on, true);
      assert.deepEqual(e.name, unhex("616263"));
    });

    test("bytes fields: set, changed, emptied, and cleared on respawn", () => {
      const m = new Mirror(schema);
      apply(m, { tick: 1, base: 0, spawn: [[2, 1, [0, 0]]] });
      assert.equal(m.entity(2)?.name, null);
      apply(m, { tick: 2, bytes: [[2, 1, "01"]] });
      assert.equal(hex(m.rawBytes(2, 0) as Uint8Array), "01");
      apply(m, { tick: 3, bytes: [[2, 1, ""]] });
      assert.equal(m.rawBytes(2, 0), null);
      apply(m, { tick: 4, bytes: [[2, 1, "0203"]] });
      apply(m, { tick: 5, despawn: [2], spawn: [[2, 1, [1, 0]]] });
      assert.equal(m.rawBytes(2, 0), null);
    });

    test("named, de-quantized views", () => {
      const m = new Mirror(schema);
      apply(m, { tick: 1, base: 0, spawn: [[1, 0, [12345, -50, 250, 0, 100]]] });
      const e = m.entity(1) as Entity;
      assert.equal(e.id, 1);
      assert.equal(e.className, "npc");
      assert.equal(e.x, 123.45);
      assert.equal(e.y, -0.5);
      assert.equal(e.vx, 2.5);
      assert.equal(e.hp, 100);
      apply(m, { tick: 2, update: [[1, 0b10000, [-1]]] });
      assert.equal(e.hp, 99); // live view
      assert.equal(e.x, 123.57);
      assert.deepEqual(Object.keys(Object.getPrototypeOf(e)), ["x", "y", "vx", "vy", "hp"]);
    });

    test("refused frames change nothing", () => {
      const m = new Mirror(schema);
      apply(m, { tick: 3, base: 0, spawn: [[1, 0, [0, 0, 20, 0, 1]], [2, 1, [0, 0]]] });
      const before = JSON.stringify(flatRows(m));
      const bad: [string, F, boolean][] = [
        ["baseline not held", { tick: 5, base: 4 }, true],
        ["tick not after baseline", { tick: 3, base: 3 }, false],
        ["despawn unknown", { tick: 4, despawn: [9] }, false],
        ["spawn live", { tick: 4, spawn: [[1, 0, [0, 0, 0, 0, 0]]] }, false],
        ["spawn value count", { tick: 4, spawn: [[5, 0, [0, 0, 0]]] }, false],
        ["spawn class", { tick: 4, spawn: [[5, 9, []]] }, false],
        ["update of a spawned entity", { tick: 4, spawn: [[5, 1, [0, 0]]], update: [[5, 1, [1]]] }, false],
        ["update mask 0", { tick: 4, update: [[1, 0, []]] }, false],
        ["update mask names a bytes field", { tick: 4, update: [[2, 0b10, [1]]] }, false],
        ["update value count", { tick: 4, update: [[1, 0b11, [1]]] }, false],
        ["update of despawned", { tick: 4, despawn: [1], update: [[1, 1, [1]]] }, false],
        ["bytes of an int field", { tick: 4, bytes: [[2, 0, "01"]] }, false],
        ["bytes too long", { tick: 4, bytes: [[2, 1, "000102030405060708"]] }, false],
        ["bytes of unknown entity", { tick: 4, bytes: [[8, 1, "01"]] }, false],
        ["update on snapshot", { tick: 4, base: 0, update: [[1, 1, [1]]] }, false],
      ];
      for (const [why, f, mismatch] of bad) {
        assert.throws(
          () => apply(m, f),
          (e: unknown) => e instanceof FrameError && e.baselineMismatch === mismatch,
          why,
        );
        assert.equal(JSON.stringify(flatRows(m)), before, why);
        assert.equal(m.tick, 3, why);
      }
      // Still usable after refusals.
      apply(m, { tick: 4 });
      assert.equal(m.raw(1, 0), 1);
    });

    test("snapshot replaces the state; continuing entities keep their views", () => {
      const m = new Mirror(schema);
      const events: string[] = [];
      m.onSpawn = (e) => events.push(`+${e.id}`);
      m.onDespawn = (id) => events.push(`-${id}`);
      apply(m, { tick: 1, base: 0, spawn: [[1, 0, [0, 0, 0, 0, 1]], [2, 0, [0, 0, 0, 0, 1]], [3, 1, [0, 0]]] });
      const v1 = m.entity(1);
      events.length = 0;
      apply(m, { tick: 9, base: 0, spawn: [[1, 0, [5, 5, 0, 0, 1]], [3, 0, [0, 0, 0, 0, 2]], [4, 1, [1, 1]]] });
      assert.deepEqual(events.sort(), ["+3", "+4", "-2", "-3"].sort());
      assert.equal(m.entity(1), v1);
      assert.equal(m.size, 3);
      assert.deepEqual(m.ids(), [1, 3, 4]);
    });

    test("findOwned and hash", () => {
      const arena = compiled(arenaProto());
      const m = new Mirror(arena);
      apply(m, { tick: 1, base: 0, spawn: [[1, 0, [0, 0, 0, 0, 100]], [2, 1, [0, 0, 0, 0, 100, 42]]] });
      assert.equal(m.findOwned(42), 2);
      assert.equal(m.findOwned(7), 0);
      const model: ModelState = {
        tick: 1,
        entities: new Map([
          [1, { cls: 0, gen: 1, vals: [0, 0, 0, 0, 100], bytes: [] }],
          [2, { cls: 1, gen: 1, vals: [0, 0, 0, 0, 100, 42], bytes: [] }],
        ]),
      };
      assert.deepEqual(m.hash(), modelHash(arena, model));
    });

    test("property: random worlds, frames from the encoder (also split into pieces), every tick equal to the model", () => {
      for (const [seed, pieces] of [[1, 0], [2, 0], [3, 0], [42, 0], [1, 3], [5, 1], [6, 4]]) {
        const r = rand(seed);
        const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
        let cur: ModelState = { tick: 1, entities: new Map() };
        let held: ModelState | null = null;
        const m = new Mirror(schema);
        let nextGen = 1;
        for (let t = 1; t <= 200; t++) {
          const next: ModelState = { tick: t, entities: new Map() };
          for (const [id, e] of cur.entities) {
            if (r() < 0.03) continue; // despawn
            const v = [...e.vals];
            if (e.cls === 0) {
              if (r() < 0.1) v[2] = int(-10000, 10000);
              if (r() < 0.1) v[3] = r() < 0.1 ? 2147483647 : int(-10000, 10000);
              v[0] = predictValue(v[0], v[2], 1, 20) + (r() < 0.05 ? int(-3, 3) : 0);
              v[1] = predictValue(v[1], v[3], 1, 20);
              if (r() < 0.1) v[4] = (v[4] - 1) | 0;
            } else if (r() < 0.2) v[0] = (v[0] + int(-2, 2)) | 0;
            let b = [...e.bytes];
            if (e.cls === 1 && r() < 0.1) b = [r() < 0.3 ? null : Uint8Array.from({ length: int(0, 8) }, () => int(0, 255))];
            next.entities.set(id, { cls: e.cls, gen: e.gen, vals: v.map((x) => x | 0), bytes: b });
          }
          const n = int(0, 3);
          for (let i = 0; i < n; i++) {
            const id = int(1, 60);
            const cls = int(0, 1);
            // Sometimes reuse a live id in the same tick (a despawn and a spawn).
            if (next.entities.has(id) && r() < 0.7) continue;
            next.entities.set(id, {
              cls,
              gen: nextGen++,
              vals: cls === 0 ? [int(-1e6, 1e6), int(-1e6, 1e6), int(-5000, 5000), int(-5000, 5000), int(1, 100)] : [int(0, 9), int(0, 1)],
              bytes: cls === 0 ? [] : [r() < 0.5 ? null : Uint8Array.from({ length: int(1, 8) }, () => int(0, 255))],
            });
          }
          cur = next;
          // The client sometimes misses ticks (gap frames) and sometimes gets a snapshot.
          if (held !== null && r() < 0.2 && t < 200) continue;
          const base = held === null || r() < 0.03 ? null : held;
          let f = encodeFrame(schema, base, cur, { withHash: true });
          // Pieces: every change lands in a random part (the own fields or a piece).
          if (pieces > 0) f = splitFrame(schema, f, pieces, () => int(0, pieces));
          const fd = decodeFrame(dec, frameBytes(f));
          m.apply(fd);
          assert.deepEqual(mirrorRows(m), modelRows(cur), `seed ${seed} pieces ${pieces} tick ${t}`);
          const h = m.hash();
          assert.deepEqual([h.hi, h.lo], [fd.viewHashHi, fd.viewHashLo], `seed ${seed} pieces ${pieces} tick ${t} hash`);
          held = cur;
        }
      }
    });
  });
}
