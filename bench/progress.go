package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress draws a one-line progress bar on stderr while a phase runs.
type progress struct {
	w     io.Writer // nil: silent
	plain bool      // not a terminal: one line per phase, no redrawing
	mu    sync.Mutex
	stop  chan struct{}
	done  chan struct{}
}

// phase shows a bar for a phase of length d until the next phase or end.
func (p *progress) phase(name string, d time.Duration) {
	if p == nil || p.w == nil {
		return
	}
	p.end()
	if p.plain {
		if d > 0 {
			fmt.Fprintf(p.w, "ticksync bench: %s (%v)\n", name, d)
		} else {
			fmt.Fprintf(p.w, "ticksync bench: %s\n", name)
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	stop, done := p.stop, p.done
	start := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			el := time.Since(start)
			if d <= 0 { // open-ended: elapsed time only
				fmt.Fprintf(p.w, "\r%-22.22s %5.1fs ", name, el.Seconds())
			} else {
				const width = 30
				n := int(min(float64(el)/float64(d), 1) * width)
				fmt.Fprintf(p.w, "\r%-22.22s [%s%s] %5.1fs/%.0fs ", name, strings.Repeat("#", n), strings.Repeat(".", width-n), el.Seconds(), d.Seconds())
			}
			select {
			case <-stop:
				fmt.Fprint(p.w, "\n")
				return
			case <-t.C:
			}
		}
	}()
}

// end finishes the current bar.
func (p *progress) end() {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	stop, done := p.stop, p.done
	p.stop, p.done = nil, nil
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}
