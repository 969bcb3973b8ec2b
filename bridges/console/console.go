// Package console is the terminal adapter behind `bridge console`: it reads
// one question per line and shows the answer. On a terminal it redraws the
// answer in place as it streams; otherwise it prints each final answer once
// (plain text, then a blank line), so it can be scripted.
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
	"unicode/utf8"

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
	// lines); zero means 80.
	Width int
}

// Adapter is the console platform.
type Adapter struct {
	cfg Config

	mu    sync.Mutex
	parts map[string]string // message ID -> text
	order []string
	lines int // terminal lines drawn for the current answer
	n     int
	done  chan struct{}
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
	return &Adapter{cfg: cfg, parts: map[string]string{}}, nil
}

// Key returns the console conversation key for backend name.
func Key(backendName string) bridges.Key {
	return bridges.Key{Platform: "console", Instance: backendName, Chat: "local"}
}

// Run reads questions until the input ends or ctx is cancelled, waiting
// for each answer before reading the next line. It returns nil at the end
// of the input.
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
	n := 0
	for {
		a.prompt()
		var line string
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if a.cfg.Terminal {
				fmt.Fprintln(a.cfg.Out)
			}
			return err
		case line = <-lines:
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		n++
		done := a.begin()
		m := bridges.Message{
			Key:    Key(a.cfg.Backend),
			ID:     fmt.Sprint(n),
			ChatID: "local", UserID: "console", UserName: "you",
			Text: line, Private: true, Time: time.Now(),
		}
		if err := h.Handle(ctx, m); err != nil {
			return err
		}
		select {
		case <-done:
		case <-ctx.Done():
			return nil
		}
	}
}

func (a *Adapter) prompt() {
	if a.cfg.Terminal {
		fmt.Fprint(a.cfg.Out, "> ")
	}
}

// begin starts a new answer and returns the channel closed when it is
// complete.
func (a *Adapter) begin() chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.parts = map[string]string{}
	a.order = nil
	a.lines = 0
	a.done = make(chan struct{})
	return a.done
}

// Completed implements bridges.Completer: the answer is complete.
func (a *Adapter) Completed(*bridges.Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	text := a.textLocked()
	if a.cfg.Terminal {
		fmt.Fprint(a.cfg.Out, "\n\n")
	} else {
		fmt.Fprint(a.cfg.Out, text, "\n\n")
	}
	if a.done != nil {
		close(a.done)
		a.done = nil
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
func (a *Adapter) Send(_ context.Context, _ *bridges.Message, out bridges.Out) (bridges.Sent, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	id := fmt.Sprint(a.n)
	a.parts[id] = out.Text
	a.order = append(a.order, id)
	a.redrawLocked()
	return bridges.Sent{ChatID: "local", ID: id}, nil
}

// Edit implements bridges.Platform.
func (a *Adapter) Edit(_ context.Context, s bridges.Sent, out bridges.Out) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.parts[s.ID] = out.Text
	a.redrawLocked()
	return nil
}

func (a *Adapter) textLocked() string {
	var b strings.Builder
	for _, id := range a.order {
		b.WriteString(a.parts[id])
	}
	return b.String()
}

// redrawLocked rewrites the answer in place on a terminal.
func (a *Adapter) redrawLocked() {
	if !a.cfg.Terminal {
		return
	}
	text := a.textLocked()
	var b strings.Builder
	if a.lines > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA\x1b[J", a.lines)
	} else {
		b.WriteString("\r\x1b[J")
	}
	b.WriteString(strings.ReplaceAll(text, "\n", "\r\n"))
	// The cursor is now on the last row; remember how many are above it.
	a.lines = a.rows(text) - 1
	fmt.Fprint(a.cfg.Out, b.String())
}

// rows counts the terminal rows text takes at the configured width.
func (a *Adapter) rows(text string) int {
	n := 0
	for _, line := range strings.Split(text, "\n") {
		w := utf8.RuneCountInString(line)
		n += max(1, (w+a.cfg.Width-1)/a.cfg.Width)
	}
	return n
}
