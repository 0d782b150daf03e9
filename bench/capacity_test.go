package bench

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSystem holds up to capacity players.
type fakeSystem struct {
	capacity, players, resets int
	tried                     []int
}

func (f *fakeSystem) probe() probe {
	return probe{
		reset: func(context.Context) error { f.players = 0; f.resets++; return nil },
		grow:  func(_ context.Context, n int) error { f.players += n; return nil },
		measure: func(_ context.Context, players int) (capStep, *result, error) {
			if players != f.players {
				return capStep{}, nil, errors.New("search lost count of the players")
			}
			f.tried = append(f.tried, players)
			return capStep{Players: players, OK: players <= f.capacity}, &result{Clients: players}, nil
		},
	}
}

func TestSearch(t *testing.T) {
	tests := []struct {
		name                 string
		capacity, unit, step int
		limit                int
		held                 int
		tried                []int
		resets               int
	}{
		{"coarse then fine", 137, 10, 5, 1000, 130, []int{50, 100, 150, 110, 120, 130, 140}, 2},
		{"exact coarse edge", 100, 10, 5, 1000, 100, []int{50, 100, 150, 110}, 2},
		{"one unit per step", 25, 10, 1, 1000, 20, []int{10, 20, 30}, 1},
		{"never breaks", 1 << 30, 10, 5, 120, 120, []int{50, 100, 120}, 1},
		{"first step breaks", 5, 10, 5, 1000, 0, []int{50, 10}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSystem{capacity: tc.capacity}
			held, steps, good, err := search(context.Background(), f.probe(), tc.unit, tc.step, tc.limit)
			require.NoError(t, err)
			assert.Equal(t, tc.held, held)
			assert.Equal(t, tc.tried, f.tried)
			assert.Equal(t, tc.resets, f.resets)
			assert.Len(t, steps, len(tc.tried))
			require.NotNil(t, good)
			if tc.held > 0 {
				assert.Equal(t, tc.held, good.Clients, "the result is the last good step's")
			}
		})
	}
}
