package redis

import (
	"fmt"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// TestReadLeases: one call returns the live replicas and, per name, its
// holder, token and time left, or how long it has been free, and the
// latest token given; in one round trip for 80 names.
func TestReadLeases(t *testing.T) {
	db := openTest(t, redistest.Start(t), Config{Prefix: "v"}, Options{})
	ctx := t.Context()
	if _, err := db.Members(ctx, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Members(ctx, "b", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Members(ctx, "gone", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	la, err := db.Acquire(ctx, "p00", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := db.Acquire(ctx, "job/telegram/main/poller", "b", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// p01 was held (token 1) and released: free, its epoch kept.
	l1, err := db.Acquire(ctx, "p01", "b", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Release(ctx, l1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // "gone" drops out

	names := []string{"p00", "p01", "p02", "job/telegram/main/poller"}
	v, err := db.ReadLeases(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(v.At); d < -5*time.Second || d > 5*time.Second {
		t.Errorf("At = %v, %v from the local clock; want the server's now", v.At, d)
	}
	if len(v.Replicas) != 2 || v.Replicas[0].ID != "a" || v.Replicas[1].ID != "b" {
		t.Fatalf("Replicas = %+v, want a and b (gone's ttl is over)", v.Replicas)
	}
	if l := v.Replicas[0].Left; l <= 50*time.Second || l > time.Minute {
		t.Errorf("a stays listed for %v, want about a minute", l)
	}
	if l := v.Replicas[1].Left; l <= 0 || l > 10*time.Second {
		t.Errorf("b stays listed for %v, want at most 10s", l)
	}
	if len(v.Leases) != len(names) {
		t.Fatalf("%d leases, want %d", len(v.Leases), len(names))
	}
	p0, p1, p2, poller := v.Leases[0], v.Leases[1], v.Leases[2], v.Leases[3]
	if !p0.Held() || p0.Name != "p00" || p0.Holder != "a" || p0.Token != la.Token || p0.Epoch != la.Token || p0.Left <= 50*time.Second || p0.Left > time.Minute || p0.FreeFor != 0 {
		t.Errorf("p00 = %+v, want held by a, token %d, about a minute left", p0, la.Token)
	}
	if !poller.Held() || poller.Holder != "b" || poller.Token != lb.Token || poller.Left <= 0 || poller.Left > 10*time.Second {
		t.Errorf("poller = %+v, want held by b, token %d, at most 10s left", poller, lb.Token)
	}
	if p1.Held() || p1.Holder != "" || p1.Epoch != l1.Token || p1.FreeFor < 0 || p1.FreeFor > time.Second {
		t.Errorf("p01 = %+v, want free (just now), epoch %d", p1, l1.Token)
	}
	if p2.Held() || p2.Epoch != 0 {
		t.Errorf("p02 = %+v, want free, never acquired", p2)
	}

	// Free for longer at the next read; held again, the mark goes, so
	// free once more it counts from then.
	time.Sleep(150 * time.Millisecond)
	v2, err := db.ReadLeases(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	if f := v2.Leases[1].FreeFor; f < 100*time.Millisecond || f > 10*time.Second || f <= p1.FreeFor {
		t.Errorf("p01 free for %v at the second read (after %v at the first, 150ms between), want more", f, p1.FreeFor)
	}
	l1, err = db.Acquire(ctx, "p01", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if v3, _ := db.ReadLeases(ctx, names); !v3.Leases[1].Held() || v3.Leases[1].Token != l1.Token || v3.Leases[1].Epoch != l1.Token {
		t.Errorf("p01 re-acquired = %+v, want held by a with token %d", v3.Leases[1], l1.Token)
	}
	if err := db.Release(ctx, l1); err != nil {
		t.Fatal(err)
	}
	if v4, _ := db.ReadLeases(ctx, names); v4.Leases[1].Held() || v4.Leases[1].FreeFor >= 100*time.Millisecond {
		t.Errorf("p01 released again = %+v, want free since just now", v4.Leases[1])
	}

	// One round trip, however many names.
	many := make([]string, 80)
	for i := range many {
		many[i] = fmt.Sprintf("p%02d", i)
	}
	h := redistest.Count(db.rdb)
	v5, err := db.ReadLeases(ctx, many)
	if err != nil || len(v5.Leases) != 80 || !v5.Leases[0].Held() {
		t.Fatalf("ReadLeases(80 names) = %d leases, %v", len(v5.Leases), err)
	}
	// A script not yet cached by the server costs an EVALSHA and an EVAL.
	if n := h.Trips.Load(); n < 1 || n > 2 {
		t.Errorf("ReadLeases of 80 names sent %d commands, want one script call", n)
	}
}
