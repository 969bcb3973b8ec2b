package console

import (
	"fmt"
	"strings"
	"unicode"
)

// The live area is the part of the terminal the console redraws while an
// answer streams: it starts at column 0 of a row and the cursor is left
// at the end of what was written. To redraw, the console moves the
// cursor up to the live area's first row, erases to the end of the
// screen and writes the new text.
//
// Counting those rows is the delicate part. The width is measured again
// at every redraw (the window may be resized mid-answer), and the rows of
// the previous frame are counted at the width it was drawn at, not at
// today's width: counting everything at the width the console started
// with made it move up too few rows after the window was narrowed, and
// every redraw then repeated the answer's first lines. A terminal that
// reflows its contents on resize (most do) may still leave one stale
// copy of the top rows at the first redraw after a resize; after that
// the count is exact again.

// frame is the live area as last drawn: its text (with any input the
// terminal echoed after it) and the width it was drawn at. The zero frame
// is an empty live area at the cursor.
type frame struct {
	text  string
	width int
}

// redraw returns what to write to replace the live area drawn as prev by
// text at width columns, and the frame that is then on screen.
func redraw(prev frame, text string, width int) (string, frame) {
	var b strings.Builder
	b.WriteString("\r")
	if up := rows(prev.text, prev.width) - 1; up > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", up)
	}
	b.WriteString("\x1b[J")
	b.WriteString(strings.ReplaceAll(text, "\n", "\r\n"))
	return b.String(), frame{text: text, width: width}
}

// rows returns how many terminal rows text takes when written from column
// 0 at width columns; the cursor ends on the last of them. A line that
// fills the width exactly leaves the cursor on its last row (the
// terminal wraps only when the next character comes). Wide characters
// take two columns and wrap early rather than split; a tab advances to
// the next multiple of 8, at most to the last column, and never wraps.
func rows(text string, width int) int {
	if width <= 0 {
		width = 80
	}
	n := 0
	for _, line := range strings.Split(text, "\n") {
		r, col := 1, 0
		for _, c := range line {
			w := runeWidth(c)
			if c == '\t' {
				w = max(0, min(8-col%8, width-1-col))
			}
			if w == 0 {
				continue
			}
			if col+w > width {
				r++
				col = 0
			}
			col += w
		}
		n += r
	}
	return n
}

// runeWidth is the number of columns a terminal gives c: 0 for control
// and combining characters, 2 for East Asian wide characters and emoji,
// 1 otherwise. It is an approximation of Unicode's East Asian Width good
// enough for counting rows.
func runeWidth(c rune) int {
	switch {
	case c == '\t':
		return 1 // measured by the caller
	case c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0):
		return 0
	case unicode.Is(unicode.Mn, c) || unicode.Is(unicode.Me, c) || c == 0x200b || c == 0x200d || (c >= 0xfe00 && c <= 0xfe0f):
		return 0
	case c >= 0x1100 && c <= 0x115f, // Hangul Jamo
		c >= 0x2e80 && c <= 0x303e, // CJK radicals, punctuation
		c >= 0x3041 && c <= 0x33ff, // kana, CJK symbols
		c >= 0x3400 && c <= 0x4dbf, // CJK extension A
		c >= 0x4e00 && c <= 0x9fff, // CJK unified ideographs
		c >= 0xa000 && c <= 0xa4cf, // Yi
		c >= 0xac00 && c <= 0xd7a3, // Hangul syllables
		c >= 0xf900 && c <= 0xfaff, // CJK compatibility ideographs
		c >= 0xfe30 && c <= 0xfe4f, // CJK compatibility forms
		c >= 0xff00 && c <= 0xff60, // fullwidth forms
		c >= 0xffe0 && c <= 0xffe6,
		c >= 0x1f300 && c <= 0x1f64f, // emoji
		c >= 0x1f900 && c <= 0x1f9ff,
		c >= 0x20000 && c <= 0x3fffd: // CJK extensions B and later
		return 2
	}
	return 1
}
