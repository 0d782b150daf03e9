// Compiling the welcome's schema; quantizing inputs.

import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { InputSchemaSchema } from "../src/gen/ticksync/v1/schema_pb";
import { SchemaError, compileSchema, dequantize, quantize } from "../src/schema";
import { arenaProto, stateSchema } from "./helpers";
import type { FieldDecl } from "./helpers";

test("arena schema: columns, prediction wiring, owner", () => {
  const s = compileSchema(arenaProto(20));
  assert.equal(s.stride, 6);
  assert.equal(s.bstride, 0);
  const p = s.classByName.get("player")!;
  assert.equal(p.index, 1);
  assert.deepEqual(Array.from(p.predictFrom), [2, 3, -1, -1, -1, -1]);
  assert.deepEqual(Array.from(p.predictDen), [20, 20, 0, 0, 0, 0]);
  assert.equal(p.ownerCol, 5);
  assert.equal(s.classByName.get("npc")!.ownerCol, -1);
  assert.equal(p.intMask, 0b111111);
});

test("bytes fields get their own columns; masks skip them", () => {
  const s = compileSchema(stateSchema([{ name: "c", fields: [{ name: "a" }, { name: "tag", type: "bytes" }, { name: "b", type: "bool" }] }]));
  const c = s.classes[0];
  assert.deepEqual(c.fields.map((f) => [f.name, f.col]), [["a", 0], ["tag", 0], ["b", 1]]);
  assert.equal(c.intMask, 0b101);
  assert.deepEqual(Array.from(c.intIndex), [0, 2]);
  assert.equal(s.bstride, 1);
});

test("unusable schemas are refused with SchemaError", () => {
  const bad: [string, { name: string; fields: FieldDecl[] }[]][] = [
    ["no class", []],
    ["predicted from a predicted field", [{ name: "c", fields: [{ name: "a", predictFrom: "b", den: 1 }, { name: "b", predictFrom: "c", den: 1 }, { name: "c" }] }]],
    ["denominator 0", [{ name: "c", fields: [{ name: "a", predictFrom: "b", den: 0 }, { name: "b" }] }]],
    ["duplicate", [{ name: "c", fields: [{ name: "a" }, { name: "a" }] }]],
    ["too many fields", [{ name: "c", fields: Array.from({ length: 33 }, (_, i) => ({ name: `f${i}` })) }]],
    ["fixed without scale", [{ name: "c", fields: [{ name: "a", type: "fixed", scale: 0 }] }]],
    ["bytes without max length", [{ name: "c", fields: [{ name: "a", type: "bytes", maxLen: 0 }] }]],
    ["min > max", [{ name: "c", fields: [{ name: "a", min: 2, max: 1 }] }]],
  ];
  for (const [why, classes] of bad) assert.throws(() => compileSchema(stateSchema(classes)), SchemaError, why);
  const oob = stateSchema([{ name: "c", fields: [{ name: "a" }] }]);
  oob.classes[0].fields[0].predictFrom = 5;
  oob.classes[0].fields[0].predictDen = 1;
  assert.throws(() => compileSchema(oob), /out of range/);
});

test("quantize: scale, round, clamp, bool; dequantize", () => {
  const input = create(InputSchemaSchema, {
    fields: stateSchema([{ name: "i", fields: [{ name: "vx", type: "fixed", scale: 100, min: -20000, max: 20000 }, { name: "fire", type: "bool", min: 0, max: 1 }, { name: "n" }] }]).classes[0].fields,
  });
  const s = compileSchema(stateSchema([{ name: "c", fields: [{ name: "a" }] }]), input);
  const [vx, fire, n] = s.input;
  assert.equal(quantize(vx, 1.234), 123);
  assert.equal(quantize(vx, -0.125), -12); // Math.round: -12.5 → -12
  assert.equal(quantize(vx, 1e9), 20000);
  assert.equal(quantize(vx, -1e9), -20000);
  assert.equal(quantize(vx, NaN), 0);
  assert.equal(quantize(fire, true), 1);
  assert.equal(quantize(fire, 0), 0);
  assert.equal(quantize(fire, 7), 1);
  assert.equal(quantize(n, 1e12), 2147483647);
  assert.equal(quantize(n, -1e12), -2147483648);
  assert.equal(dequantize(vx, 150), 1.5);
  assert.equal(dequantize(n, 150), 150);
});
