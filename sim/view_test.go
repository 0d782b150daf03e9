package sim_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
)

// TestStateView: fields by name, fixed-point in its unit exactly, bools, UTF-8 and binary
// bytes, every class listed, and the hash of the state.
func TestStateView(t *testing.T) {
	b := sim.NewSchemaBuilder()
	p := b.Class("player")
	x := p.Fixed("x", 100)
	odd := p.Fixed("odd", 30)
	alive := p.Bool("alive")
	hp := p.Int("hp")
	name := p.Bytes("name", 8)
	b.Class("empty").Int("n")
	s, err := b.Build()
	require.NoError(t, err)
	w := sim.NewWorld(s, 1)
	e := w.Spawn(p.Handle())
	w.Set(e, x, -1205)
	w.Set(e, odd, 45)
	w.Set(e, alive, 1)
	w.Set(e, hp, 7)
	w.SetBytes(e, name, []byte("ann"))
	e2 := w.Spawn(p.Handle())
	w.SetBytes(e2, name, []byte{0xff, 0})
	st := sim.NewState(s)
	w.Snapshot(st)
	out, err := json.Marshal(st.View())
	require.NoError(t, err)
	assert.JSONEq(t, `{"tick":0,"hash":"`+fmt.Sprintf("%016x", st.Hash())+`","classes":{
		"empty":[],
		"player":[
			{"id":1,"fields":{"x":-12.05,"odd":1.5,"alive":true,"hp":7,"name":"ann"}},
			{"id":2,"fields":{"x":0.00,"odd":0,"alive":false,"hp":0,"name":{"base64":"/wA="}}}]}}`, string(out))
	assert.Contains(t, string(out), `"x":-12.05`, "fixed-point printed exactly")
}
