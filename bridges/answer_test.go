package bridges_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/internal/logtest"
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

// countingMetrics records StoreError and Message calls.
type countingMetrics struct {
	bridges.NopMetrics
	mu       sync.Mutex
	errors   map[string]int
	outcomes map[string]int // "outcome/reason"
}

func newCountingMetrics() *countingMetrics {
	return &countingMetrics{errors: map[string]int{}, outcomes: map[string]int{}}
}

func (c *countingMetrics) Message(_ bridges.Key, _, outcome, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outcomes[outcome+"/"+reason]++
}

func (c *countingMetrics) count(outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outcomes[outcome]
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
	met := newCountingMetrics()
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
	met := newCountingMetrics()
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

// landHarness is a relay with an inbox, a recording platform whose Fail
// hook refuses what a test says, counting metrics and a log.
type landHarness struct {
	r     *bridges.Relay
	p     *bridgestest.Platform
	inbox *bridgestest.Inbox
	met   *countingMetrics
	logs  *logtest.Buffer
	h     bridges.Handler
}

func newLandHarness(t *testing.T, fail func(c bridgestest.Call) error) *landHarness {
	lh := &landHarness{p: bridgestest.NewPlatform(testLimits), inbox: bridgestest.NewInbox(), met: newCountingMetrics(), logs: &logtest.Buffer{}}
	lh.p.Fail = fail
	var err error
	lh.r, err = bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore(), Inbox: lh.inbox, Metrics: lh.met,
		Logger: slog.New(slog.NewTextHandler(lh.logs, nil)), PendingMaxAge: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	lh.h = lh.r.Bind(lh.p, bridges.Route{Name: "fake/t", BackendName: "fake",
		Backend: &bridgestest.Backend{Steps: bridgestest.Answer(longAnswer, 10, 300*time.Millisecond, "c")}})
	return lh
}

func (lh *landHarness) pending(t *testing.T) int {
	t.Helper()
	p, err := lh.inbox.InboxPending()
	if err != nil {
		t.Fatal(err)
	}
	return len(p)
}

// TestFinalRefusedForGoodIsNotAnswered: when the platform refuses every
// edit for a lasting reason, the message is not counted answered, the
// log says why with the platform's reason, the failed metric carries it,
// and the inbox entry is removed (retrying cannot help).
func TestFinalRefusedForGoodIsNotAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lh := newLandHarness(t, func(c bridgestest.Call) error {
			if c.Op == "edit" {
				return &bridges.PermanentError{Reason: bridges.ReasonForbidden, Err: errors.New("403 Missing Permissions")}
			}
			return nil
		})
		lh.h.Handle(context.Background(), msg("c1", "hi"))
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := lh.met.count("answered/"); n != 0 {
			t.Errorf("answered count = %d, want 0: the final text never landed", n)
		}
		if n := lh.met.count("failed/forbidden"); n != 1 {
			t.Errorf("failed/forbidden = %d, want 1 (outcomes %v)", n, lh.met.outcomes)
		}
		logs := lh.logs.String()
		if strings.Contains(logs, "msg=answered") || !strings.Contains(logs, "reason=forbidden") || !strings.Contains(logs, "Missing Permissions") {
			t.Errorf("log should not say answered and should name the reason:\n%s", logs)
		}
		if n := lh.pending(t); n != 0 {
			t.Errorf("pending = %d, want 0 (a lasting refusal removes the entry)", n)
		}
	})
}

// TestFinalRefusedForNowIsRetried: a passing refusal of the final text (a
// 502) is retried with backoff in the same message until it lands; it is
// then counted answered once and the entry removed.
func TestFinalRefusedForNowIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		refusals, finals := 0, 0
		lh := newLandHarness(t, func(c bridgestest.Call) error {
			mu.Lock()
			defer mu.Unlock()
			if c.Op == "edit" && c.Out.Text == longAnswer && refusals < 8 {
				refusals++
				return errors.New("502 Bad Gateway")
			}
			if c.Out.Text == longAnswer {
				finals++
			}
			return nil
		})
		start := time.Now()
		lh.h.Handle(context.Background(), msg("c1", "hi"))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		mu.Lock()
		if refusals == 0 {
			t.Error("no refusal in the first 5s")
		}
		mu.Unlock()
		if n := lh.pending(t); n != 1 {
			t.Errorf("pending while the final is refused = %d, want 1", n)
		}
		if n := lh.met.count("answered/"); n != 0 {
			t.Errorf("answered while the final is refused = %d, want 0", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := lh.p.Messages(); len(got) != 1 || got[0] != longAnswer {
			t.Errorf("messages = %q, want the whole answer in the one message", got)
		}
		if refusals != 8 || finals != 1 {
			t.Errorf("refusals = %d, finals landed = %d; want 8 and 1", refusals, finals)
		}
		if n := lh.met.count("answered/"); n != 1 {
			t.Errorf("answered = %d, want 1 once landed (outcomes %v)", n, lh.met.outcomes)
		}
		if n := lh.pending(t); n != 0 {
			t.Errorf("pending after landing = %d, want 0", n)
		}
		var last time.Time
		for _, c := range lh.p.Calls() {
			last = c.Time
		}
		if d := last.Sub(start); d > 10*time.Minute {
			t.Errorf("landed after %s, want within PendingMaxAge", d)
		}
	})
}

// TestFinalNeverLandsGivesUpAtMaxAge: a final refused for now, forever, is
// retried until PendingMaxAge, then counted failed (not_landed) and
// removed from the inbox.
func TestFinalNeverLandsGivesUpAtMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lh := newLandHarness(t, func(c bridgestest.Call) error {
			if c.Op == "edit" && c.Out.Final {
				return errors.New("503 Service Unavailable")
			}
			return nil
		})
		lh.h.Handle(context.Background(), msg("c1", "hi"))
		time.Sleep(9 * time.Minute)
		synctest.Wait()
		if n := lh.pending(t); n != 1 {
			t.Errorf("pending before PendingMaxAge = %d, want 1", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := lh.met.count("failed/not_landed"); n != 1 || lh.met.count("answered/") != 0 {
			t.Errorf("outcomes = %v, want one failed/not_landed and no answered", lh.met.outcomes)
		}
		if n := lh.pending(t); n != 0 {
			t.Errorf("pending after PendingMaxAge = %d, want 0", n)
		}
	})
}

// TestDeletedMessageIsPostedAnew: when someone deletes the reply while it
// streams, the rest is posted as a new message and the answer lands.
func TestDeletedMessageIsPostedAnew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lh := newLandHarness(t, nil)
		lh.h.Handle(context.Background(), msg("c1", "hi"))
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if err := lh.p.Delete(context.Background(), bridges.Sent{ID: "m1"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := lh.p.Messages(); len(got) != 1 || got[0] != longAnswer {
			t.Errorf("messages = %q, want the whole answer in one new message", got)
		}
		if n := lh.met.count("answered/"); n != 1 {
			t.Errorf("answered = %d, want 1", n)
		}
	})
}

// chatbotiqSteps is a ChatbotIQ-like stream: status events, then content
// with notices among it.
func chatbotiqSteps() []bridgestest.Step {
	return []bridgestest.Step{
		{Event: backend.Status{Stage: "retrieving"}},
		{Wait: 500 * time.Millisecond, Event: backend.Status{Stage: "generating"}},
		{Wait: 100 * time.Millisecond, Event: backend.Status{Stage: "generating"}},
		{Wait: 500 * time.Millisecond, Event: backend.Delta{Text: "Open the "}},
		{Event: backend.Notice{Code: "rag_unavailable", Message: "Knowledge retrieval temporarily degraded"}},
		{Event: backend.Notice{Code: "system_message", Message: "Your plan renews tomorrow."}},
		{Wait: 100 * time.Millisecond, Event: backend.Status{Stage: "generating"}},
		{Event: backend.Notice{Code: "rag_unavailable", Message: "Knowledge retrieval temporarily degraded"}},
		{Wait: 100 * time.Millisecond, Event: backend.Delta{Text: "Playground."}},
		{Event: backend.Done{ConversationID: "c"}},
	}
}

// TestProgressStatusLines: before the first text, status events show a
// short localized line (each once) on a StatusShower; the answer's text
// follows it and never contains it. rag_unavailable is noted once in
// small print; other notices are only logged.
func TestProgressStatusLines(t *testing.T) {
	tests := map[string]struct {
		locale string
		want   []string
		note   string
	}{
		"English": {want: []string{"Searching the knowledge base…", "Writing the answer…"},
			note: "\n\n_(The knowledge base could not be searched for this answer.)_"},
		"German": {locale: "de", want: []string{"Durchsuche die Wissensdatenbank…", "Schreibe die Antwort…"},
			note: "\n\n_(Die Wissensdatenbank konnte für diese Antwort nicht durchsucht werden.)_"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sp := bridgestest.NewStatusPlatform(testLimits)
				sp.Lim.MaxLen = 500
				var logs logtest.Buffer
				be := &bridgestest.Backend{Steps: chatbotiqSteps()}
				h := bindHarness(t, bridges.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, sp, sp.Platform, bridges.Route{Backend: be})
				m := msg("c1", "how do I start?")
				m.Locale = tt.locale
				h.send(m)
				h.settle()
				if got := sp.Statuses(); !slices.Equal(got, tt.want) {
					t.Errorf("status lines = %q, want %q", got, tt.want)
				}
				calls := sp.Calls()
				firstText := slices.IndexFunc(calls, func(c bridgestest.Call) bool { return c.Op == "send" })
				lastStatus := -1
				for i, c := range calls {
					if c.Op == "status" {
						lastStatus = i
					}
					if (c.Op == "send" || c.Op == "edit") && slices.Contains(tt.want, c.Out.Text) {
						t.Errorf("a %s carried the status line %q", c.Op, c.Out.Text)
					}
				}
				if firstText < 0 || lastStatus > firstText {
					t.Errorf("calls = %+v, want every status line before the first text", calls)
				}
				if got, want := sp.Visible(), "Open the Playground."+tt.note; got != want {
					t.Errorf("final = %q, want %q", got, want)
				}
				if !strings.Contains(logs.String(), "system_message") || !strings.Contains(logs.String(), "rag_unavailable") {
					t.Errorf("notices not logged:\n%s", logs.String())
				}
			})
		})
	}
}

// TestProgressWithoutStatusShower: elsewhere the typing indicator stays
// until the first text and no status line is shown anywhere.
func TestProgressWithoutStatusShower(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Steps: chatbotiqSteps()}
		h := newHarness(t, testLimits, be, bridges.Route{})
		h.send(msg("c1", "how do I start?"))
		h.settle()
		typing := 0
		for _, c := range h.p.Calls() {
			if c.Op == "typing" {
				typing++
			}
			if strings.Contains(c.Out.Text, "Searching") || strings.Contains(c.Out.Text, "Writing") {
				t.Errorf("%s showed a status line: %q", c.Op, c.Out.Text)
			}
		}
		if typing == 0 {
			t.Error("no typing indicator while waiting for the first text")
		}
	})
}
