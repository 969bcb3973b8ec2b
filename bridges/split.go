package bridges

import (
	"strings"
	"unicode/utf8"
)

// Len returns the length of s in unit.
func Len(s string, unit Unit) int {
	if unit != UTF16 {
		return utf8.RuneCountInString(s)
	}
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// prefixWithin returns the byte length of the longest prefix of s that is
// at most max units long, cut at a rune boundary (so never inside a
// multi-byte rune or a UTF-16 surrogate pair).
func prefixWithin(s string, max int, unit Unit) int {
	n := 0
	for i, r := range s {
		w := 1
		if unit == UTF16 && r >= 0x10000 {
			w = 2
		}
		if n+w > max {
			return i
		}
		n += w
	}
	return len(s)
}

const fence = "```"

// Split cuts text into parts of at most max units each. It cuts at the last
// paragraph break in a part, else the last line break, else the end of a
// sentence, else a space, else at a rune boundary. It avoids cutting inside
// a fenced code block when a boundary before the block is not too early;
// otherwise it closes the fence at the end of the part and reopens it (with
// its language) at the start of the next, so each part renders on its own.
// Whitespace at a cut stays at the end of the earlier part; a part that
// would be only whitespace is dropped. Split depends only on the first max
// units of each part, so the parts already complete stay the same while the
// text grows: a streaming reply can freeze them.
func Split(text string, max int, unit Unit) []string {
	if max < 16 {
		max = 16
	}
	var parts []string
	reopen := "" // fence opening to prepend to the next part
	for text != "" {
		body := reopen + text
		if Len(body, unit) <= max {
			parts = appendPart(parts, body)
			break
		}
		if t := strings.TrimRight(body, " \t\n"); Len(t, unit) <= max {
			parts = appendPart(parts, t) // only blanks overflow
			break
		}
		closing := "\n" + fence
		window := body[:prefixWithin(body, max, unit)]
		cut := bestCut(window, len(reopen))
		part := body[:cut]
		open, lang := openFence(part)
		if open {
			// Make room for the closing fence.
			window = body[:prefixWithin(body, max-len(closing), unit)]
			cut = bestCut(window, len(reopen))
			part = body[:cut]
			open, lang = openFence(part)
		}
		next := ""
		if open {
			part = strings.TrimRight(part, " \n") + closing
			next = fence + lang + "\n"
		}
		parts = appendPart(parts, part)
		consumed := cut - len(reopen)
		if consumed <= 0 { // cannot happen: bestCut moves past the reopen prefix
			consumed = len(window) - len(reopen)
		}
		text = text[consumed:]
		if open {
			text = strings.TrimLeft(text, "\n")
		}
		reopen = next
	}
	return parts
}

func appendPart(parts []string, p string) []string {
	if strings.TrimSpace(p) == "" {
		return parts
	}
	return append(parts, p)
}

// bestCut returns the byte offset to cut window at; it is > min.
func bestCut(w string, min int) int {
	floor := min + (len(w)-min)/3 // do not make parts shorter than a third
	// Prefer ending before a code block opens, when that is not too early.
	if i := lastFenceOpen(w); i > floor {
		if j := strings.LastIndex(w[:i], "\n"); j > floor {
			return j + 1
		}
	}
	if i := strings.LastIndex(w, "\n\n"); i > floor {
		return i + 2
	}
	if i := strings.LastIndex(w, "\n"); i > floor {
		return i + 1
	}
	if i := lastSentenceEnd(w); i > floor {
		return i
	}
	if i := strings.LastIndexAny(w, " \t"); i > floor {
		return i + 1
	}
	if len(w) > min {
		return len(w)
	}
	// The window is all reopen prefix: take at least one rune.
	_, size := utf8.DecodeRuneInString(w[min:])
	return min + max(size, 1)
}

// lastSentenceEnd returns the offset just after the last ". ", "! " or "? "
// (or the CJK full stops), or -1.
func lastSentenceEnd(w string) int {
	best := -1
	for _, sep := range []string{". ", "! ", "? ", "。", "！", "？"} {
		if i := strings.LastIndex(w, sep); i >= 0 && i+len(sep) > best {
			best = i + len(sep)
		}
	}
	return best
}

// lastFenceOpen returns the offset of the line starting the code block that
// is still open at the end of w, or -1 when no block is open.
func lastFenceOpen(w string) int {
	open := -1
	off := 0
	for line := range strings.SplitAfterSeq(w, "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " "), fence) {
			if open < 0 {
				open = off
			} else {
				open = -1
			}
		}
		off += len(line)
	}
	return open
}

// openFence reports whether a code block is open at the end of s and the
// language of its opening fence.
func openFence(s string) (bool, string) {
	i := lastFenceOpen(s)
	if i < 0 {
		return false, ""
	}
	line := strings.TrimLeft(s[i:], " ")[len(fence):]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	} else {
		line = ""
	}
	return true, strings.TrimSpace(line)
}

// splitRendered splits text for lim: by Split, then cutting smaller any
// part that lim.Rendered measures over lim.RenderedMax. A part depends
// only on its own text, so parts already complete stay the same while the
// text grows.
func splitRendered(text string, lim Limits) []string {
	parts := Split(text, lim.MaxLen, lim.Unit)
	if lim.Rendered == nil || lim.RenderedMax <= 0 {
		return parts
	}
	var out []string
	for _, p := range parts {
		out = append(out, fitRendered(p, lim, 0)...)
	}
	return out
}

func fitRendered(p string, lim Limits, depth int) []string {
	n := lim.Rendered(p)
	if n <= lim.RenderedMax || depth > 4 {
		return []string{p}
	}
	max := Len(p, lim.Unit) * lim.RenderedMax / n * 9 / 10
	if max < 16 {
		max = 16
	}
	var out []string
	for _, q := range Split(p, max, lim.Unit) {
		out = append(out, fitRendered(q, lim, depth+1)...)
	}
	return out
}
