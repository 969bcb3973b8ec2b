package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/store"
	"github.com/chat-bridge/chat-bridge/store/storetest"
	bolt "go.etcd.io/bbolt"
)

// openTest opens a store in a fresh temporary directory and closes it at
// the end of the test.
func openTest(t testing.TB, cfg store.Config, opt store.Options) *store.DB {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "bridge.db")
	}
	db, err := store.Open(cfg, opt)
	if err != nil {
		t.Fatalf("Open(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rec(conv string, at time.Time) store.Record {
	return store.Record{Backend: "support", ConversationID: conv, Created: at, LastUsed: at}
}

// TestOpenPath: Open creates the file's parent directories and Path
// reports the file. (What survives a reopen is in storetest.)
func TestOpenPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "nested", "bridge.db") // parents created
	db, err := store.Open(store.Config{Path: path}, store.Options{})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer db.Close()
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	if err := db.Put(store.Key{"slack", "work", "C01", "1.2"}, rec("conv-1", time.Now())); err != nil {
		t.Fatalf("Put = %v", err)
	}
}

func TestOpenInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bridge.db")
	openTest(t, store.Config{Path: path}, store.Options{})

	start := time.Now()
	db, err := store.Open(store.Config{Path: path}, store.Options{}) // default 1s timeout
	elapsed := time.Since(start)
	if err == nil {
		db.Close()
		t.Fatal("second Open on a held file = nil, want an error")
	}
	if elapsed > 5*time.Second {
		t.Errorf("second Open took %v, want about 1s", elapsed)
	}
	if !errors.Is(err, store.ErrInUse) {
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
			db := openTest(t, store.Config{Path: path}, store.Options{})
			db.Close()

			setMeta(t, path, "schema_version", tt.stored, "1")

			db, err := store.Open(store.Config{Path: path}, store.Options{})
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

func TestKVSeenPrune(t *testing.T) {
	clk := storetest.NewClock()
	db := openTest(t, store.Config{}, store.Options{Now: clk.Now})
	kv := db.KV("slack/work")
	// Many rounds of distinct keys that each expire before the next round.
	// Each round runs concurrently, so its Seen calls share commits.
	const rounds = 5
	for round := range rounds {
		var wg sync.WaitGroup
		for i := range store.PruneEvery {
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
	if n := store.SeenEntries(db, kv); n > store.PruneEvery {
		t.Errorf("seen bucket holds %d entries after %d rounds of %d, want at most %d", n, rounds, store.PruneEvery, store.PruneEvery)
	}
	// Pruning keeps the live entries.
	if seen, err := kv.Seen(fmt.Sprintf("r%d-0", rounds-1), time.Second); !seen || err != nil {
		t.Errorf("Seen(live key) after pruning = %v, %v, want true", seen, err)
	}
}

func BenchmarkGet(b *testing.B) {
	db := openTest(b, store.Config{IdleReset: time.Hour}, store.Options{})
	now := time.Now()
	keys := make([]store.Key, 1000)
	for i := range keys {
		keys[i] = store.Key{"telegram", "main", fmt.Sprint(i), ""}
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
	db := openTest(b, store.Config{}, store.Options{})
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		if err := db.Put(store.Key{"telegram", "main", fmt.Sprint(i % 1000), ""}, rec("conv", now)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkPutParallel(b *testing.B) {
	db := openTest(b, store.Config{}, store.Options{})
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
			if err := db.Put(store.Key{"telegram", "main", fmt.Sprint(id), fmt.Sprint(i % 100)}, rec("conv", now)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
