package telegramtest

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Front is the load balancer in front of a cluster's replicas, for the
// webhook (cluster mode: webhook_url points at it): it posts each
// delivery to the next replica in turn, with its path and headers, and
// moves on to the next one when a replica does not answer 2xx (killed,
// frozen past the timeout, not ready), as a health-checking balancer
// does. Serve it with httptest.NewServer or any http.Server.
type Front struct {
	targets []string // host:port of each replica's [http] listen
	next    atomic.Uint64
	client  *http.Client
	mu      sync.Mutex
	served  []int
}

// NewFront returns a Front over targets (host:port each), giving each
// replica timeout to answer a delivery.
func NewFront(targets []string, timeout time.Duration) *Front {
	return &Front{targets: slices.Clone(targets), served: make([]int, len(targets)), client: &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second},
	}}
}

// ServeHTTP forwards one delivery: 502 when no replica answered 2xx.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	start := f.next.Add(1)
	n := uint64(len(f.targets))
	for k := range n {
		i := (start + k) % n
		req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+f.targets[i]+r.URL.Path, bytes.NewReader(body))
		if err != nil {
			continue
		}
		req.Header = r.Header.Clone()
		resp, err := f.client.Do(req)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			continue
		}
		f.mu.Lock()
		f.served[i]++
		f.mu.Unlock()
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(b)
		return
	}
	http.Error(w, "no replica answered", http.StatusBadGateway)
}

// Served returns how many deliveries each target answered 2xx, in the
// order of the targets.
func (f *Front) Served() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.served)
}
