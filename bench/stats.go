package bench

import (
	"math"
	"slices"
	"time"
)

// quantiles is a distribution summary in milliseconds, as in the JSON output.
type quantiles struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	N    int     `json:"n"`
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of sorted.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// summarize returns the quantiles of samples in microseconds, converted to milliseconds.
func summarize(us []float64) quantiles {
	if len(us) == 0 {
		return quantiles{}
	}
	s := slices.Clone(us)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	return quantiles{
		Mean: round3(sum / float64(len(s)) / 1000),
		P50:  round3(percentile(s, 50) / 1000),
		P90:  round3(percentile(s, 90) / 1000),
		P99:  round3(percentile(s, 99) / 1000),
		Max:  round3(s[len(s)-1] / 1000),
		N:    len(s),
	}
}

// round3 rounds to three decimals, so the JSON stays readable.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// round1 rounds to one decimal.
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// usOf converts a duration to float microseconds.
func usOf(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// toFloats widens uint32 microsecond samples.
func toFloats(v []uint32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
