package server

import (
	"fmt"
	"sort"
	"sync"

	"github.com/ticksync/ticksync/sim"
)

// Registry maps game names to the factories that make their rooms' games. The server knows
// no game of its own: whoever builds the server (cmd/ticksync registers arena) registers the
// games it runs. The zero Registry is empty and ready to use.
type Registry struct {
	mu    sync.RWMutex
	games map[string]sim.Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{games: map[string]sim.Factory{}}
}

// Register adds a game under name. Registering a name twice is an error.
func (r *Registry) Register(name string, f sim.Factory) error {
	if name == "" || f == nil {
		return fmt.Errorf("server: register game: empty name or nil factory")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.games[name]; ok {
		return fmt.Errorf("server: register game %q: already registered", name)
	}
	if r.games == nil {
		r.games = map[string]sim.Factory{}
	}
	r.games[name] = f
	return nil
}

// Lookup returns the factory registered under name.
func (r *Registry) Lookup(name string) (sim.Factory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.games[name]
	return f, ok
}

// Names returns the registered game names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.games))
	for n := range r.games {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
