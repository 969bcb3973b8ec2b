package bridges_test

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/store"
)

// TestRelayIdleReset: a conversation unused longer than [store]
// idle_reset is forgotten, one that is not continues. The store owns the
// knob; this runs the relay over the real bbolt store to show the user
// sees it.
func TestRelayIdleReset(t *testing.T) {
	tests := map[string]struct {
		age      time.Duration
		wantConv string
	}{
		"idle: forgotten":  {age: 2 * time.Hour, wantConv: ""},
		"recent: continue": {age: 30 * time.Minute, wantConv: "old"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
			db, err := store.Open(store.Config{Path: filepath.Join(t.TempDir(), "b.db"), IdleReset: time.Hour},
				store.Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			m := msg("c1", "hi")
			rec := storeRecord("fake", "old")
			rec.LastUsed = now.Add(-tt.age)
			if err := db.Put(m.Key, rec); err != nil {
				t.Fatal(err)
			}
			r, err := bridges.NewRelay(bridges.Config{Store: db, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			be := &bridgestest.Backend{Steps: bridgestest.Answer("ok", 5, 0, "new")}
			h := r.Bind(bridgestest.NewPlatform(testLimits), bridges.Route{BackendName: "fake", Backend: be})
			if err := h.Handle(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			if err := r.Shutdown(ctxTimeout(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			reqs := be.Requests()
			if len(reqs) != 1 || reqs[0].ConversationID != tt.wantConv {
				t.Fatalf("requests = %+v, want one with conversation %q", reqs, tt.wantConv)
			}
		})
	}
}

// failingInbox refuses every write.
type failingInbox struct{ bridgestest.Inbox }

func (f *failingInbox) InboxAdd(store.InboxEntry) error { return errors.New("disk full") }
func (f *failingInbox) InboxDone(string) error          { return errors.New("disk full") }

// doneFailingInbox keeps entries but cannot remove them.
type doneFailingInbox struct{ *bridgestest.Inbox }

func (f doneFailingInbox) InboxDone(string) error { return errors.New("disk full") }

// failingKV refuses every write.
type failingKV struct{ *bridgestest.KV }

func (f failingKV) Put(string, []byte) error { return errors.New("disk full") }

// countingMetrics records StoreError calls.
type countingMetrics struct {
	bridges.NopMetrics
	mu     sync.Mutex
	errors map[string]int
}

func (c *countingMetrics) StoreError(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors[op]++
}

// TestLostWritesLoggedAndCounted: a write that fails and loses something
// (the inbox entry, the quota count) is logged and counted, and the
// question is still answered.
func TestLostWritesLoggedAndCounted(t *testing.T) {
	var logs strings.Builder
	met := &countingMetrics{errors: map[string]int{}}
	r, err := bridges.NewRelay(bridges.Config{
		Store: bridgestest.NewStore(), Inbox: &failingInbox{}, QuotaKV: failingKV{bridgestest.NewKV()},
		Metrics: met, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	p := bridgestest.NewPlatform(testLimits)
	be := &bridgestest.Backend{Steps: bridgestest.Answer("ok", 5, 0, "c")}
	h := r.Bind(p, bridges.Route{Name: "fake/t", BackendName: "fake", Backend: be, Policy: bridges.Policy{UserDailyQuota: 5}})
	if err := h.Handle(t.Context(), msg("c1", "hi")); err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := p.Visible(); got != "ok" {
		t.Errorf("visible = %q, want the answer", got)
	}
	met.mu.Lock()
	defer met.mu.Unlock()
	if met.errors["inbox_add"] != 1 || met.errors["quota_write"] != 1 {
		t.Errorf("store errors = %v, want inbox_add and quota_write counted once", met.errors)
	}
	for _, want := range []string{"inbox: cannot keep the message durably", "quota: quota_write failed"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestInboxDoneFailureCounted(t *testing.T) {
	var logs strings.Builder
	met := &countingMetrics{errors: map[string]int{}}
	inbox := doneFailingInbox{bridgestest.NewInbox()}
	r, _ := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore(), Inbox: inbox, Metrics: met,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h := r.Bind(bridgestest.NewPlatform(testLimits), bridges.Route{Name: "fake/t", Backend: &bridgestest.Backend{Steps: bridgestest.Answer("ok", 5, 0, "c")}})
	if err := h.Handle(t.Context(), msg("c1", "hi")); err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	met.mu.Lock()
	defer met.mu.Unlock()
	if met.errors["inbox_done"] != 1 || !strings.Contains(logs.String(), "cannot mark the message answered") {
		t.Errorf("store errors = %v, log:\n%s\nwant inbox_done counted and logged", met.errors, logs.String())
	}
}
