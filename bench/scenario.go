package bench

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// scenario is one benchmark run's shape (docs/benchmark.md, "Scenarios"). Zero fields take the
// named scenario's values.
type scenario struct {
	Name           string
	Entities       int           // NPCs per room
	Clients        int           // load clients in all rooms
	Hz             int           // tick rate
	Rooms          int           // rooms (clients are spread evenly)
	PlayersPerRoom int           // clients per room
	Duration       time.Duration // measurement window
	Warmup         time.Duration // after all joins, before the window
	InputHz        float64       // inputs per second per client
	Recording      bool          // run the server with recording on
	// World and View are arena's `world` and `view` config keys, in units (0: the game's
	// default world, and no views). With a view each player sees a square of that side.
	World, View int
	// DecodeAll makes every load client decode (keep a mirror, check every view hash) unless
	// -decode says otherwise.
	DecodeAll bool
}

// scenarios are docs/benchmark.md's table. R starts with one room and grows. CV is C with views
// (each player sees 250 × 250 of the 1000 × 1000 world); D is a big world with views (20,000
// NPCs in 4000 × 4000, each player sees 400 × 400).
var scenarios = map[string]scenario{
	"A":     {Entities: 200, Clients: 50, Hz: 20},
	"B":     {Entities: 1000, Clients: 200, Hz: 20},
	"B60":   {Entities: 1000, Clients: 200, Hz: 60},
	"B128":  {Entities: 1000, Clients: 100, Hz: 128},
	"C":     {Entities: 5000, Clients: 100, Hz: 20},
	"CV":    {Entities: 5000, Clients: 100, Hz: 20, View: 250, DecodeAll: true},
	"D":     {Entities: 20000, Clients: 500, Hz: 20, World: 4000, View: 400, DecodeAll: true},
	"R":     {Entities: 10, Clients: 10, Hz: 20, Rooms: 1, PlayersPerRoom: 10},
	"floor": {Entities: 0, Clients: 200, Hz: 20},
	// soak is R's load at 80 % of R's count, clean and then with the hostile mix (soak.go).
	"soak": {Entities: 10, Clients: 10, Hz: 20, Rooms: 1, PlayersPerRoom: 10, Recording: true},
}

// scenarioNames lists the scenarios in the order of docs/benchmark.md.
const scenarioNames = "A, B, B60, B128, C, CV, D, R, floor, soak"

// resolve fills zero fields from the named scenario and checks the result.
func (s scenario) resolve() (scenario, error) {
	base, ok := scenarios[s.Name]
	if !ok {
		for k := range scenarios { // names are case-insensitive on the command line
			if strings.EqualFold(k, s.Name) {
				base, ok, s.Name = scenarios[k], true, k
				break
			}
		}
	}
	if !ok {
		return s, fmt.Errorf("bench: unknown scenario %q (want one of %s)", s.Name, scenarioNames)
	}
	if s.Entities == 0 && s.Name != "floor" {
		s.Entities = base.Entities
	}
	if s.Clients == 0 {
		s.Clients = base.Clients
	}
	if s.Hz == 0 {
		s.Hz = base.Hz
	}
	if s.World == 0 {
		s.World = base.World
	}
	if s.View == 0 {
		s.View = base.View
	}
	s.DecodeAll = base.DecodeAll
	if s.Rooms == 0 {
		s.Rooms = max(base.Rooms, 1)
		if s.PlayersPerRoom > 0 {
			s.Rooms = (s.Clients + s.PlayersPerRoom - 1) / s.PlayersPerRoom
		}
	}
	if s.PlayersPerRoom == 0 {
		s.PlayersPerRoom = (s.Clients + s.Rooms - 1) / s.Rooms
	}
	if s.Duration == 0 {
		s.Duration = 20 * time.Second
	}
	if s.Warmup == 0 {
		s.Warmup = 3 * time.Second
	}
	if s.InputHz == 0 {
		s.InputHz = 20
	}
	return s, s.validate()
}

func (s scenario) validate() error {
	switch {
	case s.Entities < 0:
		return errors.New("bench: entities < 0")
	case s.Clients < 1:
		return errors.New("bench: clients < 1")
	case s.World < 0 || s.View < 0:
		return errors.New("bench: world or view < 0")
	case s.Hz < 1 || s.Hz > 1000:
		return fmt.Errorf("bench: tick rate %d out of range 1..1000", s.Hz)
	case s.Rooms < 1 || s.Rooms > s.Clients:
		return fmt.Errorf("bench: %d rooms for %d clients", s.Rooms, s.Clients)
	case s.PlayersPerRoom*s.Rooms < s.Clients:
		return fmt.Errorf("bench: %d rooms × %d players hold fewer than %d clients", s.Rooms, s.PlayersPerRoom, s.Clients)
	case s.Duration < time.Second:
		return errors.New("bench: duration < 1s")
	case s.Warmup < 0:
		return errors.New("bench: warm-up < 0")
	case s.InputHz <= 0 || s.InputHz > 1000:
		return fmt.Errorf("bench: input rate %g out of range", s.InputHz)
	}
	return nil
}

// roomPlayers returns how many clients room i (0-based) gets: an even spread.
func (s scenario) roomPlayers(i int) int {
	n := s.Clients / s.Rooms
	if i < s.Clients%s.Rooms {
		n++
	}
	return n
}

// roomConfig is the arena config of a room with entities NPCs: {"npcs": N}, with the
// scenario's world and view when it sets them.
func (s scenario) roomConfig(entities int) map[string]int {
	cfg := map[string]int{"npcs": entities}
	if s.World > 0 {
		cfg["world"] = s.World
	}
	if s.View > 0 {
		cfg["view"] = s.View
	}
	return cfg
}
