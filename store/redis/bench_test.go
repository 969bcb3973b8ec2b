package redis

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/store"
	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

func benchDB(b *testing.B, args ...string) *DB {
	srv := redistest.StartServer(b, redistest.Options{Args: args})
	db, err := Open(Config{URL: srv.URL, IdleReset: time.Hour}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func BenchmarkGet(b *testing.B) {
	db := benchDB(b)
	now := time.Now()
	keys := make([]store.Key, 1000)
	for i := range keys {
		keys[i] = store.Key{Platform: "telegram", Instance: "main", Chat: fmt.Sprint(i)}
		if err := db.Put(keys[i], store.Record{Backend: "b", ConversationID: fmt.Sprint("conv-", i), Created: now, LastUsed: now}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; b.Loop(); i++ {
		if _, ok, err := db.Get(keys[i%len(keys)]); !ok || err != nil {
			b.Fatalf("Get = %v, %v", ok, err)
		}
	}
}

// BenchmarkPutParallel runs with appendfsync always, the setting the
// bridge asks for.
func BenchmarkPutParallel(b *testing.B) {
	db := benchDB(b, "--appendonly", "yes", "--appendfsync", "always")
	now := time.Now()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if err := db.Put(store.Key{Platform: "telegram", Instance: "main", Chat: fmt.Sprint(i % 1000)}, store.Record{Backend: "b", LastUsed: now}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAcceptParallel: the atomic accept, with appendfsync always.
func BenchmarkAcceptParallel(b *testing.B) {
	db := benchDB(b, "--appendonly", "yes", "--appendfsync", "always")
	q, err := db.Queue(b.Context(), 64)
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("telegram/main/%03d#%d", n.Load()%1000, n.Add(1))
			e := store.InboxEntry{ID: id, Key: "telegram/main", Payload: []byte(`{"text":"hi"}`), Received: time.Now()}
			if _, err := q.Accept(b.Context(), id[:len("telegram/main/000")], e, time.Hour); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
