package sim

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// StateView is a state as humans read it (GET /rooms/{id}/state, `replay dump`): the tick, the
// state hash, and each class's entities with their fields by name, in id order. Fixed-point
// fields are numbers in their unit (value / scale), bools are true or false, bytes fields are
// strings when they are UTF-8 and {"base64": …} otherwise. Frames stay binary: this is for
// looking, not for clients.
type StateView struct {
	Tick    uint32                  `json:"tick"`
	Hash    string                  `json:"hash"` // 16 hex digits, as replay verify prints it
	Classes map[string][]EntityView `json:"classes"`
}

// EntityView is one entity of a StateView.
type EntityView struct {
	ID     uint32         `json:"id"`
	Fields map[string]any `json:"fields"`
}

// View returns st as a StateView (every class listed, empty ones too).
func (st *State) View() StateView {
	v := StateView{Tick: st.tick, Hash: fmt.Sprintf("%016x", st.Hash()), Classes: map[string][]EntityView{}}
	for ci := range st.schema.classes {
		v.Classes[st.schema.classes[ci].Name] = []EntityView{}
	}
	for id := Entity(1); id < st.MaxID(); id++ {
		c, ok := st.ClassOf(id)
		if !ok {
			continue
		}
		cs := st.schema.ClassSpec(c)
		ev := EntityView{ID: uint32(id), Fields: make(map[string]any, len(cs.Fields))}
		for i := range cs.Fields {
			f := &cs.Fields[i]
			col := int(cs.colOf[i])
			if f.Kind == KindBytes {
				b := st.bytes[int(id)*st.bstride+col]
				if utf8.Valid(b) {
					ev.Fields[f.Name] = string(b)
				} else {
					ev.Fields[f.Name] = map[string][]byte{"base64": b}
				}
				continue
			}
			x := st.vals[int(id)*st.stride+col]
			switch f.Kind {
			case KindFixed:
				ev.Fields[f.Name] = json.Number(fixedText(x, f.Scale))
			case KindBool:
				ev.Fields[f.Name] = x != 0
			default:
				ev.Fields[f.Name] = x
			}
		}
		v.Classes[cs.Name] = append(v.Classes[cs.Name], ev)
	}
	return v
}

// fixedText writes x / scale exactly (no float rounding): as many decimals as the scale needs
// when it is a power of ten, else a float's shortest form.
func fixedText(x, scale int32) string {
	if scale <= 1 {
		return fmt.Sprint(x)
	}
	digits := 0
	for p := int64(1); p < int64(scale); p *= 10 {
		digits++
		if p*10 > int64(scale) {
			return fmt.Sprint(float64(x) / float64(scale))
		}
	}
	v := int64(x)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%0*d", sign, v/int64(scale), digits, v%int64(scale))
}
