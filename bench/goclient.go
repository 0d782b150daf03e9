package bench

import (
	"context"
	"net"
	"strings"
	"sync/atomic"

	client "github.com/ticksync/ticksync/client-go"
)

// goSession is a load client on client-go, the project's Go client: count-only (frames
// counted, their headers read) or decoding (a mirror kept, every view hash checked).
type goSession struct {
	c      *client.Client
	decode bool
	closed atomic.Bool
}

// dialGo opens a goSession.
func dialGo(ctx context.Context, cfg dialConfig) (session, error) {
	s := &goSession{decode: cfg.Decode}
	c, err := client.Dial(ctx, strings.TrimSuffix(cfg.URL, "/")+"/ws", client.Options{
		Room: cfg.Room, Game: cfg.Game, CreateIfMissing: cfg.CreateIfMissing,
		WantStats: cfg.WantStats, Follow: cfg.Follow, Token: cfg.Token, CountOnly: !cfg.Decode,
		OnInputApplied: cfg.OnApplied, OnStats: cfg.OnStats,
	})
	if err != nil {
		return nil, err
	}
	s.c = c
	if cfg.OnClose != nil {
		go func() {
			<-c.Done()
			if !s.closed.Load() {
				err := c.Err()
				if err == nil {
					err = net.ErrClosed
				}
				cfg.OnClose(err)
			}
		}()
	}
	return s, nil
}

// SendInput sends one input.
func (s *goSession) SendInput(values ...int32) (uint32, error) { return s.c.SendInput(values...) }

// Counters returns client-go's counters; decode times count for decoding sessions only
// (a count-only session's DecodeNs is the time it spends reading frame headers).
func (s *goSession) Counters() counters {
	k := s.c.Counters()
	out := counters{Messages: k.Messages, Frames: k.Frames, Bytes: k.BytesIn, FirstFrameBytes: k.FirstFrameBytes}
	if s.decode {
		out.Decoded, out.DecodeNs = k.Frames, k.DecodeNs
		out.HashChecks, out.HashMismatches = k.HashChecks, k.HashMismatches
	}
	return out
}

// Close closes the connection.
func (s *goSession) Close() {
	if s.closed.Swap(true) {
		return
	}
	_ = s.c.Close()
}
