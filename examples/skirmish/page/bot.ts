// The ?bot=1 player: it picks the nearest live enemy where the page draws it, walks towards it
// until it is close, and shoots at that drawn position whenever it is reloaded. The game checks
// a shot against the world at the input's render tick (lag compensation), which is the world
// the page drew, so an aimed shot hits; standing still when close keeps the muzzle exactly
// where the page predicts it, so the bots cannot keep missing each other.

import { Phase, SHOT_RANGE } from "./game.js";
import type { PlayerView, Scene, Stick } from "./game.js";

/** CLOSE is how near (units) the bot walks before it stops to shoot. */
const CLOSE = 8;

/** botStick returns the bot's input for the scene (phase: the match's phase). */
export function botStick(scene: Scene, phase: number): Stick {
  const idle: Stick = { mx: 0, my: 0, ax: 0, ay: 0, fire: false };
  const me = scene.players.find((p) => p.own);
  if (me === undefined || !me.alive) return idle;
  let target: PlayerView | undefined;
  let best = Infinity;
  for (const p of scene.players) {
    if (p.own || !p.alive || p.team === me.team) continue;
    const d = Math.hypot(p.x - me.x, p.y - me.y);
    if (d < best || (d === best && target !== undefined && p.player < target.player)) {
      best = d;
      target = p;
    }
  }
  if (target === undefined) return idle;
  const dx = target.x - me.x;
  const dy = target.y - me.y;
  if (phase !== Phase.playing) return { ...idle, ax: dx, ay: dy };
  const walk = best > CLOSE && best > 0;
  return {
    mx: walk ? dx / best : 0,
    my: walk ? dy / best : 0,
    ax: dx,
    ay: dy,
    fire: me.reload === 0 && best <= SHOT_RANGE && (dx !== 0 || dy !== 0),
  };
}
