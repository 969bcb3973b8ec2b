package console

import (
	"strings"
	"testing"
)

func TestRows(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		width int
		want  int
	}{
		{"empty", "", 80, 1},
		{"short", "hello", 80, 1},
		{"exactly the width", strings.Repeat("x", 10), 10, 1},
		{"one over", strings.Repeat("x", 11), 10, 2},
		{"two lines", "a\nb", 10, 2},
		{"trailing newline", "a\n", 10, 2},
		{"wrapped and a line", strings.Repeat("x", 25) + "\nend", 10, 4},
		{"narrower", strings.Repeat("x", 100), 40, 3},
		{"wider", strings.Repeat("x", 100), 120, 1},
		{"wide runes", strings.Repeat("漢", 5), 10, 1},
		{"wide rune wraps early", "123456789漢", 10, 2},
		{"emoji", "🙂🙂🙂", 5, 2},
		{"combining accent", strings.Repeat("e\u0301", 10), 10, 1},
		{"tab", "a\tb", 10, 1},
		{"tab stops at the last column", "12345678\tx", 10, 1},
		{"zero width means 80", strings.Repeat("x", 81), 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rows(tt.text, tt.width); got != tt.want {
				t.Errorf("rows(%q, %d) = %d, want %d", tt.text, tt.width, got, tt.want)
			}
		})
	}
}

func TestRedraw(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name  string
		prev  frame
		text  string
		width int
		want  string
	}{
		{"first draw", frame{}, "hi", 80, "\r\x1b[Jhi"},
		{"one row", frame{"hi", 80}, "hi there", 80, "\r\x1b[Jhi there"},
		{"lines become CRLF", frame{"a\nb", 80}, "a\nb\nc", 80, "\r\x1b[1A\x1b[Ja\r\nb\r\nc"},
		// Narrowed: the previous text took 2 rows at 80 columns; that is
		// what is on screen, whatever the width is now.
		{"narrowed", frame{long, 80}, long + "y", 40, "\r\x1b[1A\x1b[J" + long + "y"},
		// Widened: 3 rows drawn at 40 columns, 1 row now.
		{"widened", frame{long, 40}, long, 120, "\r\x1b[2A\x1b[J" + long},
		{"echoed input", frame{"answer/stop\n", 80}, "answer", 80, "\r\x1b[1A\x1b[Janswer"},
		{"erase", frame{"a\nb\nc", 80}, "", 80, "\r\x1b[2A\x1b[J"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, f := redraw(tt.prev, tt.text, tt.width)
			if got != tt.want {
				t.Errorf("redraw(%+v, %q, %d) = %q, want %q", tt.prev, tt.text, tt.width, got, tt.want)
			}
			if f != (frame{tt.text, tt.width}) {
				t.Errorf("redraw(%+v, %q, %d) frame = %+v, want the text at the width", tt.prev, tt.text, tt.width, f)
			}
		})
	}
}

// TestRedrawOnScreen streams a growing answer through redraw into a
// terminal emulator that is resized between frames, and checks after each
// frame that the screen shows the line above the answer and the answer
// exactly once, as a fresh terminal of that width would.
func TestRedrawOnScreen(t *testing.T) {
	words := strings.Fields(strings.Repeat("the quick brown fox jumps over the lazy dog; ", 12))
	tests := map[string][]int{ // width at each frame
		"steady":              {80, 80, 80, 80, 80, 80},
		"narrowed":            {80, 80, 40, 40, 23, 23},
		"widened":             {30, 30, 60, 100, 100, 100},
		"narrowed and back":   {80, 20, 80, 20, 80, 20},
		"every frame differs": {70, 50, 33, 90, 17, 64},
	}
	for name, widths := range tests {
		t.Run(name, func(t *testing.T) {
			s := newScreen(widths[0])
			s.Write([]byte("> question\r\n"))
			var live frame
			for i, w := range widths {
				s.resize(w)
				text := strings.Join(words[:(i+1)*len(words)/len(widths)], " ")
				if i == 3 {
					text += "\n\n- a list\n- of items"
				}
				out, f := redraw(live, text, w)
				live = f
				s.Write([]byte(out))
				fresh := newScreen(w)
				fresh.Write([]byte("> question\r\n" + strings.ReplaceAll(text, "\n", "\r\n")))
				if got, want := s.String(), fresh.String(); got != want {
					t.Fatalf("frame %d at width %d shows\n%s\nwant\n%s", i, w, got, want)
				}
			}
		})
	}
}
