package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// TestCountDaily: replicas share one daily quota.
func TestCountDaily(t *testing.T) {
	url := redistest.Start(t)
	ctx := t.Context()
	var kvs []*KV
	for range 3 {
		kvs = append(kvs, openTest(t, url, Config{Prefix: "q"}, Options{}).KV("limits"))
	}
	const limit, callers = 10, 60
	var (
		wg      sync.WaitGroup
		counted atomic.Int64
	)
	for i := range callers {
		wg.Go(func() {
			ok, n, err := kvs[i%3].CountDaily(ctx, "telegram/main/user/42", "2026-12-02", limit)
			if err != nil {
				t.Errorf("CountDaily = %v", err)
			}
			if ok {
				counted.Add(1)
				if n < 1 || n > limit {
					t.Errorf("CountDaily counted with count %d", n)
				}
			}
		})
	}
	wg.Wait()
	if counted.Load() != limit {
		t.Errorf("%d calls on 3 replicas with a quota of %d: %d counted, want %d", callers, limit, counted.Load(), limit)
	}
	if ok, n, _ := kvs[0].CountDaily(ctx, "telegram/main/user/42", "2026-12-03", limit); !ok || n != 1 {
		t.Errorf("next day = %v, %d, want a fresh count", ok, n)
	}
	if ok, _, _ := kvs[0].CountDaily(ctx, "telegram/main/user/7", "2026-12-02", limit); !ok {
		t.Error("another user's first event was refused")
	}
	key := kvs[0].data + ":day:2026-12-02:telegram/main/user/42"
	if ttl := kvs[0].db.Client().PTTL(ctx, key).Val(); ttl < 47*time.Hour || ttl > 48*time.Hour {
		t.Errorf("day counter PTTL = %v, want about 48h", ttl)
	}
	if _, _, err := kvs[0].CountDaily(ctx, "x", "d", 0); err == nil {
		t.Error("CountDaily(limit 0) = nil, want an error")
	}
}

// TestKeep: a kept lease outlives its TTL many times over, is released
// when the holder stops, and Keep reports a lost lease as ErrFenced.
func TestKeep(t *testing.T) {
	db := openTest(t, redistest.Start(t), Config{}, Options{})
	ctx := t.Context()
	const ttl = 600 * time.Millisecond
	l, err := db.Acquire(ctx, "telegram/main/webhook", "replica-a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	kctx, stop := context.WithCancel(ctx)
	var renewals atomic.Int64
	done := make(chan error, 1)
	go func() { done <- db.Keep(kctx, l, func(Lease) { renewals.Add(1) }) }()

	time.Sleep(4 * ttl) // well past the TTL: only renewals keep it
	if info, ok, _ := db.LeaseHolder(ctx, l.Name); !ok || info.Token != l.Token {
		t.Fatalf("after 4×TTL under Keep, lease = %+v, %v, want still a's", info, ok)
	}
	if renewals.Load() == 0 {
		t.Error("Keep renewed nothing")
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Keep after its context ended = %v, want nil", err)
	}
	if _, ok, _ := db.LeaseHolder(ctx, l.Name); ok {
		t.Error("lease still held after Keep ended: it should be released")
	}

	// Ownership lost: another replica took the lease.
	l, _ = db.Acquire(ctx, l.Name, "replica-a", ttl)
	go func() { done <- db.Keep(ctx, l, nil) }()
	db.Client().Del(ctx, db.leaseKey(l.Name))
	b, err := db.Acquire(ctx, l.Name, "replica-b", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrFenced) {
			t.Errorf("Keep after losing the lease = %v, want ErrFenced", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Keep did not notice the lost lease within 10s")
	}
	if info, _, _ := db.LeaseHolder(ctx, l.Name); info.Token != b.Token {
		t.Errorf("the fenced Keep disturbed the new holder: %+v", info)
	}
}
