package server

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Tick phases (the tick_seconds histogram's phase label; TickWork in messages.proto).
const (
	phaseDrain   = "drain"
	phaseStep    = "step"
	phaseEncode  = "encode"
	phaseHandoff = "handoff"
	phaseTotal   = "total"
)

// metrics is the server's Prometheus instruments, on a registry of its own (never the global
// default). Hot-path children are resolved once, so counting costs an atomic add.
type metrics struct {
	reg *prometheus.Registry

	rooms, players, conns prometheus.Gauge
	ticks, lateTicks      prometheus.Counter
	skipped               prometheus.Counter
	drain, step, encode   prometheus.Observer
	handoff, total        prometheus.Observer
	bytesOut, framesOut   prometheus.Counter
	coalesced             prometheus.Counter
	clamped               prometheus.Counter
	drops                 *prometheus.CounterVec
	dropBy                map[string]prometheus.Counter
	closes                *prometheus.CounterVec
	httpRejects           *prometheus.CounterVec
	roomPanics            prometheus.Counter
	recordingFailures     prometheus.Counter
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	m := &metrics{reg: reg}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m.rooms = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ticksync_rooms", Help: "Rooms open."})
	m.players = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ticksync_players", Help: "Seats held in all rooms (connected or within the reconnect grace)."})
	m.conns = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ticksync_connections", Help: "Open WebSocket connections."})
	m.ticks = prometheus.NewCounter(prometheus.CounterOpts{Name: "ticksync_ticks_total", Help: "Ticks run, all rooms."})
	m.lateTicks = prometheus.NewCounter(prometheus.CounterOpts{Name: "ticksync_late_ticks_total", Help: "Ticks that started more than a quarter interval late."})
	m.skipped = prometheus.NewCounter(prometheus.CounterOpts{Name: "ticksync_skipped_ticks_total", Help: "Ticks skipped by the catch-up cap."})
	tick := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ticksync_tick_seconds",
		Help:    "Tick work by phase (drain, step, encode, handoff, total).",
		Buckets: []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3},
	}, []string{"phase"})
	m.drain, m.step, m.encode = tick.WithLabelValues(phaseDrain), tick.WithLabelValues(phaseStep), tick.WithLabelValues(phaseEncode)
	m.handoff, m.total = tick.WithLabelValues(phaseHandoff), tick.WithLabelValues(phaseTotal)
	m.bytesOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "ticksync_bytes_out_total", Help: "WebSocket payload bytes written (frames and control messages)."})
	m.framesOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "ticksync_frames_out_total", Help: "Frames written to sockets."})
	m.coalesced = prometheus.NewCounter(prometheus.CounterOpts{Name: "ticksync_frames_coalesced_total", Help: "Frames replaced in a mailbox before the writer took them (the next one is a delta from the client's own baseline)."})
	m.clamped = prometheus.NewCounter(prometheus.CounterOpts{Name: "ticksync_input_values_clamped_total", Help: "Input values clamped to their declared range."})
	m.drops = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ticksync_input_drops_total", Help: "Inputs dropped, by reason."}, []string{"reason"})
	m.dropBy = map[string]prometheus.Counter{}
	for _, r := range []string{dropStale, dropInboxFull, dropRate, dropBytes, dropSpectator, dropNotSeated} {
		m.dropBy[r] = m.drops.WithLabelValues(r)
	}
	m.closes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ticksync_closes_total", Help: "Connections closed, by close code (1006: lost without a close frame)."}, []string{"code"})
	m.httpRejects = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ticksync_handshake_rejects_total", Help: "WebSocket handshakes refused before the upgrade, by HTTP status."}, []string{"status"})
	m.roomPanics = prometheus.NewCounter(prometheus.CounterOpts{Name: "ticksync_room_panics_total", Help: "Rooms ended by a recovered panic."})
	m.recordingFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "ticksync_recording_failures_total", Help: "Recordings that could not start or stopped mid-match (disk full, I/O error, a queue the disk cannot drain)."})
	for _, c := range []prometheus.Collector{m.rooms, m.players, m.conns, m.ticks, m.lateTicks, m.skipped, tick,
		m.bytesOut, m.framesOut, m.coalesced, m.clamped, m.drops, m.closes, m.httpRejects, m.roomPanics, m.recordingFailures} {
		f(c)
	}
	return m
}

func (m *metrics) drop(reason string) { m.dropBy[reason].Inc() }

func (m *metrics) closed(code uint16) { m.closes.WithLabelValues(strconv.Itoa(int(code))).Inc() }

func (m *metrics) rejected(status int) { m.httpRejects.WithLabelValues(strconv.Itoa(status)).Inc() }
