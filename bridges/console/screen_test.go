package console

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// screen is a small terminal emulator for tests: it understands what the
// console writes (printable text with automatic wrap, CR, LF, cursor up
// "ESC [ n A", erase below "ESC [ J", erase line "ESC [ K") and, like
// xterm, does not reflow its rows when resized. It is safe for
// concurrent use; waitFor blocks until the screen shows a text.
type screen struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every write
	width   int
	rows    [][]rune // cells; a wide rune is followed by a 0 cell
	r, c    int      // cursor row, columns used in the row
	esc     []byte   // an unfinished escape sequence
	partial []byte   // an unfinished UTF-8 sequence
}

func newScreen(width int) *screen {
	return &screen{width: width, rows: [][]rune{nil}, changed: make(chan struct{})}
}

// resize changes the width without reflowing: longer rows are cut.
func (s *screen) resize(width int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.width = width
	for i, row := range s.rows {
		if len(row) > width {
			s.rows[i] = row[:width]
		}
	}
	s.c = min(s.c, width)
}

func (s *screen) Width() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.width
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := append(s.partial, p...)
	s.partial = nil
	for len(b) > 0 {
		if len(s.esc) > 0 || b[0] == 0x1b {
			s.esc = append(s.esc, b[0])
			b = b[1:]
			s.escape()
			continue
		}
		if !utf8.FullRune(b) {
			s.partial = append([]byte(nil), b...)
			break
		}
		c, n := utf8.DecodeRune(b)
		b = b[n:]
		s.put(c)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

// escape acts on s.esc once it is a complete sequence.
func (s *screen) escape() {
	e := string(s.esc)
	if len(e) < 3 {
		return
	}
	last := e[len(e)-1]
	if last >= '0' && last <= '9' {
		return
	}
	s.esc = nil
	arg := e[2 : len(e)-1]
	switch last {
	case 'A':
		n, err := strconv.Atoi(arg)
		if err != nil || n == 0 {
			n = 1
		}
		s.r = max(0, s.r-n)
		s.c = min(s.c, len(s.rows[s.r]))
	case 'J':
		s.rows[s.r] = s.rows[s.r][:min(s.c, len(s.rows[s.r]))]
		s.rows = s.rows[:s.r+1]
	case 'K':
		s.rows[s.r] = s.rows[s.r][:min(s.c, len(s.rows[s.r]))]
	}
}

func (s *screen) put(c rune) {
	switch c {
	case '\r':
		s.c = 0
		return
	case '\n':
		s.down()
		return
	case '\t':
		s.c = max(s.c, min(s.width-1, (s.c/8+1)*8))
		s.pad()
		return
	}
	w := runeWidth(c)
	if w == 0 {
		return
	}
	if s.c+w > s.width {
		s.down()
	}
	s.pad()
	row := s.rows[s.r]
	cells := []rune{c}
	if w == 2 {
		cells = append(cells, 0)
	}
	if s.c < len(row) {
		row = append(row[:s.c], append(cells, row[min(len(row), s.c+w):]...)...)
	} else {
		row = append(row, cells...)
	}
	s.rows[s.r] = row
	s.c += w
}

func (s *screen) down() {
	s.r++
	s.c = 0
	if s.r == len(s.rows) {
		s.rows = append(s.rows, nil)
	}
}

// pad fills the row with spaces up to the cursor.
func (s *screen) pad() {
	for len(s.rows[s.r]) < s.c {
		s.rows[s.r] = append(s.rows[s.r], ' ')
	}
}

// String returns the rows, right-trimmed, without trailing empty rows.
func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stringLocked()
}

func (s *screen) stringLocked() string {
	lines := make([]string, len(s.rows))
	for i, row := range s.rows {
		lines[i] = strings.TrimRight(strings.ReplaceAll(string(row), "\x00", ""), " ")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

// waitFor blocks until the screen contains want, and fails the test after
// a generous deadline.
func (s *screen) waitFor(t *testing.T, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		s.mu.Lock()
		got, ch := s.stringLocked(), s.changed
		s.mu.Unlock()
		if strings.Contains(got, want) {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("screen never showed %q; it shows:\n%s", want, got)
		}
	}
}

// type echoes line like a terminal in cooked mode would, then passes it
// to w (the console's input).
func (s *screen) typeLine(t *testing.T, w interface{ Write([]byte) (int, error) }, line string) {
	t.Helper()
	s.Write([]byte(line + "\r\n"))
	if _, err := w.Write([]byte(line + "\n")); err != nil {
		t.Fatalf("write input: %v", err)
	}
}

func TestScreen(t *testing.T) {
	s := newScreen(4)
	s.Write([]byte("abcdefg\r\nxy\x1b[1A\rZ\x1b[K\r\n\r\nq"))
	if got, want := s.String(), "abcd\nZ\nxy\nq"; got != want {
		t.Errorf("screen = %q, want %q", got, want)
	}
	s = newScreen(4)
	s.Write([]byte("abcd"))
	s.Write([]byte("\r\x1b[J漢字x"))
	if got, want := s.String(), "漢字\nx"; got != want {
		t.Errorf("screen = %q, want %q", got, want)
	}
}
