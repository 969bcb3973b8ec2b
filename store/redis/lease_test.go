package redis

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
	"github.com/chat-bridge/chat-bridge/store/storetest"
)

func TestLease(t *testing.T) {
	url := redistest.Start(t)
	clk := storetest.NewClock()
	db := openTest(t, url, Config{}, Options{Now: clk.Now})
	ctx := t.Context()

	a, err := db.Acquire(ctx, "telegram/main/poller", "replica-a", 30*time.Second)
	if err != nil {
		t.Fatalf("Acquire(free) = %v", err)
	}
	if a.Token != 1 || a.Holder != "replica-a" || !a.Until.Equal(clk.Now().Add(20*time.Second)) {
		t.Errorf("Acquire = %+v, want token 1, holder replica-a, until now+20s", a)
	}
	if _, err := db.Acquire(ctx, "telegram/main/poller", "replica-b", 30*time.Second); !errors.Is(err, ErrLeaseHeld) {
		t.Errorf("Acquire(held) = %v, want ErrLeaseHeld", err)
	}
	if _, err := db.Acquire(ctx, "telegram/main/poller", "replica-a", 30*time.Second); !errors.Is(err, ErrLeaseHeld) {
		t.Errorf("Acquire(held by the same holder) = %v, want ErrLeaseHeld (renew instead)", err)
	}
	if info, ok, err := db.LeaseHolder(ctx, "telegram/main/poller"); !ok || err != nil || info.Holder != "replica-a" || info.Token != 1 || info.Left <= 29*time.Second {
		t.Errorf("LeaseHolder = %+v, %v, %v, want replica-a, token 1, ~30s left", info, ok, err)
	}

	// Self-fencing: Valid until TTL - TTL/3 after the last renewal sent.
	clk.Advance(19 * time.Second)
	if !a.Valid(clk.Now()) {
		t.Error("Valid 19s after acquiring a 30s lease = false, want true")
	}
	clk.Advance(time.Second)
	if a.Valid(clk.Now()) {
		t.Error("Valid 20s after acquiring a 30s lease = true, want false")
	}
	if err := db.Renew(ctx, &a); err != nil {
		t.Fatalf("Renew(current) = %v", err)
	}
	if !a.Valid(clk.Now()) || !a.Until.Equal(clk.Now().Add(20*time.Second)) {
		t.Errorf("after Renew, Until = %v, want now+20s", a.Until)
	}

	// The poller's offset, written under its lease.
	kv := db.KV("telegram/main")
	if err := kv.PutFenced(ctx, a, "offset", []byte("100")); err != nil {
		t.Fatalf("PutFenced(current lease) = %v", err)
	}

	// a freezes; its lease expires (deleted here as the server would) and
	// b takes over with a larger token.
	db.Client().Del(ctx, db.leaseKey("telegram/main/poller"))
	b, err := db.Acquire(ctx, "telegram/main/poller", "replica-b", 30*time.Second)
	if err != nil {
		t.Fatalf("Acquire after expiry = %v", err)
	}
	if b.Token <= a.Token {
		t.Errorf("token after takeover = %d, want > %d", b.Token, a.Token)
	}
	if err := kv.PutFenced(ctx, b, "offset", []byte("200")); err != nil {
		t.Fatalf("PutFenced(new holder) = %v", err)
	}

	// a wakes up: every write under its stale token is refused.
	if err := kv.PutFenced(ctx, a, "offset", []byte("150")); !errors.Is(err, ErrFenced) {
		t.Errorf("PutFenced(stale token) = %v, want ErrFenced", err)
	}
	if v, _, _ := kv.Get("offset"); string(v) != "200" {
		t.Errorf("offset after the stale write = %q, want the new holder's 200", v)
	}
	before := a
	if err := db.Renew(ctx, &a); !errors.Is(err, ErrFenced) {
		t.Errorf("Renew(stale) = %v, want ErrFenced", err)
	}
	if a != before {
		t.Errorf("a refused Renew changed the lease: %+v, was %+v", a, before)
	}
	if err := db.Release(ctx, a); !errors.Is(err, ErrFenced) {
		t.Errorf("Release(stale) = %v, want ErrFenced", err)
	}
	if info, ok, _ := db.LeaseHolder(ctx, "telegram/main/poller"); !ok || info.Holder != "replica-b" {
		t.Errorf("after the stale Release, holder = %+v, %v, want replica-b", info, ok)
	}
	// The same holder name with an older token is stale too.
	stale := b
	stale.Token--
	if err := kv.PutFenced(ctx, stale, "offset", []byte("1")); !errors.Is(err, ErrFenced) {
		t.Errorf("PutFenced(same holder, older token) = %v, want ErrFenced", err)
	}

	if err := db.Release(ctx, b); err != nil {
		t.Fatalf("Release(current) = %v", err)
	}
	if _, ok, _ := db.LeaseHolder(ctx, "telegram/main/poller"); ok {
		t.Error("lease still held after Release")
	}
	c, err := db.Acquire(ctx, "telegram/main/poller", "replica-c", 30*time.Second)
	if err != nil || c.Token <= b.Token {
		t.Errorf("Acquire after Release = %+v, %v, want a token > %d", c, err, b.Token)
	}
}

// TestLeaseExpires: the server expires an unrenewed lease after its TTL,
// and the token keeps growing.
func TestLeaseExpires(t *testing.T) {
	db := openTest(t, redistest.Start(t), Config{}, Options{})
	ctx := t.Context()
	a, err := db.Acquire(ctx, "p03", "replica-a", 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var b Lease
	for {
		b, err = db.Acquire(ctx, "p03", "replica-b", time.Minute)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLeaseHeld) {
			t.Fatal(err)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("a 100ms lease still held after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if held := time.Since(start); held < 90*time.Millisecond {
		t.Errorf("a 100ms lease was taken over after %v", held)
	}
	if b.Token <= a.Token {
		t.Errorf("token after expiry = %d, want > %d", b.Token, a.Token)
	}
	if err := db.Renew(ctx, &a); !errors.Is(err, ErrFenced) {
		t.Errorf("Renew(expired) = %v, want ErrFenced", err)
	}
}

// TestLeaseExclusive: of many replicas racing for a free lease, one wins.
func TestLeaseExclusive(t *testing.T) {
	url := redistest.Start(t)
	const replicas = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []Lease
	)
	dbs := make([]*DB, replicas)
	for i := range dbs {
		dbs[i] = openTest(t, url, Config{Prefix: "x"}, Options{})
	}
	for i := range replicas {
		wg.Go(func() {
			l, err := dbs[i].Acquire(t.Context(), "discord/main/shard/0", "r"+string(rune('a'+i)), time.Minute)
			if errors.Is(err, ErrLeaseHeld) {
				return
			}
			if err != nil {
				t.Errorf("Acquire = %v", err)
				return
			}
			mu.Lock()
			winners = append(winners, l)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d replicas acquired one lease, want 1: %+v", len(winners), winners)
	}
	if winners[0].Token != 1 {
		t.Errorf("winner's token = %d, want 1 (one INCR)", winners[0].Token)
	}
}
