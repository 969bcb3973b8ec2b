// Package bridgestest holds fakes for testing the core and the adapters: an
// in-memory Store and KV, a scripted Backend and a recording Platform. It
// imports bridges, backend and store's types, and is imported only from
// _test.go files.
package bridgestest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/store"
)

// Store is an in-memory bridges.Store.
type Store struct {
	mu sync.Mutex
	m  map[string]store.Record
}

var _ bridges.Store = (*Store)(nil)

// NewStore returns an empty Store.
func NewStore() *Store { return &Store{m: map[string]store.Record{}} }

// Get implements bridges.Store.
func (s *Store) Get(k bridges.Key) (store.Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[k.String()]
	return r, ok, nil
}

// Put implements bridges.Store.
func (s *Store) Put(k bridges.Key, r store.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k.String()] = r
	return nil
}

// Forget implements bridges.Store.
func (s *Store) Forget(k bridges.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k.String())
	return nil
}

// Records returns a copy of every record by key string.
func (s *Store) Records() map[string]store.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]store.Record, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

// KV is an in-memory bridges.KV.
type KV = bridges.MemKV

// NewKV returns an empty KV.
func NewKV() *KV { return bridges.NewMemKV(0) }

// Step is one scripted backend action: an event, an error, or a pause.
type Step struct {
	Event backend.Event
	Err   error
	Wait  time.Duration
}

// Backend is a scripted backend.Backend. For each Ask it calls Script (or
// plays Steps) and records the request.
type Backend struct {
	// Script returns the steps for one request; nil means Steps.
	Script func(req backend.Request) []Step
	Steps  []Step

	mu       sync.Mutex
	requests []backend.Request
}

var _ backend.Backend = (*Backend)(nil)

// Answer returns steps that stream text in chunks of n bytes-worth of
// runes, each after wait, then Done with conversation ID conv.
func Answer(text string, n int, wait time.Duration, conv string) []Step {
	var steps []Step
	r := []rune(text)
	for i := 0; i < len(r); i += n {
		j := min(i+n, len(r))
		steps = append(steps, Step{Wait: wait, Event: backend.Delta{Text: string(r[i:j])}})
	}
	return append(steps, Step{Event: backend.Done{ConversationID: conv}})
}

// Requests returns the requests received so far.
func (b *Backend) Requests() []backend.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]backend.Request(nil), b.requests...)
}

// Ask implements backend.Backend.
func (b *Backend) Ask(ctx context.Context, req backend.Request) *backend.Stream {
	b.mu.Lock()
	b.requests = append(b.requests, req)
	b.mu.Unlock()
	steps := b.Steps
	if b.Script != nil {
		steps = b.Script(req)
	}
	return backend.NewStream(&scripted{ctx: ctx, steps: steps})
}

type scripted struct {
	ctx   context.Context
	steps []Step
}

func (s *scripted) Next() (backend.Event, error) {
	for {
		if len(s.steps) == 0 {
			return nil, errEOF
		}
		st := s.steps[0]
		s.steps = s.steps[1:]
		if st.Wait > 0 {
			t := time.NewTimer(st.Wait)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return nil, s.ctx.Err()
			case <-t.C:
			}
		}
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		if st.Err != nil {
			return nil, st.Err
		}
		if st.Event != nil {
			return st.Event, nil
		}
	}
}

func (s *scripted) Close() error { return nil }

// Inbox is an in-memory bridges.Inbox.
type Inbox struct {
	mu sync.Mutex
	m  map[string]store.InboxEntry
}

var _ bridges.Inbox = (*Inbox)(nil)

// NewInbox returns an empty Inbox.
func NewInbox() *Inbox { return &Inbox{m: map[string]store.InboxEntry{}} }

// InboxAdd implements bridges.Inbox.
func (in *Inbox) InboxAdd(e store.InboxEntry) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.m[e.ID] = e
	return nil
}

// InboxDone implements bridges.Inbox.
func (in *Inbox) InboxDone(id string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.m, id)
	return nil
}

// InboxPending implements bridges.Inbox (oldest first).
func (in *Inbox) InboxPending() ([]store.InboxEntry, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]store.InboxEntry, 0, len(in.m))
	for _, e := range in.m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b store.InboxEntry) int { return a.Received.Compare(b.Received) })
	return out, nil
}
