// Package agones is a small client for the Agones game server SDK over its REST sidecar
// (http://localhost:$AGONES_SDK_HTTP_PORT): the lifecycle calls (Ready, Health, Allocate,
// Reserve, Shutdown), the GameServer and its watch stream, labels and annotations, and the Beta
// Counters and Lists. It is written by hand from the Agones documentation and the SDK's
// swagger definitions (sdk.swagger.json, beta.swagger.json), with net/http and encoding/json
// only: the official Go SDK speaks gRPC and is not a dependency of ticksync.
//
// The sidecar may start after the game server, so every call retries with exponential backoff,
// until its context ends, while the sidecar cannot be reached or answers HTTP 503: a refused
// connection always, a connection lost after the request went out only for the calls that are
// safe to repeat (not AddListValue, RemoveListValue, IncrementCounter). A call that reached the sidecar
// and was refused returns an *Error (HTTP 500 with a JSON body), which errors.Is classifies
// with ErrNotFound, ErrValueExists, ErrValueMissing, ErrOutOfRange and ErrListFull. int64
// values travel as JSON strings, as the sidecar's gRPC gateway writes them.
package agones

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultHTTPPort is the sidecar's REST port when AGONES_SDK_HTTP_PORT is unset.
const DefaultHTTPPort = "9358"

// Client talks to one SDK sidecar. It is safe for concurrent use.
type Client struct {
	base       string
	hc         *http.Client
	minBackoff time.Duration
	maxBackoff time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc (default: a client with no timeout;
// contexts bound every call, and the watch stream is long-lived).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithBackoff sets the retry backoff: the first wait is min, each next one doubles up to max
// (default 50ms and 2s).
func WithBackoff(min, max time.Duration) Option {
	return func(c *Client) { c.minBackoff, c.maxBackoff = min, max }
}

// New returns a Client for the sidecar at baseURL (e.g. "http://localhost:9358").
func New(baseURL string, opts ...Option) *Client {
	for len(baseURL) > 0 && baseURL[len(baseURL)-1] == '/' {
		baseURL = baseURL[:len(baseURL)-1]
	}
	c := &Client{base: baseURL, hc: &http.Client{}, minBackoff: 50 * time.Millisecond, maxBackoff: 2 * time.Second}
	for _, o := range opts {
		o(c)
	}
	if c.minBackoff <= 0 {
		c.minBackoff = time.Millisecond
	}
	if c.maxBackoff < c.minBackoff {
		c.maxBackoff = c.minBackoff
	}
	return c
}

// FromEnv returns a Client for http://localhost:$AGONES_SDK_HTTP_PORT (default 9358), reading
// the variable through getenv (os.Getenv in production).
func FromEnv(getenv func(string) string, opts ...Option) *Client {
	port := getenv("AGONES_SDK_HTTP_PORT")
	if port == "" {
		port = DefaultHTTPPort
	}
	return New("http://localhost:"+port, opts...)
}

// BaseURL is the sidecar's address the Client was made with.
func (c *Client) BaseURL() string { return c.base }

var empty = struct{}{}

// Ready tells Agones the server is ready to take players (POST /ready): the GameServer goes
// RequestReady, then Ready. Called on an Allocated server it returns the server to Ready.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/ready", empty, nil, true)
}

// Health sends one health ping (POST /health). Send them more often than the GameServer's
// spec.health.periodSeconds.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/health", empty, nil, true)
}

// Shutdown asks Agones to shut the GameServer down (POST /shutdown).
func (c *Client) Shutdown(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/shutdown", empty, nil, true)
}

// Allocate marks the GameServer Allocated itself (POST /allocate). A GameServerAllocation is
// the usual way; this is for servers that allocate themselves.
func (c *Client) Allocate(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/allocate", empty, nil, true)
}

// Reserve moves the GameServer to Reserved for d (whole seconds; 0: until the next state
// change) (POST /reserve).
func (c *Client) Reserve(ctx context.Context, d time.Duration) error {
	body := struct {
		Seconds int64 `json:"seconds,string"`
	}{int64(d / time.Second)}
	return c.do(ctx, http.MethodPost, "/reserve", body, nil, true)
}

// SetLabel sets the label "agones.dev/sdk-"+key on the GameServer (PUT /metadata/label).
func (c *Client) SetLabel(ctx context.Context, key, value string) error {
	return c.do(ctx, http.MethodPut, "/metadata/label", keyValue{key, value}, nil, true)
}

// SetAnnotation sets the annotation "agones.dev/sdk-"+key on the GameServer
// (PUT /metadata/annotation).
func (c *Client) SetAnnotation(ctx context.Context, key, value string) error {
	return c.do(ctx, http.MethodPut, "/metadata/annotation", keyValue{key, value}, nil, true)
}

type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// GameServer returns the backing GameServer (GET /gameserver).
func (c *Client) GameServer(ctx context.Context) (*GameServer, error) {
	var gs GameServer
	if err := c.do(ctx, http.MethodGet, "/gameserver", nil, &gs, true); err != nil {
		return nil, err
	}
	return &gs, nil
}

// List returns the List key (GET /v1beta1/lists/{key}).
func (c *Client) List(ctx context.Context, key string) (*List, error) {
	var l List
	if err := c.do(ctx, http.MethodGet, listPath(key), nil, &l, true); err != nil {
		return nil, err
	}
	return &l, nil
}

// AddListValue appends value to the List key (POST /v1beta1/lists/{key}:addValue). A value
// already there is ErrValueExists; a full List is ErrListFull. Like every non-idempotent call it
// is retried only when the connection could not be made, so it is never applied twice.
func (c *Client) AddListValue(ctx context.Context, key, value string) error {
	return c.do(ctx, http.MethodPost, listPath(key)+":addValue", listValue{value}, nil, false)
}

// RemoveListValue removes value from the List key (POST /v1beta1/lists/{key}:removeValue). A
// value not there is ErrValueMissing.
func (c *Client) RemoveListValue(ctx context.Context, key, value string) error {
	return c.do(ctx, http.MethodPost, listPath(key)+":removeValue", listValue{value}, nil, false)
}

type listValue struct {
	Value string `json:"value"`
}

// SetListCapacity sets the List's capacity, 0 to 1000; values beyond it are dropped
// (PATCH /v1beta1/lists/{key} {"capacity": "n"}).
func (c *Client) SetListCapacity(ctx context.Context, key string, n int64) error {
	body := struct {
		Capacity int64 `json:"capacity,string"`
	}{n}
	return c.do(ctx, http.MethodPatch, listPath(key), body, nil, true)
}

// Counter returns the Counter key (GET /v1beta1/counters/{key}).
func (c *Client) Counter(ctx context.Context, key string) (*Counter, error) {
	var ct Counter
	if err := c.do(ctx, http.MethodGet, counterPath(key), nil, &ct, true); err != nil {
		return nil, err
	}
	return &ct, nil
}

// SetCounter sets the Counter's count, within [0, capacity] (PATCH /v1beta1/counters/{key}
// {"count": "n"}); outside it is ErrOutOfRange.
func (c *Client) SetCounter(ctx context.Context, key string, count int64) error {
	body := struct {
		Count int64 `json:"count,string"`
	}{count}
	return c.do(ctx, http.MethodPatch, counterPath(key), body, nil, true)
}

// SetCounterCapacity sets the Counter's capacity (>= 0) (PATCH {"capacity": "n"}).
func (c *Client) SetCounterCapacity(ctx context.Context, key string, capacity int64) error {
	body := struct {
		Capacity int64 `json:"capacity,string"`
	}{capacity}
	return c.do(ctx, http.MethodPatch, counterPath(key), body, nil, true)
}

// IncrementCounter adds delta (negative: subtracts) to the Counter's count
// (PATCH {"countDiff": "delta"}); a result outside [0, capacity] is ErrOutOfRange and changes
// nothing. It is not idempotent, so it is retried only when the connection could not be made.
func (c *Client) IncrementCounter(ctx context.Context, key string, delta int64) error {
	body := struct {
		CountDiff int64 `json:"countDiff,string"`
	}{delta}
	return c.do(ctx, http.MethodPatch, counterPath(key), body, nil, false)
}

func listPath(key string) string    { return "/v1beta1/lists/" + url.PathEscape(key) }
func counterPath(key string) string { return "/v1beta1/counters/" + url.PathEscape(key) }

// Watch calls fn with the GameServer each time it changes (GET /watch/gameserver: newline-
// delimited {"result": GameServer}, the current state first). When the stream ends or fails it
// reconnects with backoff, and the first line of each new stream is the current state again.
// Watch returns only when ctx ends, with ctx's error. fn runs on Watch's goroutine.
func (c *Client) Watch(ctx context.Context, fn func(*GameServer)) error {
	b := c.newBackoff()
	for {
		got, _ := c.watchOnce(ctx, fn)
		if got {
			b = c.newBackoff()
		}
		if err := b.wait(ctx); err != nil {
			return err
		}
	}
}

// watchOnce reads one watch stream to its end; got reports whether any line arrived.
func (c *Client) watchOnce(ctx context.Context, fn func(*GameServer)) (got bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/watch/gameserver", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return false, readError(req, resp)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var line struct {
			Result *GameServer `json:"result"`
			Error  *rpcStatus  `json:"error"`
		}
		if err := dec.Decode(&line); err != nil {
			return got, err
		}
		if line.Error != nil {
			return got, &Error{Method: req.Method, Path: req.URL.Path, StatusCode: resp.StatusCode, Code: line.Error.Code, Message: line.Error.Message}
		}
		if line.Result != nil {
			got = true
			fn(line.Result)
		}
	}
}

// rpcStatus is the gateway's error body (google.rpc.Status).
type rpcStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// do sends one call, retrying while the sidecar cannot be reached (any transport failure when
// idempotent, only failed dials otherwise) or answers 503, until ctx ends.
func (c *Client) do(ctx context.Context, method, path string, in, out any, idempotent bool) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return err
		}
	}
	b := c.newBackoff()
	for {
		err := c.once(ctx, method, path, payload, out)
		if err == nil || !retryable(err, idempotent) {
			return err
		}
		if werr := b.wait(ctx); werr != nil {
			return fmt.Errorf("agones: %s %s: %w (last error: %w)", method, path, werr, err)
		}
	}
}

func (c *Client) once(ctx context.Context, method, path string, payload []byte, out any) error {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readError(req, resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("agones: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

func readError(req *http.Request, resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Method: req.Method, Path: req.URL.Path, StatusCode: resp.StatusCode}
	var st rpcStatus
	if json.Unmarshal(raw, &st) == nil && st.Message != "" {
		e.Code, e.Message = st.Code, st.Message
	} else {
		e.Message = string(bytes.TrimSpace(raw))
	}
	return e
}

// retryable: the sidecar is not there (yet), or says it is unavailable. A context's end is not.
func retryable(err error, idempotent bool) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode == http.StatusServiceUnavailable
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		return false
	}
	if idempotent {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

type backoff struct {
	next, max time.Duration
}

func (c *Client) newBackoff() *backoff { return &backoff{next: c.minBackoff, max: c.maxBackoff} }

// wait sleeps the current backoff (or until ctx ends, returning its error) and doubles it.
func (b *backoff) wait(ctx context.Context) error {
	t := time.NewTimer(b.next)
	defer t.Stop()
	if b.next *= 2; b.next > b.max {
		b.next = b.max
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
