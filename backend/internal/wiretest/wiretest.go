// Package wiretest helps test backend clients against loopback httptest
// servers: a server mounted under a path prefix, and a Gate that makes the
// pieces a handler writes arrive at the client as separate reads, so a
// test can cut a stream at every byte and know each cut really happened;
// and the helpers and conformance checks every client's tests share:
// NewClient, Collect, CheckEvents, CheckError, CheckEnd, the HTTP error
// table (StatusErrors, CheckHTTPErrors), CheckConfigs, CheckChecks,
// cutting answers (Pieces, Cuts, Bytes), retries (RefuseFirst,
// CheckRetried, CheckBrokenStreamNotRetried), CheckCancel, and the fuzz
// and benchmark drivers (DecoderCheck, Decode, BenchStream, Repeat).
//
// Package wiretest is imported only by _test.go files. It imports backend,
// go-cmp and the standard library.
package wiretest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/backend"
)

// Prefix is the path under which Server mounts the handler.
const Prefix = "/prefix"

// Server starts a loopback server that serves h under Prefix (anything
// else is 404) and returns the base URL, srv.URL + Prefix, without a
// trailing slash. The server is closed at the end of the test.
func Server(t testing.TB, h http.Handler) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", http.StripPrefix(Prefix, h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + Prefix
}

// Gate counts the body bytes its client has read, so that a handler can
// wait for the client to consume one piece before writing the next.
type Gate struct {
	mu      sync.Mutex
	read    int64
	changed chan struct{} // closed and replaced on every change
}

// NewGate returns a gate with nothing read.
func NewGate() *Gate { return &Gate{changed: make(chan struct{})} }

// Client returns an HTTP client whose response bodies count into g. Use one
// gate per request.
func (g *Gate) Client() *http.Client {
	return &http.Client{Transport: gateTransport{g}}
}

type gateTransport struct{ g *Gate }

func (t gateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &gateBody{ReadCloser: resp.Body, g: t.g}
	return resp, nil
}

type gateBody struct {
	io.ReadCloser
	g *Gate
}

func (b *gateBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.g.mu.Lock()
		b.g.read += int64(n)
		close(b.g.changed)
		b.g.changed = make(chan struct{})
		b.g.mu.Unlock()
	}
	return n, err
}

// WritePieces writes each piece, flushes it, and waits until the client has
// read everything written so far before writing the next, so each piece
// reaches the client's reader in reads of its own. It gives up with an
// error when the request ends or after 10s.
func (g *Gate) WritePieces(w http.ResponseWriter, r *http.Request, pieces ...string) error {
	f, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("wiretest: ResponseWriter is not a Flusher")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	var total int64
	for i, p := range pieces {
		if _, err := io.WriteString(w, p); err != nil {
			return err
		}
		f.Flush()
		total += int64(len(p))
		if i == len(pieces)-1 {
			break
		}
		for {
			g.mu.Lock()
			read, changed := g.read, g.changed
			g.mu.Unlock()
			if read >= total {
				break
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return fmt.Errorf("wiretest: client read %d of %d bytes: %w", read, total, ctx.Err())
			}
		}
	}
	return nil
}

// Cut splits s at the given byte offsets (ascending, within s).
func Cut(s string, at ...int) []string {
	var out []string
	prev := 0
	for _, i := range at {
		out = append(out, s[prev:i])
		prev = i
	}
	return append(out, s[prev:])
}

// SSE joins data payloads into an SSE body, each as "data: <payload>"
// followed by a blank line, with the given line ending.
func SSE(eol string, payloads ...string) string {
	var b strings.Builder
	for _, p := range payloads {
		b.WriteString("data: " + p + eol + eol)
	}
	return b.String()
}

// Request is one request a Recorder received.
type Request struct {
	Method string
	// URI is the request URI as sent, with the Prefix.
	URI    string
	Header http.Header
	Body   string
}

// Recorder is a fake service under Prefix that records every request and
// answers with Handle, called with the request's 0-based number.
type Recorder struct {
	// Base is the base URL to configure: srv.URL + Prefix.
	Base string

	mu     sync.Mutex
	reqs   []Request
	handle func(w http.ResponseWriter, r *http.Request, n int)
}

// NewRecorder starts a Recorder answering with handle.
func NewRecorder(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, n int)) *Recorder {
	rec := &Recorder{handle: handle}
	rec.Base = Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		n := len(rec.reqs)
		rec.reqs = append(rec.reqs, Request{r.Method, r.RequestURI, r.Header.Clone(), string(body)})
		rec.mu.Unlock()
		rec.handle(w, r, n)
	}))
	return rec
}

// Requests returns the requests received so far.
func (rec *Recorder) Requests() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Request(nil), rec.reqs...)
}

// EventStream returns a handler answering every request with body as
// text/event-stream.
func EventStream(body string) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
	}
}

// Collector returns the drain of one package's tests: it drains a stream
// (Events), failing t when the error shows secret or a Delta is empty or
// not valid UTF-8.
func Collector(secret string) func(t testing.TB, s *backend.Stream) ([]backend.Event, error) {
	return func(t testing.TB, s *backend.Stream) ([]backend.Event, error) {
		t.Helper()
		evs, err := Events(s)
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks the secret: %v", err)
		}
		for _, ev := range evs {
			if d, ok := ev.(backend.Delta); ok && (d.Text == "" || !utf8.ValidString(d.Text)) {
				t.Errorf("Delta %q: want non-empty valid UTF-8", d.Text)
			}
		}
		return evs, err
	}
}

// ReadFile returns the text of a test fixture.
func ReadFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// CheckEvents fails t unless got are the events want.
func CheckEvents(t testing.TB, want, got []backend.Event) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

// NewClient calls a client's New with hc as its HTTP client (nil: a
// default one) and stops t on an error.
func NewClient[C, B any](t testing.TB, newFn func(C, backend.Deps) (B, error), cfg C, hc *http.Client) B {
	t.Helper()
	c, err := newFn(cfg, backend.Deps{HTTPClient: hc})
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return c
}
