package bridges

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLen(t *testing.T) {
	tests := []struct {
		s           string
		runes, utf6 int
	}{
		{"abc", 3, 3},
		{"héllo", 5, 5},
		{"世界", 2, 2},
		{"😀", 1, 2},
		{"a😀b", 3, 4},
	}
	for _, tt := range tests {
		if got := Len(tt.s, Runes); got != tt.runes {
			t.Errorf("Len(%q, Runes) = %d, want %d", tt.s, got, tt.runes)
		}
		if got := Len(tt.s, UTF16); got != tt.utf6 {
			t.Errorf("Len(%q, UTF16) = %d, want %d", tt.s, got, tt.utf6)
		}
	}
}

func TestSplit(t *testing.T) {
	para := strings.Repeat("a", 30) + "\n\n" + strings.Repeat("b", 30)
	tests := map[string]struct {
		text string
		max  int
		unit Unit
		want []string
	}{
		"fits": {text: "short", max: 20, want: []string{"short"}},
		"paragraph": {
			text: para, max: 40,
			want: []string{strings.Repeat("a", 30) + "\n\n", strings.Repeat("b", 30)},
		},
		"line": {
			text: "first line here\nsecond line here", max: 20,
			want: []string{"first line here\n", "second line here"},
		},
		"sentence": {
			text: "One two three. Four five six seven.", max: 20,
			want: []string{"One two three. ", "Four five six seven."},
		},
		"word": {
			text: "alpha beta gamma delta epsilon", max: 20,
			want: []string{"alpha beta gamma ", "delta epsilon"},
		},
		"hard cut at a rune": {
			text: strings.Repeat("é", 40), max: 16,
			want: []string{strings.Repeat("é", 16), strings.Repeat("é", 16), strings.Repeat("é", 8)},
		},
		"utf16 never splits a surrogate pair": {
			text: strings.Repeat("😀", 10), max: 17, unit: UTF16,
			want: []string{strings.Repeat("😀", 8), strings.Repeat("😀", 2)},
		},
		"whitespace-only tail dropped": {
			text: "abcdefghij klmnopqrst\n\n\n\n", max: 21,
			want: []string{"abcdefghij klmnopqrst"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := Split(tt.text, tt.max, tt.unit)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("Split(%q, %d) = %q, want %q", tt.text, tt.max, got, tt.want)
			}
		})
	}
}

func TestSplitAvoidsCodeBlocks(t *testing.T) {
	prose := "Here is the fix you need for the config loader.\n"
	code := "```go\nfunc main() {\n\tfmt.Println(\"hello\")\n}\n```\n"
	text := prose + code + "Done."
	parts := Split(text, 60, Runes)
	if len(parts) < 2 || parts[0] != prose {
		t.Fatalf("Split = %q, want the cut before the code block", parts)
	}
	if !strings.HasPrefix(parts[1], "```go\n") {
		t.Errorf("second part = %q, want the whole code block", parts[1])
	}
}

func TestSplitClosesAndReopensLongCodeBlock(t *testing.T) {
	var b strings.Builder
	b.WriteString("```python\n")
	for i := 0; i < 30; i++ {
		b.WriteString("print('line number')\n")
	}
	b.WriteString("```\nAfter.")
	parts := Split(b.String(), 200, Runes)
	if len(parts) < 3 {
		t.Fatalf("parts = %d", len(parts))
	}
	for i, p := range parts {
		if n := Len(p, Runes); n > 200 {
			t.Errorf("part %d has %d runes > 200", i, n)
		}
		if strings.Count(p, "```")%2 != 0 {
			t.Errorf("part %d has an unbalanced fence: %q", i, p)
		}
		if i > 0 && i < len(parts)-1 && !strings.HasPrefix(p, "```python\n") {
			t.Errorf("part %d does not reopen the block with its language: %q", i, p)
		}
	}
}

// TestSplitIsStableWhileStreaming: parts already complete do not change as
// the text grows, so a live reply can freeze them.
func TestSplitIsStableWhileStreaming(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 60; i++ {
		b.WriteString("Sentence with some words")
		if i%7 == 0 {
			b.WriteString(".\n\n```\ncode line\n```\n")
		} else {
			b.WriteString(". ")
		}
	}
	full := b.String()
	final := Split(full, 120, Runes)
	for n := 1; n <= len(full); n++ {
		if !utf8.ValidString(full[:n]) {
			continue
		}
		parts := Split(full[:n], 120, Runes)
		for i := 0; i < len(parts)-1; i++ {
			if parts[i] != final[i] {
				t.Fatalf("at %d bytes, part %d = %q, want it frozen as %q", n, i, parts[i], final[i])
			}
		}
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("hello world. this is a test\n\nnew paragraph", 16, false)
	f.Add("```go\ncode\n```\ntext 😀 世界", 20, true)
	f.Add(strings.Repeat("😀", 50), 17, true)
	f.Add("``` \n```\n```", 16, false)
	f.Fuzz(func(t *testing.T, text string, max int, utf16 bool) {
		if max < 16 || max > 5000 || !utf8.ValidString(text) {
			return
		}
		unit := Runes
		if utf16 {
			unit = UTF16
		}
		parts := Split(text, max, unit)
		var joined strings.Builder
		for i, p := range parts {
			if Len(p, unit) > max {
				t.Fatalf("part %d is %d units > %d", i, Len(p, unit), max)
			}
			if !utf8.ValidString(p) {
				t.Fatalf("part %d is not valid UTF-8", i)
			}
			if strings.TrimSpace(p) == "" {
				t.Fatalf("part %d is blank", i)
			}
			joined.WriteString(p)
		}
		if !strings.Contains(text, "```") {
			// Without fences the parts are the text; only blanks at a cut
			// may be dropped.
			strip := func(s string) string { return strings.Join(strings.Fields(s), "") }
			if strip(joined.String()) != strip(text) {
				t.Fatalf("joined parts differ from the text")
			}
		}
	})
}

func TestSplitRendered(t *testing.T) {
	// A renderer that escapes & as &amp;, as Slack's does.
	lim := Limits{MaxLen: 100, Unit: Runes, RenderedMax: 100,
		Rendered: func(s string) int { return Len(strings.ReplaceAll(s, "&", "&amp;"), Runes) }}
	text := strings.Repeat("a & b ", 40)
	parts := splitRendered(text, lim)
	var joined strings.Builder
	for i, p := range parts {
		if n := lim.Rendered(p); n > 100 {
			t.Errorf("part %d renders to %d > 100", i, n)
		}
		joined.WriteString(p)
	}
	if strings.Join(strings.Fields(joined.String()), " ") != strings.Join(strings.Fields(text), " ") {
		t.Errorf("parts do not join back to the text")
	}
	if len(parts) < 5 {
		t.Errorf("parts = %d, want the text cut smaller than Split alone (%d)", len(parts), len(Split(text, 100, Runes)))
	}
}
