// Cross-language golden frames: Go writes sim/testdata/golden/frames.json (frames and the state
// and hash after each); the JS mirror must reach the same state and hash with both decoders.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { StateSchemaSchema } from "../src/gen/ticksync/v1/schema_pb";
import { HandDecoder, ProtobufEsDecoder } from "../src/decode";
import { hashHex } from "../src/hash";
import { Mirror } from "../src/mirror";
import { compileSchema } from "../src/schema";
import { arenaProto, b64, encodeFrame, frameBytes, mirrorRows, modelHash, modelRows, readJSON, repoRoot, stateSchema } from "./helpers";
import type { ModelState } from "./helpers";

/** GoldenDoc is the file's format. */
interface GoldenDoc {
  scenarios: {
    name: string;
    schema_b64: string;
    frames: {
      frame_b64: string;
      state: { id: number; class: number; values: number[]; bytes?: string[] }[];
      hash: string;
      /** events are the frame's game events in order (absent: none); data in hex. */
      events?: { tick: number; kind: number; values: number[]; data: string }[];
      /** result is the frame's match result (absent: none); data in hex. */
      result?: { tick: number; winners: number[]; summary: string; data: string };
    }[];
  }[];
}

const goldenPath = resolve(repoRoot, "sim/testdata/golden/frames.json");

/** checkGolden applies every scenario's frames with one decoder and checks state and hash after each. */
function checkGolden(doc: GoldenDoc, kind: "hand" | "protobuf-es"): number {
  assert.ok(Array.isArray(doc.scenarios) && doc.scenarios.length > 0, "golden file has no scenarios");
  let frames = 0;
  for (const sc of doc.scenarios) {
    const schema = compileSchema(fromBinary(StateSchemaSchema, b64(sc.schema_b64)));
    const dec = kind === "hand" ? new HandDecoder() : new ProtobufEsDecoder();
    const m = new Mirror(schema);
    assert.ok(sc.frames.length > 0, `${sc.name}: no frames`);
    sc.frames.forEach((gf, i) => {
      const where = `${kind} decoder, scenario ${sc.name}, frame ${i}`;
      const d = dec.decode(b64(gf.frame_b64));
      assert.equal(d.kind, "frame", `${where}: not a frame`);
      if (d.kind !== "frame") return;
      const f = d.frame;
      assert.ok(f.baselineTick === 0 || f.baselineTick === m.tick, `${where}: baseline ${f.baselineTick}, mirror holds ${m.tick}`);
      m.apply(f);
      const want = gf.state.map((e) => ({ id: e.id, class: e.class, values: e.values, bytes: e.bytes ?? [] }));
      // "bytes" lists every bytes field of the class ("" when empty) and is absent without any.
      assert.deepEqual(mirrorRows(m), want, `${where}: state`);
      const h = m.hash();
      assert.equal(hashHex(h.hi, h.lo), gf.hash, `${where}: hash`);
      if (f.hasViewHash) assert.equal(hashHex(f.viewHashHi, f.viewHashLo), gf.hash, `${where}: view_hash`);
      const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
      const events = f.events.map((e) => ({ tick: e.tick, kind: e.kind, values: [...e.values], data: hex(e.data) }));
      assert.deepEqual(events, gf.events ?? [], `${where}: events`);
      const result = f.result === null ? undefined : { tick: f.result.tick, winners: [...f.result.winners], summary: f.result.summary, data: hex(f.result.data) };
      assert.deepEqual(result, gf.result, `${where}: result`);
      frames++;
    });
  }
  return frames;
}

/** fixture hand-encodes a golden document with protobuf-es, to test checkGolden itself. */
function fixture(): GoldenDoc {
  const scenarios: GoldenDoc["scenarios"] = [];
  // 1. Arena-like: negative velocities, border bounces (residuals), gaps, a snapshot, a despawn
  // and an id reused.
  {
    const proto = arenaProto(20);
    const schema = compileSchema(proto);
    const states: ModelState[] = [];
    let s: ModelState = {
      tick: 1,
      entities: new Map([
        [1, { cls: 0, gen: 1, vals: [100, 99990, -2501, 8000, 100], bytes: [] }],
        [2, { cls: 0, gen: 1, vals: [50000, 50000, 2501, -19, 1], bytes: [] }],
        [3, { cls: 1, gen: 1, vals: [0, 0, 0, 0, 100, 7], bytes: [] }],
      ]),
    };
    states.push(s);
    for (let t = 2; t <= 12; t++) {
      const n: ModelState = { tick: t, entities: new Map() };
      for (const [id, e] of s.entities) {
        const v = [...e.vals];
        for (const [p, q] of [[0, 2], [1, 3]]) {
          let x = (v[p] + Math.trunc(v[q] / 20)) | 0;
          if (x < 0 || x > 100000) {
            x = x < 0 ? -x : 200000 - x;
            v[q] = -v[q];
          }
          v[p] = x;
        }
        if (t % 3 === 0) v[4] = v[4] === 1 ? 100 : v[4] - 1;
        n.entities.set(id, { cls: e.cls, gen: e.gen, vals: v, bytes: [] });
      }
      if (t === 6) n.entities.delete(2);
      if (t === 8) n.entities.set(2, { cls: 1, gen: 2, vals: [10, 10, -200, 0, 100, 9], bytes: [] });
      if (t === 9) n.entities.set(3, { cls: 0, gen: 3, vals: [5, 5, 5, 5, 5], bytes: [] }); // reuse in one frame
      states.push(n);
      s = n;
    }
    // Held ticks: 1 (snapshot), 2, 3, 5 (gap), 6, 7, 8, 9, 12 (gap), then a snapshot of 12 again... no:
    // a fresh snapshot has baseline 0, so the last one re-sends tick 12 as tick 12 is not after 12.
    const held = [1, 2, 3, 5, 6, 7, 8, 9, 12];
    const frames: GoldenDoc["scenarios"][0]["frames"] = [];
    let base: ModelState | null = null;
    for (const t of held) {
      const cur = states[t - 1];
      const f = encodeFrame(schema, base, cur, { withHash: t % 4 === 0 });
      frames.push(entry(schema, f, cur));
      base = cur;
    }
    scenarios.push({ name: "js-fixture-arena", schema_b64: Buffer.from(toBinary(StateSchemaSchema, proto)).toString("base64"), frames });
  }
  // 2. A bytes field (last, like the vectors' class 1), set, changed and emptied.
  {
    const proto = stateSchema([{ name: "tag", fields: [{ name: "a" }, { name: "b" }, { name: "name", type: "bytes", maxLen: 8 }] }]);
    const schema = compileSchema(proto);
    const ticks: [number, string | null][] = [
      [1, null],
      [2, "6869"],
      [3, "686921"],
      [4, ""],
    ];
    const frames: GoldenDoc["scenarios"][0]["frames"] = [];
    let base: ModelState | null = null;
    for (const [t, h] of ticks) {
      const cur: ModelState = { tick: t, entities: new Map([[4, { cls: 0, gen: 1, vals: [t, -t], bytes: [h === null ? null : Uint8Array.from(Buffer.from(h, "hex"))] }]]) };
      frames.push(entry(schema, encodeFrame(schema, base, cur), cur));
      base = cur;
    }
    scenarios.push({ name: "js-fixture-bytes", schema_b64: Buffer.from(toBinary(StateSchemaSchema, proto)).toString("base64"), frames });
  }
  return { scenarios };
}

function entry(schema: ReturnType<typeof compileSchema>, f: Parameters<typeof frameBytes>[0], cur: ModelState): GoldenDoc["scenarios"][0]["frames"][0] {
  const h = modelHash(schema, cur);
  return {
    frame_b64: Buffer.from(frameBytes(f)).toString("base64"),
    state: modelRows(cur).map((r) => ({ id: r.id, class: r.class, values: r.values, bytes: r.bytes })),
    hash: hashHex(h.hi, h.lo),
  };
}

describe("golden frames written by Go", () => {
  for (const kind of ["hand", "protobuf-es"] as const) {
    test(`sim/testdata/golden/frames.json (${kind} decoder)`, () => {
      assert.ok(
        existsSync(goldenPath),
        `golden file missing: ${goldenPath}. Go writes it: "go test ./sim -run TestGolden -update" (repo root); it must be committed for this test to pass.`,
      );
      const doc = readJSON(goldenPath) as GoldenDoc;
      const n = checkGolden(doc, kind);
      assert.ok(n > 0);
      // The file must exercise events and the result, or the checks above prove nothing.
      const all = doc.scenarios.flatMap((sc) => sc.frames);
      assert.ok(all.some((f) => (f.events?.length ?? 0) > 1 && f.events?.some((e) => e.data !== "" && e.values.some((v) => v < 0))), "no frame with several events, data and negative values");
      assert.ok(all.some((f) => f.result !== undefined), "no frame with a result");
      // And pieces (a views: scenario), with an id despawned and spawned again by one frame.
      const pieced = all.map((f) => new HandDecoder().decode(b64(f.frame_b64))).filter((d) => d.kind === "frame" && d.frame.nPieces > 0);
      assert.ok(pieced.length > 0, "no frame with pieces");
      const reused = pieced.some((d) => {
        if (d.kind !== "frame") return false;
        const parts = [d.frame, ...d.frame.pieces.slice(0, d.frame.nPieces)];
        const despawned = new Set(parts.flatMap((p) => Array.from(p.despawnIds.subarray(0, p.nDespawn))));
        return parts.some((p) => p.spawnIds.subarray(0, p.nSpawn).some((id) => despawned.has(id)));
      });
      assert.ok(reused, "no frame with pieces that despawns an id and spawns it again");
    });
  }
});

describe("golden checker on a JS-made fixture", () => {
  const doc = fixture();
  for (const kind of ["hand", "protobuf-es"] as const) {
    test(`fixture passes (${kind} decoder)`, () => {
      assert.equal(checkGolden(doc, kind), 13);
    });
  }
  test("the checker fails on a wrong hash, a wrong value and a wrong bytes value", () => {
    const bad1 = structuredClone(doc);
    bad1.scenarios[0].frames[3].hash = "0000000000000000";
    assert.throws(() => checkGolden(bad1, "hand"), /hash/);
    const bad2 = structuredClone(doc);
    bad2.scenarios[0].frames[4].state[0].values[0]++;
    assert.throws(() => checkGolden(bad2, "hand"), /state/);
    const bad3 = structuredClone(doc);
    (bad3.scenarios[1].frames[2].state[0].bytes as string[])[0] = "6868";
    assert.throws(() => checkGolden(bad3, "protobuf-es"), /state/);
  });
  test("the checker fails on a missing, extra or wrong event and a wrong result", () => {
    const real = readJSON(goldenPath) as GoldenDoc;
    const sc = real.scenarios.findIndex((x) => x.frames.some((f) => f.result !== undefined));
    assert.ok(sc >= 0, "no scenario with a result in the golden file");
    const fi = real.scenarios[sc].frames.findIndex((f) => (f.events?.length ?? 0) > 1);
    const ri = real.scenarios[sc].frames.findIndex((f) => f.result !== undefined);
    const only = (d: GoldenDoc): GoldenDoc => ({ scenarios: [d.scenarios[sc]] });
    for (const kind of ["hand", "protobuf-es"] as const) {
      assert.ok(checkGolden(only(real), kind) > 0);
      const dropped = structuredClone(real);
      dropped.scenarios[sc].frames[fi].events?.pop();
      assert.throws(() => checkGolden(only(dropped), kind), /events/);
      const extra = structuredClone(real);
      extra.scenarios[sc].frames[0].events = undefined;
      assert.throws(() => checkGolden(only(extra), kind), /events/);
      const value = structuredClone(real);
      (value.scenarios[sc].frames[fi].events as { values: number[] }[])[0].values[0]++;
      assert.throws(() => checkGolden(only(value), kind), /events/);
      const result = structuredClone(real);
      (result.scenarios[sc].frames[ri].result as { summary: string }).summary = "blue wins";
      assert.throws(() => checkGolden(only(result), kind), /result/);
    }
  });
});
