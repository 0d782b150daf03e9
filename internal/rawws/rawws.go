// Package rawws is a WebSocket client kit that speaks raw frames, so tests and the benchmark's
// hostile clients can send what a well-behaved client never would (text, oversized,
// fragmented, unmasked, reserved opcodes, garbage, no reads at all) and read exactly what the
// server answers: HTTP status, frames, close code. It is not a client for real use.
package rawws

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Opcodes (RFC 6455 §5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// Conn is a raw client connection after a handshake.
type Conn struct {
	net.Conn
	br *bufio.Reader
}

// Response is a refused handshake's status, headers and body.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Options shape the handshake.
type Options struct {
	Origin      string
	Subprotocol string      // "" offers none; default callers pass "ticksync.v1"
	Header      http.Header // extra headers; each replaces a default of the same name
	LocalIP     string      // dial from this address (e.g. 127.0.0.2: Linux accepts all of 127/8); "": any
	// RecvBuffer caps the socket's receive buffer in bytes (SO_RCVBUF; 0: the system's,
	// which Linux grows to megabytes on loopback): a peer that never reads then fills it
	// within a few frames, whatever the machine's speed.
	RecvBuffer int
}

// Dial opens a TCP connection to the ws:// URL and performs the handshake. A non-101 answer
// is returned as a Response with a nil Conn.
func Dial(rawURL string, o Options) (*Conn, *Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, err
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	if o.LocalIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(o.LocalIP)}
	}
	nc, err := d.Dial("tcp", u.Host)
	if err != nil {
		return nil, nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok && o.RecvBuffer > 0 {
		if err := tc.SetReadBuffer(o.RecvBuffer); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	c, resp, err := Handshake(nc, rawURL, o)
	if c != nil {
		_ = nc.SetDeadline(time.Time{})
	}
	return c, resp, err
}

// Handshake performs the WebSocket handshake for the ws:// URL over nc, an open connection
// (with whatever deadlines and socket options its caller chose; LocalIP is not used). A
// non-101 answer is returned as a Response with a nil Conn. nc is closed on any failure.
func Handshake(nc net.Conn, rawURL string, o Options) (*Conn, *Response, error) {
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	req.URL.Scheme = "http"
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key))
	if o.Subprotocol != "" {
		req.Header.Set("Sec-WebSocket-Protocol", o.Subprotocol)
	}
	if o.Origin != "" {
		req.Header.Set("Origin", o.Origin)
	}
	for k, vs := range o.Header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if err := req.Write(nc); err != nil {
		nc.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		nc.Close()
		return nil, &Response{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}, nil
	}
	return &Conn{Conn: nc, br: br}, nil, nil
}

// Frame describes one frame to write.
type Frame struct {
	Op       byte
	Payload  []byte
	NotFin   bool // a fragment that more frames continue
	Unmasked bool // client frames must be masked; this breaks that rule
	RSV      byte // reserved bits (0x70 mask), normally 0
}

// WriteFrame writes one frame.
func (c *Conn) WriteFrame(f Frame) error {
	var hdr [14]byte
	b0 := f.Op&0x0F | f.RSV&0x70
	if !f.NotFin {
		b0 |= 0x80
	}
	hdr[0] = b0
	n := len(f.Payload)
	i := 2
	switch {
	case n < 126:
		hdr[1] = byte(n)
	case n <= 0xFFFF:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
		i = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
		i = 10
	}
	p := append([]byte(nil), f.Payload...)
	if !f.Unmasked {
		hdr[1] |= 0x80
		var key [4]byte
		_, _ = rand.Read(key[:])
		copy(hdr[i:], key[:])
		i += 4
		for j := range p {
			p[j] ^= key[j%4]
		}
	}
	_, err := c.Write(append(hdr[:i], p...))
	return err
}

// WriteClose writes a close frame with code and reason (the reason's bytes as given, valid
// UTF-8 or not).
func (c *Conn) WriteClose(code uint16, reason []byte) error {
	p := binary.BigEndian.AppendUint16(nil, code)
	return c.WriteFrame(Frame{Op: OpClose, Payload: append(p, reason...)})
}

// WriteBinary writes one masked, final binary frame.
func (c *Conn) WriteBinary(p []byte) error { return c.WriteFrame(Frame{Op: OpBinary, Payload: p}) }

// ReadFrame reads one server frame (unmasked by the protocol): opcode and payload.
func (c *Conn) ReadFrame() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	op = h[0] & 0x0F
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 64<<20 {
		return 0, nil, fmt.Errorf("rawws: frame of %d bytes", n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return 0, nil, err
	}
	return op, payload, nil
}

// ErrNoClose reports a connection that ended without a close frame.
var ErrNoClose = errors.New("rawws: connection ended without a close frame")

// ReadClose reads frames until a close frame and returns its code and reason; data frames
// met on the way are passed to seen (may be nil).
func (c *Conn) ReadClose(timeout time.Duration, seen func(op byte, p []byte)) (code uint16, reason string, err error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	for {
		op, p, err := c.ReadFrame()
		if err != nil {
			return 0, "", fmt.Errorf("%w: %v", ErrNoClose, err)
		}
		if op == OpClose {
			if len(p) < 2 {
				return 1005, "", nil
			}
			return binary.BigEndian.Uint16(p), string(p[2:]), nil
		}
		if seen != nil {
			seen(op, p)
		}
	}
}
