package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostileCount(t *testing.T) {
	assert.Equal(t, 0, hostileCount(100, 0))
	assert.Equal(t, 1, hostileCount(10, 5), "at least one of each kind")
	assert.Equal(t, 1, hostileCount(100, 5), "5 of 100: one of each of six kinds")
	assert.Equal(t, 7, hostileCount(800, 5), "40 of 800: seven of each kind")
	assert.Equal(t, 5*7, hostileSeats(7), "every kind but slowloris holds a seat")
}

func TestMaxMsgBytes(t *testing.T) {
	assert.Equal(t, 4096, maxMsgBytes(""))
	assert.Equal(t, 1024, maxMsgBytes("-max-lag=2s -max-msg-bytes=1024"))
	assert.Equal(t, 2048, maxMsgBytes("--max-msg-bytes 2048 -pprof"))
}

func TestParsePct(t *testing.T) {
	for in, want := range map[string]float64{"5%": 5, "5": 5, " 2.5% ": 2.5, "0": 0} {
		got, err := parsePct(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"x", "-1%", "101%"} {
		_, err := parsePct(bad)
		assert.Error(t, err, bad)
	}
}

// TestLogHist checks the soak's histogram against exact quantiles: within its 0.5 % buckets.
func TestLogHist(t *testing.T) {
	var h logHist
	var all []float64
	for i := 1; i <= 100000; i++ {
		v := float64(i%5000) * 10.3 // µs, 0 … 51 ms
		h.add(v)
		all = append(all, v)
	}
	exact, got := summarize(all), h.quantiles()
	assert.Equal(t, exact.N, got.N)
	assert.Equal(t, exact.Max, got.Max)
	assert.InDelta(t, exact.Mean, got.Mean, 0.001)
	for _, p := range [][2]float64{{exact.P50, got.P50}, {exact.P90, got.P90}, {exact.P99, got.P99}} {
		assert.InEpsilon(t, p[0], p[1], 0.006)
	}
	assert.Equal(t, quantiles{}, (&logHist{}).quantiles())
}

func TestRSSFlat(t *testing.T) {
	sr := &soakResult{Samples: []soakSample{{TS: 10, RSSMB: 30}, {TS: 20, RSSMB: 40}, {TS: 30, RSSMB: 41}, {TS: 40, RSSMB: 43.9}}}
	sr.rssFlat(100e9) // warm-up: 10 s of 100 s, then the first sample at or after it
	assert.Equal(t, 10.0, sr.RSSWarmupS)
	assert.Equal(t, 30.0, sr.RSSAtWarmupMB)
	assert.False(t, sr.RSSFlat, "40 MB is more than 10 %% above 30")
	sr.Samples[0].RSSMB = 40
	sr.rssFlat(100e9)
	assert.True(t, sr.RSSFlat)
	assert.Equal(t, 40.0, sr.RSSMinAfterMB)
	assert.Equal(t, 43.9, sr.RSSMaxAfterMB)
}
