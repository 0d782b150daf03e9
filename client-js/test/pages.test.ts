// The pages' pure layout helpers: where the demo puts a player's label.

import assert from "node:assert/strict";
import { test } from "node:test";
import { labelBox } from "../demo/view";

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
