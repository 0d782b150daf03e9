// The seek bar's marks laid out in pixels: marks that would fall closer together than a marker
// is wide are drawn as one numbered group, so no two markers cover each other.

/** MARK_GAP is the least distance in CSS pixels from one marker on the bar to the next. */
export const MARK_GAP = 18;

/** MarkGroup is marks drawn as one marker, x pixels along the bar (where its first mark is). */
export interface MarkGroup<M> {
  x: number;
  marks: M[];
}

/**
 * groupMarks lays marks on a bar width pixels wide that spans ticks first..last. In tick order,
 * a mark less than gap pixels after the first mark of the group before it joins that group;
 * otherwise it starts a group of its own. So markers stand at least gap pixels apart, and every
 * mark is in exactly one group.
 */
export function groupMarks<M extends { tick: number }>(marks: readonly M[], first: number, last: number, width: number, gap = MARK_GAP): MarkGroup<M>[] {
  const span = Math.max(1, last - first);
  const groups: MarkGroup<M>[] = [];
  for (const m of [...marks].sort((a, b) => a.tick - b.tick)) {
    const x = (Math.min(Math.max(m.tick, first), last) - first) * (width / span);
    const g = groups[groups.length - 1];
    if (g !== undefined && x - g.x < gap) g.marks.push(m);
    else groups.push({ x, marks: [m] });
  }
  return groups;
}
