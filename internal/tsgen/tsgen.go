// Package tsgen writes typed TypeScript for a game's schema: the module `gen ts` (package cli)
// prints. For each entity class it emits an interface with the fields as the client's Entity
// gives them (fixed-point de-quantized to numbers, bools as booleans, bytes as Uint8Array or
// null), a metadata object, the int columns of a predict row, a typed accessor and a helper that
// lists a mirror's or interpolator's entities of the class; for the input an interface, its
// metadata and columns; and checkSchema, which tells a page running against another version of
// the game what differs. The output depends only on the schema and the options: no map order,
// no timestamp.
package tsgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
)

// DefaultImport is the module a generated file imports the client from unless told otherwise.
const DefaultImport = "@ticksync/client"

// Options say what a generated file is for.
type Options struct {
	// Game is the name the game is registered under.
	Game string
	// Command is the command line that regenerates the file ("ticksync gen ts -game arena"):
	// the header names it, and so does checkSchema's error.
	Command string
	// Import is the module the file imports the client from (default DefaultImport).
	Import string
}

// imported are the names the file imports from the client.
// The file imports types only, so it adds no runtime dependency on how the client is bundled.
var imported = []string{"Entity", "FieldInfo", "InterpolatedEntity", "Schema"}

// fixedNames are the file's own top-level names and the globals it uses: no class may take them.
var fixedNames = []string{
	"GAME", "SchemaMismatch", "EntitySource", "Input", "InputMeta", "InputCol", "schemaDifference", "checkSchema",
	"FieldShape", "ClassShape", "COMPARED", "CLASSES", "fieldsDifference", "quote",
	"Uint8Array", "Error", "Object", "Array", "String", "Number", "Boolean", "JSON", "Readonly", "Record", "Partial",
}

// field is one field of a class or of the input, resolved.
type field struct {
	name        string
	key         string // the property key as written: the name, quoted unless an identifier
	kind        string // int, fixed, bool, bytes (the client's FieldKind)
	index, col  int
	scale       int32
	hasRange    bool
	min, max    int32
	interpolate bool
	owner       bool
	predictFrom string // name of the field it is predicted from ("" = none)
	predictCol  int    // its int column (-1 = none)
	maxLen      uint32
}

// class is one entity class, resolved, with its TypeScript names.
type class struct {
	name   string
	typ    string // the interface: PascalCase of the name
	index  int
	fields []field
}

// Generate returns the TypeScript module for schema s.
func Generate(s *sim.Schema, o Options) ([]byte, error) {
	if o.Game == "" {
		return nil, errors.New("tsgen: no game name")
	}
	if o.Import == "" {
		o.Import = DefaultImport
	}
	st, in := s.Proto()
	taken := map[string]string{}
	for _, n := range append(append([]string(nil), imported...), fixedNames...) {
		taken[n] = "the generated code"
	}
	classes := make([]class, 0, len(st.GetClasses()))
	for ci, pc := range st.GetClasses() {
		c := class{name: pc.GetName(), index: ci}
		where := fmt.Sprintf("class %q", c.name)
		typ, err := typeName(c.name)
		if err != nil {
			return nil, fmt.Errorf("tsgen: %s: %w", where, err)
		}
		c.typ = typ
		for _, n := range []string{typ, typ + "Meta", typ + "Col", "as" + typ, camel(typ) + "Entities"} {
			if other, dup := taken[n]; dup {
				return nil, fmt.Errorf("tsgen: %s: its TypeScript name %s is already used by %s: rename the class", where, n, other)
			}
			taken[n] = where
		}
		if c.fields, err = resolve(where, pc.GetFields(), true); err != nil {
			return nil, err
		}
		classes = append(classes, c)
	}
	input, err := resolve("input", in.GetFields(), false)
	if err != nil {
		return nil, err
	}
	g := &gen{o: o}
	g.file(classes, input)
	return g.buf.Bytes(), nil
}

// resolve checks a class's (or the input's) fields and works out their columns.
func resolve(where string, specs []*pb.FieldSpec, entity bool) ([]field, error) {
	out := make([]field, len(specs))
	nInt, nBytes := 0, 0
	for i, pf := range specs {
		f := field{
			name: pf.GetName(), index: i, scale: pf.GetScale(), hasRange: pf.GetHasRange(), min: pf.GetMin(), max: pf.GetMax(),
			interpolate: pf.GetInterpolate(), owner: pf.GetOwner(), maxLen: pf.GetMaxLen(), predictCol: -1,
		}
		switch pf.GetType() {
		case pb.FieldType_FIELD_TYPE_INT:
			f.kind = "int"
		case pb.FieldType_FIELD_TYPE_FIXED:
			f.kind = "fixed"
		case pb.FieldType_FIELD_TYPE_BOOL:
			f.kind = "bool"
		case pb.FieldType_FIELD_TYPE_BYTES:
			f.kind = "bytes"
		default:
			return nil, fmt.Errorf("tsgen: %s: field %q: unknown type %v", where, f.name, pf.GetType())
		}
		if f.kind != "fixed" {
			f.scale = 1 // as the client's FieldInfo has it
		}
		switch {
		case !utf8.ValidString(f.name):
			return nil, fmt.Errorf("tsgen: %s: field name %q is not valid UTF-8", where, f.name)
		case f.name == "__proto__":
			return nil, fmt.Errorf("tsgen: %s: a field cannot be named __proto__ (an object literal cannot hold it): rename it", where)
		case entity && f.name == "className":
			return nil, fmt.Errorf("tsgen: %s: a field named className hides the entity's class name (Entity.className): rename it", where)
		}
		f.key = propKey(f.name)
		if f.kind == "bytes" {
			f.col, nBytes = nBytes, nBytes+1
		} else {
			f.col, nInt = nInt, nInt+1
		}
		out[i] = f
	}
	for i, pf := range specs {
		if p := int(pf.GetPredictFrom()); p > 0 && p <= len(out) {
			out[i].predictFrom = out[p-1].name
			out[i].predictCol = out[p-1].col
		}
	}
	return out, nil
}

// typeName is a class name in PascalCase: runs of letters and digits, each starting upper
// case, joined ("red_team" → "RedTeam"); "_" first when it would start with a digit.
func typeName(name string) (string, error) {
	var b strings.Builder
	upper := true
	for _, r := range name {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if upper {
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
			upper = false
		default:
			upper = true
		}
	}
	s := b.String()
	if s == "" {
		return "", errors.New("no TypeScript type name can be made from it (it needs a letter or a digit)")
	}
	if r, _ := utf8.DecodeRuneInString(s); unicode.IsDigit(r) {
		s = "_" + s
	}
	return s, nil
}

// camel lower-cases a type name's first letter ("RedTeam" → "redTeam").
func camel(typ string) string {
	r, n := utf8.DecodeRuneInString(typ)
	return string(unicode.ToLower(r)) + typ[n:]
}

// isIdent says whether s can be written as a bare property name (a subset of what JavaScript
// allows: letters, digits, _ and $, not starting with a digit).
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(unicode.IsLetter(r) || r == '_' || r == '$' || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

// propKey is a field's property key: its name, quoted when it is not an identifier.
func propKey(name string) string {
	if isIdent(name) {
		return name
	}
	return jsString(name)
}

// jsString quotes s as a JavaScript string literal (JSON's quoting, HTML left alone).
func jsString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// templateText escapes s for a template literal (no interpolation).
func templateText(s string) string {
	return strings.NewReplacer("\\", "\\\\", "`", "\\`", "${", "\\${").Replace(s)
}

// comment makes s safe inside a /** */ comment.
func comment(s string) string { return strings.ReplaceAll(s, "*/", "*\\/") }

// gen accumulates the file.
type gen struct {
	o   Options
	buf bytes.Buffer
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.buf, format+"\n", args...) }

func (g *gen) file(classes []class, input []field) {
	imp := jsString(g.o.Import)
	g.p("// Code generated by %s. DO NOT EDIT.", strings.ReplaceAll(g.o.Command, "\n", " "))
	g.p("")
	g.p("// The %s game's state and input, typed, from its schema. Entity fields are what the client's", comment(g.o.Game))
	g.p("// Entity gives: fixed-point de-quantized to numbers, bools as booleans, bytes as Uint8Array or")
	g.p("// null. Ranges and prediction ratios may follow a room's config and tick rate: read them from")
	g.p("// the welcome's schema. checkSchema compares the rest with the server's.")
	g.p("")
	g.p("import type { Entity, FieldInfo, InterpolatedEntity, Schema } from %s;", imp)
	g.p("")
	g.p("/** GAME is the game these types were generated from. */")
	g.p("export const GAME = %s;", jsString(g.o.Game))
	g.p("")
	g.p("/** EntitySource holds entities by id: a Mirror, or an Interpolator at its render tick. */")
	g.p("export interface EntitySource {")
	g.p("  ids(): number[];")
	g.p("  entity(id: number): Entity | InterpolatedEntity | undefined;")
	g.p("}")
	for _, c := range classes {
		g.class(c)
	}
	g.input(input)
	g.check(classes)
}

// tsType is the TypeScript type of a field's value as the client gives it.
func tsType(kind string) string {
	switch kind {
	case "bool":
		return "boolean"
	case "bytes":
		return "Uint8Array | null"
	}
	return "number"
}

// describe is a field's doc comment: its kind, scale, range, and what the client does with it.
func describe(f field) string {
	parts := []string{f.kind}
	if f.kind == "fixed" {
		parts[0] = fmt.Sprintf("fixed (scale %d)", f.scale)
	}
	if f.hasRange && f.kind != "bool" {
		unit := func(v int32) string { return strconv.FormatFloat(float64(v)/float64(f.scale), 'g', -1, 64) }
		parts = append(parts, fmt.Sprintf("range [%s, %s]", unit(f.min), unit(f.max)))
	}
	if f.kind == "bytes" {
		parts = append(parts, fmt.Sprintf("at most %d bytes", f.maxLen))
	}
	if f.interpolate {
		parts = append(parts, "interpolated")
	}
	if f.predictFrom != "" {
		parts = append(parts, "predicted from "+jsString(f.predictFrom))
	}
	if f.owner {
		parts = append(parts, "the controlling player's id")
	}
	return comment(strings.Join(parts, ", "))
}

// meta is a field's metadata literal.
func meta(f field, entity bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{ index: %d, kind: %q, col: %d, scale: %d", f.index, f.kind, f.col, f.scale)
	if f.hasRange {
		fmt.Fprintf(&b, ", min: %d, max: %d", f.min, f.max)
	}
	if entity {
		fmt.Fprintf(&b, ", interpolate: %t, predictCol: %d, owner: %t", f.interpolate, f.predictCol, f.owner)
		if f.kind == "bytes" {
			fmt.Fprintf(&b, ", maxLen: %d", f.maxLen)
		}
	}
	b.WriteString(" }")
	return b.String()
}

func (g *gen) class(c class) {
	name := jsString(c.name)
	cname := comment(name)
	hasID := false
	for _, f := range c.fields {
		hasID = hasID || f.name == "id"
	}
	g.p("")
	g.p("/** %s is an entity of class %s. */", c.typ, cname)
	g.p("export interface %s {", c.typ)
	if !hasID {
		g.p("  readonly id: number;")
	}
	g.p("  readonly className: %s;", name)
	for _, f := range c.fields {
		g.p("  /** %s */", describe(f))
		g.p("  readonly %s: %s;", f.key, tsType(f.kind))
	}
	g.p("}")
	g.p("")
	g.p("/**")
	g.p(" * %sMeta is class %s as generated: per field its schema index, kind, column (among the", c.typ, cname)
	g.p(" * int columns, or among the bytes columns), scale, range (the generating config's), interpolation,")
	g.p(" * the int column it is predicted from (-1: none), owner, and a bytes field's max length.")
	g.p(" */")
	g.p("export const %sMeta = {", c.typ)
	g.p("  name: %s,", name)
	g.p("  index: %d,", c.index)
	g.p("  fields: {")
	for _, f := range c.fields {
		g.p("    %s: %s,", f.key, meta(f, true))
	}
	g.p("  },")
	g.p("} as const;")
	g.p("")
	g.p("/** %sCol is the int column of each non-bytes field of %s: its index in a PredictStep's row. */", c.typ, cname)
	g.p("export const %sCol = {", c.typ)
	for _, f := range c.fields {
		if f.kind != "bytes" {
			g.p("  %s: %d,", f.key, f.col)
		}
	}
	g.p("} as const;")
	g.p("")
	g.p("/** as%s returns e typed as %s when its class is %s (undefined otherwise). */", c.typ, c.typ, cname)
	g.p("export function as%s(e: Entity | InterpolatedEntity | undefined): %s | undefined {", c.typ, c.typ)
	g.p("  return e !== undefined && e.className === %s ? (e as unknown as %s) : undefined;", name, c.typ)
	g.p("}")
	g.p("")
	fn := camel(c.typ) + "Entities"
	g.p("/** %s returns the entities of class %s that src holds, ascending by id. */", fn, cname)
	g.p("export function %s(src: EntitySource): %s[] {", fn, c.typ)
	g.p("  const out: %s[] = [];", c.typ)
	g.p("  for (const id of src.ids()) {")
	g.p("    const e = as%s(src.entity(id));", c.typ)
	g.p("    if (e !== undefined) out.push(e);")
	g.p("  }")
	g.p("  return out;")
	g.p("}")
}

func (g *gen) input(fields []field) {
	g.p("")
	g.p("/**")
	g.p(" * Input is the game's input as Client.sendInput takes it (de-quantized); a Partial<Input>")
	g.p(" * keeps the fields left out. A type, not an interface: it is a Record<string, number | boolean>.")
	g.p(" */")
	g.p("export type Input = {")
	for _, f := range fields {
		g.p("  /** %s */", describe(f))
		g.p("  %s: %s;", f.key, tsType(f.kind))
	}
	g.p("};")
	g.p("")
	g.p("/** InputMeta is the input as generated: per field its index, kind, column, scale and range (the generating config's). */")
	g.p("export const InputMeta = {")
	for _, f := range fields {
		g.p("  %s: %s,", f.key, meta(f, false))
	}
	g.p("} as const;")
	g.p("")
	g.p("/** InputCol is each input field's index in the input values a PredictStep gets. */")
	g.p("export const InputCol = {")
	for _, f := range fields {
		g.p("  %s: %d,", f.key, f.col)
	}
	g.p("} as const;")
}

// checkTS compares the generated classes and input with a compiled schema; it is the same for
// every game.
const checkTS = `
interface FieldShape {
  readonly index: number;
  readonly kind: string;
  readonly col: number;
  readonly scale: number;
  readonly interpolate?: boolean;
  readonly predictCol?: number;
  readonly owner?: boolean;
}

interface ClassShape {
  readonly name: string;
  readonly fields: Readonly<Record<string, FieldShape>>;
}

// COMPARED are what checkSchema compares of each field: ranges, prediction ratios and bytes
// lengths are left out, a room's config or tick rate may change them.
const COMPARED = ["kind", "col", "scale", "interpolate", "predictCol", "owner"] as const;

const quote = (s: string): string => JSON.stringify(s);

function fieldsDifference(where: string, want: Readonly<Record<string, FieldShape>>, got: readonly FieldInfo[]): string | undefined {
  const names = Object.keys(want).sort((a, b) => want[a].index - want[b].index);
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const g = got[i];
    if (g === undefined) return ` + "`${where}: field ${quote(name)} is missing`" + `;
    if (g.name !== name) return ` + "`${where}: field ${i} is ${quote(g.name)}, expected ${quote(name)}`" + `;
    const w = want[name];
    for (const k of COMPARED) {
      if (w[k] !== undefined && g[k] !== w[k]) return ` + "`${where}: field ${quote(name)}: ${k} is ${String(g[k])}, expected ${String(w[k])}`" + `;
    }
  }
  if (got.length > names.length) return ` + "`${where}: field ${quote(got[names.length].name)} is not in this page's schema`" + `;
  return undefined;
}
`

func (g *gen) check(classes []class) {
	g.buf.WriteString(checkTS)
	names := make([]string, len(classes))
	for i, c := range classes {
		names[i] = c.typ + "Meta"
	}
	g.p("")
	g.p("const CLASSES: readonly ClassShape[] = [%s];", strings.Join(names, ", "))
	g.p("")
	g.p("/**")
	g.p(" * schemaDifference returns the first difference between the server's compiled schema and the")
	g.p(" * one these types were generated from (undefined: none). It compares classes, fields and")
	g.p(" * input fields by name and order, their kinds, columns, scales, interpolation, prediction")
	g.p(" * sources and owner flags; not ranges, prediction ratios or bytes lengths.")
	g.p(" */")
	g.p("export function schemaDifference(s: Schema): string | undefined {")
	g.p("  for (let i = 0; i < CLASSES.length; i++) {")
	g.p("    const c = CLASSES[i];")
	g.p("    const got = s.classes[i];")
	g.p("    if (got === undefined) return `class ${quote(c.name)} is missing`;")
	g.p("    if (got.name !== c.name) return `class ${i} is ${quote(got.name)}, expected ${quote(c.name)}`;")
	g.p("    const d = fieldsDifference(`class ${quote(c.name)}`, c.fields, got.fields);")
	g.p("    if (d !== undefined) return d;")
	g.p("  }")
	g.p("  if (s.classes.length > CLASSES.length) return `class ${quote(s.classes[CLASSES.length].name)} is not in this page's schema`;")
	g.p("  return fieldsDifference(\"input\", InputMeta, s.input);")
	g.p("}")
	g.p("")
	g.p("/** SchemaMismatch is what checkSchema throws: the server runs another version of the game. */")
	g.p("export class SchemaMismatch extends Error {")
	g.p("  override name = \"SchemaMismatch\";")
	g.p("}")
	g.p("")
	g.p("/** checkSchema throws a SchemaMismatch naming the first difference schemaDifference finds. */")
	g.p("export function checkSchema(s: Schema): void {")
	g.p("  const d = schemaDifference(s);")
	g.p("  if (d !== undefined) {")
	g.p("    throw new SchemaMismatch(`the server's ${GAME} schema is not the one this page was built for (${d}): another version of the game? Regenerate with %s`);", templateText(g.o.Command))
	g.p("  }")
	g.p("}")
}
