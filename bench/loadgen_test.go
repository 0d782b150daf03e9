package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSendPhasesSpread: any number of clients' send phases cover the period evenly (each
// tenth of it holds its share, give or take one client), and the seed moves them.
func TestSendPhasesSpread(t *testing.T) {
	const period = 50 * time.Millisecond
	for _, n := range []int{10, 50, 200, 1000} {
		var bins [10]int
		for i := range n {
			p := sendPhase(uint32(i), 1, period)
			require.True(t, p >= 0 && p < period, "phase %v", p)
			bins[p*10/period]++
		}
		for b, got := range bins {
			assert.InDelta(t, n/10, got, 1+float64(n)/100, "n=%d tenth %d: %v", n, b, bins)
		}
	}
	assert.NotEqual(t, sendPhase(0, 1, period), sendPhase(0, 2, period))
}
