package bridges

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fencePlatform records sends, edits and deletes; lose, when set, is
// called inside each send (the claim is lost while the request is on its
// way).
type fencePlatform struct {
	lose   func()
	drafts chan struct{} // a draft update went (native stream)

	mu    sync.Mutex
	n     int
	ops   []string // "send m1", "edit m1", "delete m1"
	texts map[string]string
}

func (p *fencePlatform) Run(context.Context, Handler) error { return nil }
func (p *fencePlatform) Limits(*Message) Limits {
	return Limits{MaxLen: 4000, EditInterval: time.Millisecond, Budgets: []Budget{{Key: "chat", Every: time.Millisecond}, {Key: "bot", Every: time.Millisecond}}}
}
func (p *fencePlatform) Send(_ context.Context, m *Message, out Out) (Sent, error) {
	if p.lose != nil {
		p.lose()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	id := fmt.Sprintf("m%d", p.n)
	p.ops = append(p.ops, "send "+id)
	p.texts[id] = out.Text
	return Sent{ChatID: m.ChatID, ID: id}, nil
}
func (p *fencePlatform) Edit(_ context.Context, s Sent, out Out) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ops = append(p.ops, "edit "+s.ID)
	p.texts[s.ID] = out.Text
	return nil
}
func (p *fencePlatform) record() ([]string, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var shown []string
	for i := 1; i <= p.n; i++ {
		if t, ok := p.texts[fmt.Sprintf("m%d", i)]; ok {
			shown = append(shown, t)
		}
	}
	return slices.Clone(p.ops), shown
}

// deletingPlatform is a fencePlatform that can delete (bridges.Deleter).
type deletingPlatform struct{ *fencePlatform }

func (p deletingPlatform) Delete(_ context.Context, s Sent) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ops = append(p.ops, "delete "+s.ID)
	delete(p.texts, s.ID)
	return nil
}

// drafting is a fencePlatform with a native stream whose Finish posts
// the answer as a message (Telegram's drafts), or, with starts, whose
// first update makes the message and Finish ends it in place (Slack's
// chat.startStream … chat.stopStream).
type drafting struct {
	deletingPlatform
	starts bool
}

func (p drafting) OpenStream(context.Context, *Message) (NativeStream, error) {
	return &fenceDraft{p: p}, nil
}

type fenceDraft struct {
	p    drafting
	sent *Sent
}

func (d *fenceDraft) Limits() Limits { return d.p.Limits(nil) }
func (d *fenceDraft) Update(ctx context.Context, text string) error {
	if d.p.starts && d.sent == nil {
		s, err := d.p.Send(ctx, &Message{ChatID: "c"}, Out{Text: text})
		if err != nil {
			return err
		}
		d.sent = &s
	}
	select {
	case d.p.drafts <- struct{}{}:
	default:
	}
	return nil
}
func (d *fenceDraft) Finish(ctx context.Context, out Out) (Sent, error) {
	if d.sent != nil {
		d.p.lose()
		return *d.sent, d.p.Edit(ctx, *d.sent, out)
	}
	s, err := d.p.Send(ctx, &Message{ChatID: "c"}, out)
	d.sent = &s
	return s, err
}
func (d *fenceDraft) Message() (Sent, bool) {
	if d.sent == nil {
		return Sent{}, false
	}
	return *d.sent, true
}

// TestReplyFencedSendDeleted: failure window W2. A reply's claim is lost
// while a request posting a new message is on its way (the replica froze
// between the fence check and the request); when the request returns,
// the reply deletes the message it just posted where the platform can,
// never reports it (no checkpoint of it), and writes nothing more; its
// failure is ErrFenced. The messages posted while the claim was valid
// stay for the new owner to continue.
func TestReplyFencedSendDeleted(t *testing.T) {
	long := "first part of the answer, " + "second part of the answer."
	lim2 := (&fencePlatform{}).Limits(nil)
	lim2.MaxLen = 30
	two := splitRendered(long, lim2)
	if len(two) != 2 {
		t.Fatalf("the test text splits in %d parts, want 2: %q", len(two), two)
	}
	for _, tc := range []struct {
		name      string
		plat      func(*fencePlatform) Platform
		text      string
		maxLen    int
		loseAt    int // lose the claim inside this send (1: the first)
		draft     bool
		landed    bool // the final text landed (a message the new owner knows of, finished in place)
		wantOps   []string
		wantShown []string
		posted    int // onPosted calls
	}{
		{name: "first message deleted", plat: func(p *fencePlatform) Platform { return deletingPlatform{p} },
			text: "the answer", loseAt: 1, wantOps: []string{"send m1", "delete m1"}},
		{name: "overflow message deleted, the first one stays", plat: func(p *fencePlatform) Platform { return deletingPlatform{p} },
			text: long, maxLen: 30, loseAt: 2, wantOps: []string{"send m1", "send m2", "delete m2"}, wantShown: two[:1], posted: 1},
		{name: "no Deleter: the message stays", plat: func(p *fencePlatform) Platform { return p },
			text: "the answer", loseAt: 1, wantOps: []string{"send m1"}, wantShown: []string{"the answer"}},
		{name: "native stream's final message deleted", plat: func(p *fencePlatform) Platform { return drafting{deletingPlatform: deletingPlatform{p}} },
			text: "the answer", loseAt: 1, draft: true, wantOps: []string{"send m1", "delete m1"}},
		{name: "native stream's message made by its first update deleted", plat: func(p *fencePlatform) Platform {
			return drafting{deletingPlatform: deletingPlatform{p}, starts: true}
		}, text: "the answer", loseAt: 1, draft: true, wantOps: []string{"send m1", "delete m1"}},
		{name: "native stream's message reported before stays at its finish", plat: func(p *fencePlatform) Platform {
			return drafting{deletingPlatform: deletingPlatform{p}, starts: true}
		}, text: "the answer", loseAt: 2, draft: true, landed: true,
			wantOps: []string{"send m1", "edit m1"}, wantShown: []string{"the answer"}, posted: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := &fencePlatform{texts: map[string]string{}, drafts: make(chan struct{}, 1)}
			var valid atomic.Bool
			valid.Store(true)
			sends := 0
			fp.lose = func() {
				if sends++; sends == tc.loseAt {
					valid.Store(false)
				}
			}
			p := tc.plat(fp)
			lim := p.Limits(nil)
			if tc.maxLen > 0 {
				lim.MaxLen = tc.maxLen
			}
			r := newReply(p, &Message{ChatID: "c"}, lim, 0, newLimiter(), slog.New(slog.DiscardHandler))
			r.valid = valid.Load
			posted := 0
			r.onPosted = func([]Sent) { posted++ }
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if tc.draft {
				// A draft first (not a message), then the final text,
				// which the stream posts as a message.
				go r.run(ctx)
				r.update("the")
				select {
				case <-fp.drafts:
				case <-ctx.Done():
					t.Fatal("no draft update")
				}
				r.finish(tc.text)
				r.wait()
			} else {
				r.finish(tc.text)
				r.run(ctx)
			}
			landed, failure := r.outcome()
			if tc.landed && (!landed || failure != nil) {
				t.Errorf("outcome = landed %v, %v; want landed", landed, failure)
			} else if !tc.landed && (landed || !errors.Is(failure, ErrFenced)) {
				t.Errorf("outcome = landed %v, %v; want not landed, ErrFenced", landed, failure)
			}
			ops, shown := fp.record()
			if !slices.Equal(ops, tc.wantOps) {
				t.Errorf("requests = %q, want %q", ops, tc.wantOps)
			}
			if !slices.Equal(shown, tc.wantShown) {
				t.Errorf("shown = %q, want %q", shown, tc.wantShown)
			}
			if posted != tc.posted {
				t.Errorf("onPosted called %d times, want %d: a message posted after the claim was lost is never checkpointed", posted, tc.posted)
			}
		})
	}
}
