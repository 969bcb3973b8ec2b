package bridgestest

import (
	"context"
	"sync"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// The optional abilities of a platform, each on a recording Platform of
// its own so that a test picks exactly the abilities it needs.

// StatusPlatform is a recording Platform that is a bridges.StatusShower.
// Each status line is recorded as a Call with Op "status" and the line
// in Out.Text, in order with the sends and edits.
type StatusPlatform struct {
	*Platform
}

var _ bridges.StatusShower = (*StatusPlatform)(nil)

// NewStatusPlatform returns a StatusPlatform with the given limits.
func NewStatusPlatform(lim bridges.Limits) *StatusPlatform {
	return &StatusPlatform{Platform: NewPlatform(lim)}
}

// ShowStatus implements bridges.StatusShower.
func (p *StatusPlatform) ShowStatus(ctx context.Context, m *bridges.Message, text string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, Call{Op: "status", Time: time.Now(), Out: bridges.Out{Text: text}, Ref: m.Ref})
	return nil
}

// Statuses returns the status lines shown, in order.
func (p *StatusPlatform) Statuses() []string {
	var out []string
	for _, c := range p.Calls() {
		if c.Op == "status" {
			out = append(out, c.Out.Text)
		}
	}
	return out
}

// AdminPlatform is a recording Platform that is a bridges.AdminChecker:
// IsAdmin asks Admin (nil: nobody is an admin) and counts the questions.
type AdminPlatform struct {
	*Platform
	Admin func(m *bridges.Message) (bool, error)

	amu   sync.Mutex
	asked int
}

var _ bridges.AdminChecker = (*AdminPlatform)(nil)

// NewAdminPlatform returns an AdminPlatform with the given limits.
func NewAdminPlatform(lim bridges.Limits, admin func(m *bridges.Message) (bool, error)) *AdminPlatform {
	return &AdminPlatform{Platform: NewPlatform(lim), Admin: admin}
}

// IsAdmin implements bridges.AdminChecker.
func (p *AdminPlatform) IsAdmin(ctx context.Context, m *bridges.Message) (bool, error) {
	p.amu.Lock()
	p.asked++
	p.amu.Unlock()
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if p.Admin == nil {
		return false, nil
	}
	return p.Admin(m)
}

// Asked returns how many times IsAdmin was called.
func (p *AdminPlatform) Asked() int {
	p.amu.Lock()
	defer p.amu.Unlock()
	return p.asked
}

// ThreadPlatform is a recording Platform that is a bridges.ThreadReader:
// ThreadHistory returns the last max messages of Thread (or Err) and
// records each request's max.
type ThreadPlatform struct {
	*Platform
	Thread []bridges.ThreadMessage
	Err    error

	tmu  sync.Mutex
	maxs []int
}

var _ bridges.ThreadReader = (*ThreadPlatform)(nil)

// NewThreadPlatform returns a ThreadPlatform with the given limits and
// thread.
func NewThreadPlatform(lim bridges.Limits, thread []bridges.ThreadMessage) *ThreadPlatform {
	return &ThreadPlatform{Platform: NewPlatform(lim), Thread: thread}
}

// ThreadHistory implements bridges.ThreadReader.
func (p *ThreadPlatform) ThreadHistory(ctx context.Context, m *bridges.Message, max int) ([]bridges.ThreadMessage, error) {
	p.tmu.Lock()
	p.maxs = append(p.maxs, max)
	p.tmu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.Err != nil {
		return nil, p.Err
	}
	th := p.Thread
	if len(th) > max {
		th = th[len(th)-max:]
	}
	return append([]bridges.ThreadMessage(nil), th...), nil
}

// Reads returns the max of every ThreadHistory request, in order.
func (p *ThreadPlatform) Reads() []int {
	p.tmu.Lock()
	defer p.tmu.Unlock()
	return append([]int(nil), p.maxs...)
}

// HistoryBackend is a scripted Backend that is a backend.HistoryKeeper
// (an OpenAI-compatible one, which keeps no conversation of its own).
type HistoryBackend struct {
	Backend
	Turns int
}

// HistoryTurns implements backend.HistoryKeeper.
func (b *HistoryBackend) HistoryTurns() int { return b.Turns }
