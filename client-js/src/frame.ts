// FrameData is a decoded Frame in reusable typed arrays: what both decoders produce and what the
// mirror applies. Ids are absolute (the decoders undo the delta coding, which restarts in each
// piece of a frame with pieces).

/** GameEventData is one game event (Frame.events): a one-off message from the game's Step. */
export interface GameEventData {
  /** tick is the tick whose Step emitted it. */
  readonly tick: number;
  /** kind is the game's event kind. */
  readonly kind: number;
  /** values are the game's integers for the event. */
  readonly values: number[];
  /** data is the game's bytes for the event (empty when none; a copy the caller may keep). */
  readonly data: Uint8Array;
}

/** MatchResultData is how the game ended the match (Frame.result). */
export interface MatchResultData {
  /** tick is the tick at which the game ended the match. */
  readonly tick: number;
  /** winners are the winning players (empty: none, a draw). */
  readonly winners: number[];
  /** summary is a short human-readable result ("red wins 5-3"). */
  readonly summary: string;
  /** data is the game's own result (empty when none; a copy the caller may keep). */
  readonly data: Uint8Array;
}

/**
 * NO_EVENTS is the events of every frame without any: shared and frozen, so the common frame
 * allocates nothing for events.
 */
export const NO_EVENTS: readonly GameEventData[] = Object.freeze([]);

/**
 * FramePartData holds the entity changes of one part of a frame: a Frame's own fields 4 to 11, or
 * one FramePiece (fields 1 to 8, laid out the same way). Ids are absolute, ascending within the
 * part. Its arrays are reused from frame to frame.
 */
export class FramePartData {
  /** despawnIds[0..nDespawn) are absolute ids, ascending. */
  despawnIds: Float64Array = new Float64Array(16);
  nDespawn = 0;
  spawnIds: Float64Array = new Float64Array(16);
  nSpawn = 0;
  spawnClasses: Uint32Array = new Uint32Array(16);
  nSpawnClasses = 0;
  spawnValues: Int32Array = new Int32Array(64);
  nSpawnValues = 0;
  updateIds: Float64Array = new Float64Array(16);
  nUpdate = 0;
  updateMasks: Uint32Array = new Uint32Array(16);
  nUpdateMasks = 0;
  updateValues: Int32Array = new Int32Array(64);
  nUpdateValues = 0;
  /** bytes values: entity id, field index and the value (a view: copy before keeping it). */
  bytesIds: Float64Array = new Float64Array(4);
  bytesFields: Uint32Array = new Uint32Array(4);
  bytesValues: Uint8Array[] = [];
  nBytes = 0;

  /** resetPart empties the part's entity changes, keeping its arrays. */
  resetPart(): void {
    this.nDespawn = 0;
    this.nSpawn = 0;
    this.nSpawnClasses = 0;
    this.nSpawnValues = 0;
    this.nUpdate = 0;
    this.nUpdateMasks = 0;
    this.nUpdateValues = 0;
    this.nBytes = 0;
    this.bytesValues.length = 0;
  }

  /** pushBytes appends one bytes value. */
  pushBytes(id: number, field: number, value: Uint8Array): void {
    if (this.nBytes === this.bytesIds.length) {
      this.bytesIds = growF64(this.bytesIds, this.nBytes + 1);
      this.bytesFields = growU32(this.bytesFields, this.nBytes + 1);
    }
    this.bytesIds[this.nBytes] = id;
    this.bytesFields[this.nBytes] = field;
    this.bytesValues[this.nBytes] = value;
    this.nBytes++;
  }
}

/**
 * FrameData holds one decoded Frame. Its arrays are reused from frame to frame. Its own entity
 * changes are the FramePartData it extends; a frame of a room with views may add pieces
 * (Frame.pieces), and the frame's content is then the union of its own part and every piece.
 */
export class FrameData extends FramePartData {
  tick = 0;
  baselineTick = 0;
  lastInputSeq = 0;
  hasViewHash = false;
  /** viewHashHi and viewHashLo are the view hash's uint32 halves. */
  viewHashHi = 0;
  viewHashLo = 0;
  /**
   * events are the frame's game events in order (NO_EVENTS when none). A frame with events gets
   * a new array: it may be kept. Frames repeat events when the client's acknowledgement lags
   * (they carry the ticks after their baseline); Client's "event" emits each once.
   */
  events: readonly GameEventData[] = NO_EVENTS;
  /** result is the match result when the frame carries one (every frame after the match ended). */
  result: MatchResultData | null = null;
  /** pieces[0..nPieces) are the frame's pieces (Frame.pieces), in wire order; the objects are reused. */
  pieces: FramePartData[] = [];
  nPieces = 0;

  /** reset empties the frame, keeping its arrays. */
  reset(): void {
    this.resetPart();
    this.tick = 0;
    this.baselineTick = 0;
    this.lastInputSeq = 0;
    this.hasViewHash = false;
    this.viewHashHi = 0;
    this.viewHashLo = 0;
    this.events = NO_EVENTS;
    this.result = null;
    this.nPieces = 0;
  }

  /** addPiece appends an empty piece (reusing an earlier frame's arrays) and returns it. */
  addPiece(): FramePartData {
    let p = this.pieces[this.nPieces];
    if (p === undefined) {
      p = new FramePartData();
      this.pieces.push(p);
    } else p.resetPart();
    this.nPieces++;
    return p;
  }

  /** part returns part i of the frame: 0 is its own fields, i > 0 is pieces[i-1] (i <= nPieces). */
  part(i: number): FramePartData {
    return i === 0 ? this : this.pieces[i - 1];
  }

  /** pushEvent appends one game event (the first of a frame allocates its array). */
  pushEvent(ev: GameEventData): void {
    if (this.events === NO_EVENTS) this.events = [ev];
    else (this.events as GameEventData[]).push(ev);
  }
}

/** growF64 returns an array of at least need elements holding a's contents. */
export function growF64(a: Float64Array, need: number): Float64Array {
  if (need <= a.length) return a;
  const b = new Float64Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/** growU32 returns an array of at least need elements holding a's contents. */
export function growU32(a: Uint32Array, need: number): Uint32Array {
  if (need <= a.length) return a;
  const b = new Uint32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/** growI32 returns an array of at least need elements holding a's contents. */
export function growI32(a: Int32Array, need: number): Int32Array {
  if (need <= a.length) return a;
  const b = new Int32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}
