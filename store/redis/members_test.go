package redis

import (
	"slices"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// TestMembers: live replicas are listed until their ttl passes or they
// leave.
func TestMembers(t *testing.T) {
	db := openTest(t, redistest.Start(t), Config{Prefix: "m"}, Options{})
	ctx := t.Context()
	if _, err := db.Members(ctx, "a", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got, err := db.Members(ctx, "b", time.Minute)
	if err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Members = %v, %v; want [a b]", got, err)
	}
	time.Sleep(400 * time.Millisecond) // a's ttl is over
	if got, _ := db.Members(ctx, "", 0); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after a's ttl: Members = %v, want [b]", got)
	}
	if err := db.Leave(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Members(ctx, "", 0); len(got) != 0 {
		t.Errorf("after Leave: Members = %v, want none", got)
	}
	if _, err := db.Members(ctx, "x:y", time.Second); err == nil {
		t.Error("Members accepted an ID with ':'")
	}
}

// TestLeasesHeld: only acquired, unexpired leases are reported held.
func TestLeasesHeld(t *testing.T) {
	db := openTest(t, redistest.Start(t), Config{Prefix: "m"}, Options{})
	ctx := t.Context()
	l, err := db.Acquire(ctx, "p01", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.LeasesHeld(ctx, []string{"p00", "p01"})
	if err != nil || !slices.Equal(got, []bool{false, true}) {
		t.Fatalf("LeasesHeld = %v, %v; want [false true]", got, err)
	}
	if err := db.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.LeasesHeld(ctx, []string{"p01"}); got[0] {
		t.Error("a released lease is reported held")
	}
}
