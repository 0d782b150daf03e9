package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// maxErrorBody bounds how much of a refused handshake's body is read: the server's reasons are
// one line.
const maxErrorBody = 512

// Dial connects to a ticksync server's WebSocket endpoint (e.g. ws://127.0.0.1:8080/ws), joins
// opts.Room and returns once the welcome has arrived (or right after the upgrade with
// SkipJoin). A refused upgrade is a *HandshakeError with the HTTP status and body; a
// connection the server closes before its welcome is a *CloseError (4004 room not found, 4009
// room full…). ctx bounds the whole dial; it does not end the connection afterwards.
func Dial(ctx context.Context, rawURL string, opts Options) (*Client, error) {
	return dial(ctx, rawURL, opts, nil)
}

func dial(ctx context.Context, rawURL string, opts Options, sd *seed) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("client: dial: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("client: dial: scheme %q, want ws or wss", u.Scheme)
	}
	c := newClient(rawURL, opts, sd)
	if opts.Token != "" {
		q := u.Query()
		q.Set("token", opts.Token)
		u.RawQuery = q.Encode()
	}
	if err := c.connect(ctx, u); err != nil {
		return nil, err
	}
	go c.conn.ReadLoop()
	if opts.SkipJoin {
		return c, nil
	}
	join := &pb.Join{
		Room: opts.Room, Game: opts.Game, CreateIfMissing: opts.CreateIfMissing,
		Spectator: opts.Spectator, LastTick: opts.LastTick, WantStats: opts.WantStats,
		Config: opts.Config, Meta: opts.Meta, QuickPlay: opts.QuickPlay, Labels: opts.Labels,
		Views: true, Follow: opts.Follow, // the mirror applies Frame.pieces
	}
	if err := c.Send(&pb.ClientMessage{Kind: &pb.ClientMessage_Join{Join: join}}); err != nil {
		c.Close()
		return nil, fmt.Errorf("client: join: %w", err)
	}
	select {
	case <-c.welcomed:
		return c, nil
	case <-c.done:
		select {
		case <-c.welcomed: // welcomed, then closed at once: the caller sees CloseInfo
			return c, nil
		default:
			return nil, fmt.Errorf("client: join: %w", c.Err())
		}
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("client: join: %w", ctx.Err())
	}
}

// connect opens the socket and upgrades it.
//
// gws's NewClient reports a refused upgrade as "unexpected status code" and closes the socket
// before the caller can read the body, and the body is the server's reason ("origin not
// allowed"). So the client dials itself and hands gws a connection whose Close is held back
// until the response has been read.
func (c *Client) connect(ctx context.Context, u *url.URL) error {
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "wss" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	netDial := c.opts.NetDial
	if netDial == nil {
		netDial = (&net.Dialer{}).DialContext
	}
	raw, err := netDial(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("client: dial: %w", err)
	}
	if u.Scheme == "wss" {
		cfg := c.opts.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		raw = tls.Client(raw, cfg)
	}
	hc := &holdConn{Conn: raw}
	hc.hold.Store(true)
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() }) // unblocks the handshake

	timeout := DefaultHandshakeTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(dl), time.Millisecond))
	}
	hdr := http.Header{}
	hdr.Set("Sec-WebSocket-Protocol", Subprotocol)
	if c.opts.Origin != "" {
		hdr.Set("Origin", c.opts.Origin)
	}
	conn, resp, err := gws.NewClientFromConn(events{c}, &gws.ClientOption{
		Addr:               u.String(),
		RequestHeader:      hdr,
		HandshakeTimeout:   timeout,
		ReadMaxPayloadSize: c.opts.ReadMaxBytes,
		ParallelEnabled:    false, // true reorders messages
		Recovery:           gws.Recovery,
	}, hc)
	canceled := !stop()
	if err != nil {
		defer raw.Close()
		if canceled {
			return fmt.Errorf("client: dial: %w", ctx.Err())
		}
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
			return &HandshakeError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(body))}
		}
		return fmt.Errorf("client: handshake: %w", err)
	}
	hc.hold.Store(false)
	if canceled { // ctx ended as the upgrade finished: the socket is closed
		_ = raw.Close()
		return fmt.Errorf("client: dial: %w", ctx.Err())
	}
	c.conn = conn
	return nil
}

// holdConn is a connection whose Close does nothing while hold is set, so a refused
// handshake's body can still be read after gws has "closed" it.
type holdConn struct {
	net.Conn
	hold atomic.Bool
}

func (h *holdConn) Close() error {
	if h.hold.Load() {
		return nil
	}
	return h.Conn.Close()
}
