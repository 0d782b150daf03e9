// The schema compiled from a welcome: per class, the column layout the mirror stores, the
// prediction wiring and the de-quantization of each field. No per-game code: everything comes
// from StateSchema and InputSchema.

import { FieldType } from "./gen/ticksync/v1/schema_pb.js";
import type { FieldSpec, InputSchema, StateSchema } from "./gen/ticksync/v1/schema_pb.js";

/** MAX_FIELDS is the most fields a class may have (update masks are 32 bits). */
export const MAX_FIELDS = 32;

/** MAX_BYTES_LEN bounds a bytes field, as the Go schema does. */
export const MAX_BYTES_LEN = 1024;

/** FieldKind says how a field's int32 value reads. */
export type FieldKind = "int" | "fixed" | "bool" | "bytes";

/** FieldInfo is one field of a class or of the input, resolved for fast use. */
export interface FieldInfo {
  /** name is the property name. */
  readonly name: string;
  /** index is the field's position in schema order (wire, masks, hash). */
  readonly index: number;
  /** kind is the field's type. */
  readonly kind: FieldKind;
  /** col is the field's column among the class's int columns, or among its bytes columns. */
  readonly col: number;
  /** scale is the fixed-point divisor (1 unless kind is "fixed"). */
  readonly scale: number;
  /** hasRange says whether min and max apply. */
  readonly hasRange: boolean;
  readonly min: number;
  readonly max: number;
  /** interpolate says the client smooths the field for entities it does not predict. */
  readonly interpolate: boolean;
  /** predictCol is the int column this field is predicted from, or -1. */
  readonly predictCol: number;
  readonly predictNum: number;
  readonly predictDen: number;
  /** owner marks the field holding the controlling player's id. */
  readonly owner: boolean;
  /** maxLen bounds a bytes field's length. */
  readonly maxLen: number;
}

/** ClassInfo is one entity class, resolved. */
export interface ClassInfo {
  readonly name: string;
  readonly index: number;
  /** fields in schema order. */
  readonly fields: readonly FieldInfo[];
  /** intFields are the non-bytes fields, in column order (= schema order among them). */
  readonly intFields: readonly FieldInfo[];
  /** bytesFields are the bytes fields, in column order. */
  readonly bytesFields: readonly FieldInfo[];
  /** intMask has bit i set for each non-bytes field index i. */
  readonly intMask: number;
  /** intIndex[col] is the schema index of int column col. */
  readonly intIndex: Int32Array;
  /** predictFrom[col] is the column int column col is predicted from, or -1. */
  readonly predictFrom: Int32Array;
  readonly predictNum: Int32Array;
  readonly predictDen: Int32Array;
  /** hasPredicted says some int column is predicted. */
  readonly hasPredicted: boolean;
  /** ownerCol is the int column of the owner field, or -1. */
  readonly ownerCol: number;
  /** byName maps a field name to its info. */
  readonly byName: ReadonlyMap<string, FieldInfo>;
}

/** Schema is a compiled StateSchema and InputSchema. */
export interface Schema {
  readonly classes: readonly ClassInfo[];
  readonly input: readonly FieldInfo[];
  /** stride is the widest class, in int columns (the mirror's row width). */
  readonly stride: number;
  /** bstride is the most bytes fields of any class. */
  readonly bstride: number;
  /** classByName maps a class name to its info. */
  readonly classByName: ReadonlyMap<string, ClassInfo>;
}

/** SchemaError reports a schema the client cannot use. */
export class SchemaError extends Error {
  override name = "SchemaError";
}

function kindOf(t: FieldType): FieldKind | undefined {
  switch (t) {
    case FieldType.INT:
      return "int";
    case FieldType.FIXED:
      return "fixed";
    case FieldType.BOOL:
      return "bool";
    case FieldType.BYTES:
      return "bytes";
    default:
      return undefined;
  }
}

function fieldInfo(where: string, f: FieldSpec, index: number, col: number, predictCol: number): FieldInfo {
  const kind = kindOf(f.type);
  if (f.name === "") throw new SchemaError(`${where}: field ${index} has no name`);
  if (kind === undefined) throw new SchemaError(`${where}: field "${f.name}": unknown type ${f.type}`);
  if (kind === "fixed" && f.scale <= 0) throw new SchemaError(`${where}: field "${f.name}": scale must be > 0`);
  if (f.hasRange && f.min > f.max) throw new SchemaError(`${where}: field "${f.name}": min > max`);
  if (kind === "bytes" && (f.maxLen <= 0 || f.maxLen > MAX_BYTES_LEN)) {
    throw new SchemaError(`${where}: field "${f.name}": bytes max length must be in 1..${MAX_BYTES_LEN}`);
  }
  return {
    name: f.name,
    index,
    kind,
    col,
    scale: kind === "fixed" ? f.scale : 1,
    hasRange: f.hasRange,
    min: f.min | 0,
    max: f.max | 0,
    interpolate: f.interpolate,
    predictCol,
    predictNum: predictCol >= 0 ? f.predictNum | 0 : 0,
    predictDen: predictCol >= 0 ? f.predictDen | 0 : 0,
    owner: f.owner,
    maxLen: f.maxLen,
  };
}

/** compileSchema resolves the welcome's schemas; it throws SchemaError when they are unusable. */
export function compileSchema(state: StateSchema, input?: InputSchema): Schema {
  if (state.classes.length === 0) throw new SchemaError("schema has no class");
  if (state.classes.length > 0xfffe) throw new SchemaError("too many classes");
  const classes: ClassInfo[] = [];
  const classByName = new Map<string, ClassInfo>();
  let stride = 0;
  let bstride = 0;
  state.classes.forEach((pc, ci) => {
    const where = `class "${pc.name}"`;
    if (pc.fields.length > MAX_FIELDS) throw new SchemaError(`${where}: ${pc.fields.length} fields, at most ${MAX_FIELDS}`);
    // Columns first: a field's column is its rank among fields of the same storage.
    const cols: number[] = [];
    let nInt = 0;
    let nBytes = 0;
    for (const f of pc.fields) cols.push(f.type === FieldType.BYTES ? nBytes++ : nInt++);
    const fields: FieldInfo[] = pc.fields.map((f, i) => {
      let predictCol = -1;
      if (f.predictFrom > 0) {
        const src = pc.fields[f.predictFrom - 1];
        if (src === undefined) throw new SchemaError(`${where}: field "${f.name}": predict_from ${f.predictFrom} out of range`);
        if (f.type === FieldType.BYTES || src.type === FieldType.BYTES) {
          throw new SchemaError(`${where}: field "${f.name}": prediction involves a bytes field`);
        }
        if (src.predictFrom > 0) throw new SchemaError(`${where}: field "${f.name}" predicted from predicted field "${src.name}"`);
        if (f.predictDen === 0) throw new SchemaError(`${where}: field "${f.name}": prediction denominator 0`);
        predictCol = cols[f.predictFrom - 1];
      }
      return fieldInfo(where, f, i, cols[i], predictCol);
    });
    const byName = new Map<string, FieldInfo>();
    for (const f of fields) {
      if (byName.has(f.name)) throw new SchemaError(`${where}: field "${f.name}" declared twice`);
      byName.set(f.name, f);
    }
    const intFields = fields.filter((f) => f.kind !== "bytes");
    const bytesFields = fields.filter((f) => f.kind === "bytes");
    let intMask = 0;
    for (const f of intFields) intMask |= 1 << f.index;
    const owner = intFields.find((f) => f.owner);
    const info: ClassInfo = {
      name: pc.name,
      index: ci,
      fields,
      intFields,
      bytesFields,
      intMask: intMask >>> 0,
      intIndex: Int32Array.from(intFields, (f) => f.index),
      predictFrom: Int32Array.from(intFields, (f) => f.predictCol),
      predictNum: Int32Array.from(intFields, (f) => f.predictNum),
      predictDen: Int32Array.from(intFields, (f) => f.predictDen),
      hasPredicted: intFields.some((f) => f.predictCol >= 0),
      ownerCol: owner === undefined ? -1 : owner.col,
      byName,
    };
    stride = Math.max(stride, intFields.length);
    bstride = Math.max(bstride, bytesFields.length);
    classes.push(info);
    if (!classByName.has(pc.name)) classByName.set(pc.name, info);
  });
  const inputFields = (input?.fields ?? []).map((f, i) => {
    if (f.type === FieldType.BYTES || f.predictFrom > 0) {
      throw new SchemaError(`input field "${f.name}": inputs are plain int, fixed or bool fields`);
    }
    return fieldInfo("input", f, i, i, -1);
  });
  return { classes, input: inputFields, stride, bstride, classByName };
}

/** dequantize turns a field's int32 wire value into the number a game reads. */
export function dequantize(f: FieldInfo, v: number): number {
  return f.kind === "fixed" ? v / f.scale : v;
}

/**
 * quantize turns a number into a field's int32 wire value: scaled, rounded to nearest,
 * clamped to the field's range (or to int32). Non-finite numbers become 0.
 */
export function quantize(f: FieldInfo, x: number | boolean): number {
  let v: number;
  if (typeof x === "boolean") v = x ? 1 : 0;
  else if (!Number.isFinite(x)) v = 0;
  else if (f.kind === "bool") v = x !== 0 ? 1 : 0;
  else v = Math.round(f.kind === "fixed" ? x * f.scale : x);
  const lo = f.hasRange ? f.min : -2147483648;
  const hi = f.hasRange ? f.max : 2147483647;
  return v < lo ? lo : v > hi ? hi : v;
}
