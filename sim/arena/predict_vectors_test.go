package arena

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
)

// predictVectorsPath is where the demo's predict step is checked against arena: client-js's
// test/predictcheck.test.ts runs predictArena over it with checkPredict.
var predictVectorsPath = filepath.Join("testdata", "predict-vectors.json")

// arenaScript is a scripted arena match for predict vectors: player 1 drives into the left and
// top borders at full speed and bounces there, then into the right and bottom ones; player 2
// steers odd velocities (truncation towards zero, out of range: clamped) and leaves, then comes
// back as a new entity; player 3 joins late and sometimes sends no move or two in one tick.
// bounced records the borders player 1 bounced off (its velocity's sign against its input).
func arenaScript(g *Game, half int, bounced map[string]bool) func(tick uint32, w *sim.World) []sim.Input {
	var last [2]int32 // player 1's last move
	return func(tick uint32, w *sim.World) []sim.Input {
		if e, ok := g.Player(1); ok {
			for i, f := range [2]sim.Field{g.pvx, g.pvy} {
				if v := w.Get(e, f); v != last[i] && v == -last[i] {
					bounced[map[bool]string{true: "low", false: "high"}[v > 0]+[2]string{"x", "y"}[i]] = true
				}
			}
		}
		t := int(tick)
		var in []sim.Input
		move := func(p uint32, vx, vy int32) {
			in = append(in, sim.Input{Player: p, Kind: sim.InputMove, Values: []int32{vx, vy}})
		}
		join := func(p uint32) { in = append(in, sim.Input{Player: p, Kind: sim.InputJoin}) }
		switch t {
		case 1:
			join(1)
			join(2)
		case 9:
			join(3)
		case half + 3:
			in = append(in, sim.Input{Player: 2, Kind: sim.InputLeave})
		case half + 12:
			join(2)
		}
		last = [2]int32{MaxInput, MaxInput - int32(t%7)}
		if t < half {
			last = [2]int32{-MaxInput, -MaxInput}
		}
		move(1, last[0], last[1])
		if t < half+3 || t > half+12 {
			vs := [...][2]int32{{-19, 21}, {-21, -19}, {3 * MaxInput, -3 * MaxInput}, {12345, -6789}, {0, 0}, {-MaxInput, 7}}
			v := vs[(t/5)%len(vs)]
			move(2, v[0], v[1])
		}
		if t > 9 {
			switch t % 11 {
			case 0: // no move this tick
			case 5: // two moves in one tick: arena applies the newer
				move(3, 500, -500)
				move(3, -MaxInput, MaxInput/3)
			default:
				move(3, int32(t%13)*1000-6000, MaxInput/2)
			}
		}
		return in
	}
}

// TestPredictVectors records scripted arena matches at two tick rates as predict vectors and
// compares them with testdata/predict-vectors.json; -update rewrites the file.
func TestPredictVectors(t *testing.T) {
	var matches []simtest.PredictMatch
	for _, hz := range []int32{20, 7} {
		const config = `{"npcs":3}`
		gg, err := New(uint32(hz), []byte(config))
		require.NoError(t, err)
		g := gg.(*Game)
		half := int(3 * WorldSize / 2 / (MaxInput / hz)) // ticks to cross the world one and a half times
		bounced := map[string]bool{}
		t.Cleanup(func() {
			assert.Len(t, bounced, 4, "%d Hz: player 1 bounced off %v, not off all four borders", hz, bounced)
		})
		matches = append(matches, simtest.PredictMatch{
			Name: fmt.Sprintf("%dhz", hz), Game: g, TickRate: uint32(hz), Config: config, Seed: 42,
			Ticks: 2*half + 10, Script: arenaScript(g, half, bounced),
		})
	}
	got, err := simtest.PredictVectors(Name, matches...)
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile(predictVectorsPath, got, 0o644))
	}
	want, err := os.ReadFile(predictVectorsPath)
	require.NoError(t, err, "run go test ./sim/arena -run TestPredictVectors -update once")
	assert.Equal(t, string(want), string(got), "arena's predict vectors changed: if on purpose, rerun with -update and run client-js's tests (predictArena must still agree)")
}
