package agonestest

import (
	"slices"

	"github.com/ticksync/ticksync/agones"
)

// GameServerAllocation is the allocation.agones.dev/v1 resource as the Kubernetes API takes and
// answers it (camelCase JSON, plain JSON numbers).
type GameServerAllocation struct {
	APIVersion string           `json:"apiVersion,omitempty"`
	Kind       string           `json:"kind,omitempty"`
	Metadata   ObjectMeta       `json:"metadata"`
	Spec       AllocationSpec   `json:"spec"`
	Status     AllocationStatus `json:"status"`
}

// ObjectMeta is the part of Kubernetes object metadata the fake reads and writes.
type ObjectMeta struct {
	Name        string            `json:"name,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AllocationSpec is a GameServerAllocation's spec. Selectors are tried in order (the first
// that matches any GameServer wins); Required and Preferred are the deprecated form (Preferred
// in order, then Required), used when Selectors is empty.
type AllocationSpec struct {
	Required   *Selector                `json:"required,omitempty"`
	Preferred  []Selector               `json:"preferred,omitempty"`
	Selectors  []Selector               `json:"selectors,omitempty"`
	Priorities []Priority               `json:"priorities,omitempty"`
	Scheduling string                   `json:"scheduling,omitempty"`
	Metadata   MetaPatch                `json:"metadata,omitempty"`
	Counters   map[string]CounterAction `json:"counters,omitempty"`
	Lists      map[string]ListAction    `json:"lists,omitempty"`
}

// Selector is a GameServerSelector: labels (matchLabels, matchExpressions), the state
// (default Ready; only Ready or Allocated are valid), and Counter and List conditions.
type Selector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
	GameServerState  string                     `json:"gameServerState,omitempty"`
	Counters         map[string]CounterSelector `json:"counters,omitempty"`
	Lists            map[string]ListSelector    `json:"lists,omitempty"`
}

// LabelSelectorRequirement is a Kubernetes label requirement (operator In, NotIn, Exists,
// DoesNotExist).
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// CounterSelector matches a Counter by count and available room (capacity - count); a 0
// maximum means no maximum.
type CounterSelector struct {
	MinCount     int64 `json:"minCount,omitempty"`
	MaxCount     int64 `json:"maxCount,omitempty"`
	MinAvailable int64 `json:"minAvailable,omitempty"`
	MaxAvailable int64 `json:"maxAvailable,omitempty"`
}

// ListSelector matches a List holding ContainsValue (when set) with available room
// (capacity - len(values)) within [MinAvailable, MaxAvailable] (0 max: no maximum).
type ListSelector struct {
	ContainsValue string `json:"containsValue,omitempty"`
	MinAvailable  int64  `json:"minAvailable,omitempty"`
	MaxAvailable  int64  `json:"maxAvailable,omitempty"`
}

// Priority orders candidate GameServers by the available room of a Counter or List (Type
// "Counter" or "List"): Ascending (the default) prefers the least room, i.e. the fullest;
// Descending the most. A GameServer without the key comes last.
type Priority struct {
	Type  string `json:"type"`
	Key   string `json:"key"`
	Order string `json:"order,omitempty"`
}

// MetaPatch is merged into the chosen GameServer's labels and annotations.
type MetaPatch struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// CounterAction changes a Counter of the chosen GameServer: Capacity first, then Action
// "Increment" or "Decrement" by Amount (skipped when the result leaves [0, capacity]).
type CounterAction struct {
	Action   string `json:"action,omitempty"`
	Amount   int64  `json:"amount,omitempty"`
	Capacity *int64 `json:"capacity,omitempty"`
}

// ListAction changes a List of the chosen GameServer: Capacity first (0 to 1000), then
// AddValues (duplicates dropped, truncated to the capacity), then DeleteValues.
type ListAction struct {
	AddValues    []string `json:"addValues,omitempty"`
	DeleteValues []string `json:"deleteValues,omitempty"`
	Capacity     *int64   `json:"capacity,omitempty"`
}

// Allocation states of AllocationStatus.State.
const (
	AllocationAllocated   = "Allocated"
	AllocationUnAllocated = "UnAllocated"
	AllocationContention  = "Contention"
)

// AllocationStatus is the answer: the state and, when Allocated, the GameServer's name,
// address, ports, metadata, counters and lists after the allocation.
type AllocationStatus struct {
	State          string                   `json:"state"`
	GameServerName string                   `json:"gameServerName"`
	Ports          []agones.Port            `json:"ports,omitempty"`
	Address        string                   `json:"address,omitempty"`
	Addresses      []agones.Address         `json:"addresses,omitempty"`
	NodeName       string                   `json:"nodeName,omitempty"`
	Source         string                   `json:"source"`
	Metadata       *MetaPatch               `json:"metadata,omitempty"`
	Counters       map[string]CounterStatus `json:"counters,omitempty"`
	Lists          map[string]ListStatus    `json:"lists,omitempty"`
}

// CounterStatus is a Counter as the Kubernetes API writes it (numbers, not strings).
type CounterStatus struct {
	Count    int64 `json:"count"`
	Capacity int64 `json:"capacity"`
}

// ListStatus is a List as the Kubernetes API writes it.
type ListStatus struct {
	Capacity int64    `json:"capacity"`
	Values   []string `json:"values"`
}

// state is the selector's state with its default.
func (sel Selector) state() string {
	if sel.GameServerState == "" {
		return agones.StateReady
	}
	return sel.GameServerState
}

// Matches reports whether gs satisfies the selector, as Agones' GameServerSelector.Matches.
func (sel Selector) Matches(gs agones.GameServer) bool {
	labels := gs.ObjectMeta.Labels
	for k, v := range sel.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, req := range sel.MatchExpressions {
		v, ok := labels[req.Key]
		switch req.Operator {
		case "In":
			if !ok || !slices.Contains(req.Values, v) {
				return false
			}
		case "NotIn":
			if ok && slices.Contains(req.Values, v) {
				return false
			}
		case "Exists":
			if !ok {
				return false
			}
		case "DoesNotExist":
			if ok {
				return false
			}
		default:
			return false
		}
	}
	if gs.Status.State != sel.state() {
		return false
	}
	for key, cs := range sel.Counters {
		c, ok := gs.Status.Counters[key]
		if !ok {
			return false
		}
		avail := c.Capacity - c.Count
		if avail < cs.MinAvailable || (cs.MaxAvailable != 0 && avail > cs.MaxAvailable) ||
			c.Count < cs.MinCount || (cs.MaxCount != 0 && c.Count > cs.MaxCount) {
			return false
		}
	}
	for key, ls := range sel.Lists {
		l, ok := gs.Status.Lists[key]
		if !ok {
			return false
		}
		avail := l.Capacity - int64(len(l.Values))
		if avail < ls.MinAvailable || (ls.MaxAvailable != 0 && avail > ls.MaxAvailable) {
			return false
		}
		if ls.ContainsValue != "" && !slices.Contains(l.Values, ls.ContainsValue) {
			return false
		}
	}
	return true
}

// comparePriorities orders a before b (-1), after (1) or neither (0) by the priorities, as
// Agones' CompareCountAndListPriorities.
func comparePriorities(ps []Priority, a, b agones.GameServer) int {
	for _, p := range ps {
		availA, okA := available(p, a)
		availB, okB := available(p, b)
		res := 0
		switch {
		case okA && okB && availA < availB:
			res = -1
		case okA && okB && availA > availB:
			res = 1
		case okA && okB:
			continue
		case okA:
			return -1 // the one with the key first, whatever the order
		case okB:
			return 1
		default:
			continue
		}
		if p.Order == "Descending" {
			res = -res
		}
		return res
	}
	return 0
}

func available(p Priority, gs agones.GameServer) (int64, bool) {
	switch p.Type {
	case "Counter":
		c, ok := gs.Status.Counters[p.Key]
		return c.Capacity - c.Count, ok
	case "List":
		l, ok := gs.Status.Lists[p.Key]
		return l.Capacity - int64(len(l.Values)), ok
	}
	return 0, false
}

// applyAllocation changes gs as an allocation does: metadata merged, the last-allocated
// annotation, state Allocated, then the Counter and List actions (a failing action is skipped,
// as Agones records it only as a warning event).
func applyAllocation(gs *agones.GameServer, spec *AllocationSpec, stamp string) {
	merge := func(dst *map[string]string, src map[string]string) {
		if *dst == nil {
			*dst = map[string]string{}
		}
		for k, v := range src {
			(*dst)[k] = v
		}
	}
	if spec.Metadata.Labels != nil {
		merge(&gs.ObjectMeta.Labels, spec.Metadata.Labels)
	}
	merge(&gs.ObjectMeta.Annotations, spec.Metadata.Annotations)
	gs.ObjectMeta.Annotations[LastAllocatedAnnotation] = stamp
	gs.Status.State = agones.StateAllocated
	for key, ca := range spec.Counters {
		c, ok := gs.Status.Counters[key]
		if !ok {
			continue
		}
		if ca.Capacity != nil && *ca.Capacity >= 0 {
			c.Capacity = *ca.Capacity
		}
		n := c.Count
		switch ca.Action {
		case "Increment":
			n += ca.Amount
		case "Decrement":
			n -= ca.Amount
		}
		if n >= 0 && n <= c.Capacity {
			c.Count = n
		}
		gs.Status.Counters[key] = c
	}
	for key, la := range spec.Lists {
		l, ok := gs.Status.Lists[key]
		if !ok {
			continue
		}
		if la.Capacity != nil && *la.Capacity >= 0 && *la.Capacity <= MaxListCapacity {
			l.Capacity = *la.Capacity
		}
		vals := slices.Clone(l.Values)
		for _, v := range la.AddValues {
			if !slices.Contains(vals, v) {
				vals = append(vals, v)
			}
		}
		if int64(len(vals)) > l.Capacity {
			vals = vals[:l.Capacity]
		}
		vals = slices.DeleteFunc(vals, func(v string) bool { return slices.Contains(la.DeleteValues, v) })
		l.Values = vals
		gs.Status.Lists[key] = l
	}
}
