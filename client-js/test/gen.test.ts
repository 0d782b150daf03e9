// The generated TypeScript of arena and skirmish (`gen ts`: demo/gen/arena.ts,
// examples/skirmish/page/gen/skirmish.ts) against the schemas their Go games send, as the
// committed predict vectors hold them: checkSchema accepts the real schema and names the first
// difference of a changed one; the metadata and columns are the compiled schema's; the
// accessors type a mirror's entities.

import assert from "node:assert/strict";
import { resolve } from "node:path";
import { test } from "node:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import type { InputSchema, StateSchema } from "../src/gen/ticksync/v1/schema_pb.js";
import { FieldSpecSchema, FieldType, InputSchemaSchema, StateSchemaSchema } from "../src/gen/ticksync/v1/schema_pb.js";
import { FrameData, Mirror, compileSchema, frameFromProto } from "../src/index.js";
import type { Schema } from "../src/index.js";
import * as arena from "../demo/gen/arena.js";
import * as skirmish from "../../examples/skirmish/page/gen/skirmish.js";
import { DEFAULT_WORLD, worldOf } from "../demo/arena.js";
import { b64, encodeFrame, readJSON, repoRoot } from "./helpers";

/** wire reads a game's welcome schemas from its committed predict vectors (first match). */
function wire(path: string): { state: StateSchema; input: InputSchema } {
  const v = readJSON(resolve(repoRoot, path)) as { matches: { state_schema: string; input_schema: string }[] };
  return { state: fromBinary(StateSchemaSchema, b64(v.matches[0].state_schema)), input: fromBinary(InputSchemaSchema, b64(v.matches[0].input_schema)) };
}

const arenaWire = () => wire("sim/arena/testdata/predict-vectors.json");
const skirmishWire = () => wire("examples/skirmish/testdata/predict-vectors.json");

/** changed compiles the arena schema after edit changed its wire form. */
function changed(edit: (s: { state: StateSchema; input: InputSchema }) => void): Schema {
  const w = arenaWire();
  edit(w);
  return compileSchema(w.state, w.input);
}

test("checkSchema accepts the schema each game sends", () => {
  const a = arenaWire();
  const s = skirmishWire();
  arena.checkSchema(compileSchema(a.state, a.input));
  skirmish.checkSchema(compileSchema(s.state, s.input));
});

test("checkSchema names the first difference", () => {
  const player = (w: { state: StateSchema }) => w.state.classes[1];
  const cases: [string, (w: { state: StateSchema; input: InputSchema }) => void, string][] = [
    ["a field's kind", (w) => (player(w).fields[0].type = FieldType.INT), 'class "player": field "x": kind is int, expected fixed'],
    ["a renamed field", (w) => (player(w).fields[4].name = "health"), 'class "player": field 4 is "health", expected "hp"'],
    ["a missing field", (w) => player(w).fields.pop(), 'class "player": field "player" is missing'],
    ["a new field", (w) => player(w).fields.push(create(FieldSpecSchema, { name: "score", type: FieldType.INT })), 'class "player": field "score" is not in this page\'s schema'],
    ["a scale", (w) => (player(w).fields[2].scale = 10), 'class "player": field "vx": scale is 10, expected 100'],
    ["interpolation", (w) => (player(w).fields[0].interpolate = false), 'class "player": field "x": interpolate is false, expected true'],
    ["the owner", (w) => (player(w).fields[5].owner = false), 'class "player": field "player": owner is false, expected true'],
    ["the classes' order", (w) => w.state.classes.reverse(), 'class 0 is "player", expected "npc"'],
    ["a new class", (w) => w.state.classes.push(create(StateSchemaSchema, { classes: [{ name: "bullet", fields: [] }] }).classes[0]), 'class "bullet" is not in this page\'s schema'],
    ["an input field", (w) => (w.input.fields[1].name = "dy"), 'input: field 1 is "dy", expected "vy"'],
  ];
  for (const [what, edit, want] of cases) {
    const s = changed(edit);
    assert.equal(arena.schemaDifference(s), want, what);
    assert.throws(() => arena.checkSchema(s), (e: unknown) => e instanceof arena.SchemaMismatch && e.message.includes(want) && e.message.includes("gen ts -game arena"), what);
  }
  const s = skirmishWire();
  assert.equal(arena.schemaDifference(compileSchema(s.state, s.input)), 'class 0 is "match", expected "npc"', "another game");
});

test("ranges and prediction ratios may follow the config and tick rate", () => {
  // A room with {"world": 300} at 7 Hz: x and y end at 30000, positions predicted at 1/7.
  const s = changed((w) => {
    for (const c of w.state.classes) {
      for (const f of c.fields.slice(0, 2)) {
        f.max = 30000;
        f.predictDen = 7;
      }
    }
  });
  assert.equal(arena.schemaDifference(s), undefined);
  assert.equal(s.classes[arena.PlayerMeta.index].fields[arena.PlayerMeta.fields.x.index].max, 30000);
  // The demo draws that world: 300 units; the default config's is 1000, another game's too.
  assert.equal(worldOf(s), 300);
  const a = arenaWire();
  assert.equal(worldOf(compileSchema(a.state, a.input)), 1000);
  const k = skirmishWire();
  assert.equal(worldOf(compileSchema(k.state, k.input)), DEFAULT_WORLD, "a skirmish recording in the viewer");
  assert.equal(worldOf(null), DEFAULT_WORLD);
});

test("metadata and columns are the compiled schema's", () => {
  for (const [w, metas, input, cols] of [
    [arenaWire(), [arena.NpcMeta, arena.PlayerMeta], arena.InputMeta, { player: arena.PlayerCol }],
    [skirmishWire(), [skirmish.MatchMeta, skirmish.PlayerMeta, skirmish.ShotMeta], skirmish.InputMeta, { player: skirmish.PlayerCol }],
  ] as const) {
    const s = compileSchema(w.state, w.input);
    for (const m of metas) {
      const c = s.classes[m.index];
      assert.equal(c.name, m.name);
      for (const [name, f] of Object.entries(m.fields) as [string, { index: number; kind: string; col: number; min?: number; max?: number }][]) {
        const got = c.fields[f.index];
        assert.deepEqual([got.name, got.kind, got.col], [name, f.kind, f.col], `${m.name}.${name}`);
        if (f.max !== undefined) assert.deepEqual([got.min, got.max], [f.min, f.max], `${m.name}.${name} range`);
        else assert.equal(got.hasRange, false, `${m.name}.${name} has no range`);
      }
    }
    for (const [name, f] of Object.entries(input) as [string, { index: number; col: number }][]) assert.equal(s.input[f.index].name, name);
    const player = s.classByName.get("player");
    assert.ok(player !== undefined);
    for (const [name, col] of Object.entries(cols.player)) assert.equal(player.byName.get(name)?.col, col, `player column ${name}`);
  }
});

test("accessors type a mirror's entities by class", () => {
  const w = arenaWire();
  const s = compileSchema(w.state, w.input);
  const m = new Mirror(s);
  // One snapshot: an NPC (id 3) and a player (id 7), int columns in column order.
  const entities = new Map([
    [3, { cls: 0, gen: 1, vals: [150, 250, 10, -10, 99], bytes: [] }],
    [7, { cls: 1, gen: 1, vals: [30000, 40050, 2000, 0, 100, 42], bytes: [] }],
  ]);
  m.apply(frameFromProto(encodeFrame(s, null, { tick: 5, entities }), new FrameData()));
  const players = arena.playerEntities(m);
  assert.deepEqual(players.map((p) => [p.id, p.className, p.x, p.y, p.vx, p.hp, p.player]), [[7, "player", 300, 400.5, 20, 100, 42]]);
  assert.deepEqual(arena.npcEntities(m).map((n) => [n.id, n.x, n.hp]), [[3, 1.5, 99]]);
  assert.equal(arena.asPlayer(m.entity(3)), undefined, "an NPC is no player");
  assert.equal(arena.asNpc(m.entity(3))?.y, 2.5);
  assert.equal(arena.asPlayer(undefined), undefined);
});
