package bridgestest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Call is one request the recording Platform received.
type Call struct {
	Op   string // "send", "edit", "delete", "typing"
	Time time.Time
	ID   string // message ID sent or edited
	Out  bridges.Out
	// Ref is the Message.Ref a send answered, or the Sent.Ref an edit
	// was given.
	Ref any
}

// Platform is a recording fake bridges.Platform. Its Fail hook can inject
// errors (a 429, a formatting rejection) per call.
type Platform struct {
	Lim bridges.Limits
	// Fail, when set, is asked before each send or edit; a non-nil error
	// is returned to the core instead of recording the call.
	Fail func(c Call) error

	mu    sync.Mutex
	calls []Call
	texts map[string]string // message ID -> current text
	order []string          // message IDs in send order
	n     int
}

var (
	_ bridges.Platform = (*Platform)(nil)
	_ bridges.Typer    = (*Platform)(nil)
	_ bridges.Deleter  = (*Platform)(nil)
	_ bridges.RefCodec = (*Platform)(nil)
)

// NewPlatform returns a recording platform with the given limits.
func NewPlatform(lim bridges.Limits) *Platform {
	return &Platform{Lim: lim, texts: map[string]string{}}
}

// Run blocks until ctx ends.
func (p *Platform) Run(ctx context.Context, h bridges.Handler) error {
	<-ctx.Done()
	return nil
}

// Limits implements bridges.Platform.
func (p *Platform) Limits(*bridges.Message) bridges.Limits { return p.Lim }

func (p *Platform) record(c Call) error {
	if p.Fail != nil {
		if err := p.Fail(c); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, c)
	return nil
}

// Send implements bridges.Platform.
func (p *Platform) Send(ctx context.Context, m *bridges.Message, out bridges.Out) (bridges.Sent, error) {
	if err := ctx.Err(); err != nil {
		return bridges.Sent{}, err
	}
	p.mu.Lock()
	p.n++
	id := fmt.Sprintf("m%d", p.n)
	p.mu.Unlock()
	if err := p.record(Call{Op: "send", Time: time.Now(), ID: id, Out: out, Ref: m.Ref}); err != nil {
		return bridges.Sent{}, err
	}
	p.mu.Lock()
	p.texts[id] = out.Text
	p.order = append(p.order, id)
	p.mu.Unlock()
	return bridges.Sent{ChatID: m.ChatID, ID: id, Ref: "ref:" + id}, nil
}

// Edit implements bridges.Platform.
func (p *Platform) Edit(ctx context.Context, s bridges.Sent, out bridges.Out) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	_, ok := p.texts[s.ID]
	p.mu.Unlock()
	if !ok {
		// Like a platform, it cannot edit a message it does not hold (never
		// sent here, or deleted).
		return &bridges.PermanentError{Reason: bridges.ReasonMessageDeleted, Err: fmt.Errorf("edit %s: message not found", s.ID)}
	}
	if err := p.record(Call{Op: "edit", Time: time.Now(), ID: s.ID, Out: out, Ref: s.Ref}); err != nil {
		return err
	}
	p.mu.Lock()
	p.texts[s.ID] = out.Text
	p.mu.Unlock()
	return nil
}

// Delete implements bridges.Deleter.
func (p *Platform) Delete(ctx context.Context, s bridges.Sent) error {
	if err := p.record(Call{Op: "delete", Time: time.Now(), ID: s.ID}); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.texts, s.ID)
	for i, id := range p.order {
		if id == s.ID {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
	return nil
}

// Typing implements bridges.Typer.
func (p *Platform) Typing(ctx context.Context, m *bridges.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, Call{Op: "typing", Time: time.Now()})
	return nil
}

// Calls returns the recorded calls.
func (p *Platform) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// Messages returns the current text of every message, in send order.
func (p *Platform) Messages() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.order))
	for _, id := range p.order {
		out = append(out, p.texts[id])
	}
	return out
}

// Visible returns the messages joined, as a reader sees the reply.
func (p *Platform) Visible() string { return strings.Join(p.Messages(), "") }

// EncodeRef implements bridges.RefCodec for string refs (the Sent.Ref
// this platform makes, and any string Message.Ref a test sets).
func (p *Platform) EncodeRef(ref any) ([]byte, error) {
	s, ok := ref.(string)
	if !ok {
		return nil, fmt.Errorf("ref of type %T", ref)
	}
	return []byte(s), nil
}

// DecodeRef implements bridges.RefCodec.
func (p *Platform) DecodeRef(data []byte) (any, error) { return string(data), nil }

// Sends returns the number of messages sent.
func (p *Platform) Sends() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.calls {
		if c.Op == "send" {
			n++
		}
	}
	return n
}
