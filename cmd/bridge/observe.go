package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// platformMetrics count the platform API calls every adapter makes, from
// its HTTP transport: calls, 429s and retry-after seconds by method.
type platformMetrics struct {
	calls      *prometheus.CounterVec
	limited    *prometheus.CounterVec
	retryAfter *prometheus.CounterVec
}

func newPlatformMetrics(reg prometheus.Registerer) *platformMetrics {
	m := &platformMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbridge_platform_requests_total",
			Help: "Platform API requests by method and HTTP status code.",
		}, []string{"platform", "instance", "method", "code"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbridge_platform_rate_limited_total",
			Help: "Platform API 429 responses by method.",
		}, []string{"platform", "instance", "method"}),
		retryAfter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbridge_platform_retry_after_seconds_total",
			Help: "Seconds the platforms asked us to wait, by method.",
		}, []string{"platform", "instance", "method"}),
	}
	reg.MustRegister(m.calls, m.limited, m.retryAfter)
	return m
}

// client returns an HTTP client whose transport counts into m.
func (m *platformMetrics) client(platform, instance string) *http.Client {
	return &http.Client{Transport: &countingTransport{m: m, platform: platform, instance: instance, next: newTransport()}}
}

// newTransport is http.DefaultTransport keeping enough idle connections
// for many concurrent live replies to one API host (the default keeps 2,
// so every burst of edits would open new connections).
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return t
}

type countingTransport struct {
	m                  *platformMetrics
	platform, instance string
	next               http.RoundTripper
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	method := methodLabel(req.URL.Path)
	if err != nil {
		t.m.calls.WithLabelValues(t.platform, t.instance, method, "error").Inc()
		return resp, err
	}
	t.m.calls.WithLabelValues(t.platform, t.instance, method, strconv.Itoa(resp.StatusCode)).Inc()
	if resp.StatusCode == http.StatusTooManyRequests {
		t.m.limited.WithLabelValues(t.platform, t.instance, method).Inc()
		if secs := retryAfter(resp); secs > 0 {
			t.m.retryAfter.WithLabelValues(t.platform, t.instance, method).Add(secs)
		}
	}
	return resp, nil
}

var digits = regexp.MustCompile(`^[0-9]+$`)

// methodLabel reduces a request path to an API method name without IDs or
// secrets: /bot<token>/sendMessage → sendMessage, /api/chat.update →
// chat.update, /api/v9/channels/1/messages/2 → channels/:id/messages/:id.
func methodLabel(path string) string {
	var keep []string
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		switch {
		case seg == "" || seg == "api" || (len(seg) <= 3 && strings.HasPrefix(seg, "v")):
		case digits.MatchString(seg):
			keep = append(keep, ":id")
		case strings.ContainsAny(seg, ":%") || (len(seg) > 20 && strings.ContainsAny(seg, "0123456789")):
			// a token: leave it out
		default:
			keep = append(keep, seg)
		}
	}
	// Drop the leading parts of a long route (test prefixes, proxies).
	for len(keep) > 4 {
		keep = keep[1:]
	}
	if len(keep) == 0 {
		return "/"
	}
	return strings.Join(keep, "/")
}

// retryAfter reads how long a 429 asks to wait: the Retry-After header
// (Slack, Discord) or the JSON body's retry_after (Telegram's
// parameters.retry_after, Discord's retry_after). The body is restored.
func retryAfter(resp *http.Response) float64 {
	if v, err := strconv.ParseFloat(resp.Header.Get("Retry-After"), 64); err == nil {
		return v
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return 0
	}
	var v struct {
		RetryAfter float64 `json:"retry_after"`
		Parameters struct {
			RetryAfter float64 `json:"retry_after"`
		} `json:"parameters"`
	}
	if json.Unmarshal(body, &v) != nil {
		return 0
	}
	return max(v.RetryAfter, v.Parameters.RetryAfter)
}

// instanceHealth tracks one instance for /readyz.
type instanceHealth struct {
	name      string
	p         bridges.Platform
	lastEvent atomic.Int64 // unix nanos
	stopped   atomic.Bool
	mu        sync.Mutex
	err       string
	errSince  time.Time
}

// setErr records err as the instance's last error, now.
func (ih *instanceHealth) setErr(err error) {
	ih.mu.Lock()
	defer ih.mu.Unlock()
	ih.err, ih.errSince = err.Error(), time.Now()
}

// lastErrorer is implemented by adapters that keep their last platform
// error while they run (a failed reconnect, a refused poll), so that
// /readyz can say why an instance is not connected.
type lastErrorer interface {
	LastError() (msg string, since time.Time)
}

// wrap returns h recording the time of every incoming message.
func (ih *instanceHealth) wrap(h bridges.Handler) bridges.Handler {
	return bridges.HandlerFunc(func(ctx context.Context, m bridges.Message) error {
		ih.lastEvent.Store(time.Now().UnixNano())
		return h.Handle(ctx, m)
	})
}

type readiness struct {
	Ready     bool             `json:"ready"`
	Store     string           `json:"store"`
	Instances []instanceStatus `json:"instances"`
	// Cluster is this replica's ID, the live replicas, and the
	// partitions it owns with their lease ages (cluster mode).
	Cluster any `json:"cluster,omitempty"`
}

type instanceStatus struct {
	Name          string   `json:"name"`
	Connected     bool     `json:"connected"`
	Running       bool     `json:"running"`
	LastEventAgeS *float64 `json:"last_event_age_seconds"`
	// Reason says why the instance is not ready: "stopped" or "not
	// connected".
	Reason string `json:"reason,omitempty"`
	// Error is the instance's last error and ErrorSince when it happened.
	Error      string     `json:"error,omitempty"`
	ErrorSince *time.Time `json:"error_since,omitempty"`
}

// readyHandler serves /readyz: 200 when the store is writable and every
// instance runs and is connected (as far as its adapter can tell), 503
// otherwise, with the details as JSON.
func readyHandler(db interface{ Writable() error }, ins []*instanceHealth, cluster ...func() any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := readiness{Ready: true, Store: "ok"}
		for _, c := range cluster {
			if c != nil {
				res.Cluster = c()
			}
		}
		if err := db.Writable(); err != nil {
			res.Ready = false
			res.Store = err.Error()
		}
		for _, ih := range ins {
			st := instanceStatus{Name: ih.name, Running: !ih.stopped.Load(), Connected: !ih.stopped.Load()}
			if c, ok := ih.p.(bridges.Connector); ok && st.Running {
				st.Connected = c.Connected()
			}
			if t := ih.lastEvent.Load(); t != 0 {
				age := time.Since(time.Unix(0, t)).Seconds()
				st.LastEventAgeS = &age
			}
			ih.mu.Lock()
			msg, since := ih.err, ih.errSince
			ih.mu.Unlock()
			if le, ok := ih.p.(lastErrorer); ok && msg == "" {
				msg, since = le.LastError()
			}
			if msg != "" {
				st.Error = msg
				if !since.IsZero() {
					st.ErrorSince = &since
				}
			}
			switch {
			case !st.Running:
				st.Reason = "stopped"
			case !st.Connected:
				st.Reason = "not connected"
			}
			if st.Reason != "" {
				res.Ready = false
			}
			res.Instances = append(res.Instances, st)
		}
		w.Header().Set("Content-Type", "application/json")
		if !res.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	})
}
