package sim

import (
	"errors"
	"fmt"
	"slices"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// MaxFields is the most fields a class may declare (update masks are 32 bits).
const MaxFields = 32

// maxBytesLen bounds a bytes field: they are for small, rare values (names, flags), and a frame
// must stay small.
const maxBytesLen = 1024

// Kind is a field's type.
type Kind uint8

// The field kinds.
const (
	KindInt   Kind = Kind(pb.FieldType_FIELD_TYPE_INT)
	KindFixed Kind = Kind(pb.FieldType_FIELD_TYPE_FIXED)
	KindBool  Kind = Kind(pb.FieldType_FIELD_TYPE_BOOL)
	KindBytes Kind = Kind(pb.FieldType_FIELD_TYPE_BYTES)
)

// Class is a handle to an entity class of a Schema.
type Class struct{ idx uint16 }

// Index returns the class number used on the wire and in the hash.
func (c Class) Index() int { return int(c.idx) }

// Field is a typed handle to an int, fixed-point or bool field of a class. Get and Set through
// it cost an index, never a string lookup.
type Field struct {
	cls uint16 // class index
	idx uint16 // field index in schema order (wire, hash)
	col uint16 // column among the class's non-bytes fields
}

// Class returns the class the field belongs to.
func (f Field) Class() Class { return Class{f.cls} }

// Index returns the field's index in its class's schema order.
func (f Field) Index() int { return int(f.idx) }

// BytesField is a typed handle to a small bytes field of a class.
type BytesField struct {
	cls uint16
	idx uint16 // field index in schema order
	col uint16 // column among the class's bytes fields
}

// InputField is a handle to a field of the game's input: its index in Input.Values.
type InputField struct{ idx uint16 }

// Index returns the position of the field's value in Input.Values.
func (f InputField) Index() int { return int(f.idx) }

// FieldSpec describes one declared field.
type FieldSpec struct {
	Name        string
	Kind        Kind
	Scale       int32 // fixed-point divisor (KindFixed); 1 otherwise
	Min, Max    int32 // inclusive range when HasRange
	HasRange    bool
	Interpolate bool   // clients smooth it between frames
	PredictFrom string // name of the field this one is predicted from ("" = none)
	PredictNum  int32  // prediction numerator
	PredictDen  int32  // prediction denominator
	Owner       bool   // holds the id of the player who controls the entity
	MaxLen      int    // KindBytes: maximum length

	predictCol int // resolved column of PredictFrom within the class (-1 = none)
}

// FieldOption refines a field as it is declared.
type FieldOption func(*FieldSpec)

// Range bounds a field to [min, max]. Inputs outside are clamped by the server.
func Range(min, max int32) FieldOption {
	return func(f *FieldSpec) { f.Min, f.Max, f.HasRange = min, max, true }
}

// Interpolate marks a field that clients smooth between frames (positions, angles).
func Interpolate() FieldOption { return func(f *FieldSpec) { f.Interpolate = true } }

// PredictFrom marks a field predicted linearly from another field of the same class:
// pred = f[t-1] + trunc(v[t]*num/den). Frames then carry only the residual.
func PredictFrom(field string, num, den int32) FieldOption {
	return func(f *FieldSpec) { f.PredictFrom, f.PredictNum, f.PredictDen = field, num, den }
}

// Owner marks the field that holds the controlling player's id; clients predict the entity
// whose owner is themselves.
func Owner() FieldOption { return func(f *FieldSpec) { f.Owner = true } }

// ClassSpec describes one declared entity class.
type ClassSpec struct {
	Name   string
	Fields []FieldSpec

	intCols   []uint16 // schema index of each non-bytes column
	bytesCols []uint16 // schema index of each bytes column
	colOf     []uint16 // column (int or bytes) of each schema index
	cols      []intCol // by int column: what the encoder and the mirror read per value
}

// intCol packs what the diff's inner loop needs of a non-bytes column, so it does not reach
// into the (large) FieldSpec for every value of every entity.
type intCol struct {
	idx      uint16 // schema index: the update mask's bit
	from     int16  // column this one is predicted from; -1 when not predicted
	num, den int32  // the prediction's ratio
}

// NumInts returns the number of non-bytes fields of the class.
func (c *ClassSpec) NumInts() int { return len(c.intCols) }

// NumBytes returns the number of bytes fields of the class.
func (c *ClassSpec) NumBytes() int { return len(c.bytesCols) }

// Schema is a game's declared state (entity classes and their fields) and input. It is
// immutable once built and shared by the server, the clients' mirrors and recordings.
type Schema struct {
	classes []ClassSpec
	input   []FieldSpec
	maxInts int // widest class, in non-bytes fields
}

// SchemaBuilder declares a Schema. Handles it returns stay valid for the built Schema.
type SchemaBuilder struct {
	s    Schema
	errs []error
}

// ClassBuilder declares the fields of one class.
type ClassBuilder struct {
	b   *SchemaBuilder
	idx uint16
}

// NewSchemaBuilder starts a schema.
func NewSchemaBuilder() *SchemaBuilder { return &SchemaBuilder{} }

// Class declares an entity class; fields are added to it in order.
func (b *SchemaBuilder) Class(name string) *ClassBuilder {
	b.s.classes = append(b.s.classes, ClassSpec{Name: name})
	return &ClassBuilder{b: b, idx: uint16(len(b.s.classes) - 1)}
}

// Handle returns the class handle.
func (c *ClassBuilder) Handle() Class { return Class{c.idx} }

func (c *ClassBuilder) add(spec FieldSpec, opts []FieldOption) (idx, col uint16) {
	for _, o := range opts {
		o(&spec)
	}
	cs := &c.b.s.classes[c.idx]
	idx = uint16(len(cs.Fields))
	if spec.Kind == KindBytes {
		col = uint16(len(cs.bytesCols))
		cs.bytesCols = append(cs.bytesCols, idx)
	} else {
		col = uint16(len(cs.intCols))
		cs.intCols = append(cs.intCols, idx)
	}
	cs.colOf = append(cs.colOf, col)
	cs.Fields = append(cs.Fields, spec)
	return idx, col
}

// Int declares an integer field.
func (c *ClassBuilder) Int(name string, opts ...FieldOption) Field {
	idx, col := c.add(FieldSpec{Name: name, Kind: KindInt, Scale: 1}, opts)
	return Field{cls: c.idx, idx: idx, col: col}
}

// Fixed declares a fixed-point field: the stored integer is the number times scale.
func (c *ClassBuilder) Fixed(name string, scale int32, opts ...FieldOption) Field {
	idx, col := c.add(FieldSpec{Name: name, Kind: KindFixed, Scale: scale}, opts)
	return Field{cls: c.idx, idx: idx, col: col}
}

// Bool declares a boolean field (0 or 1).
func (c *ClassBuilder) Bool(name string, opts ...FieldOption) Field {
	idx, col := c.add(FieldSpec{Name: name, Kind: KindBool, Scale: 1, Min: 0, Max: 1, HasRange: true}, opts)
	return Field{cls: c.idx, idx: idx, col: col}
}

// Bytes declares a small bytes field of at most maxLen bytes.
func (c *ClassBuilder) Bytes(name string, maxLen int, opts ...FieldOption) BytesField {
	idx, col := c.add(FieldSpec{Name: name, Kind: KindBytes, Scale: 1, MaxLen: maxLen}, opts)
	return BytesField{cls: c.idx, idx: idx, col: col}
}

// InputInt declares an integer input field (clamped to its range when one is given).
func (b *SchemaBuilder) InputInt(name string, opts ...FieldOption) InputField {
	return b.input(FieldSpec{Name: name, Kind: KindInt, Scale: 1}, opts)
}

// InputFixed declares a fixed-point input field.
func (b *SchemaBuilder) InputFixed(name string, scale int32, opts ...FieldOption) InputField {
	return b.input(FieldSpec{Name: name, Kind: KindFixed, Scale: scale}, opts)
}

// InputBool declares a boolean input field.
func (b *SchemaBuilder) InputBool(name string, opts ...FieldOption) InputField {
	return b.input(FieldSpec{Name: name, Kind: KindBool, Scale: 1, Min: 0, Max: 1, HasRange: true}, opts)
}

func (b *SchemaBuilder) input(spec FieldSpec, opts []FieldOption) InputField {
	for _, o := range opts {
		o(&spec)
	}
	b.s.input = append(b.s.input, spec)
	return InputField{uint16(len(b.s.input) - 1)}
}

// Build validates the declarations and returns the immutable Schema.
func (b *SchemaBuilder) Build() (*Schema, error) {
	s := b.s
	if len(s.classes) == 0 {
		return nil, errors.New("sim: schema has no class")
	}
	if len(s.classes) > 1<<15 {
		return nil, errors.New("sim: too many classes")
	}
	names := make(map[string]bool, len(s.classes))
	for ci := range s.classes {
		cs := &s.classes[ci]
		// Clients and ClassByName find classes by name.
		if names[cs.Name] {
			return nil, fmt.Errorf("sim: class %q declared twice", cs.Name)
		}
		names[cs.Name] = true
		if err := cs.resolve(); err != nil {
			return nil, fmt.Errorf("sim: class %q: %w", cs.Name, err)
		}
		s.maxInts = max(s.maxInts, len(cs.intCols))
	}
	for i := range s.input {
		f := &s.input[i]
		if err := f.validate(); err != nil {
			return nil, fmt.Errorf("sim: input field %q: %w", f.Name, err)
		}
		if f.PredictFrom != "" || f.Kind == KindBytes {
			return nil, fmt.Errorf("sim: input field %q: inputs are plain int, fixed or bool fields", f.Name)
		}
	}
	// Copy slices so later builder calls cannot change the built schema.
	out := &Schema{classes: append([]ClassSpec(nil), s.classes...), input: append([]FieldSpec(nil), s.input...), maxInts: s.maxInts}
	return out, nil
}

func (f *FieldSpec) validate() error {
	switch {
	case f.Name == "":
		return errors.New("empty name")
	case f.Kind < KindInt || f.Kind > KindBytes:
		return fmt.Errorf("unknown kind %d", f.Kind)
	case f.Kind == KindFixed && f.Scale <= 0:
		return errors.New("fixed-point scale must be > 0")
	case f.HasRange && f.Min > f.Max:
		return errors.New("min > max")
	case f.Kind == KindBytes && (f.MaxLen <= 0 || f.MaxLen > maxBytesLen):
		return fmt.Errorf("bytes max length must be in 1..%d", maxBytesLen)
	case f.Kind == KindBytes && f.PredictFrom != "":
		return errors.New("a bytes field cannot be predicted")
	}
	return nil
}

func (cs *ClassSpec) resolve() error {
	if cs.Name == "" {
		return errors.New("empty class name")
	}
	if len(cs.Fields) > MaxFields {
		return fmt.Errorf("%d fields, at most %d", len(cs.Fields), MaxFields)
	}
	seen := map[string]int{}
	for i := range cs.Fields {
		f := &cs.Fields[i]
		if err := f.validate(); err != nil {
			return fmt.Errorf("field %q: %w", f.Name, err)
		}
		if _, dup := seen[f.Name]; dup {
			return fmt.Errorf("field %q declared twice", f.Name)
		}
		seen[f.Name] = i
	}
	for _, idx := range cs.intCols {
		f := &cs.Fields[idx]
		f.predictCol = -1
		if f.PredictFrom == "" {
			continue
		}
		src, ok := seen[f.PredictFrom]
		switch {
		case !ok:
			return fmt.Errorf("field %q predicted from unknown field %q", f.Name, f.PredictFrom)
		case cs.Fields[src].Kind == KindBytes:
			return fmt.Errorf("field %q predicted from a bytes field", f.Name)
		case cs.Fields[src].PredictFrom != "":
			return fmt.Errorf("field %q predicted from predicted field %q", f.Name, f.PredictFrom)
		case f.PredictDen == 0:
			return fmt.Errorf("field %q: prediction denominator 0", f.Name)
		}
		f.predictCol = int(cs.colOf[src])
	}
	cs.cols = make([]intCol, len(cs.intCols))
	for col, idx := range cs.intCols {
		f := &cs.Fields[idx]
		cs.cols[col] = intCol{idx: idx, from: int16(f.predictCol), num: f.PredictNum, den: f.PredictDen}
	}
	return nil
}

// NumClasses returns the number of entity classes.
func (s *Schema) NumClasses() int { return len(s.classes) }

// ClassSpec returns the declaration of class c (read-only).
func (s *Schema) ClassSpec(c Class) *ClassSpec { return &s.classes[c.idx] }

// ClassByName returns a class handle by name (setup only, not for hot paths).
func (s *Schema) ClassByName(name string) (Class, bool) {
	for i := range s.classes {
		if s.classes[i].Name == name {
			return Class{uint16(i)}, true
		}
	}
	return Class{}, false
}

// FieldByName returns a field handle by class and name (setup only, not for hot paths).
func (s *Schema) FieldByName(c Class, name string) (Field, bool) {
	cs := &s.classes[c.idx]
	for i := range cs.Fields {
		if cs.Fields[i].Name == name && cs.Fields[i].Kind != KindBytes {
			return Field{cls: c.idx, idx: uint16(i), col: cs.colOf[i]}, true
		}
	}
	return Field{}, false
}

// BytesFieldByName returns a bytes field handle by class and name (setup only).
func (s *Schema) BytesFieldByName(c Class, name string) (BytesField, bool) {
	cs := &s.classes[c.idx]
	for i := range cs.Fields {
		if cs.Fields[i].Name == name && cs.Fields[i].Kind == KindBytes {
			return BytesField{cls: c.idx, idx: uint16(i), col: cs.colOf[i]}, true
		}
	}
	return BytesField{}, false
}

// Input returns a copy of the input field declarations, in Input.Values order: the schema
// is immutable, so callers get their own slice (NumInputs counts them without copying).
func (s *Schema) Input() []FieldSpec { return slices.Clone(s.input) }

// NumInputs returns how many values an input carries.
func (s *Schema) NumInputs() int { return len(s.input) }

// ClampInput clamps each value to its input field's range, in place, and reports how many
// values were clamped.
func (s *Schema) ClampInput(values []int32) (clamped int) {
	for i := range values {
		if i >= len(s.input) {
			break
		}
		f := &s.input[i]
		if !f.HasRange {
			continue
		}
		if v := values[i]; v < f.Min {
			values[i], clamped = f.Min, clamped+1
		} else if v > f.Max {
			values[i], clamped = f.Max, clamped+1
		}
	}
	return clamped
}

// Proto returns the state and input schemas as the welcome and recordings carry them.
func (s *Schema) Proto() (*pb.StateSchema, *pb.InputSchema) {
	st := &pb.StateSchema{}
	for ci := range s.classes {
		cs := &s.classes[ci]
		pc := &pb.ClassSpec{Name: cs.Name}
		for i := range cs.Fields {
			pf := fieldToProto(&cs.Fields[i])
			if f := &cs.Fields[i]; f.PredictFrom != "" {
				pf.PredictFrom = uint32(cs.intCols[f.predictCol]) + 1
			}
			pc.Fields = append(pc.Fields, pf)
		}
		st.Classes = append(st.Classes, pc)
	}
	in := &pb.InputSchema{}
	for i := range s.input {
		in.Fields = append(in.Fields, fieldToProto(&s.input[i]))
	}
	return st, in
}

func fieldToProto(f *FieldSpec) *pb.FieldSpec {
	return &pb.FieldSpec{
		Name: f.Name, Type: pb.FieldType(f.Kind), Scale: f.Scale,
		Min: f.Min, Max: f.Max, HasRange: f.HasRange, Interpolate: f.Interpolate,
		PredictNum: f.PredictNum, PredictDen: f.PredictDen, Owner: f.Owner, MaxLen: uint32(f.MaxLen),
	}
}

// SchemaFromProto rebuilds a Schema from its wire form (clients, recordings).
func SchemaFromProto(st *pb.StateSchema, in *pb.InputSchema) (*Schema, error) {
	b := NewSchemaBuilder()
	for _, pc := range st.GetClasses() {
		c := b.Class(pc.GetName())
		for _, pf := range pc.GetFields() {
			spec := fieldFromProto(pf)
			if p := pf.GetPredictFrom(); p > 0 {
				if int(p) > len(pc.GetFields()) {
					return nil, fmt.Errorf("sim: class %q field %q: predict_from %d out of range", pc.GetName(), pf.GetName(), p)
				}
				spec.PredictFrom = pc.GetFields()[p-1].GetName()
			}
			c.add(spec, nil)
		}
	}
	for _, pf := range in.GetFields() {
		b.input(fieldFromProto(pf), nil)
	}
	return b.Build()
}

func fieldFromProto(pf *pb.FieldSpec) FieldSpec {
	kind := Kind(0) // unknown types fail validation instead of wrapping into a known Kind
	if t := pf.GetType(); t >= pb.FieldType_FIELD_TYPE_INT && t <= pb.FieldType_FIELD_TYPE_BYTES {
		kind = Kind(t)
	}
	return FieldSpec{
		Name: pf.GetName(), Kind: kind, Scale: pf.GetScale(),
		Min: pf.GetMin(), Max: pf.GetMax(), HasRange: pf.GetHasRange(), Interpolate: pf.GetInterpolate(),
		PredictNum: pf.GetPredictNum(), PredictDen: pf.GetPredictDen(), Owner: pf.GetOwner(), MaxLen: int(pf.GetMaxLen()),
	}
}
