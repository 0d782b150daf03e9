// The hand-written frame decoder against protobuf-es: same FrameData for every frame.

import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { FrameSchema, ServerMessageSchema } from "../src/gen/ticksync/v1/messages_pb";
import { DecodeError, HandDecoder, ProtobufEsDecoder } from "../src/decode";
import type { Decoded } from "../src/decode";
import type { FrameData } from "../src/frame";
import { frameBytes, rand } from "./helpers";

function plain(f: FrameData): unknown {
  return {
    tick: f.tick,
    baselineTick: f.baselineTick,
    lastInputSeq: f.lastInputSeq,
    despawnIds: Array.from(f.despawnIds.subarray(0, f.nDespawn)),
    spawnIds: Array.from(f.spawnIds.subarray(0, f.nSpawn)),
    spawnClasses: Array.from(f.spawnClasses.subarray(0, f.nSpawnClasses)),
    spawnValues: Array.from(f.spawnValues.subarray(0, f.nSpawnValues)),
    updateIds: Array.from(f.updateIds.subarray(0, f.nUpdate)),
    updateMasks: Array.from(f.updateMasks.subarray(0, f.nUpdateMasks)),
    updateValues: Array.from(f.updateValues.subarray(0, f.nUpdateValues)),
    bytes: Array.from({ length: f.nBytes }, (_, i) => [f.bytesIds[i], f.bytesFields[i], Array.from(f.bytesValues[i])]),
    hash: f.hasViewHash ? [f.viewHashHi, f.viewHashLo] : null,
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
    const f = create(FrameSchema, {
      tick: r() < 0.1 ? 4294967295 : int(1, 1e6),
      baselineTick: int(0, 1e6),
      lastInputSeq: int(0, 2 ** 32 - 1),
      despawnIds: Array.from({ length: n() }, () => int(1, 300)),
      spawnIds: Array.from({ length: n() }, () => int(1, 2 ** 20)),
      spawnClasses: Array.from({ length: n() }, () => int(0, 3)),
      spawnValues: Array.from({ length: n() }, s32),
      updateIds: Array.from({ length: n() }, () => int(0, 2 ** 32 - 1)),
      updateMasks: Array.from({ length: n() }, () => int(0, 2 ** 32 - 1)),
      updateValues: Array.from({ length: n() }, s32),
      bytesValues: Array.from({ length: int(0, 3) }, () => ({ entityId: int(0, 500), field: int(0, 31), value: Uint8Array.from({ length: int(0, 20) }, () => int(0, 255)) })),
    });
    if (r() < 0.5) f.viewHash = BigInt.asUintN(64, BigInt(int(0, 2 ** 32 - 1)) * 4294967296n + BigInt(int(0, 2 ** 32 - 1)));
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

test("non-frame messages go through protobuf-es", () => {
  const b = toBinary(ServerMessageSchema, create(ServerMessageSchema, { kind: { case: "kick", value: { code: 4009, reason: "room full" } } }));
  const d = hand.decode(b);
  assert.equal(d.kind, "other");
  assert.equal((d as { message: { kind: { case: string } } }).message.kind.case, "kick");
});

test("malformed frames throw DecodeError, never something else", () => {
  const f = create(FrameSchema, { tick: 300, baselineTick: 299, updateIds: [1, 2, 3], updateMasks: [1, 1, 1], updateValues: [-1000, 5, 1 << 30] });
  f.viewHash = 5n;
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
