package redis

import (
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// TestControls: a control published reaches every subscriber of the same
// prefix and nobody else's; its answers are read in order, the first by
// the waiting sender; no answer ends the wait after its timeout.
func TestControls(t *testing.T) {
	url := redistest.Start(t)
	db := openTest(t, url, Config{Prefix: "ctl"}, Options{})
	other := openTest(t, url, Config{Prefix: "ctl2"}, Options{})
	ctx := t.Context()
	if n, err := db.PublishControl(ctx, []byte("x")); err != nil || n != 0 {
		t.Fatalf("PublishControl without subscribers = %d, %v; want 0", n, err)
	}
	a, err := db.SubscribeControls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.SubscribeControls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	foreign, err := other.SubscribeControls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	if n, err := db.PublishControl(ctx, []byte(`{"id":"1"}`)); err != nil || n != 2 {
		t.Fatalf("PublishControl = %d, %v; want the 2 subscribers of the prefix", n, err)
	}
	for _, s := range []*ControlSub{a, b} {
		select {
		case p := <-s.C():
			if p != `{"id":"1"}` {
				t.Errorf("received %q", p)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the control did not arrive")
		}
	}
	select {
	case p := <-foreign.C():
		t.Errorf("another prefix's subscriber received %q", p)
	default:
	}

	if err := db.ReplyControl(ctx, "1", true); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplyControl(ctx, "1", false); err != nil {
		t.Fatal(err)
	}
	if ans, applied, err := db.AwaitControl(ctx, "1", time.Second); err != nil || !ans || !applied {
		t.Errorf("AwaitControl = %v, %v, %v; want the first answer, applied", ans, applied, err)
	}
	if ans, applied, err := db.AwaitControl(ctx, "1", time.Second); err != nil || !ans || applied {
		t.Errorf("AwaitControl = %v, %v, %v; want the second answer, not applied", ans, applied, err)
	}
	if err := db.ReplyControl(ctx, "3", true); err != nil {
		t.Fatal(err)
	}
	if ttl := db.rdb.PTTL(ctx, db.replyKey("3")).Val(); ttl <= 0 || ttl > ControlReplyTTL {
		t.Errorf("reply list's TTL = %v, want at most %v", ttl, ControlReplyTTL)
	}
	at := time.Now()
	if ans, _, err := db.AwaitControl(ctx, "2", time.Second); err != nil || ans {
		t.Errorf("AwaitControl without an answer = %v, %v", ans, err)
	}
	if d := time.Since(at); d < 900*time.Millisecond {
		t.Errorf("AwaitControl returned after %v, want its timeout", d)
	}

	a.Close()
	select {
	case _, ok := <-a.C():
		if ok {
			t.Error("a closed subscription delivered")
		}
	case <-time.After(5 * time.Second):
		t.Error("a closed subscription's channel stays open")
	}
}

// TestEdits: the newest edit of each entry is read back in one call,
// nil where there is none, until its ttl passes.
func TestEdits(t *testing.T) {
	db := openTest(t, redistest.Start(t), Config{Prefix: "ed"}, Options{})
	ctx := t.Context()
	if got, err := db.Edits(ctx, nil); err != nil || got != nil {
		t.Errorf("Edits(nil) = %q, %v", got, err)
	}
	for _, v := range []string{"old", "new"} {
		if err := db.SetEdit(ctx, "k#1", []byte(v), 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Edits(ctx, []string{"k#1", "k#2"})
	if err != nil || len(got) != 2 || string(got[0]) != "new" || got[1] != nil {
		t.Fatalf("Edits = %q, %v; want [new nil]", got, err)
	}
	time.Sleep(400 * time.Millisecond)
	if got, _ := db.Edits(ctx, []string{"k#1"}); got[0] != nil {
		t.Errorf("after its ttl: Edits = %q, want nil", got)
	}
}
