package lobby

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The GameServerAllocation API (allocation.agones.dev/v1), reduced to the fields the lobby
// sends and reads. JSON names follow Agones' pkg/apis/allocation/v1.

// AllocationSpec is a GameServerAllocation's spec.
type AllocationSpec struct {
	// Selectors are tried in order; the first that matches a GameServer wins.
	Selectors []Selector `json:"selectors"`
	// Priorities order the GameServers a selector matches (Counters and Lists, Beta).
	Priorities []Priority `json:"priorities,omitempty"`
	// Metadata is merged into the allocated GameServer's labels and annotations.
	Metadata *MetaPatch `json:"metadata,omitempty"`
	// Lists are the list actions applied to the allocated GameServer (addValues).
	Lists map[string]ListAction `json:"lists,omitempty"`
}

// Selector chooses GameServers by label, state and list contents.
type Selector struct {
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
	// MatchExpressions are label requirements (the lobby's: not draining).
	MatchExpressions []LabelRequirement `json:"matchExpressions,omitempty"`
	// GameServerState is "Ready" (the API's default) or "Allocated".
	GameServerState string                  `json:"gameServerState,omitempty"`
	Lists           map[string]ListSelector `json:"lists,omitempty"`
}

// LabelRequirement is a Kubernetes label selector requirement: Operator In, NotIn, Exists or
// DoesNotExist on Key.
type LabelRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// ListSelector matches a GameServer's list by free capacity or by a value it holds.
type ListSelector struct {
	ContainsValue string `json:"containsValue,omitempty"`
	MinAvailable  int64  `json:"minAvailable,omitempty"`
}

// Priority sorts matching GameServers: Type "List" or "Counter", Key its name, Order
// "Ascending" (least available capacity first) or "Descending".
type Priority struct {
	Type  string `json:"type"`
	Key   string `json:"key"`
	Order string `json:"order"`
}

// ListAction changes a list of the allocated GameServer.
type ListAction struct {
	AddValues []string `json:"addValues,omitempty"`
}

// MetaPatch is merged into the allocated GameServer's metadata.
type MetaPatch struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AllocationStatus is what an allocation answers.
type AllocationStatus struct {
	// State is StateAllocated, StateUnAllocated or StateContention.
	State          string `json:"state"`
	GameServerName string `json:"gameServerName"`
	Address        string `json:"address"`
	Ports          []Port `json:"ports"`
}

// Port is one of a GameServer's ports.
type Port struct {
	Name string `json:"name"`
	Port int32  `json:"port"`
}

// The allocation states.
const (
	StateAllocated   = "Allocated"
	StateUnAllocated = "UnAllocated" // nothing matched
	StateContention  = "Contention"  // a concurrent update won; retrying is expected
)

// Errors Allocate returns beside *APIError and transport errors.
var (
	// ErrNoServer: no GameServer matched (state UnAllocated, or HTTP 429 from the API server).
	ErrNoServer = errors.New("lobby: no game server matched")
	// ErrContention: every attempt ended in Contention.
	ErrContention = errors.New("lobby: allocation contention persisted")
)

// APIError is an answer of the API server other than success or 429: its HTTP status and the
// Kubernetes Status' reason and message (e.g. 403 Forbidden when the service account may not
// create gameserverallocations).
type APIError struct {
	Code    int
	Reason  string
	Message string
}

// Error says the status, reason and message.
func (e *APIError) Error() string {
	return fmt.Sprintf("allocation API: %d %s: %s", e.Code, e.Reason, e.Message)
}

// ServiceAccountDir is where Kubernetes mounts a pod's service account: token, ca.crt,
// namespace.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// Allocator creates GameServerAllocations through the Kubernetes API:
// POST {URL}/apis/allocation.agones.dev/v1/namespaces/{Namespace}/gameserverallocations.
// Its zero value is not usable: set URL and Namespace, or use InCluster.
type Allocator struct {
	// URL is the API server's base URL: https://kubernetes.default.svc in a cluster, or e.g.
	// http://127.0.0.1:8001 behind `kubectl proxy`.
	URL string
	// Namespace is the namespace of the fleet.
	Namespace string
	// TokenFile, when set, holds the bearer token. It is read before every request, since the
	// kubelet rotates projected service account tokens.
	TokenFile string
	// HTTP sends the requests (nil: http.DefaultClient).
	HTTP *http.Client
	// Attempts bounds the tries of an allocation answered Contention (0: 5).
	Attempts int
	// Backoff is the wait after the first Contention, doubled after each next one (0: 50ms).
	Backoff time.Duration
}

// InCluster returns the Allocator of the pod's own cluster, as client-go's in-cluster config
// finds it: the API server at $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (else
// kubernetes.default.svc:443), trusted through dir/ca.crt, with the bearer token dir/token and
// the namespace of dir/namespace. dir is ServiceAccountDir outside tests.
func InCluster(dir string, getenv func(string) string) (*Allocator, error) {
	pem, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("lobby: not in a cluster? %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("lobby: %s: no certificate", filepath.Join(dir, "ca.crt"))
	}
	tokenFile := filepath.Join(dir, "token")
	if _, err := os.Stat(tokenFile); err != nil {
		return nil, fmt.Errorf("lobby: service account token: %w", err)
	}
	ns, err := Namespace(dir)
	if err != nil {
		return nil, err
	}
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		host, port = "kubernetes.default.svc", "443"
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &Allocator{
		URL:       "https://" + net.JoinHostPort(host, port),
		Namespace: ns,
		TokenFile: tokenFile,
		HTTP:      &http.Client{Transport: tr},
	}, nil
}

// Namespace reads the pod's namespace from the service account directory dir.
func Namespace(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "namespace"))
	if err != nil {
		return "", fmt.Errorf("lobby: service account namespace: %w", err)
	}
	ns := strings.TrimSpace(string(b))
	if ns == "" {
		return "", fmt.Errorf("lobby: %s is empty", filepath.Join(dir, "namespace"))
	}
	return ns, nil
}

// maxAnswer bounds the allocation answer read: a GameServerAllocation with its status is a few
// KiB (the lists it echoes are bounded by their capacity).
const maxAnswer = 1 << 20

// Allocate creates one GameServerAllocation with spec and returns its status once Allocated.
// Contention is retried with backoff up to Attempts times (then ErrContention); UnAllocated
// and HTTP 429 give ErrNoServer; any other failure answer an *APIError.
func (a *Allocator) Allocate(ctx context.Context, spec AllocationSpec) (AllocationStatus, error) {
	body, err := json.Marshal(struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Spec       AllocationSpec `json:"spec"`
	}{"allocation.agones.dev/v1", "GameServerAllocation", spec})
	if err != nil {
		return AllocationStatus{}, err
	}
	attempts, wait := a.Attempts, a.Backoff
	if attempts <= 0 {
		attempts = 5
	}
	if wait <= 0 {
		wait = 50 * time.Millisecond
	}
	for i := 1; ; i++ {
		st, err := a.post(ctx, body)
		if err != nil {
			return AllocationStatus{}, err
		}
		switch st.State {
		case StateAllocated:
			return st, nil
		case StateUnAllocated:
			return AllocationStatus{}, ErrNoServer
		case StateContention:
			if i >= attempts {
				return AllocationStatus{}, ErrContention
			}
		default:
			return AllocationStatus{}, fmt.Errorf("lobby: allocation answered state %q", st.State)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return AllocationStatus{}, ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
}

// post sends one allocation and decodes its status.
func (a *Allocator) post(ctx context.Context, body []byte) (AllocationStatus, error) {
	url := strings.TrimSuffix(a.URL, "/") + "/apis/allocation.agones.dev/v1/namespaces/" + a.Namespace + "/gameserverallocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return AllocationStatus{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if a.TokenFile != "" {
		tok, err := os.ReadFile(a.TokenFile)
		if err != nil {
			return AllocationStatus{}, fmt.Errorf("lobby: service account token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	hc := a.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return AllocationStatus{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return AllocationStatus{}, fmt.Errorf("lobby: allocation answer: %w", err)
	}
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		return AllocationStatus{}, ErrNoServer
	case res.StatusCode < 200 || res.StatusCode > 299:
		return AllocationStatus{}, apiError(res, raw)
	}
	var out struct {
		Status AllocationStatus `json:"status"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return AllocationStatus{}, fmt.Errorf("lobby: allocation answer: %w", err)
	}
	return out.Status, nil
}

// apiError reads a Kubernetes Status body ({"reason": ..., "message": ...}); a body that is
// not one gives its first line as the message.
func apiError(res *http.Response, raw []byte) *APIError {
	e := &APIError{Code: res.StatusCode, Reason: http.StatusText(res.StatusCode)}
	var st struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &st) == nil && st.Message != "" {
		e.Message = st.Message
		if st.Reason != "" {
			e.Reason = st.Reason
		}
		return e
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
	if len(line) > 200 {
		line = line[:200]
	}
	e.Message = line
	return e
}
