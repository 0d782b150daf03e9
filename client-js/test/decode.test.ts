// The hand-written frame decoder against protobuf-es: same FrameData for every frame.

import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { FramePieceSchema, FrameSchema, GameEventSchema, MatchResultSchema, ServerMessageSchema } from "../src/gen/ticksync/v1/messages_pb";
import { DecodeError, HandDecoder, ProtobufEsDecoder } from "../src/decode";
import type { Decoded } from "../src/decode";
import { NO_EVENTS } from "../src/frame";
import type { FrameData, FramePartData } from "../src/frame";
import { frameBytes, rand } from "./helpers";

function plain(f: FrameData): unknown {
  return {
    tick: f.tick,
    baselineTick: f.baselineTick,
    lastInputSeq: f.lastInputSeq,
    ...plainPart(f),
    pieces: f.pieces.slice(0, f.nPieces).map(plainPart),
    hash: f.hasViewHash ? [f.viewHashHi, f.viewHashLo] : null,
    events: f.events.map((e) => [e.tick, e.kind, [...e.values], Array.from(e.data)]),
    result: f.result === null ? null : [f.result.tick, [...f.result.winners], f.result.summary, Array.from(f.result.data)],
  };
}

function plainPart(f: FramePartData) {
  return {
    despawnIds: Array.from(f.despawnIds.subarray(0, f.nDespawn)),
    spawnIds: Array.from(f.spawnIds.subarray(0, f.nSpawn)),
    spawnClasses: Array.from(f.spawnClasses.subarray(0, f.nSpawnClasses)),
    spawnValues: Array.from(f.spawnValues.subarray(0, f.nSpawnValues)),
    updateIds: Array.from(f.updateIds.subarray(0, f.nUpdate)),
    updateMasks: Array.from(f.updateMasks.subarray(0, f.nUpdateMasks)),
    updateValues: Array.from(f.updateValues.subarray(0, f.nUpdateValues)),
    bytes: Array.from({ length: f.nBytes }, (_, i) => [f.bytesIds[i], f.bytesFields[i], Array.from(f.bytesValues[i])]),
  };
}

function frameOf(d: Decoded): FrameData {
  assert.equal(d.kind, "frame");
  return (d as { frame: FrameData }).frame;
}

const hand = new HandDecoder();
const pbes = new ProtobufEsDecoder();

function agree(b: Uint8Array, why: string): unknown {
  const a = plain(frameOf(hand.decode(b)));
  const p = plain(frameOf(pbes.decode(b)));
  assert.deepEqual(a, p, why);
  return a;
}

test("decoders agree on random frames", () => {
  const seed = 7;
  const r = rand(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const s32 = () => (r() < 0.1 ? [-2147483648, 2147483647, 0, -1][int(0, 3)] : int(-70000, 70000));
  for (let i = 0; i < 300; i++) {
    const n = () => int(0, r() < 0.2 ? 300 : 8);
    const part = () => ({
      despawnIds: Array.from({ length: n() }, () => int(1, 300)),
      spawnIds: Array.from({ length: n() }, () => int(1, 2 ** 20)),
      spawnClasses: Array.from({ length: n() }, () => int(0, 3)),
      spawnValues: Array.from({ length: n() }, s32),
      updateIds: Array.from({ length: n() }, () => int(0, 2 ** 32 - 1)),
      updateMasks: Array.from({ length: n() }, () => int(0, 2 ** 32 - 1)),
      updateValues: Array.from({ length: n() }, s32),
      bytesValues: Array.from({ length: int(0, 3) }, () => ({ entityId: int(0, 500), field: int(0, 31), value: Uint8Array.from({ length: int(0, 20) }, () => int(0, 255)) })),
    });
    const f = create(FrameSchema, {
      tick: r() < 0.1 ? 4294967295 : int(1, 1e6),
      baselineTick: int(0, 1e6),
      lastInputSeq: int(0, 2 ** 32 - 1),
      ...part(),
      // Pieces in a third of the frames (some empty), each delta-coded on its own.
      pieces: r() < 0.3 ? Array.from({ length: int(0, 5) }, () => create(FramePieceSchema, r() < 0.2 ? {} : part())) : [],
    });
    if (r() < 0.5) f.viewHash = BigInt.asUintN(64, BigInt(int(0, 2 ** 32 - 1)) * 4294967296n + BigInt(int(0, 2 ** 32 - 1)));
    if (r() < 0.3) {
      f.events = Array.from({ length: int(1, 4) }, () =>
        create(GameEventSchema, {
          tick: int(0, 2 ** 32 - 1),
          kind: int(0, 2 ** 32 - 1),
          values: Array.from({ length: int(0, 5) }, s32),
          data: Uint8Array.from({ length: int(0, 6) }, () => int(0, 255)),
          to: r() < 0.3 ? [int(1, 9)] : [],
        }),
      );
    }
    if (r() < 0.1) {
      f.result = create(MatchResultSchema, {
        tick: int(0, 1e6),
        winners: Array.from({ length: int(0, 3) }, () => int(1, 2 ** 32 - 1)),
        summary: ["", "draw", "rød vinner 5–3 ⚽"][int(0, 2)],
        data: Uint8Array.from({ length: int(0, 6) }, () => int(0, 255)),
      });
    }
    agree(frameBytes(f), `seed ${seed} frame ${i}`);
  }
});

test("hand decoder: unpacked repeated fields, split packed runs, unknown fields, any order", () => {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).uint32(9);
  w.tag(99, WireType.LengthDelimited).bytes(new Uint8Array([1, 2, 3])); // unknown
  w.tag(5, WireType.Varint).uint32(3); // unpacked spawn id
  w.tag(5, WireType.LengthDelimited).fork().uint32(2).uint32(1).join(); // packed continuation: ids 5, 6
  w.tag(6, WireType.Varint).uint32(0);
  w.tag(6, WireType.Varint).uint32(1);
  w.tag(6, WireType.Varint).uint32(0);
  w.tag(7, WireType.Varint).sint32(-5);
  w.tag(7, WireType.LengthDelimited).fork().sint32(-2147483648).sint32(2147483647).join();
  w.tag(98, WireType.Bit64).fixed64(1n);
  w.tag(97, WireType.Bit32).fixed32(1);
  w.tag(2, WireType.Varint).uint32(8);
  w.tag(12, WireType.Bit64).fixed64(0x0123456789abcdefn);
  w.tag(11, WireType.LengthDelimited).fork().tag(3, WireType.LengthDelimited).bytes(new Uint8Array([7])).tag(1, WireType.Varint).uint32(5).join();
  w.tag(3, WireType.Varint).int64(-1n); // a 10-byte varint: low 32 bits
  const body = w.finish();
  const msg = new BinaryWriter().tag(2, WireType.LengthDelimited).bytes(body).finish();
  const got = agree(msg, "hand-made frame") as { spawnIds: number[]; spawnValues: number[]; hash: number[]; lastInputSeq: number };
  assert.deepEqual(got.spawnIds, [3, 5, 6]);
  assert.deepEqual(got.spawnValues, [-5, -2147483648, 2147483647]);
  assert.deepEqual(got.hash, [0x01234567, 0x89abcdef]);
  assert.equal(got.lastInputSeq, 4294967295);
});

test("hand decoder: pieces delta-coded on their own, before and between the frame's own fields, unpacked, with unknown fields", () => {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).uint32(9);
  w.tag(2, WireType.Varint).uint32(8);
  // A piece before the frame's own fields: spawns 100, 102; an unknown field; an update of 7.
  w.tag(15, WireType.LengthDelimited).fork();
  w.tag(2, WireType.LengthDelimited).fork().uint32(100).uint32(2).join();
  w.tag(3, WireType.LengthDelimited).fork().uint32(1).uint32(0).join();
  w.tag(44, WireType.Varint).uint32(1);
  w.tag(5, WireType.Varint).uint32(7);
  w.tag(6, WireType.Varint).uint32(3);
  w.tag(7, WireType.LengthDelimited).fork().sint32(-1).sint32(2).join();
  w.tag(8, WireType.LengthDelimited).fork().tag(1, WireType.Varint).uint32(100).tag(2, WireType.Varint).uint32(1).tag(3, WireType.LengthDelimited).bytes(new Uint8Array([6])).join();
  w.join();
  w.tag(5, WireType.Varint).uint32(3); // own spawn ids 3, then 5 (the piece did not move the delta base)
  w.tag(5, WireType.Varint).uint32(2);
  // A second piece between the own fields: despawns 3 and 4 (unpacked, delta-coded from 0 again).
  w.tag(15, WireType.LengthDelimited).fork().tag(1, WireType.Varint).uint32(3).tag(1, WireType.Varint).uint32(1).join();
  w.tag(4, WireType.LengthDelimited).fork().uint32(1).join(); // own despawn 1
  w.tag(15, WireType.LengthDelimited).bytes(new Uint8Array(0)); // an empty piece
  const msg = new BinaryWriter().tag(2, WireType.LengthDelimited).bytes(w.finish()).finish();
  const got = agree(msg, "hand-made frame with pieces") as { spawnIds: number[]; despawnIds: number[]; pieces: ReturnType<typeof plainPart>[] };
  assert.deepEqual(got.spawnIds, [3, 5]);
  assert.deepEqual(got.despawnIds, [1]);
  assert.equal(got.pieces.length, 3);
  assert.deepEqual([got.pieces[0].spawnIds, got.pieces[0].spawnClasses, got.pieces[0].updateIds, got.pieces[0].updateMasks, got.pieces[0].updateValues], [[100, 102], [1, 0], [7], [3], [-1, 2]]);
  assert.deepEqual(got.pieces[0].bytes, [[100, 1, [6]]]);
  assert.deepEqual(got.pieces[1].despawnIds, [3, 4]);
  assert.deepEqual(got.pieces[2], plainPart(new ProtobufEsDecoder().frame));
  // The next frame without pieces has none (the pieces' objects are reused, not shown).
  const next = frameOf(hand.decode(frameBytes(create(FrameSchema, { tick: 10, baselineTick: 9 }))));
  assert.equal(next.nPieces, 0);
  // A piece that overruns the frame, or holds a group, is malformed for both decoders.
  for (const bad of [
    new BinaryWriter().tag(2, WireType.LengthDelimited).fork().tag(15, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).bytes(new Uint8Array([0x80])).join().join().finish(),
    new BinaryWriter().tag(2, WireType.LengthDelimited).fork().tag(15, WireType.LengthDelimited).fork().tag(9, WireType.StartGroup).join().join().finish(),
  ]) {
    assert.throws(() => hand.decode(bad), DecodeError);
    assert.throws(() => pbes.decode(bad), DecodeError);
  }
});

test("non-frame messages go through protobuf-es", () => {
  const b = toBinary(ServerMessageSchema, create(ServerMessageSchema, { kind: { case: "kick", value: { code: 4009, reason: "room full" } } }));
  const d = hand.decode(b);
  assert.equal(d.kind, "other");
  assert.equal((d as { message: { kind: { case: string } } }).message.kind.case, "kick");
});

test("malformed frames throw DecodeError, never something else", () => {
  const f = create(FrameSchema, { tick: 300, baselineTick: 299, updateIds: [1, 2, 3], updateMasks: [1, 1, 1], updateValues: [-1000, 5, 1 << 30] });
  f.viewHash = 5n;
  f.pieces = [create(FramePieceSchema, { spawnIds: [5], spawnClasses: [0], spawnValues: [-3], bytesValues: [{ entityId: 5, field: 1, value: new Uint8Array([1, 2]) }] })];
  const good = frameBytes(f);
  for (let cut = 1; cut < good.length; cut++) {
    const b = good.subarray(0, cut);
    assert.throws(() => hand.decode(b), DecodeError, `cut at ${cut}`);
    assert.throws(() => pbes.decode(b), DecodeError, `protobuf-es cut at ${cut}`);
  }
  // A packed run whose last varint crosses its length.
  const bad = new BinaryWriter().tag(2, WireType.LengthDelimited).fork().tag(10, WireType.LengthDelimited).bytes(new Uint8Array([0x80])).join().finish();
  assert.throws(() => hand.decode(bad), DecodeError);
  assert.throws(() => pbes.decode(bad), DecodeError);
  // Group wire types are refused.
  const grp = new BinaryWriter().tag(2, WireType.LengthDelimited).fork().tag(50, WireType.StartGroup).join().finish();
  assert.throws(() => hand.decode(grp), DecodeError);
});

/** eventBytes hand-encodes a GameEvent's fields (values unpacked when asked). */
function eventBytes(tick: number, kind: number, values: number[], data: number[] | null, unpacked = false, to: number[] = []): Uint8Array {
  const w = new BinaryWriter();
  if (data !== null) w.tag(4, WireType.LengthDelimited).bytes(Uint8Array.from(data)); // out of order
  w.tag(1, WireType.Varint).uint32(tick);
  if (unpacked) for (const v of values) w.tag(3, WireType.Varint).sint32(v);
  else if (values.length > 0) {
    w.tag(3, WireType.LengthDelimited).fork();
    for (const v of values) w.sint32(v);
    w.join();
  }
  w.tag(2, WireType.Varint).uint32(kind);
  if (to.length > 0) {
    w.tag(5, WireType.LengthDelimited).fork();
    for (const p of to) w.uint32(p);
    w.join();
  }
  return w.finish();
}

test("game events and the result: after the body, before it, unpacked, merged, recipients skipped", () => {
  const w = new BinaryWriter();
  w.tag(13, WireType.LengthDelimited).bytes(eventBytes(3, 2, [-1, -2147483648, 2147483647], [0, 255, 104])); // before the body
  w.tag(1, WireType.Varint).uint32(4);
  w.tag(2, WireType.Varint).uint32(2);
  w.tag(10, WireType.LengthDelimited).fork().sint32(-7).join();
  w.tag(13, WireType.LengthDelimited).bytes(eventBytes(4, 1, [-5, 6], null, true, [1, 2])); // unpacked, with recipients
  w.tag(14, WireType.LengthDelimited).fork().tag(1, WireType.Varint).uint32(4).tag(2, WireType.LengthDelimited).fork().uint32(1).join().tag(3, WireType.LengthDelimited).string("a").join();
  w.tag(13, WireType.LengthDelimited).bytes(new Uint8Array(0)); // an event of all defaults
  // A second result merges into the first: winners appended, summary and data replaced.
  w.tag(14, WireType.LengthDelimited).fork().tag(2, WireType.Varint).uint32(3).tag(3, WireType.LengthDelimited).string("red wins 5-3").tag(4, WireType.LengthDelimited).bytes(new Uint8Array([5, 3])).join();
  const msg = new BinaryWriter().tag(2, WireType.LengthDelimited).bytes(w.finish()).finish();
  const got = agree(msg, "events frame") as { events: unknown[]; result: unknown; updateValues: number[] };
  assert.deepEqual(got.events, [
    [3, 2, [-1, -2147483648, 2147483647], [0, 255, 104]],
    [4, 1, [-5, 6], []],
    [0, 0, [], []],
  ]);
  assert.deepEqual(got.result, [4, [1, 3], "red wins 5-3", [5, 3]]);
  assert.deepEqual(got.updateValues, [-7]);
});

test("a frame without events allocates none; events and data outlive the next frame", () => {
  const withEv = frameBytes(
    create(FrameSchema, {
      tick: 2,
      events: [create(GameEventSchema, { tick: 2, kind: 9, values: [-3], data: new Uint8Array([1, 2]) })],
      result: create(MatchResultSchema, { tick: 2, winners: [7], summary: "done" }),
    }),
  );
  const without = frameBytes(create(FrameSchema, { tick: 3, baselineTick: 2, updateIds: [1], updateMasks: [1], updateValues: [4] }));
  for (const dec of [new HandDecoder(), new ProtobufEsDecoder()]) {
    const name = dec instanceof HandDecoder ? "hand" : "protobuf-es";
    assert.equal(frameOf(dec.decode(without)).events, NO_EVENTS, `${name}: shared empty events`);
    const f = frameOf(dec.decode(withEv));
    const kept = f.events;
    const result = f.result;
    assert.equal(kept.length, 1);
    assert.notEqual(kept, NO_EVENTS);
    const again = frameOf(dec.decode(without));
    assert.equal(again.events, NO_EVENTS, `${name}: reset to the shared empty events`);
    assert.equal(again.result, null, `${name}: result reset`);
    assert.equal(NO_EVENTS.length, 0, `${name}: the shared array stays empty`);
    assert.deepEqual([kept[0].tick, kept[0].kind, kept[0].values, Array.from(kept[0].data)], [2, 9, [-3], [1, 2]], `${name}: kept events intact`);
    assert.deepEqual(result?.winners, [7]);
    // The data is a copy: the message buffer may be reused.
    const buf = new Uint8Array(withEv);
    const d = frameOf(dec.decode(buf)).events[0].data;
    buf.fill(0);
    assert.deepEqual(Array.from(d), [1, 2], `${name}: event data copied`);
  }
});

test("malformed events and results throw DecodeError in both decoders", () => {
  const f = create(FrameSchema, {
    tick: 5,
    events: [create(GameEventSchema, { tick: 5, kind: 2, values: [-300, 1 << 20], data: new Uint8Array([9, 9, 9]) })],
    result: create(MatchResultSchema, { tick: 5, winners: [1, 300], summary: "over", data: new Uint8Array([1]) }),
  });
  const good = frameBytes(f);
  agree(good, "good");
  for (let cut = 1; cut < good.length; cut++) {
    const b = good.subarray(0, cut);
    assert.throws(() => hand.decode(b), DecodeError, `cut at ${cut}`);
    assert.throws(() => pbes.decode(b), DecodeError, `protobuf-es cut at ${cut}`);
  }
  // An event whose packed values end inside a varint.
  const badEv = new BinaryWriter().tag(2, WireType.LengthDelimited).fork().tag(13, WireType.LengthDelimited).fork().tag(3, WireType.LengthDelimited).bytes(new Uint8Array([0x80])).join().join().finish();
  assert.throws(() => hand.decode(badEv), DecodeError);
  assert.throws(() => pbes.decode(badEv), DecodeError);
  // A summary that is not UTF-8.
  const badStr = new BinaryWriter().tag(2, WireType.LengthDelimited).fork().tag(14, WireType.LengthDelimited).fork().tag(3, WireType.LengthDelimited).bytes(new Uint8Array([0xff, 0xfe])).join().join().finish();
  assert.throws(() => hand.decode(badStr), DecodeError);
  assert.throws(() => pbes.decode(badStr), DecodeError);
});
