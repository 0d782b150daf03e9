// Scenario D's views, end to end through @colyseus/schema without sockets: the room's state
// (ViewArenaState), the Interest grid, one StateView per client, and the encode sequence of
// Colyseus' SchemaSerializer (shared encode once, then encodeView per client; encodeAll +
// encodeAllView for a client that joins late). Each client decodes its own bytes with a
// Reflection decoder, as the SDK does, and after every tick must hold EXACTLY the entities in
// the cells it sees (own player included), with the server's values: an entity outside never
// arrives, one that left is gone.
//
// Run: npm test (esbuild, then node --test).

import assert from "node:assert/strict";
import { test } from "node:test";
import { Decoder, Encoder, type Iterator, Reflection, StateView } from "@colyseus/schema";
import { mulberry32 } from "./common.ts";
import { Grid } from "./grid.ts";
import { Interest, type Mob, type Watcher } from "./interest.ts";
import { type Entity, move, newNpc, stepNpc, ViewArenaState } from "./world.ts";

const WORLD = 1000;
const CELL = 100;
const VIEW = 300;
const NPCS = 600;
const DT = 1 / 20;

interface Client {
  key: string;
  mob: Mob;
  w: Watcher;
  decoder: Decoder;
}

test("each client holds exactly the entities of its cells, tick after tick", () => {
  Encoder.BUFFER_SIZE = 256 * 1024;
  const r = mulberry32(42);
  const state = new ViewArenaState();
  const grid = new Grid(WORLD, CELL);
  const interest = new Interest(grid, VIEW / 2);
  const keyOf = new Map<Entity, string>();
  const npcs: Entity[] = [];
  for (let i = 0; i < NPCS; i++) {
    const e = newNpc(r, WORLD);
    state.entities.set(String(i), e);
    keyOf.set(e, String(i));
    npcs.push(e);
    interest.track(e);
  }
  const encoder = new Encoder(state);
  const handshake = Reflection.encode(encoder);
  const clients: Client[] = [];

  // A player joins: entity into the state, onto the grid, a StateView filled around it; the
  // client then gets the full state as Colyseus' getFullState builds it.
  const join = (i: number) => {
    const e = newNpc(r, WORLD);
    e.vx = 0;
    e.vy = 0;
    e.seq = 0;
    const key = `p${i}`;
    state.entities.set(key, e);
    keyOf.set(e, key);
    const mob = interest.track(e);
    const w = interest.watch(new StateView(), mob);
    const decoder = Reflection.decode(handshake);
    const it: Iterator = { offset: 0 };
    encoder.encodeAll(it);
    decoder.decode(encoder.encodeAllView(w.view, it.offset, { ...it }));
    const c = { key, mob, w, decoder };
    clients.push(c);
    checkClient(c, `join of ${key}`); // the full state holds exactly its view already
  };

  // One tick: players steer at random, everything moves, views follow, then one patch.
  const tick = () => {
    for (const c of clients) {
      if (r() < 0.2) {
        c.mob.e.vx = r() * 400 - 200;
        c.mob.e.vy = r() * 400 - 200;
        c.mob.e.seq = (c.mob.e.seq ?? 0) + 1;
      }
    }
    for (const e of npcs) stepNpc(e, r, DT, WORLD);
    for (const c of clients) move(c.mob.e, DT, WORLD);
    interest.update();
    const it: Iterator = { offset: 1 };
    encoder.encode(it);
    const shared = it.offset;
    for (const c of clients) c.decoder.decode(encoder.encodeView(c.w.view, shared, it), { offset: 1 });
    encoder.discardChanges();
  };

  // Right after a tick's patch (or a join's full state): the client's mirror is its view.
  const checkClient = (c: Client, at: string) => {
    const want = new Set<string>();
    for (const [e, key] of keyOf) if (grid.has(c.w.rect, grid.cellAt(e.x, e.y))) want.add(key);
    const held = (c.decoder.state as any).entities as Map<string, any>;
    const got = new Set<string>(held.keys());
    assert.ok(got.has(c.key), `${at}: ${c.key} does not hold its own player`);
    const extra = [...got].filter((k) => !want.has(k));
    const missing = [...want].filter((k) => !got.has(k));
    assert.deepEqual(extra, [], `${at}: ${c.key} holds entities outside its view`);
    assert.deepEqual(missing, [], `${at}: ${c.key} misses entities in its view`);
    for (const key of got) {
      const s = state.entities.get(key)!;
      const d = held.get(key);
      assert.deepEqual([d.x, d.y, d.vx, d.vy, d.hp], [s.x, s.y, s.vx, s.vy, s.hp], `${at}: ${c.key} holds ${key}`);
    }
  };
  const check = (t: number) => {
    for (const c of clients) checkClient(c, `tick ${t}`);
  };

  for (let i = 0; i < 6; i++) join(i);
  let entered = 0;
  let left = 0;
  for (let t = 1; t <= 200; t++) {
    const adds = interest.adds;
    const removes = interest.removes;
    if (t === 50) join(6); // late join: full state with its view, then patches
    tick();
    if (t > 50) {
      entered += interest.adds - adds;
      left += interest.removes - removes;
    }
    check(t);
  }
  // The test means something only if views really changed under way.
  assert.ok(entered > 50 && left > 50, `views barely moved: ${entered} adds, ${left} removes`);
  // And a client far from most of the world holds only part of it.
  for (const c of clients) {
    const n = ((c.decoder.state as any).entities as Map<string, any>).size;
    assert.ok(n < (NPCS + clients.length) / 2, `${c.key} holds ${n} entities`);
  }
});
