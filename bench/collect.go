package bench

import (
	"slices"
	"sync"
	"time"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// roomTick is one tick's work in one room.
type roomTick struct {
	room int
	tw   *pb.TickWork
}

// statsCollector gathers the stats messages of every room's admin connection and keeps what
// falls in the measurement window.
type statsCollector struct {
	mu     sync.Mutex
	from   int64 // window start, Unix µs (0: not open)
	to     int64 // window end, Unix µs (0: open-ended)
	ticks  []roomTick
	holds  []*pb.InputHold
	latest map[int]int64 // room → newest tick start seen
}

func newStatsCollector() *statsCollector { return &statsCollector{latest: map[int]int64{}} }

// add books one Stats message of room (the admin connection's read goroutine).
func (c *statsCollector) add(room int, s *pb.Stats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var last int64
	for _, t := range s.GetTicks() {
		st := t.GetStartUnixUs()
		last = max(last, st)
		if c.inWindow(st) {
			c.ticks = append(c.ticks, roomTick{room, t})
		}
	}
	if last > 0 {
		c.latest[room] = max(c.latest[room], last)
	}
	// Holds carry no time: they belong to the window when the ticks they came with do.
	if c.inWindow(last) {
		c.holds = append(c.holds, s.GetHolds()...)
	}
}

func (c *statsCollector) inWindow(us int64) bool {
	return c.from > 0 && us >= c.from && (c.to == 0 || us < c.to)
}

// open starts the window at t, dropping what was kept.
func (c *statsCollector) open(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.from, c.to, c.ticks, c.holds = t.UnixMicro(), 0, nil, nil
}

// close ends the window at t.
func (c *statsCollector) close(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.to = t.UnixMicro()
}

// wait blocks until every one of rooms has reported a tick after the window's end (stats come
// in batches), or timeout.
func (c *statsCollector) wait(rooms int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		n := 0
		for _, l := range c.latest {
			if l >= c.to {
				n++
			}
		}
		c.mu.Unlock()
		if n >= rooms {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tickSummary is what the window's ticks say.
type tickSummary struct {
	work                           tickWorkMs
	interval                       quantiles
	ticks                          int
	late                           int     // ticks that started a whole interval or more late
	allocsMean, allocsP50          float64 // per tick, process-wide
	totalUs, intervalUs            []float64
	drainUs, stepUs, encUs, handUs []float64
	holdUs, waitUs, beyondUs       []float64 // beyond: hold minus wait, per input
	writesUs                       []float64 // per tick: hand-off start to its last frame written
}

// summary computes the window's tick work, intervals and holds for tick rate hz.
func (c *statsCollector) summary(hz int) tickSummary {
	c.mu.Lock()
	ticks := slices.Clone(c.ticks)
	holds := slices.Clone(c.holds)
	c.mu.Unlock()
	var s tickSummary
	s.ticks = len(ticks)
	intervalUs := 1e6 / float64(hz)
	var allocs float64
	var allocList []float64
	for _, rt := range ticks {
		t := rt.tw
		d, st, e, h := float64(t.GetDrainNs())/1e3, float64(t.GetStepNs())/1e3, float64(t.GetEncodeNs())/1e3, float64(t.GetHandoffNs())/1e3
		s.drainUs = append(s.drainUs, d)
		s.stepUs = append(s.stepUs, st)
		s.encUs = append(s.encUs, e)
		s.handUs = append(s.handUs, h)
		s.totalUs = append(s.totalUs, d+st+e+h)
		if w := t.GetPrevWritesNs(); w > 0 {
			s.writesUs = append(s.writesUs, float64(w)/1e3)
		}
		allocs += float64(t.GetAllocs())
		allocList = append(allocList, float64(t.GetAllocs()))
		if float64(t.GetLateUs()) >= intervalUs {
			s.late++
		}
	}
	if len(ticks) > 0 {
		s.allocsMean = allocs / float64(len(ticks))
		slices.Sort(allocList)
		s.allocsP50 = percentile(allocList, 50)
	}
	slices.SortFunc(ticks, func(a, b roomTick) int {
		if a.room != b.room {
			return a.room - b.room
		}
		return int(a.tw.GetTick()) - int(b.tw.GetTick())
	})
	for i := 1; i < len(ticks); i++ {
		a, b := ticks[i-1], ticks[i]
		if a.room == b.room && b.tw.GetTick() == a.tw.GetTick()+1 {
			s.intervalUs = append(s.intervalUs, float64(b.tw.GetStartUnixUs()-a.tw.GetStartUnixUs()))
		}
	}
	for _, h := range holds {
		s.holdUs = append(s.holdUs, float64(h.GetHoldUs()))
		s.waitUs = append(s.waitUs, float64(h.GetWaitUs()))
		s.beyondUs = append(s.beyondUs, float64(h.GetHoldUs())-float64(h.GetWaitUs()))
	}
	s.work = tickWorkMs{
		quantiles: summarize(s.totalUs),
		Drain:     summarize(s.drainUs), Step: summarize(s.stepUs),
		Encode: summarize(s.encUs), Handoff: summarize(s.handUs),
	}
	s.interval = summarize(s.intervalUs)
	return s
}
