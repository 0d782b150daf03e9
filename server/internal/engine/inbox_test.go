package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInbox is the input-buffer table: order, duplicates, replays, gaps, the seq window, the
// bound and k per tick.
func TestInbox(t *testing.T) {
	now := time.Unix(0, 0)
	take := func(in *Inbox, k int) []uint32 {
		var got []uint32
		in.take(k, func(p *pending) { got = append(got, p.seq) })
		return got
	}
	t.Run("out of order arrivals are applied in seq order, k per tick", func(t *testing.T) {
		in := NewInbox(8, 2)
		for _, s := range []uint32{3, 1, 2, 5} {
			drop, err := in.Push(s, []int32{int32(s), 0}, now)
			require.NoError(t, err)
			require.Equal(t, Queued, drop)
		}
		assert.Equal(t, []uint32{1, 2}, take(in, 2))
		assert.Equal(t, []uint32{3, 5}, take(in, 2), "a gap (4) does not hold 5 back")
		assert.Empty(t, take(in, 2))
	})
	t.Run("duplicates and replays are dropped", func(t *testing.T) {
		in := NewInbox(8, 2)
		_, _ = in.Push(1, nil, now)
		drop, _ := in.Push(1, nil, now)
		assert.Equal(t, DropStale, drop)
		take(in, 2)
		drop, _ = in.Push(1, nil, now)
		assert.Equal(t, DropStale, drop, "replay of an applied seq")
		drop, _ = in.Push(2, nil, now)
		assert.Equal(t, Queued, drop)
	})
	t.Run("seq window", func(t *testing.T) {
		in := NewInbox(8, 2)
		_, err := in.Push(MaxSeqAhead, nil, now)
		require.NoError(t, err)
		_, err = in.Push(MaxSeqAhead+1, nil, now)
		assert.ErrorIs(t, err, ErrSeqRange)
	})
	t.Run("bounded", func(t *testing.T) {
		in := NewInbox(3, 2)
		for s := uint32(1); s <= 3; s++ {
			drop, _ := in.Push(s, nil, now)
			require.Equal(t, Queued, drop)
		}
		drop, _ := in.Push(4, nil, now)
		assert.Equal(t, DropFull, drop)
	})
	t.Run("values are copied and slots reused", func(t *testing.T) {
		in := NewInbox(2, 2)
		v := []int32{7, 8}
		for round := uint32(0); round < 10; round++ {
			_, _ = in.Push(2*round+1, v, now)
			_, _ = in.Push(2*round+2, []int32{9}, now)
			var vals [][]int32
			in.take(2, func(p *pending) { vals = append(vals, slices.Clone(p.vals)) })
			assert.Equal(t, [][]int32{{7, 8}, {9, 0}}, vals, "missing trailing values are 0")
		}
	})
	t.Run("applied seqs strictly increase under permutations", func(t *testing.T) {
		perm := []uint32{5, 2, 9, 1, 2, 7, 3, 3, 8, 4, 6, 1}
		in := NewInbox(16, 1)
		var applied []uint32
		for i, s := range perm {
			_, _ = in.Push(s, nil, now)
			if i%2 == 1 {
				applied = append(applied, take(in, 1)...)
			}
		}
		applied = append(applied, take(in, 16)...)
		assert.True(t, slices.IsSorted(applied))
		assert.Len(t, slices.Compact(slices.Clone(applied)), len(applied))
	})
}
