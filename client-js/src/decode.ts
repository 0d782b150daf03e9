// Decoding ServerMessages. Two decoders produce the same FrameData: protobuf-es (fromBinary,
// the reference) and a hand-written reader for the hot path (frames), which decodes straight
// into reusable typed arrays. Other message kinds always go through protobuf-es: they are rare.

import { fromBinary } from "@bufbuild/protobuf";
import { ServerMessageSchema } from "./gen/ticksync/v1/messages_pb.js";
import type { Frame, FramePiece, ServerMessage } from "./gen/ticksync/v1/messages_pb.js";
import { FrameData, growF64, growI32, growU32 } from "./frame.js";
import type { FramePartData, GameEventData } from "./frame.js";

/** DecodeError reports a message that is not valid protobuf for its schema. */
export class DecodeError extends Error {
  override name = "DecodeError";
}

/** DecoderKind names a frame decoder. */
export type DecoderKind = "hand" | "protobuf-es";

/** Decoded is what a decoder makes of one ServerMessage. */
export type Decoded = { kind: "frame"; frame: FrameData } | { kind: "other"; message: ServerMessage };

/** frameFromProto fills out from a protobuf-es Frame (ids made absolute, within each piece). */
export function frameFromProto(f: Frame, out: FrameData): FrameData {
  out.reset();
  out.tick = f.tick;
  out.baselineTick = f.baselineTick;
  out.lastInputSeq = f.lastInputSeq;
  partFromProto(f, out);
  for (const pc of f.pieces) partFromProto(pc, out.addPiece());
  if (f.viewHash !== undefined) {
    out.hasViewHash = true;
    out.viewHashHi = Number((f.viewHash >> 32n) & 0xffffffffn);
    out.viewHashLo = Number(f.viewHash & 0xffffffffn);
  }
  for (let i = 0; i < f.events.length; i++) {
    const ev = f.events[i];
    out.pushEvent({ tick: ev.tick, kind: ev.kind, values: ev.values, data: ev.data.slice() });
  }
  if (f.result !== undefined) {
    const r = f.result;
    out.result = { tick: r.tick, winners: r.winners, summary: r.summary, data: r.data.slice() };
  }
  return out;
}

/** partFromProto fills out's entity changes from a Frame's fields 4..11 or a FramePiece (ids made absolute). */
function partFromProto(f: Frame | FramePiece, out: FramePartData): void {
  out.despawnIds = growF64(out.despawnIds, f.despawnIds.length);
  out.nDespawn = undelta(f.despawnIds, out.despawnIds);
  out.spawnIds = growF64(out.spawnIds, f.spawnIds.length);
  out.nSpawn = undelta(f.spawnIds, out.spawnIds);
  out.spawnClasses = growU32(out.spawnClasses, f.spawnClasses.length);
  out.spawnClasses.set(f.spawnClasses);
  out.nSpawnClasses = f.spawnClasses.length;
  out.spawnValues = growI32(out.spawnValues, f.spawnValues.length);
  out.spawnValues.set(f.spawnValues);
  out.nSpawnValues = f.spawnValues.length;
  out.updateIds = growF64(out.updateIds, f.updateIds.length);
  out.nUpdate = undelta(f.updateIds, out.updateIds);
  out.updateMasks = growU32(out.updateMasks, f.updateMasks.length);
  out.updateMasks.set(f.updateMasks);
  out.nUpdateMasks = f.updateMasks.length;
  out.updateValues = growI32(out.updateValues, f.updateValues.length);
  out.updateValues.set(f.updateValues);
  out.nUpdateValues = f.updateValues.length;
  for (const bv of f.bytesValues) out.pushBytes(bv.entityId, bv.field, bv.value);
}

function undelta(src: readonly number[], dst: Float64Array): number {
  let id = 0;
  for (let i = 0; i < src.length; i++) {
    id += src[i];
    dst[i] = id;
  }
  return src.length;
}

/** ProtobufEsDecoder decodes every message with protobuf-es fromBinary. */
export class ProtobufEsDecoder {
  readonly frame = new FrameData();

  /** decode reads one ServerMessage; it throws DecodeError when the bytes are malformed. */
  decode(b: Uint8Array): Decoded {
    let msg: ServerMessage;
    try {
      msg = fromBinary(ServerMessageSchema, b);
    } catch (e) {
      throw new DecodeError(`malformed server message: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (msg.kind.case === "frame") return { kind: "frame", frame: frameFromProto(msg.kind.value, this.frame) };
    return { kind: "other", message: msg };
  }
}

// Field numbers of ServerMessage and Frame (messages.proto).
const F_SERVER_FRAME = 2;
const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;

/**
 * HandDecoder decodes frames with a hand-written protobuf reader into reusable typed arrays; any
 * other message kind is handed to protobuf-es. It accepts what protobuf-es accepts for Frame:
 * packed and unpacked repeated fields, fields in any order, unknown fields.
 */
export class HandDecoder {
  readonly frame = new FrameData();
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private readonly fallback = new ProtobufEsDecoder();

  /** decode reads one ServerMessage; it throws DecodeError when the bytes are malformed. */
  decode(b: Uint8Array): Decoded {
    // A ServerMessage that holds a frame is exactly one field 2; anything else (another kind,
    // several fields) goes to protobuf-es, which applies the oneof's last-one-wins rule.
    this.buf = b;
    this.pos = 0;
    if (b.length > 0 && b[0] === ((F_SERVER_FRAME << 3) | WT_LEN)) {
      this.pos = 1;
      const len = this.varint();
      const end = this.pos + len;
      if (end === b.length) {
        this.readFrame(end);
        this.buf = new Uint8Array(0);
        return { kind: "frame", frame: this.frame };
      }
      if (end > b.length) throw new DecodeError("truncated frame");
    }
    this.buf = new Uint8Array(0);
    return this.fallback.decode(b);
  }

  private fail(what: string): never {
    throw new DecodeError(`malformed frame: ${what} at byte ${this.pos}`);
  }

  /** varint reads a varint of up to 10 bytes and returns its low 32 bits as a uint32. */
  private varint(): number {
    const buf = this.buf;
    let pos = this.pos;
    let b = buf[pos++];
    let v = b & 0x7f;
    if (b & 0x80) {
      b = buf[pos++];
      v |= (b & 0x7f) << 7;
      if (b & 0x80) {
        b = buf[pos++];
        v |= (b & 0x7f) << 14;
        if (b & 0x80) {
          b = buf[pos++];
          v |= (b & 0x7f) << 21;
          if (b & 0x80) {
            b = buf[pos++];
            v |= b << 28;
            // Bytes 6..10 carry bits above 32: skip them (at most 5 more).
            for (let i = 0; b & 0x80; i++) {
              if (i === 5) {
                this.pos = pos;
                this.fail("varint too long");
              }
              b = buf[pos++];
            }
          }
        }
      }
    }
    if (pos > buf.length) {
      this.pos = pos;
      this.fail("truncated varint");
    }
    this.pos = pos;
    return v >>> 0;
  }

  private skip(wt: number, end: number): void {
    switch (wt) {
      case WT_VARINT:
        this.varint();
        break;
      case WT_I64:
        this.pos += 8;
        break;
      case WT_LEN: {
        const n = this.varint(); // not `this.pos += this.varint()`: that adds to the old pos
        this.pos += n;
        break;
      }
      case WT_I32:
        this.pos += 4;
        break;
      default:
        this.fail(`wire type ${wt}`);
    }
    if (this.pos > end) this.fail("field overruns message");
  }

  /** lenEnd reads a length prefix and returns where the bytes end. */
  private lenEnd(end: number): number {
    const n = this.varint();
    const e = this.pos + n;
    if (e > end) this.fail("length overruns message");
    return e;
  }

  /** ids decodes a packed (or single) delta-coded id list, appending absolute ids. */
  private ids(wt: number, end: number, arr: Float64Array, n: number, set: (a: Float64Array) => void): number {
    let id = n > 0 ? arr[n - 1] : 0;
    if (wt === WT_VARINT) {
      if (n === arr.length) set((arr = growF64(arr, n + 1)));
      id += this.varint();
      arr[n++] = id;
      return n;
    }
    if (wt !== WT_LEN) {
      this.skip(wt, end);
      return n;
    }
    const e = this.lenEnd(end);
    if (n + (e - this.pos) > arr.length) set((arr = growF64(arr, n + (e - this.pos))));
    while (this.pos < e) {
      id += this.varint();
      arr[n++] = id;
    }
    if (this.pos !== e) this.fail("packed field overruns");
    return n;
  }

  private u32s(wt: number, end: number, arr: Uint32Array, n: number, set: (a: Uint32Array) => void): number {
    if (wt === WT_VARINT) {
      if (n === arr.length) set((arr = growU32(arr, n + 1)));
      arr[n++] = this.varint();
      return n;
    }
    if (wt !== WT_LEN) {
      this.skip(wt, end);
      return n;
    }
    const e = this.lenEnd(end);
    if (n + (e - this.pos) > arr.length) set((arr = growU32(arr, n + (e - this.pos))));
    while (this.pos < e) arr[n++] = this.varint();
    if (this.pos !== e) this.fail("packed field overruns");
    return n;
  }

  /** s32s decodes zig-zag sint32 values. The common 1- and 2-byte varints are inlined. */
  private s32s(wt: number, end: number, arr: Int32Array, n: number, set: (a: Int32Array) => void): number {
    if (wt === WT_VARINT) {
      if (n === arr.length) set((arr = growI32(arr, n + 1)));
      const z = this.varint();
      arr[n++] = (z >>> 1) ^ -(z & 1);
      return n;
    }
    if (wt !== WT_LEN) {
      this.skip(wt, end);
      return n;
    }
    const e = this.lenEnd(end);
    if (n + (e - this.pos) > arr.length) set((arr = growI32(arr, n + (e - this.pos))));
    const buf = this.buf;
    while (this.pos < e) {
      const b0 = buf[this.pos];
      let z: number;
      if (b0 < 0x80) {
        z = b0;
        this.pos++;
      } else {
        const b1 = buf[this.pos + 1];
        if (b1 < 0x80 && this.pos + 2 <= e) {
          z = (b0 & 0x7f) | (b1 << 7);
          this.pos += 2;
        } else {
          z = this.varint();
        }
      }
      arr[n++] = (z >>> 1) ^ -(z & 1);
    }
    if (this.pos !== e) this.fail("packed field overruns");
    return n;
  }

  private readFrame(end: number): void {
    const f = this.frame;
    f.reset();
    const buf = this.buf;
    while (this.pos < end) {
      const tag = this.varint();
      const field = tag >>> 3;
      const wt = tag & 7;
      switch (field) {
        case 1:
          if (wt === WT_VARINT) f.tick = this.varint();
          else this.skip(wt, end);
          break;
        case 2:
          if (wt === WT_VARINT) f.baselineTick = this.varint();
          else this.skip(wt, end);
          break;
        case 3:
          if (wt === WT_VARINT) f.lastInputSeq = this.varint();
          else this.skip(wt, end);
          break;
        case 4:
        case 5:
        case 6:
        case 7:
        case 8:
        case 9:
        case 10:
        case 11:
          this.partField(f, field - 3, wt, end);
          break;
        case 12:
          if (wt === WT_I64) {
            const p = this.pos;
            if (p + 8 > end) this.fail("truncated fixed64");
            f.viewHashLo = (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24)) >>> 0;
            f.viewHashHi = (buf[p + 4] | (buf[p + 5] << 8) | (buf[p + 6] << 16) | (buf[p + 7] << 24)) >>> 0;
            f.hasViewHash = true;
            this.pos = p + 8;
          } else this.skip(wt, end);
          break;
        case 13:
          if (wt === WT_LEN) this.gameEvent(this.lenEnd(end));
          else this.skip(wt, end);
          break;
        case 14:
          if (wt === WT_LEN) this.matchResult(this.lenEnd(end));
          else this.skip(wt, end);
          break;
        case 15:
          if (wt === WT_LEN) this.piece(this.lenEnd(end));
          else this.skip(wt, end);
          break;
        default:
          if (field === 0) this.fail("field number 0");
          this.skip(wt, end);
      }
    }
    if (this.pos !== end) this.fail("field overruns frame");
  }

  /**
   * partField decodes field n (1..8: despawn ids … bytes values) of a part: a FramePiece's field n
   * or the Frame's field n+3, which are laid out alike.
   */
  private partField(p: FramePartData, n: number, wt: number, end: number): void {
    switch (n) {
      case 1:
        p.nDespawn = this.ids(wt, end, p.despawnIds, p.nDespawn, (a) => (p.despawnIds = a));
        break;
      case 2:
        p.nSpawn = this.ids(wt, end, p.spawnIds, p.nSpawn, (a) => (p.spawnIds = a));
        break;
      case 3:
        p.nSpawnClasses = this.u32s(wt, end, p.spawnClasses, p.nSpawnClasses, (a) => (p.spawnClasses = a));
        break;
      case 4:
        p.nSpawnValues = this.s32s(wt, end, p.spawnValues, p.nSpawnValues, (a) => (p.spawnValues = a));
        break;
      case 5:
        p.nUpdate = this.ids(wt, end, p.updateIds, p.nUpdate, (a) => (p.updateIds = a));
        break;
      case 6:
        p.nUpdateMasks = this.u32s(wt, end, p.updateMasks, p.nUpdateMasks, (a) => (p.updateMasks = a));
        break;
      case 7:
        p.nUpdateValues = this.s32s(wt, end, p.updateValues, p.nUpdateValues, (a) => (p.updateValues = a));
        break;
      default:
        if (wt === WT_LEN) this.bytesValue(this.lenEnd(end), p);
        else this.skip(wt, end);
    }
  }

  /** piece decodes one FramePiece into a new piece of the frame (ids delta-coded within it). */
  private piece(end: number): void {
    const p = this.frame.addPiece();
    while (this.pos < end) {
      const tag = this.varint();
      const field = tag >>> 3;
      if (field >= 1 && field <= 8) this.partField(p, field, tag & 7, end);
      else {
        if (field === 0) this.fail("field number 0");
        this.skip(tag & 7, end);
      }
    }
    if (this.pos !== end) this.fail("frame piece overruns");
  }

  /** zigzags appends the zig-zag sint32 values of a packed run (or one unpacked value) to out. */
  private zigzags(wt: number, end: number, out: number[]): void {
    if (wt === WT_VARINT) {
      const z = this.varint();
      out.push((z >>> 1) ^ -(z & 1));
      return;
    }
    if (wt !== WT_LEN) {
      this.skip(wt, end);
      return;
    }
    const e = this.lenEnd(end);
    while (this.pos < e) {
      const z = this.varint();
      out.push((z >>> 1) ^ -(z & 1));
    }
    if (this.pos !== e) this.fail("packed field overruns");
  }

  /** copyBytes reads a length-delimited field's bytes as a copy (events outlive the message). */
  private copyBytes(end: number): Uint8Array {
    const e = this.lenEnd(end);
    const b = e > this.pos ? this.buf.slice(this.pos, e) : EMPTY;
    this.pos = e;
    return b;
  }

  /** gameEvent decodes one GameEvent (its recipients, field 5, are not for clients: skipped). */
  private gameEvent(end: number): void {
    let tick = 0;
    let kind = 0;
    const values: number[] = [];
    let data: Uint8Array = EMPTY;
    while (this.pos < end) {
      const tag = this.varint();
      const wt = tag & 7;
      switch (tag >>> 3) {
        case 1:
          if (wt === WT_VARINT) tick = this.varint();
          else this.skip(wt, end);
          break;
        case 2:
          if (wt === WT_VARINT) kind = this.varint();
          else this.skip(wt, end);
          break;
        case 3:
          this.zigzags(wt, end, values);
          break;
        case 4:
          if (wt === WT_LEN) data = this.copyBytes(end);
          else this.skip(wt, end);
          break;
        default:
          if (tag >>> 3 === 0) this.fail("field number 0");
          this.skip(wt, end);
      }
    }
    if (this.pos !== end) this.fail("game event overruns");
    const ev: GameEventData = { tick, kind, values, data };
    this.frame.pushEvent(ev);
  }

  /**
   * matchResult decodes the MatchResult. A second occurrence merges into the first, as protobuf
   * does for a message field (scalars: the last wins; winners: appended).
   */
  private matchResult(end: number): void {
    const prev = this.frame.result;
    let tick = prev?.tick ?? 0;
    const winners: number[] = prev !== null ? prev.winners : [];
    let summary = prev?.summary ?? "";
    let data: Uint8Array = prev?.data ?? EMPTY;
    while (this.pos < end) {
      const tag = this.varint();
      const wt = tag & 7;
      switch (tag >>> 3) {
        case 1:
          if (wt === WT_VARINT) tick = this.varint();
          else this.skip(wt, end);
          break;
        case 2:
          if (wt === WT_VARINT) winners.push(this.varint());
          else if (wt === WT_LEN) {
            const e = this.lenEnd(end);
            while (this.pos < e) winners.push(this.varint());
            if (this.pos !== e) this.fail("packed field overruns");
          } else this.skip(wt, end);
          break;
        case 3:
          if (wt === WT_LEN) {
            const e = this.lenEnd(end);
            try {
              summary = utf8.decode(this.buf.subarray(this.pos, e));
            } catch {
              this.fail("summary is not UTF-8");
            }
            this.pos = e;
          } else this.skip(wt, end);
          break;
        case 4:
          if (wt === WT_LEN) data = this.copyBytes(end);
          else this.skip(wt, end);
          break;
        default:
          if (tag >>> 3 === 0) this.fail("field number 0");
          this.skip(wt, end);
      }
    }
    if (this.pos !== end) this.fail("match result overruns");
    this.frame.result = { tick, winners, summary, data };
  }

  private bytesValue(end: number, p: FramePartData): void {
    let id = 0;
    let field = 0;
    let value: Uint8Array = EMPTY;
    while (this.pos < end) {
      const tag = this.varint();
      const wt = tag & 7;
      switch (tag >>> 3) {
        case 1:
          if (wt === WT_VARINT) id = this.varint();
          else this.skip(wt, end);
          break;
        case 2:
          if (wt === WT_VARINT) field = this.varint();
          else this.skip(wt, end);
          break;
        case 3:
          if (wt === WT_LEN) {
            const e = this.lenEnd(end);
            value = this.buf.subarray(this.pos, e);
            this.pos = e;
          } else this.skip(wt, end);
          break;
        default:
          if (tag >>> 3 === 0) this.fail("field number 0");
          this.skip(wt, end);
      }
    }
    if (this.pos !== end) this.fail("bytes value overruns");
    p.pushBytes(id, field, value);
  }
}

const EMPTY = new Uint8Array(0);
// fatal, as protobuf-es checks proto3 strings: both decoders refuse a summary that is not UTF-8.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** newDecoder returns a decoder of the given kind. */
export function newDecoder(kind: DecoderKind): HandDecoder | ProtobufEsDecoder {
  return kind === "hand" ? new HandDecoder() : new ProtobufEsDecoder();
}
