package web

import (
	"context"
	"fmt"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Send implements bridges.Platform: the message joins the browser's
// transcript and its event streams. It never fails.
func (a *Adapter) Send(_ context.Context, m *bridges.Message, out bridges.Out) (bridges.Sent, error) {
	id := fmt.Sprintf("a%s-%d", a.epoch, a.seq.Add(1))
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.browserLocked(m.ChatID)
	b.setTyping(false)
	b.setStatus(statusLine{}) // the answer's first text replaces it
	b.put(item{ID: id, Role: "bot", Text: out.Text, Final: out.Final, Plain: out.Plain, Part: out.Part, ReplyTo: m.ID})
	return bridges.Sent{ChatID: m.ChatID, ID: id}, nil
}

// Edit implements bridges.Platform. A message no longer in memory (after
// a restart) is shown anew.
func (a *Adapter) Edit(_ context.Context, s bridges.Sent, out bridges.Out) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.browserLocked(s.ChatID)
	b.setTyping(false)
	it := item{ID: s.ID, Role: "bot", Text: out.Text, Final: out.Final, Plain: out.Plain, Part: out.Part}
	if old := b.byID[s.ID]; old != nil {
		it.ReplyTo = old.ReplyTo
	}
	b.put(it)
	return nil
}

// Completed implements bridges.Completer: whatever happened to m, the
// typing indicator and the status line go.
func (a *Adapter) Completed(m *bridges.Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if b := a.browsers[m.ChatID]; b != nil {
		b.setTyping(false)
		b.setStatus(statusLine{})
	}
}

// ShowStatus implements bridges.StatusShower: the page shows text as a
// muted line in the coming answer's bubble (where the typing indicator
// is) until the answer's first text replaces it. The page sets it as
// text, never as markup.
func (a *Adapter) ShowStatus(_ context.Context, m *bridges.Message, text string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.browserLocked(m.ChatID).setStatus(statusLine{Text: text, ReplyTo: m.ID})
	return nil
}

// Check implements bridges.Checker (bridge check): the web chat needs no
// credentials.
func (a *Adapter) Check(context.Context) (string, error) {
	return "served at " + a.base + " on [http] listen", nil
}

// Typing implements bridges.Typer: the page shows a "…" bubble until the
// first text arrives.
func (a *Adapter) Typing(_ context.Context, m *bridges.Message) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.browserLocked(m.ChatID).setTyping(true)
	return nil
}
