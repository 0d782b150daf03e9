// Scenario B's frames for decode benchmarks: 1,000 NPCs + 200 players; each tick ~220
// entities change vx/vy (every player, 2 % of NPCs), ~10 change hp, positions predicted from
// velocity (num 1, den 20) so most need no residual. One generator for the Node (bench-decode.ts) and Chromium (bench-decode-chromium.ts) benchmarks.

import { toBinary } from "@bufbuild/protobuf";
import { StateSchemaSchema } from "../src/gen/ticksync/v1/schema_pb";
import { predictValue } from "../src/predictrule";
import { Mulberry32 } from "../src/rng";
import { arenaProto, compiled, encodeFrame, frameBytes, modelRows } from "../test/helpers";
import type { MirrorRow, ModelEntity, ModelState } from "../test/helpers";

/** ScenarioB is a frame sequence and what applying it must end in. */
export interface ScenarioB {
  npcs: number;
  players: number;
  ticks: number;
  hz: number;
  /** schema is the arena StateSchema, protobuf-encoded (as a welcome carries it). */
  schema: Uint8Array;
  /** frames are ServerMessage bytes: a full snapshot, then one delta per tick from the previous. */
  frames: Uint8Array[];
  /** final is the model's last state, as mirrorRows lists a mirror. */
  final: MirrorRow[];
  changedVelPerTick: number;
  changedHpPerTick: number;
}

/** scenarioB builds the frames (seed 42, as bench-decode.ts). */
export function scenarioB(npcs = 1000, players = 200, ticks = 200, hz = 20): ScenarioB {
  const WORLD = 100000; // 1000 units in 1/100
  const proto = arenaProto(hz);
  const schema = compiled(proto);
  const rng = new Mulberry32(42);
  const mod = (n: number) => rng.next() % n;
  const vel = () => mod(16001) - 8000;

  const step = (e: ModelEntity, turn: boolean): void => {
    const v = e.vals;
    if (turn) {
      v[2] = vel();
      v[3] = vel();
    }
    for (const [p, q] of [[0, 2], [1, 3]]) {
      let x = predictValue(v[p], v[q], 1, hz);
      if (x < 0 || x > WORLD) {
        x = x < 0 ? -x : 2 * WORLD - x; // reflect: the residual the frame carries
        v[q] = -v[q];
      }
      v[p] = x;
    }
  };

  let cur: ModelState = { tick: 1, entities: new Map() };
  for (let i = 1; i <= npcs + players; i++) {
    const npc = i <= npcs;
    const vals = [mod(WORLD + 1), mod(WORLD + 1), vel(), vel(), 100];
    if (!npc) vals.push(i - npcs);
    cur.entities.set(i, { cls: npc ? 0 : 1, gen: 1, vals, bytes: [] });
  }
  const frames: Uint8Array[] = [frameBytes(encodeFrame(schema, null, cur))];
  let changedVel = 0;
  let changedHp = 0;
  for (let t = 2; t <= ticks + 1; t++) {
    const next: ModelState = { tick: t, entities: new Map() };
    for (const [id, e] of cur.entities) {
      const n: ModelEntity = { cls: e.cls, gen: e.gen, vals: [...e.vals], bytes: [] };
      const turn = e.cls === 1 || rng.next() < 0.02 * 2 ** 32;
      if (turn) changedVel++;
      step(n, turn);
      if (rng.next() < 2 ** 32 / 120) {
        n.vals[4] = n.vals[4] === 1 ? 100 : n.vals[4] - 1;
        changedHp++;
      }
      next.entities.set(id, n);
    }
    frames.push(frameBytes(encodeFrame(schema, cur, next, { lastInputSeq: t, withHash: t % 20 === 0 })));
    cur = next;
  }
  return {
    npcs,
    players,
    ticks,
    hz,
    schema: toBinary(StateSchemaSchema, proto),
    frames,
    final: modelRows(cur),
    changedVelPerTick: changedVel / ticks,
    changedHpPerTick: changedHp / ticks,
  };
}
