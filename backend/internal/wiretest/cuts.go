package wiretest

import (
	"fmt"
	"iter"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/backend"
)

// Pieces has a fake answer in pieces that reach the client in reads of
// their own, one request at a time: Client sets the pieces of the next
// request and returns the HTTP client to send it with; Write, in the
// fake's handler, writes them (Gate.WritePieces).
type Pieces struct {
	gate   atomic.Pointer[Gate]
	pieces atomic.Pointer[[]string]
}

// Client makes pieces the next answer and returns the client whose reads
// the answer waits for.
func (p *Pieces) Client(pieces []string) *http.Client {
	g := NewGate()
	p.gate.Store(g)
	p.pieces.Store(&pieces)
	return g.Client()
}

// Write writes the pieces of the current request.
func (p *Pieces) Write(w http.ResponseWriter, r *http.Request) error {
	return p.gate.Load().WritePieces(w, r, *p.pieces.Load()...)
}

// Cuts yields s cut in two at every byte, each named by the cut and the
// bytes around it.
func Cuts(s string) iter.Seq2[string, []string] {
	return func(yield func(string, []string) bool) {
		for i := 1; i < len(s); i++ {
			if !yield(fmt.Sprintf("cut at %d (%q|%q)", i, s[max(0, i-6):i], s[i:min(len(s), i+6)]), Cut(s, i)) {
				return
			}
		}
	}
}

// Bytes returns s cut between every two bytes.
func Bytes(s string) []string {
	at := make([]int, 0, len(s))
	for i := 1; i < len(s); i++ {
		at = append(at, i)
	}
	return Cut(s, at...)
}

// CheckAnswer stops t unless the answer named name ended without error
// and its events are want.
func CheckAnswer(t testing.TB, name string, want, got []backend.Event, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: Ask() error = %v", name, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s: events mismatch (-want +got):\n%s", name, diff)
	}
}

// RefuseFirst returns a func for a fake's handler that answers its first
// request with status and reports true, and does nothing and reports false
// for every later one: a service refusing once before the stream.
func RefuseFirst(status int) func(w http.ResponseWriter) bool {
	var calls atomic.Int32
	return func(w http.ResponseWriter) bool {
		if calls.Add(1) > 1 {
			return false
		}
		w.WriteHeader(status)
		return true
	}
}

// CheckRetried fails t unless the answer ended without error with the
// events want after n requests in all, the last two identical: the
// refused request was sent again whole.
func CheckRetried(t testing.TB, want, got []backend.Event, err error, reqs []Request, n int) {
	t.Helper()
	if diff := cmp.Diff(want, got); err != nil || diff != "" {
		t.Errorf("Ask() err %v, events mismatch (-want +got):\n%s", err, diff)
	}
	if len(reqs) != n || n < 2 || reqs[n-2].Body != reqs[n-1].Body {
		t.Errorf("server got %d requests, want %d, the last two identical", len(reqs), n)
	}
}

// LineEndings returns the stream lf (LF line endings) with each line
// ending an SSE stream may use: LF, CRLF and CR. Inside JSON strings an
// escaped \n is two characters, so only the line endings change.
func LineEndings(lf string) map[string]string {
	return map[string]string{"LF": lf, "CRLF": strings.ReplaceAll(lf, "\n", "\r\n"), "CR": strings.ReplaceAll(lf, "\n", "\r")}
}

// CheckSplitSSE serves the event stream lf, with each line ending of
// LineEndings and cut in two at every byte, each piece in reads of its
// own, and checks that every answer is want. ask sends one question to
// the fake at base with hc and collects its events.
func CheckSplitSSE(t *testing.T, lf string, want []backend.Event, ask func(t *testing.T, base string, hc *http.Client) ([]backend.Event, error)) {
	t.Helper()
	var pieces Pieces
	rec := NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "text/event-stream")
		if err := pieces.Write(w, r); err != nil {
			t.Errorf("WritePieces: %v", err)
		}
	})
	for name, s := range LineEndings(lf) {
		t.Run(name, func(t *testing.T) {
			for cut, ps := range Cuts(s) {
				evs, err := ask(t, rec.Base, pieces.Client(ps))
				CheckAnswer(t, cut, want, evs, err)
			}
		})
	}
}
