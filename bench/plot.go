package bench

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// plotData holds the distributions a run plots, in microseconds.
type plotData struct {
	tickUs  []float64
	phaseUs [4][]float64 // drain, step, encode, hand-off
	rttUs   []float64
	holdUs  []float64
	waitUs  []float64
	// beyondUs is each input's hold minus its wait.
	beyondUs []float64
	// writesUs is, per tick, its hand-off start to the last of its frames on a socket.
	writesUs []float64
}

// series is one curve: a distribution drawn as its quantile function.
type series struct {
	name  string
	color string
	us    []float64
}

// writePlot writes the run's SVG: tick work by phase and the latency distributions, each as
// quantile curves (x: percentile, y: milliseconds).
func writePlot(path string, res *result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if res.Soak != nil {
		return os.WriteFile(path, renderSoakPlot(res), 0o644)
	}
	return os.WriteFile(path, renderPlot(res), 0o644)
}

// timeSeries is one curve over time: y at each x (seconds).
type timeSeries struct {
	name  string
	color string
	x, y  []float64
}

// renderSoakPlot draws the soak's samples over time: the server's RSS, goroutines and open
// file descriptors, and the honest clients' RTT p99 (soak and clean run).
func renderSoakPlot(res *result) []byte {
	s := res.Soak
	var b bytes.Buffer
	const w, h = 960, 640
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	title := fmt.Sprintf("ticksync %s, soak: %d honest players, %d Hz, hostile %g%%, %gs — %s",
		res.Version, s.Players, res.Hz, s.HostilePct, res.DurationS, res.Machine)
	fmt.Fprintf(&b, `<text x="%d" y="20" text-anchor="middle" font-size="13">%s</text>`+"\n", w/2, html.EscapeString(title))
	get := func(ss []soakSample, f func(soakSample) float64) (x, y []float64) {
		for _, v := range ss {
			x, y = append(x, v.TS), append(y, f(v))
		}
		return x, y
	}
	series := func(name, color string, ss []soakSample, f func(soakSample) float64) timeSeries {
		x, y := get(ss, f)
		return timeSeries{name, color, x, y}
	}
	ph := (h - 40) / 2
	timePanel(&b, 10, 30, w/2-20, ph, "server RSS (MB)", []timeSeries{
		series("soak", "#d62728", s.Samples, func(v soakSample) float64 { return v.RSSMB }),
		series("clean", "#1f77b4", s.CleanSamples, func(v soakSample) float64 { return v.RSSMB }),
	})
	timePanel(&b, w/2+10, 30, w/2-20, ph, "server goroutines", []timeSeries{
		series("soak", "#d62728", s.Samples, func(v soakSample) float64 { return float64(v.Goroutines) }),
		series("clean", "#1f77b4", s.CleanSamples, func(v soakSample) float64 { return float64(v.Goroutines) }),
	})
	timePanel(&b, 10, 30+ph, w/2-20, ph, "server open file descriptors", []timeSeries{
		series("soak", "#d62728", s.Samples, func(v soakSample) float64 { return float64(v.FDs) }),
		series("clean", "#1f77b4", s.CleanSamples, func(v soakSample) float64 { return float64(v.FDs) }),
	})
	timePanel(&b, w/2+10, 30+ph, w/2-20, ph, "honest RTT p99 per window (ms)", []timeSeries{
		series("soak", "#d62728", s.Samples, func(v soakSample) float64 { return v.RTTP99Ms }),
		series("clean", "#1f77b4", s.CleanSamples, func(v soakSample) float64 { return v.RTTP99Ms }),
	})
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// timePanel draws curves over time (x: seconds from 0 to the longest series' end; y: from 0).
func timePanel(b *bytes.Buffer, x, y, w, h int, title string, ss []timeSeries) {
	const left, right, top, bottom = 50, 10, 24, 36
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	ox, oy := float64(x+left), float64(y+top)
	var xmax, ymax float64
	for _, s := range ss {
		for i := range s.x {
			xmax, ymax = max(xmax, s.x[i]), max(ymax, s.y[i])
		}
	}
	xmax, ymax = max(xmax, 1), niceCeil(ymax*1.1)
	fmt.Fprintf(b, `<g><text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", x+w/2, y+14, html.EscapeString(title))
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", ox, oy, pw, ph)
	for i := 0; i <= 5; i++ {
		v := ymax * float64(i) / 5
		yy := oy + ph - ph*float64(i)/5
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n",
			ox, yy, ox+pw, yy, ox-4, yy+4, fmtTick(v))
	}
	for i := 0; i <= 5; i++ {
		v := xmax * float64(i) / 5
		xx := ox + pw*float64(i)/5
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%.0f</text>`+"\n", xx, oy+ph+14, v)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">seconds into the window</text>`+"\n", ox+pw/2, oy+ph+30)
	ly := oy + 14
	for _, s := range ss {
		if len(s.x) == 0 {
			continue
		}
		var pts bytes.Buffer
		for i := range s.x {
			fmt.Fprintf(&pts, "%.1f,%.1f ", ox+pw*s.x[i]/xmax, oy+ph-ph*min(s.y[i]/ymax, 1.02))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", s.color, pts.String())
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/><text x="%.1f" y="%.1f">%s (n=%d)</text>`+"\n",
			ox+8, ly-4, ox+24, ly-4, s.color, ox+28, ly, html.EscapeString(s.name), len(s.x))
		ly += 15
	}
	b.WriteString("</g>\n")
}

func renderPlot(res *result) []byte {
	p := res.plot
	var b bytes.Buffer
	const w, h = 960, 420
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	title := fmt.Sprintf("ticksync %s, scenario %s: %d entities, %d clients, %d Hz, %gs — %s",
		res.Version, res.Scenario, res.Entities, res.Clients, res.Hz, res.DurationS, res.Machine)
	fmt.Fprintf(&b, `<text x="%d" y="20" text-anchor="middle" font-size="13">%s</text>`+"\n", w/2, html.EscapeString(title))
	panel(&b, 10, 30, w/2-20, h-40, "tick work (ms) by percentile", []series{
		{"total", "#000000", p.tickUs},
		{"drain", "#1f77b4", p.phaseUs[0]},
		{"step", "#2ca02c", p.phaseUs[1]},
		{"diff+encode", "#d62728", p.phaseUs[2]},
		{"hand-off", "#9467bd", p.phaseUs[3]},
	})
	panel(&b, w/2+10, 30, w/2-20, h-40, "latency (ms) by percentile", []series{
		{"RTT", "#000000", p.rttUs},
		{"server hold", "#d62728", p.holdUs},
		{"wait for tick", "#1f77b4", p.waitUs},
		{"hold − wait", "#ff7f0e", p.beyondUs},
		{"frame writes after hand-off (per tick)", "#9467bd", p.writesUs},
	})
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// panel draws one chart with its axes, grid and legend at (x, y) of size w × h.
func panel(b *bytes.Buffer, x, y, w, h int, title string, ss []series) {
	const left, right, top, bottom = 50, 10, 24, 36
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	ox, oy := float64(x+left), float64(y+top)
	// The y range ends at the largest p99.9 so one outlier does not flatten the curves.
	var ymax float64
	for _, s := range ss {
		if len(s.us) > 0 {
			sorted := slices.Clone(s.us)
			slices.Sort(sorted)
			ymax = max(ymax, percentile(sorted, 99.9)/1000)
		}
	}
	ymax = niceCeil(ymax)
	fmt.Fprintf(b, `<g><text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", x+w/2, y+14, html.EscapeString(title))
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", ox, oy, pw, ph)
	for i := 0; i <= 5; i++ {
		v := ymax * float64(i) / 5
		yy := oy + ph - ph*float64(i)/5
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n",
			ox, yy, ox+pw, yy, ox-4, yy+4, fmtTick(v))
	}
	for _, pct := range []float64{0, 50, 90, 99, 99.9, 100} {
		xx := ox + pw*pctX(pct)
		label := fmt.Sprintf("p%g", pct)
		if pct == 100 {
			label = "max"
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n",
			xx, oy, xx, oy+ph, xx, oy+ph+14, label)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">percentile (stretched toward the tail)</text>`+"\n", ox+pw/2, oy+ph+30)
	ly := oy + 14
	for _, s := range ss {
		if len(s.us) == 0 {
			continue
		}
		sorted := slices.Clone(s.us)
		slices.Sort(sorted)
		var pts bytes.Buffer
		const steps = 200
		for i := 0; i <= steps; i++ {
			// Sample more densely toward the tail, where the interesting part is.
			pct := 100 * (1 - math.Pow(1-float64(i)/steps, 2))
			v := percentile(sorted, max(pct, 0.0001)) / 1000
			xx := ox + pw*pctX(pct)
			yy := oy + ph - ph*min(v/ymax, 1.02)
			fmt.Fprintf(&pts, "%.1f,%.1f ", xx, yy)
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", s.color, pts.String())
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/><text x="%.1f" y="%.1f">%s (n=%d, p99 %.3f)</text>`+"\n",
			ox+8, ly-4, ox+24, ly-4, s.color, ox+28, ly, html.EscapeString(s.name), len(s.us), percentile(sorted, 99)/1000)
		ly += 15
	}
	b.WriteString("</g>\n")
}

// pctX maps a percentile to [0, 1] on a scale that widens the tail: p90 sits at 0.25, p99 at
// 0.5, p99.9 at 0.75 (x = log10(100/(100-p)) / 4, capped at p99.99).
func pctX(p float64) float64 {
	if p >= 99.99 {
		return 1
	}
	return math.Log10(100/(100-p)) / 4
}

// niceCeil rounds v up to 1, 2 or 5 × a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*e {
			return m * e
		}
	}
	return 10 * e
}

func fmtTick(v float64) string {
	if v >= 10 || v == 0 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
