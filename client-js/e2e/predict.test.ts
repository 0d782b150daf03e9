// The demo's predict step against arena's own scenario scripts (sim/arena/testdata/*.txt):
// replaying the scripts' player moves through predictArena must give the values the Go
// tests expect, bounces and truncation included. No browser: it runs with the e2e tests
// because it tests the demo.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { predictArena, move } from "../demo/arena.js";
import { PlayerMeta } from "../demo/gen/arena.js";
import { create } from "@bufbuild/protobuf";
import { FieldType, InputSchemaSchema } from "../src/gen/ticksync/v1/schema_pb.js";
import { compileSchema } from "../src/index.js";
import type { PredictContext } from "../src/index.js";
import { arenaProto } from "../test/helpers.js";
import { repoRoot } from "./harness.js";

/** WORLD is the scripts' world side in 1/100 units: arena's default config (the generated x range). */
const WORLD = PlayerMeta.fields.x.max;

interface Player {
  row: Int32Array; // x, y, vx, vy, hp, player (arena's int columns)
  moves: [number, number][];
}

function run(name: string): number {
  const text = readFileSync(join(repoRoot, "sim/arena/testdata", name), "utf8");
  let hz = 20;
  let ctx: PredictContext | null = null;
  const context = (): PredictContext => {
    if (ctx === null || ctx.tickRate !== hz) {
      // arena's input schema: vx, vy (fixed, scale 100, ±200 units/s)
      const axis = (name: string) => ({ name, type: FieldType.FIXED, scale: 100, hasRange: true, min: -20000, max: 20000 });
      // and its x and y ranges: the world predictArena bounces off.
      const state = arenaProto(hz);
      for (const c of state.classes) for (const f of c.fields.slice(0, 2)) Object.assign(f, { hasRange: true, min: 0, max: WORLD });
      const schema = compileSchema(state, create(InputSchemaSchema, { fields: [axis("vx"), axis("vy")] }));
      const cls = schema.classByName.get("player");
      assert.ok(cls !== undefined);
      ctx = { cls, schema, tickRate: hz };
    }
    return ctx;
  };
  const players = new Map<number, Player>();
  let checks = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const [cmd, ...args] = line.split(/\s+/);
    const at = `${name}:${i + 1}`;
    switch (cmd) {
      case "hz":
        hz = Number(args[0]);
        break;
      case "join":
        players.set(Number(args[0]), { row: Int32Array.from([0, 0, 0, 0, 100, Number(args[0])]), moves: [] });
        break;
      case "leave":
        players.delete(Number(args[0]));
        break;
      case "place": {
        const p = players.get(Number(args[0]));
        if (p !== undefined) [p.row[0], p.row[1]] = [Number(args[1]), Number(args[2])];
        break;
      }
      case "move":
        players.get(Number(args[0]))?.moves.push([Number(args[1]), Number(args[2])]);
        break;
      case "tick": {
        const n = args.length > 0 ? Number(args[0]) : 1;
        for (let t = 0; t < n; t++) {
          for (const p of players.values()) {
            const last = p.moves[p.moves.length - 1];
            p.moves.length = 0;
            if (last !== undefined) predictArena(p.row, Int32Array.from(last), context());
            else {
              [p.row[0], p.row[2]] = move(p.row[0], p.row[2], hz, WORLD);
              [p.row[1], p.row[3]] = move(p.row[1], p.row[3], hz, WORLD);
            }
          }
        }
        break;
      }
      case "expect": {
        const p = players.get(Number(args[0]));
        assert.ok(p !== undefined, `${at}: player ${args[0]} not in the match`);
        for (const kv of args.slice(1)) {
          const [k, v] = kv.split("=");
          const col = ["x", "y", "vx", "vy", "hp", "player"].indexOf(k);
          assert.ok(col >= 0, `${at}: unknown field ${k}`);
          assert.equal(p.row[col], Number(v), `${at}: ${k}`);
          checks++;
        }
        break;
      }
      default:
        break; // npcs, seed, expect-count, expect-absent: not about the player's movement
    }
  });
  return checks;
}

for (const name of ["players.txt", "borders.txt"]) {
  test(`predictArena reproduces sim/arena/testdata/${name}`, () => {
    assert.ok(run(name) > 0, "the script checked nothing");
  });
}

test("predictArena bounces off every border like arena's move", () => {
  const hz = 20;
  // Table: from (p, v) one tick later, as arena.go's move computes it.
  const cases: [number, number, number, number][] = [
    [10, -400, 10, 400], // -10 → 10, velocity flipped
    [99990, 8000, 99610, -8000],
    [0, -20000, 1000, 20000],
    [100000, 20000, 99000, -20000],
    [50, -19, 50, -19], // trunc(-19/20) = 0
    [50, -21, 49, -21], // trunc(-21/20) = -1
  ];
  for (const [p, v, wp, wv] of cases) assert.deepEqual(move(p, v, hz, WORLD), [wp, wv], `move(${p}, ${v})`);
});
