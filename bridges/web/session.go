package web

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"time"
)

// browser is one visitor's transcript: the questions and the bridge's
// messages as Send and Edit left them, with a version for each change so
// that event streams send only what changed.
type browser struct {
	id       string
	lastSeen time.Time
	items    []*item
	byID     map[string]*item
	version  uint64
	typing   bool
	typingV  uint64
	status   statusLine // the progress line shown before the answer
	statusV  uint64
	streams  int           // event streams open now
	wake     chan struct{} // closed and replaced on every change
}

// item is one message of the transcript, as the page receives it.
type item struct {
	ID      string `json:"id"`
	Role    string `json:"role"` // "user" or "bot"
	Text    string `json:"text"`
	Final   bool   `json:"final"`
	Plain   bool   `json:"plain"`
	Part    int    `json:"part"`
	ReplyTo string `json:"reply_to,omitempty"`
	version uint64
}

// statusLine is the progress line shown in the place of the answer to
// question ReplyTo until its first text; Text "" is none.
type statusLine struct {
	Text    string `json:"text"`
	ReplyTo string `json:"reply_to,omitempty"`
}

// maxItems bounds a transcript; older messages are dropped from memory
// (the conversation itself is in the store).
const maxItems = 100

// maxBrowsers bounds the transcripts kept; prune drops the least recently
// seen beyond it, and any not seen for idleBrowser.
const (
	maxBrowsers = 10000
	idleBrowser = 24 * time.Hour
)

var browserIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func newBrowserID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// browserLocked returns the transcript of id, creating it. a.mu is held.
func (a *Adapter) browserLocked(id string) *browser {
	b := a.browsers[id]
	if b == nil {
		if len(a.browsers) >= maxBrowsers {
			a.pruneLocked()
		}
		b = &browser{id: id, byID: map[string]*item{}, wake: make(chan struct{})}
		a.browsers[id] = b
	}
	b.lastSeen = a.now()
	return b
}

// changed records a change and wakes the event streams. a.mu is held.
func (b *browser) changed() uint64 {
	b.version++
	close(b.wake)
	b.wake = make(chan struct{})
	return b.version
}

// put adds or replaces a message. a.mu is held.
func (b *browser) put(it item) {
	it.version = b.changed()
	if old := b.byID[it.ID]; old != nil {
		*old = it
		return
	}
	p := &it
	b.items = append(b.items, p)
	b.byID[it.ID] = p
	if len(b.items) > maxItems {
		drop := b.items[0]
		delete(b.byID, drop.ID)
		b.items = b.items[1:]
	}
}

// setTyping shows or hides the typing indicator. a.mu is held.
func (b *browser) setTyping(on bool) {
	if b.typing == on {
		return
	}
	b.typing = on
	b.typingV = b.changed()
}

// setStatus shows (or, with the zero statusLine, clears) the progress
// line. a.mu is held.
func (b *browser) setStatus(s statusLine) {
	if b.status == s {
		return
	}
	b.status = s
	b.statusV = b.changed()
}

// since returns the messages changed after version v, oldest first.
// a.mu is held.
func (b *browser) since(v uint64) []item {
	var out []item
	for _, it := range b.items {
		if it.version > v {
			out = append(out, *it)
		}
	}
	return out
}

// prune forgets idle transcripts, and the least recently seen ones beyond
// maxBrowsers.
func (a *Adapter) prune() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pruneLocked()
}

func (a *Adapter) pruneLocked() {
	now := a.now()
	for id, b := range a.browsers {
		if b.streams == 0 && now.Sub(b.lastSeen) > idleBrowser {
			delete(a.browsers, id)
		}
	}
	for len(a.browsers) >= maxBrowsers {
		var oldest *browser
		for _, b := range a.browsers {
			if b.streams == 0 && (oldest == nil || b.lastSeen.Before(oldest.lastSeen)) {
				oldest = b
			}
		}
		if oldest == nil {
			return
		}
		delete(a.browsers, oldest.id)
	}
}
