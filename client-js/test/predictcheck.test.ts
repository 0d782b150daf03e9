// checkPredict against the Go games' predict vectors: the arena demo's predictArena
// (sim/arena/testdata/predict-vectors.json) and the skirmish page's predictSkirmish
// (examples/skirmish/testdata/predict-vectors.json), written by each game's TestPredictVectors
// ("go test ./sim/arena ./examples/skirmish -run TestPredictVectors -update" rewrites them).

import assert from "node:assert/strict";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { predictArena } from "../demo/arena.js";
import { predictSkirmish } from "../../examples/skirmish/page/game.js";
import { PredictVectorsError, checkPredict } from "../src/predictcheck";
import type { CheckPredictOptions, PredictVectors } from "../src/predictcheck";
import type { PredictStep } from "../src/predict";
import { readJSON, repoRoot } from "./helpers";

const arenaVectors = () => readJSON(resolve(repoRoot, "sim/arena/testdata/predict-vectors.json")) as PredictVectors;
const skirmishVectors = () => readJSON(resolve(repoRoot, "examples/skirmish/testdata/predict-vectors.json")) as PredictVectors;

// predictSkirmish predicts the own player's movement, aim, reload and respawn countdown, not hp,
// kills or deaths: those are other players' shots.
const skirmishFields: CheckPredictOptions = {
  fields: ["player", "team", "x", "y", "vx", "vy", "aim_x", "aim_y", "alive", "respawn", "reload", "spawned"],
};

/** compared returns a player tick checkPredict compares: a player with the same entity before, one input, no note. */
function comparedTick(v: PredictVectors, match: number, from: number, player: number): number {
  const ticks = v.matches[match].ticks;
  for (let i = Math.max(from - 1, 1); i < ticks.length; i++) {
    const p = ticks[i].players.find((q) => q.player === player);
    const before = ticks[i - 1].players.find((q) => q.player === player);
    if (p !== undefined && before !== undefined && p.entity !== 0 && p.entity === before.entity && p.inputs.length === 1 && p.note === undefined) return ticks[i].tick;
  }
  throw new Error(`no compared tick for player ${player} from ${from}`);
}

/** nudge wraps step so that at tick (the mirror at tick-1) of the match at hz player's field is one unit off. */
function nudge(step: PredictStep, hz: number, tick: number, player: number, field: string): PredictStep {
  return (row, input, ctx) => {
    step(row, input, ctx);
    if (ctx.tickRate === hz && ctx.mirror?.tick === tick - 1 && row[ctx.cls.ownerCol] === player) row[ctx.cls.byName.get(field)!.col] += 1;
  };
}

describe("predict steps against their Go games", () => {
  test("predictArena agrees with arena at 20 Hz and 7 Hz, bounces included", () => {
    const r = checkPredict(arenaVectors(), predictArena);
    assert.equal(r.mismatch, null, r.mismatch?.message ?? "");
    assert.ok(r.compared > 500, `compared ${r.compared}`);
    // The script joins, leaves and rejoins, and sends no move or two moves in some ticks.
    for (const reason of ["spawn", "despawn", "no input", "several inputs"]) assert.ok((r.skips[reason] ?? 0) > 0, `no ${reason} skip: ${JSON.stringify(r.skips)}`);
    assert.equal(r.skipped, Object.values(r.skips).reduce((a, b) => a + b, 0));
  });

  test("predictSkirmish agrees with skirmish on movement, aim, reload and the respawn countdown", () => {
    const r = checkPredict(skirmishVectors(), predictSkirmish, skirmishFields);
    assert.equal(r.mismatch, null, r.mismatch?.message ?? "");
    assert.ok(r.compared > 500, `compared ${r.compared}`);
    for (const reason of ["spawn", "respawn", "killed", "no input", "several inputs"]) assert.ok((r.skips[reason] ?? 0) > 0, `no ${reason} skip: ${JSON.stringify(r.skips)}`);
  });

  test("predictSkirmish needs the match phase from ctx.mirror: without it, reload is wrong in play", () => {
    const blind: PredictStep = (row, input, ctx) => predictSkirmish(row, input, { ...ctx, mirror: undefined });
    const r = checkPredict(skirmishVectors(), blind, skirmishFields);
    assert.equal(r.mismatch?.field, "reload", r.mismatch?.message ?? "");
  });

  test("the default compares every int field: hp lost to others' shots is a mismatch", () => {
    const r = checkPredict(skirmishVectors(), predictSkirmish);
    assert.equal(r.mismatch?.field, "hp", r.mismatch?.message ?? "");
    assert.ok(r.mismatch !== null && r.mismatch.go < r.mismatch.ts);
  });
});

describe("checkPredict reports the first wrong field", () => {
  test("a one-unit error at one arena tick is reported at that tick, player and field", () => {
    const v = arenaVectors();
    const tick = comparedTick(v, 1, 40, 2); // the 7 Hz match: the match is named too
    const r = checkPredict(v, nudge(predictArena, 7, tick, 2, "vy"));
    assert.ok(r.mismatch !== null);
    const m = r.mismatch;
    assert.deepEqual([m.match, m.tick, m.player, m.field, m.ts - m.go], ["7hz", tick, 2, "vy", 1]);
    const entity = v.matches[1].ticks[tick - 1].players.find((p) => p.player === 2)!.entity;
    assert.equal(m.entity, entity);
    assert.equal(m.message, `7hz: tick ${tick}, player 2, entity ${entity}, field vy: Go ${m.go / 100}, TS ${m.ts / 100} (raw ${m.go}, ${m.ts})`);
    assert.deepEqual(m.input, v.matches[1].ticks[tick - 1].players.find((p) => p.player === 2)!.inputs[0]);
    assert.equal(m.before.length, 6);
    // Every player tick of the 20 Hz match and those before it in the 7 Hz one were compared or skipped.
    const clean = checkPredict(v, predictArena);
    assert.ok(r.compared < clean.compared && r.compared > clean.compared / 2);
  });

  test("a one-unit error at one skirmish tick is reported at that tick, player and field (an int field)", () => {
    const v = skirmishVectors();
    const tick = comparedTick(v, 0, 120, 3);
    const r = checkPredict(v, nudge(predictSkirmish, 30, tick, 3, "aim_y"), skirmishFields);
    const m = r.mismatch;
    assert.ok(m !== null);
    assert.deepEqual([m.match, m.tick, m.player, m.field, m.ts - m.go], ["2v1", tick, 3, "aim_y", 1]);
    assert.match(m.message, new RegExp(`^2v1: tick ${tick}, player 3, entity \\d+, field aim_y: Go -?\\d+, TS -?\\d+$`));
  });

  test("a field left out of opts.fields is not compared; an unknown one is an error", () => {
    const v = skirmishVectors();
    const tick = comparedTick(v, 0, 120, 3);
    const r = checkPredict(v, nudge(predictSkirmish, 30, tick, 3, "kills"), skirmishFields);
    assert.equal(r.mismatch, null);
    assert.throws(() => checkPredict(v, predictSkirmish, { fields: ["x", "speed"] }), /class player has no int field "speed"/);
    assert.throws(() => checkPredict(v, predictSkirmish, { fields: ["name"] }), /no int field "name"/);
  });
});

describe("vectors checkPredict cannot use are clear errors", () => {
  const cases: [string, (v: any) => unknown, RegExp][] = [
    ["not an object", () => [1, 2], /the file: want an object/],
    ["another format", (v) => ({ ...v, format: "something/2" }), /format "something\/2", want "ticksync-predict-vectors\/1"/],
    ["no matches", (v) => ({ ...v, matches: [] }), /no matches/],
    ["a tick without a frame", (v) => (delete v.matches[0].ticks[3].frame, v), /matches\[0\]\.ticks\[3\]\.frame: want a string, have nothing/],
    ["ticks out of order", (v) => (v.matches[0].ticks.splice(5, 1), v), /matches\[0\]\.ticks\[5\]\.tick: 7, want 6/],
    ["inputs that are not numbers", (v) => ((v.matches[0].ticks[9].players[0].inputs = [["1", 2]]), v), /ticks\[9\]\.players\[0\]\.inputs\[0\]: want an array of integers/],
    ["a frame that is not base64", (v) => ((v.matches[0].ticks[2].frame = "%%%"), v), /tick 3: frame: not base64/],
    ["a frame of another tick", (v) => ((v.matches[0].ticks[4].frame = v.matches[0].ticks[5].frame), v), /tick 5: frame: the frame is of tick 6/],
    ["a tick rate of 0", (v) => ((v.matches[0].tick_rate = 0), v), /tick_rate: 0 is not a tick rate/],
    ["an input of the wrong length", (v) => (v.matches[0].ticks[9].players[0].inputs[0].push(0), v), /tick 10: player \d+: an input of the wrong length/],
    ["an entity the player does not own", (v) => ((v.matches[0].ticks[9].players[0].entity = 1), v), /tick 10: player \d+: entity 1 is not a live entity it owns/],
  ];
  for (const [name, breakIt, want] of cases) {
    test(name, () => {
      const v = breakIt(arenaVectors());
      assert.throws(
        () => checkPredict(v, predictArena),
        (e: unknown) => e instanceof PredictVectorsError && want.test(e.message),
      );
    });
  }
});
