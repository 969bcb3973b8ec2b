package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/internal/logtest"
	"github.com/chat-bridge/chat-bridge/store"
	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
	"github.com/chat-bridge/chat-bridge/store/storetest"
)

// contractDB adapts *DB to storetest.Store (KV returns the interface).
type contractDB struct{ *DB }

func (c contractDB) KV(namespace string) storetest.KV { return c.DB.KV(namespace) }

// TestContract runs the store contract suite on a real redis-server; each
// test gets its own prefix on one server, so the tests also show that
// prefixes keep deployments apart.
func TestContract(t *testing.T) {
	url := redistest.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		prefix := fmt.Sprintf("contract-%d", n.Add(1))
		return func(t *testing.T, opt storetest.Options) storetest.Store {
			db, err := Open(Config{URL: url, Prefix: prefix, IdleReset: opt.IdleReset}, Options{Now: opt.Now})
			if err != nil {
				t.Fatalf("Open(%s) = %v", url, err)
			}
			t.Cleanup(func() { db.Close() })
			return contractDB{db}
		}
	})
}

// openTest opens a store on url under a fresh prefix.
func openTest(t *testing.T, url string, cfg Config, opt Options) *DB {
	t.Helper()
	cfg.URL = url
	if cfg.Prefix == "" {
		cfg.Prefix = strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	}
	db, err := Open(cfg, opt)
	if err != nil {
		t.Fatalf("Open(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPrefixes(t *testing.T) {
	url := redistest.Start(t)
	a := openTest(t, url, Config{Prefix: "dep-a"}, Options{})
	b := openTest(t, url, Config{Prefix: "dep-b"}, Options{})
	k := store.Key{Platform: "telegram", Instance: "main", Chat: "1"}
	if err := a.Put(k, store.Record{Backend: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Get(k); ok {
		t.Error("prefix dep-b sees dep-a's conversation")
	}
	if l, _ := b.List(); len(l) != 0 {
		t.Errorf("prefix dep-b lists %d conversations, want 0", len(l))
	}
	keys, err := a.Client().Keys(t.Context(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		if !strings.HasPrefix(key, "dep-a:") && !strings.HasPrefix(key, "dep-b:") {
			t.Errorf("key %q is outside the prefixes", key)
		}
	}
	if got := a.Client().Exists(t.Context(), "dep-a:conv:telegram/main/1").Val(); got != 1 {
		t.Errorf("conversation key dep-a:conv:telegram/main/1 exists = %d, want 1 (the layout is documented)", got)
	}

	d, err := Open(Config{URL: url}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Put(k, store.Record{Backend: "y"}); err != nil {
		t.Fatal(err)
	}
	if got := d.Client().Exists(t.Context(), "chat-bridge:conv:telegram/main/1").Val(); got != 1 {
		t.Error("an empty prefix does not default to chat-bridge")
	}

	for _, bad := range []string{"a:b", "a*", "a b", "x[1]"} {
		if db, err := Open(Config{URL: url, Prefix: bad}, Options{}); err == nil {
			db.Close()
			t.Errorf("Open(prefix %q) = nil, want an error", bad)
		} else if !strings.Contains(err.Error(), "prefix") {
			t.Errorf("Open(prefix %q) = %v, want it to name the prefix", bad, err)
		}
	}
}

// TestServerExpiry: idle-reset conversations and Seen marks carry a
// server-side expiry, so the server's memory stays bounded without scans.
func TestServerExpiry(t *testing.T) {
	url := redistest.Start(t)
	db := openTest(t, url, Config{IdleReset: time.Hour}, Options{})
	k := store.Key{Platform: "telegram", Instance: "main", Chat: "1"}
	if err := db.Put(k, store.Record{Backend: "x", LastUsed: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ttl := db.Client().PTTL(t.Context(), db.convKey(k)).Val()
	if ttl <= time.Hour || ttl > time.Hour+idleSlack+time.Second {
		t.Errorf("PTTL(conversation) = %v, want in (1h, 1h+%v]", ttl, idleSlack)
	}
	never := openTest(t, url, Config{Prefix: "never"}, Options{})
	if err := never.Put(k, store.Record{Backend: "x", LastUsed: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if ttl := never.Client().PTTL(t.Context(), never.convKey(k)).Val(); ttl != -1 {
		t.Errorf("PTTL(conversation without idle_reset) = %v, want -1 (no expiry)", ttl)
	}

	kv := db.KV("slack/work")
	if seen, err := kv.Seen("event/E1", 90*time.Minute); seen || err != nil {
		t.Fatalf("Seen = %v, %v", seen, err)
	}
	ttl = db.Client().PTTL(t.Context(), kv.seen+"event/E1").Val()
	if ttl <= 89*time.Minute || ttl > 90*time.Minute {
		t.Errorf("PTTL(seen mark) = %v, want about 90m", ttl)
	}
	if seen, err := kv.Seen("event/E1", 90*time.Minute); !seen || err != nil {
		t.Errorf("Seen again = %v, %v, want true (server clock)", seen, err)
	}
	// A mark the server expired is new again.
	if seen, _ := kv.Seen("event/short", 50*time.Millisecond); seen {
		t.Fatal("first Seen = true")
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.Client().Exists(t.Context(), kv.seen+"event/short").Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("the server did not expire a 50ms Seen mark within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if seen, _ := kv.Seen("event/short", 50*time.Millisecond); seen {
		t.Error("Seen after the server expired the mark = true, want false")
	}
}

func TestSchemaVersion(t *testing.T) {
	url := redistest.Start(t)
	db := openTest(t, url, Config{Prefix: "s"}, Options{})
	if v := db.Client().HGet(t.Context(), "s:meta", "schema_version").Val(); v != "1" {
		t.Fatalf("schema_version = %q, want 1", v)
	}
	tests := map[string]struct {
		stored, wantErr string
	}{
		"current": {stored: "1"},
		"newer":   {stored: "2", wantErr: `schema version 2 under prefix "s" is newer than this bridge supports (1)`},
		"garbage": {stored: "x", wantErr: `bad schema version "x"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			db.Client().HSet(t.Context(), "s:meta", "schema_version", tt.stored)
			d, err := Open(Config{URL: url, Prefix: "s"}, Options{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Open = %v, want nil", err)
				}
				d.Close()
				return
			}
			if err == nil {
				d.Close()
				t.Fatalf("Open = nil, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Open = %q, want %q", err, tt.wantErr)
			}
			if v := db.Client().HGet(t.Context(), "s:meta", "schema_version").Val(); v != tt.stored {
				t.Errorf("refused store's schema_version = %q, want it left at %q", v, tt.stored)
			}
		})
	}
}

// TestReconnect: while the server is down every call fails (readiness
// reports it, nothing hangs past the timeout); once it is back, the same
// DB works again without reopening, and with AOF nothing written is lost.
func TestReconnect(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{Args: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	var logged logtest.Buffer
	db := openTest(t, srv.URL, Config{}, Options{Timeout: time.Second, Log: slog.New(slog.NewTextHandler(&logged, nil))})
	k := store.Key{Platform: "slack", Instance: "work", Chat: "C1"}
	if err := db.Put(k, store.Record{Backend: "b", ConversationID: "kept"}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	if err := db.Writable(); err == nil {
		t.Error("Writable() with the server down = nil, want an error")
	}
	if _, _, err := db.Get(k); err == nil {
		t.Error("Get with the server down = nil error")
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("calls with the server down took %v, want them bounded by the timeout", d)
	}
	// The client library's own complaint reaches the bridge's log, as one
	// structured warning, not the standard library's stderr logger.
	if out := logged.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "redis client: redis: connection pool: failed to dial") {
		t.Errorf("the store's log has no warning of the failed dials:\n%s", out)
	}
	srv.Restart()
	if err := db.Writable(); err != nil {
		t.Errorf("Writable() after the restart = %v, want nil", err)
	}
	if r, ok, err := db.Get(k); !ok || err != nil || r.ConversationID != "kept" {
		t.Errorf("Get after the restart = %+v, %v, %v, want the record kept", r, ok, err)
	}
}

// TestLibLog: go-redis's messages are rate limited per form, with the
// number suppressed on the next line, and open stores' passwords are
// removed from them.
func TestLibLog(t *testing.T) {
	var out logtest.Buffer
	now := time.Unix(1000, 0)
	g := &libLog{passwords: map[string]int{"s3cret-pw": 1}, last: map[string]time.Time{}, dropped: map[string]int{},
		now: func() time.Time { return now }, log: slog.New(slog.NewTextHandler(&out, nil))}
	for range 5 {
		g.Printf(context.Background(), "dial %s failed", "redis://u:s3cret-pw@host")
	}
	now = now.Add(logEvery)
	g.Printf(context.Background(), "dial %s failed", "again")
	g.Printf(context.Background(), "other %d", 1)
	got := out.String()
	if strings.Contains(got, "s3cret-pw") {
		t.Errorf("the password reached the log:\n%s", got)
	}
	if n := strings.Count(got, "level=WARN"); n != 3 {
		t.Errorf("%d lines, want 3 (one per form per %v, and the other form):\n%s", n, logEvery, got)
	}
	if !strings.Contains(got, "similar_suppressed=4") {
		t.Errorf("the second line does not count the 4 suppressed:\n%s", got)
	}
}
