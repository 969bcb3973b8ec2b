// Package storetest is the behavioural contract of chat-bridge's stores:
// one suite, Run, that the bbolt store (package store) and the Redis store
// (store/redis) both pass. It holds what the core and the CLI rely on —
// conversations with idle reset, listing, the inbox, KV values and Seen
// marks — not an implementation's internals (file locking, pruning).
//
// It imports only store, go-cmp and the standard library; only tests
// import it.
package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/store"
)

// KV is one namespace's key-value space (bridges.KV's method set).
type KV interface {
	Get(key string) ([]byte, bool, error)
	Put(key string, value []byte) error
	Delete(key string) error
	Seen(key string, ttl time.Duration) (bool, error)
}

// Store is what every store provides.
type Store interface {
	Get(k store.Key) (store.Record, bool, error)
	Put(k store.Key, r store.Record) error
	Forget(k store.Key) error
	List() ([]store.Entry, error)
	InboxAdd(e store.InboxEntry) error
	InboxDone(id string) error
	InboxPending() ([]store.InboxEntry, error)
	InboxLen() (int, error)
	Writable() error
	// Close may be called more than once.
	Close() error
	// KV returns namespace's space; the same namespace yields the same
	// value (==).
	KV(namespace string) KV
}

// Options are the settings a test opens a store with.
type Options struct {
	// IdleReset is the store's idle_reset.
	IdleReset time.Duration
	// Now is the store's clock; nil means time.Now.
	Now func() time.Time
}

// Opener opens the store of one test. Every call opens the same data (the
// same file, the same server and prefix); a store opened earlier is closed
// before the next call. It fails the test on error and closes the store
// when the test ends.
type Opener func(t *testing.T, opt Options) Store

// Run runs the contract suite; newOpener gives each test fresh, empty data.
func Run(t *testing.T, newOpener func(t *testing.T) Opener) {
	tests := []struct {
		name string
		f    func(*testing.T, func(*testing.T) Opener)
	}{
		{"PutGetForgetList", testPutGetForgetList},
		{"GetMissing", testGetMissing},
		{"Reopen", testReopen},
		{"IdleReset", testIdleReset},
		{"Writable", testWritable},
		{"KV", testKV},
		{"KVSeen", testKVSeen},
		{"KVSeenConcurrent", testKVSeenConcurrent},
		{"Inbox", testInbox},
		{"ConcurrentPuts", testConcurrentPuts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, newOpener) })
	}
}

// Clock is an injectable time source.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at 2025-03-01 12:00 UTC.
func NewClock() *Clock { return &Clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func rec(conv string, at time.Time) store.Record {
	return store.Record{Backend: "support", ConversationID: conv, Created: at, LastUsed: at}
}

func testPutGetForgetList(t *testing.T, newOpener func(*testing.T) Opener) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		key store.Key
		rec store.Record
	}{
		"telegram chat": {store.Key{Platform: "telegram", Instance: "main", Chat: "-100123"}, rec("c1", at)},
		"telegram topic": {store.Key{Platform: "telegram", Instance: "main", Chat: "-100123", Thread: "7"}, store.Record{
			Backend: "support", ConversationID: "c2", SessionID: "s2", Created: at, LastUsed: at.Add(time.Minute), Turns: 3,
		}},
		"slack thread": {store.Key{Platform: "slack", Instance: "work", Chat: "C01", Thread: "1700000000.000100"}, rec("c3", at)},
		"openai history": {store.Key{Platform: "discord", Instance: "main", Chat: "42"}, store.Record{
			Backend: "gpt", Created: at, LastUsed: at,
			History: []backend.Turn{{Question: "hi", Answer: "hello"}, {Question: "and?", Answer: "bye"}},
		}},
	}
	db := newOpener(t)(t, Options{})
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if err := db.Put(tt.key, tt.rec); err != nil {
				t.Fatalf("Put(%s) = %v", tt.key, err)
			}
			got, ok, err := db.Get(tt.key)
			if err != nil || !ok {
				t.Fatalf("Get(%s) = _, %v, %v, want ok", tt.key, ok, err)
			}
			if diff := cmp.Diff(tt.rec, got); diff != "" {
				t.Errorf("Get(%s) mismatch (-want +got):\n%s", tt.key, diff)
			}
		})
	}

	var want []store.Entry
	for _, tt := range tests {
		want = append(want, store.Entry{Key: tt.key.String(), Record: tt.rec})
	}
	listed, err := db.List()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	slices.SortFunc(want, func(a, b store.Entry) int { return strings.Compare(a.Key, b.Key) })
	if diff := cmp.Diff(want, listed); diff != "" {
		t.Errorf("List() mismatch (-want +got):\n%s", diff)
	}

	gone := tests["telegram chat"].key
	if err := db.Forget(gone); err != nil {
		t.Fatalf("Forget(%s) = %v", gone, err)
	}
	if _, ok, err := db.Get(gone); ok || err != nil {
		t.Errorf("Get(%s) after Forget = _, %v, %v, want absent", gone, ok, err)
	}
	if err := db.Forget(gone); err != nil {
		t.Errorf("Forget(%s) again = %v, want nil", gone, err)
	}
	// The thread of the forgotten chat is its own conversation.
	if _, ok, _ := db.Get(tests["telegram topic"].key); !ok {
		t.Errorf("Get(%s) after forgetting its chat = absent, want present", tests["telegram topic"].key)
	}
	listed, _ = db.List()
	if len(listed) != len(tests)-1 {
		t.Errorf("List() after Forget has %d entries, want %d", len(listed), len(tests)-1)
	}
}

func testGetMissing(t *testing.T, newOpener func(*testing.T) Opener) {
	db := newOpener(t)(t, Options{})
	r, ok, err := db.Get(store.Key{Platform: "telegram", Instance: "main", Chat: "1"})
	if ok || err != nil || !cmp.Equal(r, store.Record{}) {
		t.Errorf("Get(missing) = %+v, %v, %v, want zero, false, nil", r, ok, err)
	}
	if listed, err := db.List(); len(listed) != 0 || err != nil {
		t.Errorf("List() of an empty store = %v, %v, want none", listed, err)
	}
	if pending, err := db.InboxPending(); len(pending) != 0 || err != nil {
		t.Errorf("InboxPending() of an empty store = %v, %v, want none", pending, err)
	}
}

func testReopen(t *testing.T, newOpener func(*testing.T) Opener) {
	open := newOpener(t)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	k := store.Key{Platform: "slack", Instance: "work", Chat: "C01", Thread: "1.2"}

	db := open(t, Options{})
	if err := db.Put(k, rec("conv-1", at)); err != nil {
		t.Fatalf("Put = %v", err)
	}
	if err := db.KV("telegram/main").Put("offset", []byte("99")); err != nil {
		t.Fatalf("KV.Put = %v", err)
	}
	if err := db.InboxAdd(store.InboxEntry{ID: "m1", Key: k.String(), Payload: []byte("hi"), Received: at}); err != nil {
		t.Fatalf("InboxAdd = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}

	db = open(t, Options{})
	got, ok, err := db.Get(k)
	if err != nil || !ok {
		t.Fatalf("Get after reopen = _, %v, %v", ok, err)
	}
	if diff := cmp.Diff(rec("conv-1", at), got); diff != "" {
		t.Errorf("Get after reopen mismatch (-want +got):\n%s", diff)
	}
	if v, ok, err := db.KV("telegram/main").Get("offset"); string(v) != "99" || !ok || err != nil {
		t.Errorf("KV.Get(offset) after reopen = %q, %v, %v, want 99", v, ok, err)
	}
	if n, err := db.InboxLen(); n != 1 || err != nil {
		t.Errorf("InboxLen() after reopen = %d, %v, want 1", n, err)
	}
}

func testIdleReset(t *testing.T, newOpener func(*testing.T) Opener) {
	tests := map[string]struct {
		idle    time.Duration
		age     time.Duration
		present bool
	}{
		"never":       {idle: 0, age: 365 * 24 * time.Hour, present: true},
		"fresh":       {idle: time.Hour, age: 59 * time.Minute, present: true},
		"exactly":     {idle: time.Hour, age: time.Hour, present: true},
		"idle":        {idle: time.Hour, age: time.Hour + time.Second, present: false},
		"long unused": {idle: time.Hour, age: 30 * 24 * time.Hour, present: false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			open := newOpener(t)
			clk := NewClock()
			db := open(t, Options{IdleReset: tt.idle, Now: clk.Now})
			k := store.Key{Platform: "telegram", Instance: "main", Chat: "1"}
			if err := db.Put(k, rec("c", clk.Now())); err != nil {
				t.Fatalf("Put = %v", err)
			}
			clk.Advance(tt.age)

			listed, err := db.List()
			if err != nil || len(listed) != b2i(tt.present) {
				t.Errorf("List() = %d entries, %v, want %d", len(listed), err, b2i(tt.present))
			}
			_, ok, err := db.Get(k)
			if ok != tt.present || err != nil {
				t.Fatalf("Get after %v idle (reset %v) = _, %v, %v, want %v", tt.age, tt.idle, ok, err, tt.present)
			}

			// An idle record is deleted, not only hidden.
			db.Close()
			raw := open(t, Options{})
			if _, ok, _ := raw.Get(k); ok != tt.present {
				t.Errorf("record in the store = %v, want %v", ok, tt.present)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func testWritable(t *testing.T, newOpener func(*testing.T) Opener) {
	db := newOpener(t)(t, Options{})
	if err := db.Writable(); err != nil {
		t.Errorf("Writable() = %v, want nil", err)
	}
	db.Close()
	if err := db.Writable(); err == nil {
		t.Error("Writable() after Close = nil, want an error")
	}
}

func testKV(t *testing.T, newOpener func(*testing.T) Opener) {
	db := newOpener(t)(t, Options{})
	a, b := db.KV("telegram/main"), db.KV("slack/work")
	if db.KV("telegram/main") != a {
		t.Error("KV(same namespace) returned a different KV")
	}

	if v, ok, err := a.Get("offset"); v != nil || ok || err != nil {
		t.Errorf("Get(missing) = %q, %v, %v, want nil, false, nil", v, ok, err)
	}
	if err := a.Delete("offset"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	value := []byte("41")
	if err := a.Put("offset", value); err != nil {
		t.Fatalf("Put = %v", err)
	}
	value[1] = '2' // Put keeps its own copy
	if err := b.Put("offset", []byte("other")); err != nil {
		t.Fatalf("Put = %v", err)
	}
	if err := a.Put("binary", []byte{0, 0xff, '\n', ':'}); err != nil {
		t.Fatalf("Put(binary) = %v", err)
	}

	tests := []struct {
		ns    string
		kv    KV
		key   string
		want  string
		found bool
	}{
		{"telegram/main", a, "offset", "41", true},
		{"slack/work", b, "offset", "other", true},
		{"telegram/main", a, "missing", "", false},
		{"telegram/main", a, "binary", "\x00\xff\n:", true},
	}
	for _, tt := range tests {
		v, ok, err := tt.kv.Get(tt.key)
		if string(v) != tt.want || ok != tt.found || err != nil {
			t.Errorf("%s Get(%q) = %q, %v, %v, want %q, %v", tt.ns, tt.key, v, ok, err, tt.want, tt.found)
		}
	}

	if err := a.Delete("offset"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if _, ok, _ := a.Get("offset"); ok {
		t.Error("Get after Delete = found")
	}
	if _, ok, _ := b.Get("offset"); !ok {
		t.Error("Delete in one namespace removed another's key")
	}
	// Seen entries are apart from values.
	if _, err := a.Seen("offset", time.Minute); err != nil {
		t.Fatalf("Seen = %v", err)
	}
	if _, ok, _ := a.Get("offset"); ok {
		t.Error("Seen(key) made Get(key) find a value")
	}
	// Namespaces that differ only around a separator stay apart.
	x, y := db.KV("a:b"), db.KV("a")
	if err := x.Put("c", []byte("x")); err != nil {
		t.Fatalf("Put = %v", err)
	}
	if _, ok, _ := y.Get("b:c"); ok {
		t.Error(`KV("a").Get("b:c") found KV("a:b")'s "c"`)
	}
	if seen, _ := x.Seen("k", time.Hour); seen {
		t.Error("first Seen = true")
	}
	if seen, _ := y.Seen("b:k", time.Hour); seen {
		t.Error(`KV("a").Seen("b:k") = true after KV("a:b").Seen("k")`)
	}
}

func testKVSeen(t *testing.T, newOpener func(*testing.T) Opener) {
	steps := []struct {
		advance time.Duration
		key     string
		ttl     time.Duration
		want    bool
	}{
		{0, "ev1", time.Minute, false},
		{0, "ev1", time.Minute, true},
		{0, "ev2", time.Minute, false},
		{30 * time.Second, "ev1", time.Minute, true},
		{29 * time.Second, "ev1", time.Minute, true}, // 59s after first sight
		{time.Second, "ev1", time.Minute, false},     // 60s: expired, recorded anew
		{10 * time.Second, "ev1", time.Minute, true}, // within the new record
		{0, "ev2", 30 * time.Second, false},          // 70s old, shorter ttl
		{0, "ev2", time.Hour, true},                  // recorded again just now
		{2 * time.Hour, "ev2", 3 * time.Hour, true},  // caller's ttl decides
		{0, "ev3", 0, false},                         // zero ttl: never seen
		{0, "ev3", 0, false},
	}
	clk := NewClock()
	db := newOpener(t)(t, Options{Now: clk.Now})
	kv := db.KV("slack/work")
	for i, s := range steps {
		clk.Advance(s.advance)
		got, err := kv.Seen(s.key, s.ttl)
		if got != s.want || err != nil {
			t.Errorf("step %d: Seen(%q, %v) = %v, %v, want %v", i, s.key, s.ttl, got, err, s.want)
		}
	}
	if got, _ := db.KV("other").Seen("ev1", time.Hour); got {
		t.Error("Seen in another namespace = true, want false")
	}
}

// testKVSeenConcurrent: of many concurrent Seen calls of one key, exactly
// one reports it new (dedupe of a redelivery racing its original).
func testKVSeenConcurrent(t *testing.T, newOpener func(*testing.T) Opener) {
	db := newOpener(t)(t, Options{})
	kv := db.KV("slack/work")
	const callers = 50
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		fresh int
	)
	for range callers {
		wg.Go(func() {
			seen, err := kv.Seen("event/Ev1", time.Hour)
			if err != nil {
				t.Errorf("Seen = %v", err)
				return
			}
			if !seen {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if fresh != 1 {
		t.Errorf("%d concurrent Seen(same key) reported it new %d times, want 1", callers, fresh)
	}
}

func testInbox(t *testing.T, newOpener func(*testing.T) Opener) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	add := []store.InboxEntry{
		{ID: "b", Key: "telegram/main/1", Payload: []byte(`{"text":"second"}`), Received: t0.Add(time.Second)},
		{ID: "c", Key: "telegram/main/2", Payload: []byte(`{"text":"third"}`), Received: t0.Add(2 * time.Second), Attempts: 1},
		{ID: "a", Key: "telegram/main/1", Payload: []byte(`{"text":"first"}`), Received: t0},
		{ID: "a2", Key: "slack/work/C1/1.1", Payload: []byte("same time"), Received: t0},
	}
	db := newOpener(t)(t, Options{})
	for _, e := range add {
		if err := db.InboxAdd(e); err != nil {
			t.Fatalf("InboxAdd(%s) = %v", e.ID, err)
		}
	}
	if err := db.InboxAdd(store.InboxEntry{Key: "x"}); err == nil {
		t.Error("InboxAdd(empty ID) = nil, want an error")
	}

	retried := add[1]
	retried.Attempts = 2
	a, a2, b, c := add[2], add[3], add[0], add[1]
	steps := []struct {
		name string
		do   func() error
		want []store.InboxEntry
	}{
		{"oldest first, ties by ID", nil, []store.InboxEntry{a, a2, b, c}},
		{"done", func() error { return db.InboxDone("b") }, []store.InboxEntry{a, a2, c}},
		{"done absent", func() error { return db.InboxDone("zz") }, []store.InboxEntry{a, a2, c}},
		{"re-add replaces", func() error { return db.InboxAdd(retried) }, []store.InboxEntry{a, a2, retried}},
		{"all done", func() error {
			for _, id := range []string{"a", "a2", "c"} {
				if err := db.InboxDone(id); err != nil {
					return err
				}
			}
			return nil
		}, nil},
	}
	for _, s := range steps {
		if s.do != nil {
			if err := s.do(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		pending, err := db.InboxPending()
		if err != nil {
			t.Fatalf("%s: InboxPending() = %v", s.name, err)
		}
		if diff := cmp.Diff(s.want, pending); diff != "" {
			t.Errorf("%s: InboxPending() mismatch (-want +got):\n%s", s.name, diff)
		}
		if n, err := db.InboxLen(); n != len(s.want) || err != nil {
			t.Errorf("%s: InboxLen() = %d, %v, want %d", s.name, n, err, len(s.want))
		}
	}
}

func testConcurrentPuts(t *testing.T, newOpener func(*testing.T) Opener) {
	const writers, each = 16, 40
	clk := NewClock()
	db := newOpener(t)(t, Options{Now: clk.Now})
	kv := db.KV("slack/work")
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				k := store.Key{Platform: "discord", Instance: "main", Chat: fmt.Sprint(w), Thread: fmt.Sprint(i)}
				if err := db.Put(k, rec(fmt.Sprintf("c%d-%d", w, i), clk.Now())); err != nil {
					t.Errorf("Put(%s) = %v", k, err)
				}
				if _, _, err := db.Get(k); err != nil {
					t.Errorf("Get(%s) = %v", k, err)
				}
				if _, err := kv.Seen(fmt.Sprint(i), time.Hour); err != nil {
					t.Errorf("Seen = %v", err)
				}
			}
		})
	}
	wg.Wait()
	listed, err := db.List()
	if err != nil || len(listed) != writers*each {
		t.Fatalf("List() = %d entries, %v, want %d", len(listed), err, writers*each)
	}
	for _, e := range listed {
		k, err := store.ParseKey(e.Key)
		if err != nil {
			t.Fatalf("ParseKey(%q) = %v", e.Key, err)
		}
		if want := "c" + k.Chat + "-" + k.Thread; e.Record.ConversationID != want {
			t.Errorf("%s: ConversationID = %q, want %q", e.Key, e.Record.ConversationID, want)
		}
	}
}
