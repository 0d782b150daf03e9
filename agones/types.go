package agones

// GameServer states (Agones' GameServer lifecycle). Ready() on the SDK asks for RequestReady and
// the controller then moves the server to Ready; an allocation moves it to Allocated; Shutdown()
// and failed health checks are one-way (Shutdown, Unhealthy).
const (
	StateScheduled    = "Scheduled"
	StateRequestReady = "RequestReady"
	StateReady        = "Ready"
	StateAllocated    = "Allocated"
	StateReserved     = "Reserved"
	StateUnhealthy    = "Unhealthy"
	StateShutdown     = "Shutdown"
)

// GameServer is the sidecar's view of the backing GameServer, as GET /gameserver and each line
// of GET /watch/gameserver carry it. Field names are the proto names the sidecar's gateway
// emits (object_meta, creation_timestamp); int64 fields travel as JSON strings.
type GameServer struct {
	ObjectMeta ObjectMeta `json:"object_meta"`
	Spec       Spec       `json:"spec"`
	Status     Status     `json:"status"`
}

// ObjectMeta is the GameServer's Kubernetes metadata as the SDK exposes it. A non-zero
// DeletionTimestamp means the GameServer is being deleted.
type ObjectMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resource_version,omitempty"`
	Generation        int64             `json:"generation,string,omitempty"`
	CreationTimestamp int64             `json:"creation_timestamp,string,omitempty"`
	DeletionTimestamp int64             `json:"deletion_timestamp,string,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
}

// Spec is the part of the GameServer spec the SDK exposes: its health checking.
type Spec struct {
	Health Health `json:"health"`
}

// Health is the GameServer's health-check configuration: the SDK must receive a Health() ping
// at least every PeriodSeconds, or after FailureThreshold misses the server turns Unhealthy.
type Health struct {
	Disabled            bool  `json:"disabled,omitempty"`
	PeriodSeconds       int32 `json:"period_seconds,omitempty"`
	FailureThreshold    int32 `json:"failure_threshold,omitempty"`
	InitialDelaySeconds int32 `json:"initial_delay_seconds,omitempty"`
}

// Status is the GameServer's status: its state, where players connect, and its Counters and
// Lists (Beta, feature gate CountsAndLists).
type Status struct {
	State     string                   `json:"state"`
	Address   string                   `json:"address"`
	Addresses []Address                `json:"addresses,omitempty"`
	Ports     []Port                   `json:"ports,omitempty"`
	Counters  map[string]CounterStatus `json:"counters,omitempty"`
	Lists     map[string]ListStatus    `json:"lists,omitempty"`
}

// Address is one of the node's addresses (type e.g. "InternalIP", "ExternalIP", "Hostname").
type Address struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

// Port is a named host port of the GameServer (int32: a JSON number).
type Port struct {
	Name string `json:"name"`
	Port int32  `json:"port"`
}

// CounterStatus is a Counter in the GameServer's status.
type CounterStatus struct {
	Count    int64 `json:"count,string"`
	Capacity int64 `json:"capacity,string"`
}

// ListStatus is a List in the GameServer's status.
type ListStatus struct {
	Capacity int64    `json:"capacity,string"`
	Values   []string `json:"values"`
}

// List is what the Beta List calls answer (GET /v1beta1/lists/{key}).
type List struct {
	Name     string   `json:"name"`
	Capacity int64    `json:"capacity,string"`
	Values   []string `json:"values"`
}

// Counter is what the Beta Counter calls answer (GET /v1beta1/counters/{key}).
type Counter struct {
	Name     string `json:"name"`
	Count    int64  `json:"count,string"`
	Capacity int64  `json:"capacity,string"`
}

// Clone returns a deep copy of gs (maps and slices are not shared).
func (gs GameServer) Clone() GameServer {
	c := gs
	c.ObjectMeta.Annotations = cloneMap(gs.ObjectMeta.Annotations)
	c.ObjectMeta.Labels = cloneMap(gs.ObjectMeta.Labels)
	c.Status.Addresses = cloneSlice(gs.Status.Addresses)
	c.Status.Ports = cloneSlice(gs.Status.Ports)
	if gs.Status.Counters != nil {
		c.Status.Counters = make(map[string]CounterStatus, len(gs.Status.Counters))
		for k, v := range gs.Status.Counters {
			c.Status.Counters[k] = v
		}
	}
	if gs.Status.Lists != nil {
		c.Status.Lists = make(map[string]ListStatus, len(gs.Status.Lists))
		for k, v := range gs.Status.Lists {
			c.Status.Lists[k] = ListStatus{Capacity: v.Capacity, Values: cloneSlice(v.Values)}
		}
	}
	return c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}
