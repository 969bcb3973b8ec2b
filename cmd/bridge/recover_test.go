package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/store"
)

// quietPlatform never reports connected, as a Telegram long poll in a
// quiet chat does not until its timeout, but can send at once.
type quietPlatform struct{ *bridgestest.Platform }

func (quietPlatform) Connected() bool { return false }

// TestRecoveryStartsAtOnce: a message a previous run accepted is resumed
// within 2s of serve starting, although the instance's receive side never
// reports connected; serve returns only after recovery (the store closes
// after it).
func TestRecoveryStartsAtOnce(t *testing.T) {
	db, err := store.Open(store.Config{Path: filepath.Join(t.TempDir(), "bridge.db")}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := bridges.Message{Key: bridges.Key{Platform: "quiet", Instance: "main", Chat: "c"}, ID: "1", ChatID: "c", UserID: "u", Text: "hello", Private: true}
	payload, _ := json.Marshal(m)
	if err := db.InboxAdd(store.InboxEntry{ID: "quiet/main/c#1", Key: "quiet/main", Payload: payload, Received: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	p := quietPlatform{bridgestest.NewPlatform(bridges.Limits{MaxLen: 100, EditInterval: 10 * time.Millisecond})}
	cfg := &Config{
		ShutdownGrace: 5 * time.Second,
		Backends: map[string]*BackendConfig{"d": {Name: "d", Kind: "fake", build: func(backend.Deps) (backend.Backend, error) {
			return &bridgestest.Backend{Steps: bridgestest.Answer("resumed", 50, 0, "c")}, nil
		}}},
		Instances: []*Instance{{Platform: "quiet", Name: "main", Backend: "d", Respond: "mention",
			build: func(bridges.Deps) (bridges.Platform, error) { return p, nil }}},
	}
	a, err := wire(cfg, slog.New(slog.DiscardHandler), bboltStore{db})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	served := make(chan error, 1)
	go func() { served <- a.serve(ctx) }()
	for p.Sends() == 0 && time.Since(start) < 5*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	t.Logf("recovery: first send %s after start", took.Round(time.Millisecond))
	if got := p.Messages(); len(got) != 1 || took > 2*time.Second {
		t.Errorf("after %s messages = %q, want the resumed answer within 2s", took, got)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("serve = %v", err)
	}
	if n, _ := db.InboxLen(); n != 0 {
		t.Errorf("inbox after the resumed answer = %d, want 0", n)
	}
}
