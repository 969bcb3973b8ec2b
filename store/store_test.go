package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/chat-bridge/chat-bridge/backend"
)

// clock is an injectable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openTest opens a store in a fresh temporary directory and closes it at
// the end of the test.
func openTest(t testing.TB, cfg Config, opt Options) *DB {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "bridge.db")
	}
	db, err := Open(cfg, opt)
	if err != nil {
		t.Fatalf("Open(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rec(conv string, at time.Time) Record {
	return Record{Backend: "support", ConversationID: conv, Created: at, LastUsed: at}
}

func TestPutGetForgetList(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		key Key
		rec Record
	}{
		"telegram chat": {Key{"telegram", "main", "-100123", ""}, rec("c1", at)},
		"telegram topic": {Key{"telegram", "main", "-100123", "7"}, Record{
			Backend: "support", ConversationID: "c2", SessionID: "s2", Created: at, LastUsed: at.Add(time.Minute), Turns: 3,
		}},
		"slack thread": {Key{"slack", "work", "C01", "1700000000.000100"}, rec("c3", at)},
		"openai history": {Key{"discord", "main", "42", ""}, Record{
			Backend: "gpt", Created: at, LastUsed: at,
			History: []backend.Turn{{Question: "hi", Answer: "hello"}, {Question: "and?", Answer: "bye"}},
		}},
	}
	db := openTest(t, Config{}, Options{})
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

	var want []Entry
	for _, tt := range tests {
		want = append(want, Entry{Key: tt.key.String(), Record: tt.rec})
	}
	listed, err := db.List()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	sortEntries(want)
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

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
}

func TestGetMissing(t *testing.T) {
	db := openTest(t, Config{}, Options{})
	r, ok, err := db.Get(Key{"telegram", "main", "1", ""})
	if ok || err != nil || !cmp.Equal(r, Record{}) {
		t.Errorf("Get(missing) = %+v, %v, %v, want zero, false, nil", r, ok, err)
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "nested", "bridge.db") // parents created
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	k := Key{"slack", "work", "C01", "1.2"}

	db, err := Open(Config{Path: path}, Options{})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	if err := db.Put(k, rec("conv-1", at)); err != nil {
		t.Fatalf("Put = %v", err)
	}
	if err := db.KV("telegram/main").Put("offset", []byte("99")); err != nil {
		t.Fatalf("KV.Put = %v", err)
	}
	if err := db.InboxAdd(InboxEntry{ID: "m1", Key: k.String(), Payload: []byte("hi"), Received: at}); err != nil {
		t.Fatalf("InboxAdd = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}

	db = openTest(t, Config{Path: path}, Options{})
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

func TestIdleReset(t *testing.T) {
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
			clk := newClock()
			path := filepath.Join(t.TempDir(), "bridge.db")
			db := openTest(t, Config{Path: path, IdleReset: tt.idle}, Options{Now: clk.Now})
			k := Key{"telegram", "main", "1", ""}
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
			raw := openTest(t, Config{Path: path}, Options{})
			if _, ok, _ := raw.Get(k); ok != tt.present {
				t.Errorf("record on disk = %v, want %v", ok, tt.present)
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

func TestOpenInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bridge.db")
	openTest(t, Config{Path: path}, Options{})

	start := time.Now()
	db, err := Open(Config{Path: path}, Options{}) // default 1s timeout
	elapsed := time.Since(start)
	if err == nil {
		db.Close()
		t.Fatal("second Open on a held file = nil, want an error")
	}
	if elapsed > 5*time.Second {
		t.Errorf("second Open took %v, want about 1s", elapsed)
	}
	if !errors.Is(err, ErrInUse) {
		t.Errorf("second Open = %v, want errors.Is ErrInUse", err)
	}
	want := fmt.Sprintf("open store %q: the file is in use by another process (is another bridge running?)", path)
	if err.Error() != want {
		t.Errorf("second Open = %q, want %q", err, want)
	}
}

func TestSchemaVersion(t *testing.T) {
	tests := map[string]struct {
		stored  string
		wantErr string // empty: opens
	}{
		"current": {stored: "1"},
		"newer":   {stored: "2", wantErr: "schema version 2 is newer than this bridge supports (1)"},
		"garbage": {stored: "x", wantErr: `bad schema version "x"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bridge.db")
			db := openTest(t, Config{Path: path}, Options{})
			db.Close()

			setMeta(t, path, "schema_version", tt.stored, "1")

			db, err := Open(Config{Path: path}, Options{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Open = %v, want nil", err)
				}
				db.Close()
				return
			}
			if err == nil {
				db.Close()
				t.Fatalf("Open = nil, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open = %q, want the path and %q", err, tt.wantErr)
			}
			// The refused file is left as it was.
			setMeta(t, path, "schema_version", tt.stored, tt.stored)
		})
	}
}

// setMeta checks that the meta key holds want, then stores value.
func setMeta(t *testing.T, path, key, value, want string) {
	t.Helper()
	raw, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open = %v", err)
	}
	defer raw.Close()
	err = raw.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("meta"))
		if got := string(b.Get([]byte(key))); got != want {
			t.Errorf("meta %s = %q, want %q", key, got, want)
		}
		return b.Put([]byte(key), []byte(value))
	})
	if err != nil {
		t.Fatalf("update meta: %v", err)
	}
}

func TestWritable(t *testing.T) {
	db := openTest(t, Config{}, Options{})
	if err := db.Writable(); err != nil {
		t.Errorf("Writable() = %v, want nil", err)
	}
	db.Close()
	if err := db.Writable(); err == nil {
		t.Error("Writable() after Close = nil, want an error")
	}
}

func TestKV(t *testing.T) {
	db := openTest(t, Config{}, Options{})
	a, b := db.KV("telegram/main"), db.KV("slack/work")
	if db.KV("telegram/main") != a {
		t.Error("KV(same namespace) returned a different *KV")
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

	tests := []struct {
		kv    *KV
		key   string
		want  string
		found bool
	}{
		{a, "offset", "41", true},
		{b, "offset", "other", true},
		{a, "missing", "", false},
	}
	for _, tt := range tests {
		v, ok, err := tt.kv.Get(tt.key)
		if string(v) != tt.want || ok != tt.found || err != nil {
			t.Errorf("%s Get(%q) = %q, %v, %v, want %q, %v", tt.kv.bucket, tt.key, v, ok, err, tt.want, tt.found)
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
}

func TestKVSeen(t *testing.T) {
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
	clk := newClock()
	db := openTest(t, Config{}, Options{Now: clk.Now})
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

func TestKVSeenPrune(t *testing.T) {
	clk := newClock()
	db := openTest(t, Config{}, Options{Now: clk.Now})
	kv := db.KV("slack/work")
	// Many rounds of distinct keys that each expire before the next round.
	// Each round runs concurrently, so its Seen calls share commits.
	const rounds = 5
	for round := range rounds {
		var wg sync.WaitGroup
		for i := range pruneEvery {
			wg.Go(func() {
				if seen, err := kv.Seen(fmt.Sprintf("r%d-%d", round, i), time.Second); seen || err != nil {
					t.Errorf("Seen(new key) = %v, %v", seen, err)
				}
			})
		}
		wg.Wait()
		if round < rounds-1 {
			clk.Advance(2 * time.Second)
		}
	}
	var n int
	db.bolt.View(func(tx *bolt.Tx) error {
		n = kv.sub(tx, bucketKVSeen).Stats().KeyN
		return nil
	})
	if n > pruneEvery {
		t.Errorf("seen bucket holds %d entries after %d rounds of %d, want at most %d", n, rounds, pruneEvery, pruneEvery)
	}
	// Pruning keeps the live entries.
	if seen, err := kv.Seen(fmt.Sprintf("r%d-0", rounds-1), time.Second); !seen || err != nil {
		t.Errorf("Seen(live key) after pruning = %v, %v, want true", seen, err)
	}
}

func TestInbox(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	add := []InboxEntry{
		{ID: "b", Key: "telegram/main/1", Payload: []byte(`{"text":"second"}`), Received: t0.Add(time.Second)},
		{ID: "c", Key: "telegram/main/2", Payload: []byte(`{"text":"third"}`), Received: t0.Add(2 * time.Second), Attempts: 1},
		{ID: "a", Key: "telegram/main/1", Payload: []byte(`{"text":"first"}`), Received: t0},
		{ID: "a2", Key: "slack/work/C1/1.1", Payload: []byte("same time"), Received: t0},
	}
	db := openTest(t, Config{}, Options{})
	for _, e := range add {
		if err := db.InboxAdd(e); err != nil {
			t.Fatalf("InboxAdd(%s) = %v", e.ID, err)
		}
	}
	if err := db.InboxAdd(InboxEntry{Key: "x"}); err == nil {
		t.Error("InboxAdd(empty ID) = nil, want an error")
	}

	retried := add[1]
	retried.Attempts = 2
	a, a2, b, c := add[2], add[3], add[0], add[1]
	steps := []struct {
		name string
		do   func() error
		want []InboxEntry
	}{
		{"oldest first, ties by ID", nil, []InboxEntry{a, a2, b, c}},
		{"done", func() error { return db.InboxDone("b") }, []InboxEntry{a, a2, c}},
		{"done absent", func() error { return db.InboxDone("zz") }, []InboxEntry{a, a2, c}},
		{"re-add replaces", func() error { return db.InboxAdd(retried) }, []InboxEntry{a, a2, retried}},
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

func TestConcurrentPuts(t *testing.T) {
	const writers, each = 16, 40
	clk := newClock()
	db := openTest(t, Config{}, Options{Now: clk.Now})
	kv := db.KV("slack/work")
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				k := Key{"discord", "main", fmt.Sprint(w), fmt.Sprint(i)}
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
		k, err := ParseKey(e.Key)
		if err != nil {
			t.Fatalf("ParseKey(%q) = %v", e.Key, err)
		}
		if want := "c" + k.Chat + "-" + k.Thread; e.Record.ConversationID != want {
			t.Errorf("%s: ConversationID = %q, want %q", e.Key, e.Record.ConversationID, want)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	db := openTest(b, Config{IdleReset: time.Hour}, Options{})
	now := time.Now()
	keys := make([]Key, 1000)
	for i := range keys {
		keys[i] = Key{"telegram", "main", fmt.Sprint(i), ""}
		if err := db.Put(keys[i], rec(fmt.Sprint("conv-", i), now)); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; b.Loop(); i++ {
		if _, ok, err := db.Get(keys[i%len(keys)]); !ok || err != nil {
			b.Fatalf("Get = %v, %v", ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkPut(b *testing.B) {
	db := openTest(b, Config{}, Options{})
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		if err := db.Put(Key{"telegram", "main", fmt.Sprint(i % 1000), ""}, rec("conv", now)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkPutParallel(b *testing.B) {
	db := openTest(b, Config{}, Options{})
	now := time.Now()
	var mu sync.Mutex
	next := 0
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		id := next
		next++
		mu.Unlock()
		for i := 0; pb.Next(); i++ {
			if err := db.Put(Key{"telegram", "main", fmt.Sprint(id), fmt.Sprint(i % 100)}, rec("conv", now)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
