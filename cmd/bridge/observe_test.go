package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/store"
)

// erroringPlatform runs but is not connected, and says why.
type erroringPlatform struct {
	quietPlatform
	since time.Time
}

func (p erroringPlatform) LastError() (string, time.Time) {
	return "getUpdates: 502 Bad Gateway", p.since
}

// TestReadyzReasons: /readyz says why an instance is not ready, with its
// last error and since when.
func TestReadyzReasons(t *testing.T) {
	db, err := store.Open(store.Config{Path: filepath.Join(t.TempDir(), "b.db")}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lim := bridges.Limits{MaxLen: 100}
	ok := &instanceHealth{name: "fake/ok", p: bridgestest.NewPlatform(lim)}
	quiet := &instanceHealth{name: "fake/erroring", p: erroringPlatform{quietPlatform{bridgestest.NewPlatform(lim)}, since}}
	dead := &instanceHealth{name: "fake/dead", p: bridgestest.NewPlatform(lim)}
	dead.stopped.Store(true)
	dead.setErr(errors.New("token refused"))

	rec := httptest.NewRecorder()
	readyHandler(db, []*instanceHealth{ok, quiet, dead}).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d, want 503", rec.Code)
	}
	var res readiness
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ reason, err string }{
		"fake/ok":       {"", ""},
		"fake/erroring": {"not connected", "getUpdates: 502 Bad Gateway"},
		"fake/dead":     {"stopped", "token refused"},
	}
	for _, st := range res.Instances {
		w := want[st.Name]
		if st.Reason != w.reason || st.Error != w.err {
			t.Errorf("%s: reason %q error %q, want %q and %q", st.Name, st.Reason, st.Error, w.reason, w.err)
		}
		if w.err != "" && st.ErrorSince == nil {
			t.Errorf("%s: no error_since", st.Name)
		}
	}
	if s := res.Instances[1].ErrorSince; s == nil || !s.Equal(since) {
		t.Errorf("erroring since = %v, want %v", s, since)
	}
}
