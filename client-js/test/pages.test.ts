// The pages' pure layout helpers: where the demo puts a player's label, and how the replay
// viewer lays marks on its seek bar.

import assert from "node:assert/strict";
import { test } from "node:test";
import { labelBox } from "../demo/view";
import { groupMarks } from "../viewer/markbar";

test("labelBox: above the circle when there is room, centred", () => {
  assert.deepEqual(labelBox("P1", 100, 100, 10, 4, 20, 12, 400, 300), { text: "P1", x: 90, y: 74, w: 20, h: 12 });
});

test("labelBox: below the circle at the top edge", () => {
  // Above would start at 20 - 10 - 4 - 12 = -6: off the canvas.
  assert.deepEqual(labelBox("P1", 100, 20, 10, 4, 20, 12, 400, 300), { text: "P1", x: 90, y: 34, w: 20, h: 12 });
  // Exactly fits above.
  assert.equal(labelBox("P1", 100, 26, 10, 4, 20, 12, 400, 300).y, 0);
});

test("labelBox: moved sideways to stay inside the canvas", () => {
  assert.equal(labelBox("P1", 3, 100, 10, 4, 20, 12, 400, 300).x, 0);
  assert.equal(labelBox("P1", 398, 100, 10, 4, 20, 12, 400, 300).x, 380);
});

test("labelBox: inside every canvas that can hold it, wherever the circle is", () => {
  for (const [width, height] of [[400, 300], [60, 40], [20, 12]]) {
    for (let cx = -5; cx <= width + 5; cx += 3) {
      for (let cy = -5; cy <= height + 5; cy += 3) {
        const b = labelBox("P7", cx, cy, 6, 3, 20, 12, width, height);
        assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.w <= width && b.y + b.h <= height, `${JSON.stringify(b)} in ${width}×${height}`);
      }
    }
  }
});

test("groupMarks: marks one tick apart share a marker, the others stand alone", () => {
  const marks = [{ tick: 1 }, { tick: 100 }, { tick: 101 }, { tick: 150 }];
  const groups = groupMarks(marks, 1, 200, 270, 18);
  assert.deepEqual(groups.map((g) => g.marks.map((m) => m.tick)), [[1], [100, 101], [150]]);
  assert.deepEqual(groups.map((g) => Math.round(g.x)), [0, 134, 202]);
  // A wide enough bar keeps them apart.
  assert.equal(groupMarks(marks, 1, 200, 199 * 20, 18).length, 4);
});

test("groupMarks: markers stand at least gap apart, every mark in one group, in tick order", () => {
  const marks = Array.from({ length: 300 }, (_, i) => ({ tick: 1 + ((i * 7919) % 1000) }));
  for (const width of [50, 270, 1000, 5000]) {
    const groups = groupMarks(marks, 1, 1000, width, 14);
    for (let i = 1; i < groups.length; i++) assert.ok(groups[i].x - groups[i - 1].x >= 14, `width ${width}: group ${i}`);
    const ticks = groups.flatMap((g) => g.marks.map((m) => m.tick));
    assert.deepEqual(ticks, marks.map((m) => m.tick).sort((a, b) => a - b));
  }
});
