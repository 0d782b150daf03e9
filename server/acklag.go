package server

import (
	"net"
	"time"
)

// ackLag measures how far behind a connection's peer is from what it has acknowledged, not
// from what the writer handed the socket: a client that stops reading leaves its bytes in the
// kernel's buffers, which take megabytes on a fast link before a write blocks. Writer goroutine
// only; it costs one field add per write and one SIOCOUTQ per check.
//
// It keeps one pending mark: the bytes written so far when it was set, and when. Once the
// peer has acknowledged that many, everything written up to the mark has reached it, so the
// peer trails by at most now − the mark's time (caughtUp); a new mark is then set. When the
// peer holds everything written (nothing unacknowledged), it is caught up now. A peer whose
// receive window stays shut never acknowledges the pending mark: caughtUp stops, and the lag
// grows with the clock. Between checks the mark is at most two check intervals old, so the lag
// read is the true one plus at most 2 × MaxLag/32.
type ackLag struct {
	sent     uint64    // bytes written on the socket since the check began (ws frame headers included)
	caughtUp time.Time // the peer had acknowledged everything written up to this time
	markAt   time.Time // pending mark: when it was set
	markEnd  uint64    // pending mark: sent when it was set
	marked   bool
	checkSet time.Time // when the last check ran (moveDue)
}

// wrote counts a WebSocket frame of n payload bytes written by the server (unmasked header:
// 2 bytes, 4 from 126 bytes, 10 from 64 KiB).
func (l *ackLag) wrote(n int) {
	h := 2
	switch {
	case n >= 1<<16:
		h = 10
	case n >= 126:
		h = 4
	}
	l.sent += uint64(h + n)
}

// behind takes the socket's unacknowledged byte count at now and returns how far behind the
// peer is.
func (l *ackLag) behind(unacked int, now time.Time) time.Duration {
	var acked uint64
	if u := uint64(unacked); u < l.sent {
		acked = l.sent - u
	}
	switch {
	case unacked == 0:
		l.caughtUp, l.marked = now, false
	case l.marked && acked >= l.markEnd:
		l.caughtUp, l.marked = l.markAt, false
	}
	if !l.marked && unacked > 0 {
		l.markAt, l.markEnd, l.marked = now, l.sent, true
	}
	return now.Sub(l.caughtUp)
}

// setupSocket caps the connection's kernel send buffer (SendBuffer) and, on a plain TCP
// socket, prepares the acknowledgement check. Called in OnOpen, before the writer starts and
// before anything but the handshake answer has been written.
func (c *conn) setupSocket(now time.Time) {
	tc, plain := tcpConnOf(c.ws.NetConn())
	if tc == nil {
		return
	}
	if n := c.srv.cfg.SendBuffer; n > 0 {
		if err := tc.SetWriteBuffer(n); err != nil {
			c.srv.log.Warn("cannot cap the socket send buffer", "bytes", n, "err", err)
		}
	}
	if !plain { // TLS: the socket's bytes are records, not the frames counted here
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	q := newSendQueue(rc)
	u, ok := q.unacked()
	if !ok {
		return
	}
	c.sq = q
	c.lag.sent = uint64(u) // the handshake answer, if not yet acknowledged
	c.lag.caughtUp = now
}

// tcpConnOf unwraps a connection to its TCP socket: through limitedConn (Serve) and
// tls.Conn (ServeTLS), both of which have NetConn. plain is false when a layer in between
// (TLS) changes the bytes.
func tcpConnOf(nc net.Conn) (tc *net.TCPConn, plain bool) {
	plain = true
	for range 4 {
		switch v := nc.(type) {
		case *net.TCPConn:
			return v, plain
		case *limitedConn:
			nc = v.Conn
		case interface{ NetConn() net.Conn }:
			nc, plain = v.NetConn(), false
		default:
			return nil, false
		}
	}
	return nil, false
}
