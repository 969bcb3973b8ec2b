package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// relayMetrics implements bridges.Metrics with Prometheus: the core
// reports through that interface and never imports client_golang. The
// metric names, labels and buckets are a contract of /metrics (the e2e
// tests and dashboards scrape them).
type relayMetrics struct {
	messages    *prometheus.CounterVec
	firstText   *prometheus.HistogramVec
	answer      *prometheus.HistogramVec
	requests    prometheus.Histogram
	coalesced   prometheus.Histogram
	rateLimited *prometheus.CounterVec
	added       prometheus.Histogram
	live        prometheus.Gauge
	inbox       prometheus.Gauge
	storeOps    *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec
}

var _ bridges.Metrics = (*relayMetrics)(nil)

// newRelayMetrics creates the relay's metrics and registers them on reg.
func newRelayMetrics(reg prometheus.Registerer) *relayMetrics {
	m := &relayMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbridge_messages_total",
			Help: "Messages by outcome (received, ignored, refused, answered, failed) and reason.",
		}, []string{"platform", "instance", "backend", "outcome", "reason"}),
		firstText: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatbridge_backend_first_text_seconds",
			Help:    "Time from asking the backend to its first answer text.",
			Buckets: []float64{.1, .25, .5, 1, 2, 3, 5, 8, 13, 21, 34, 60},
		}, []string{"backend"}),
		answer: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatbridge_answer_seconds",
			Help:    "Time from a question to its final text landing.",
			Buckets: []float64{.25, .5, 1, 2, 4, 8, 15, 30, 60, 120, 300},
		}, []string{"backend"}),
		requests: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chatbridge_reply_requests",
			Help:    "Platform requests (sends and edits) per live reply.",
			Buckets: []float64{1, 2, 3, 5, 8, 13, 21, 34, 55, 89},
		}),
		coalesced: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chatbridge_reply_coalesced_updates",
			Help:    "Text updates per live reply folded into a later request instead of sent.",
			Buckets: []float64{0, 1, 3, 10, 30, 100, 300, 1000, 3000},
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbridge_reply_rate_limited_total",
			Help: "Platform 429s seen by live replies (waited out, never shown).",
		}, []string{"platform", "instance"}),
		added: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chatbridge_reply_added_latency_seconds",
			Help:    "Delay the bridge adds: from answer text changing while a reply's edit window is open (no request in flight, edit interval over, budgets free) to the request carrying it leaving.",
			Buckets: []float64{.0001, .00025, .0005, .001, .002, .003, .004, .005, .0075, .01, .025, .05, .1, .25, 1},
		}),
		live: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chatbridge_live_replies",
			Help: "Live replies being streamed now.",
		}),
		inbox: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chatbridge_inbox_depth",
			Help: "Accepted messages not yet fully answered.",
		}),
		storeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatbridge_store_op_seconds",
			Help:    "Conversation store operation latency.",
			Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .5},
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbridge_store_errors_total",
			Help: "Failed store reads and writes that lose or risk something (a conversation, an inbox entry, a quota count), by operation.",
		}, []string{"op"}),
	}
	reg.MustRegister(m.messages, m.firstText, m.answer, m.requests, m.coalesced,
		m.rateLimited, m.added, m.live, m.inbox, m.storeOps, m.storeErrors)
	return m
}

func (m *relayMetrics) Message(k bridges.Key, backendName, outcome, reason string) {
	m.messages.WithLabelValues(k.Platform, k.Instance, backendName, outcome, reason).Inc()
}

func (m *relayMetrics) FirstText(backendName string, d time.Duration) {
	m.firstText.WithLabelValues(backendName).Observe(d.Seconds())
}

func (m *relayMetrics) Answer(backendName string, d time.Duration) {
	m.answer.WithLabelValues(backendName).Observe(d.Seconds())
}

func (m *relayMetrics) Reply(k bridges.Key, updates, requests, limited int) {
	m.requests.Observe(float64(requests))
	m.coalesced.Observe(float64(max(0, updates-requests)))
	if limited > 0 {
		m.rateLimited.WithLabelValues(k.Platform, k.Instance).Add(float64(limited))
	}
}

func (m *relayMetrics) AddedLatency(d time.Duration) { m.added.Observe(d.Seconds()) }
func (m *relayMetrics) LiveReplies(delta int)        { m.live.Add(float64(delta)) }
func (m *relayMetrics) InboxDepth(delta int)         { m.inbox.Add(float64(delta)) }

func (m *relayMetrics) StoreOp(op string, d time.Duration) {
	m.storeOps.WithLabelValues(op).Observe(d.Seconds())
}

func (m *relayMetrics) StoreError(op string) { m.storeErrors.WithLabelValues(op).Inc() }
