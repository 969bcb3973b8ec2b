// Package console is the terminal adapter behind `bridge console`: it reads
// one question per line and shows the answer. On a terminal it redraws the
// answer in place as it streams; otherwise it prints each final answer once
// (plain text, then a blank line), so it can be scripted.
//
// Decisions worth knowing:
//   - Input is read while an answer streams, so /stop typed mid-answer
//     stops it. Any other line typed meanwhile waits until the answer is
//     complete (type-ahead), so a piped script is answered in order.
//   - The redraw follows the terminal's width, measured again at every
//     redraw (Config.WidthFunc); see draw.go for how rows are counted.
//   - Logs must not land inside the redraw: the caller writes its log
//     through LogWriter, which lifts the live answer, writes the log line
//     above it and draws the answer again below.
//
// Package console imports bridges and the standard library (and x/term
// through its caller's choice of Terminal).
package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Config configures the console adapter.
type Config struct {
	// Backend is the backend name; the conversation key is
	// console/<Backend>/local.
	Backend string
	// In is read one question per line.
	In io.Reader
	// Out receives the answers.
	Out io.Writer
	// Terminal is true when Out is a terminal: answers are redrawn in
	// place as they stream and a prompt is shown.
	Terminal bool
	// Width is the terminal width in columns (for redrawing wrapped
	// lines); zero means 80. WidthFunc, when set, takes precedence.
	Width int
	// WidthFunc, when set, measures the terminal's width in columns; it
	// is called at every redraw, so that a window resized mid-answer is
	// redrawn at its new width. A result of zero or less means Width.
	WidthFunc func() int
	// Echo is true when In is that same terminal, echoing what the user
	// types: a line typed while an answer streams then moved the cursor
	// down, and the next redraw accounts for it. Zero: no echo (piped
	// input).
	Echo bool
}

// Adapter is the console platform.
type Adapter struct {
	cfg Config

	mu       sync.Mutex
	replies  []*reply          // the replies not yet written for good, oldest first
	parts    map[string]*reply // sent message ID -> its reply
	n        int               // sent messages so far
	live     frame             // the live area on screen (Terminal only)
	prompted bool              // the prompt is the last thing on screen
}

// reply is what the console shows for one incoming message: the messages
// the relay sent answering it, in order.
type reply struct {
	msgID string
	ids   []string
	text  map[string]string
	done  bool
	ch    chan struct{} // closed once done and written
}

func (r *reply) String() string {
	var b strings.Builder
	for _, id := range r.ids {
		b.WriteString(r.text[id])
	}
	return b.String()
}

var (
	_ bridges.Platform  = (*Adapter)(nil)
	_ bridges.Completer = (*Adapter)(nil)
)

// New returns a console adapter.
func New(cfg Config) (*Adapter, error) {
	if cfg.In == nil || cfg.Out == nil {
		return nil, fmt.Errorf("console: input and output are required")
	}
	if cfg.Backend == "" {
		return nil, fmt.Errorf("console: no backend name")
	}
	if cfg.Width <= 0 {
		cfg.Width = 80
	}
	return &Adapter{cfg: cfg, parts: map[string]*reply{}}, nil
}

// Key returns the console conversation key for backend name.
func Key(backendName string) bridges.Key {
	return bridges.Key{Platform: "console", Instance: backendName, Chat: "local"}
}

// message is the bridges.Message for the line text, the id-th of the
// session. The console is always a private chat with the bot.
func message(backendName, id, text string, now time.Time) bridges.Message {
	return bridges.Message{
		Key:    Key(backendName),
		ID:     id,
		ChatID: "local", UserID: "console", UserName: "you",
		Text: text, Private: true, Time: now,
	}
}

// Run reads questions until the input ends or ctx is cancelled. Input is
// read while an answer streams: /stop is handled at once, other lines
// wait for the answer to complete. At the end of the input Run waits for
// the outstanding replies and returns nil.
func (a *Adapter) Run(ctx context.Context, h bridges.Handler) error {
	lines := make(chan string)
	errc := make(chan error, 1)
	// The reading goroutine cannot be interrupted while it blocks on the
	// input; it ends with the input or with the process.
	go func() {
		sc := bufio.NewScanner(a.cfg.In)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		errc <- sc.Err()
	}()
	var (
		current  <-chan struct{}   // the question being answered, nil when idle
		others   []<-chan struct{} // /stop replies still being written
		backlog  []string          // lines typed meanwhile
		eof      bool
		inputErr error
	)
	for {
		if current == nil {
			if len(backlog) > 0 {
				line := backlog[0]
				backlog = backlog[1:]
				a.echoBacklog(line)
				ch, err := a.handle(ctx, h, line)
				if err != nil {
					return err
				}
				current = ch
				continue
			}
			if eof {
				for _, ch := range others {
					select {
					case <-ch:
					case <-ctx.Done():
						return nil
					}
				}
				if a.cfg.Terminal {
					a.mu.Lock()
					fmt.Fprintln(a.cfg.Out)
					a.prompted = false
					a.mu.Unlock()
				}
				return inputErr
			}
			a.prompt()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-current:
			current = nil
		case err := <-errc:
			eof, inputErr, errc = true, err, nil
		case line := <-lines:
			a.typed(line, current != nil)
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if current == nil {
				ch, err := a.handle(ctx, h, line)
				if err != nil {
					return err
				}
				current = ch
				continue
			}
			if name, _, ok := bridges.ParseCommand(line); ok && name == bridges.CmdStop {
				ch, err := a.handle(ctx, h, line)
				if err != nil {
					return err
				}
				others = append(others, ch)
				continue
			}
			backlog = append(backlog, line)
		}
	}
}

// handle passes line to h and returns the channel closed once its reply
// is complete and written.
func (a *Adapter) handle(ctx context.Context, h bridges.Handler, line string) (<-chan struct{}, error) {
	a.mu.Lock()
	a.n++
	id := fmt.Sprintf("q%d", a.n)
	r := &reply{msgID: id, text: map[string]string{}, ch: make(chan struct{})}
	a.replies = append(a.replies, r)
	a.mu.Unlock()
	if err := h.Handle(ctx, message(a.cfg.Backend, id, line, time.Now())); err != nil {
		return nil, err
	}
	return r.ch, nil
}

func (a *Adapter) prompt() {
	if !a.cfg.Terminal {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.prompted {
		fmt.Fprint(a.cfg.Out, "> ")
		a.prompted = true
	}
}

// typed records a line the user entered. On an echoing terminal the line
// and its newline were echoed after the live answer, which the next
// redraw must lift too.
func (a *Adapter) typed(line string, answering bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.prompted = false
	if a.cfg.Terminal && a.cfg.Echo && answering {
		a.live.text += line + "\n"
	}
}

// echoBacklog shows a line typed while an earlier answer streamed, now
// that it is answered (its echo was erased by the redraw).
func (a *Adapter) echoBacklog(line string) {
	if !a.cfg.Terminal {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprint(a.cfg.Out, "> "+line+"\r\n")
	a.prompted = false
}

// Completed implements bridges.Completer: the reply to m is complete.
func (a *Adapter) Completed(m *bridges.Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.replyLocked(m.ID)
	r.done = true
	a.flushLocked()
}

// replyLocked returns the reply to the message with ID id.
func (a *Adapter) replyLocked(id string) *reply {
	for _, r := range a.replies {
		if r.msgID == id {
			return r
		}
	}
	// A message Run did not pass (cannot happen through Run): show it
	// after the others.
	r := &reply{msgID: id, text: map[string]string{}, ch: make(chan struct{})}
	a.replies = append(a.replies, r)
	return r
}

// flushLocked writes the complete replies at the front for good, in
// order, and redraws the rest.
func (a *Adapter) flushLocked() {
	var b strings.Builder
	changed := false
	for len(a.replies) > 0 && a.replies[0].done {
		r := a.replies[0]
		a.replies = a.replies[1:]
		for _, id := range r.ids {
			delete(a.parts, id)
		}
		defer close(r.ch) // after the text is written
		text := r.String()
		if !a.cfg.Terminal {
			if text != "" {
				b.WriteString(text + "\n\n")
			}
			continue
		}
		if !changed {
			// Lift the live area; what follows is written for good.
			s, _ := redraw(a.live, "", a.width())
			b.WriteString(s)
			a.live = frame{}
			changed = true
		}
		if text != "" {
			b.WriteString(strings.ReplaceAll(text, "\n", "\r\n") + "\r\n\r\n")
		}
	}
	if changed {
		s, f := redraw(frame{}, a.liveTextLocked(), a.width())
		b.WriteString(s)
		a.live = f
	}
	if b.Len() > 0 {
		io.WriteString(a.cfg.Out, b.String())
		a.prompted = false
	}
}

// Limits implements bridges.Platform: no length limit worth splitting at,
// a smooth redraw on a terminal, and no pacing when nothing is drawn.
func (a *Adapter) Limits(*bridges.Message) bridges.Limits {
	l := bridges.Limits{MaxLen: 1 << 20, Unit: bridges.Runes}
	if a.cfg.Terminal {
		l.EditInterval = 50 * time.Millisecond
	}
	return l
}

// Send implements bridges.Platform.
func (a *Adapter) Send(_ context.Context, m *bridges.Message, out bridges.Out) (bridges.Sent, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.replyLocked(m.ID)
	a.n++
	id := fmt.Sprint(a.n)
	r.ids = append(r.ids, id)
	r.text[id] = out.Text
	a.parts[id] = r
	a.redrawLocked()
	return bridges.Sent{ChatID: "local", ID: id}, nil
}

// Edit implements bridges.Platform.
func (a *Adapter) Edit(_ context.Context, s bridges.Sent, out bridges.Out) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.parts[s.ID]
	if !ok {
		return fmt.Errorf("console: edit of unknown message %q", s.ID)
	}
	r.text[s.ID] = out.Text
	a.redrawLocked()
	return nil
}

// liveTextLocked is the text of the live area: every reply not yet
// written for good, a blank line between two.
func (a *Adapter) liveTextLocked() string {
	var parts []string
	for _, r := range a.replies {
		if t := r.String(); t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "\n\n")
}

func (a *Adapter) width() int {
	if a.cfg.WidthFunc != nil {
		if w := a.cfg.WidthFunc(); w > 0 {
			return w
		}
	}
	return a.cfg.Width
}

// redrawLocked rewrites the live area in place on a terminal.
func (a *Adapter) redrawLocked() {
	if !a.cfg.Terminal {
		return
	}
	s, f := redraw(a.live, a.liveTextLocked(), a.width())
	a.live = f
	a.prompted = false
	io.WriteString(a.cfg.Out, s)
}

// LogWriter returns a writer for the caller's log lines (w is where they
// go, usually stderr) that keeps them out of the live redraw: while an
// answer is drawn, each write lifts the answer, writes the log line in
// its place and draws the answer again below it; at the prompt, the line
// is written above a fresh prompt. Each Write should be whole lines (as
// log/slog's handlers write). Off a terminal it writes through.
func (a *Adapter) LogWriter(w io.Writer) io.Writer {
	return &logWriter{a: a, w: w}
}

type logWriter struct {
	a *Adapter
	w io.Writer
}

func (l *logWriter) Write(p []byte) (int, error) {
	a := l.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.cfg.Terminal {
		return l.w.Write(p)
	}
	text := a.liveTextLocked()
	switch {
	case a.live.text != "" || text != "":
		s, _ := redraw(a.live, "", a.width())
		io.WriteString(a.cfg.Out, s)
		a.live = frame{}
	case a.prompted:
		io.WriteString(a.cfg.Out, "\r\x1b[K")
	}
	n, err := l.w.Write(p)
	switch {
	case text != "":
		s, f := redraw(frame{}, text, a.width())
		a.live = f
		io.WriteString(a.cfg.Out, s)
	case a.prompted:
		io.WriteString(a.cfg.Out, "> ")
	}
	return n, err
}
