package discord

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxLen is Discord's limit on message content, in code points.
const maxLen = 2000

// linkish matches, outside code, a URL already in angle brackets (kept), a
// Markdown link (its target gets angle brackets) or a bare URL (wrapped).
var linkish = regexp.MustCompile(`<https?://[^\s>]+>|\[[^\]\n]*\]\(<?https?://[^\s)>]+>?\)|https?://[^\s<>]+`)

// render turns backend Markdown into Discord message content. Discord
// renders Markdown itself, so text passes through; only links change:
// bare URLs and Markdown link targets are put in angle brackets, which
// keeps Discord from unfurling an embed for each citation. Code spans and
// fenced blocks are left alone. If the brackets would push the text over
// maxLen, it goes out unchanged. Plain text is never changed.
func render(text string, plain bool) string {
	if plain || !strings.Contains(text, "http") {
		return text
	}
	var b strings.Builder
	rest := text
	for rest != "" {
		i := strings.IndexByte(rest, '`')
		if i < 0 {
			b.WriteString(wrapLinks(rest))
			break
		}
		b.WriteString(wrapLinks(rest[:i]))
		rest = rest[i:]
		fence := "`"
		if strings.HasPrefix(rest, "```") {
			fence = "```"
		}
		end := strings.Index(rest[len(fence):], fence)
		if end < 0 {
			if fence == "`" {
				// A lone backtick: literal text.
				b.WriteByte('`')
				rest = rest[1:]
				continue
			}
			b.WriteString(rest) // an unclosed fence runs to the end
			break
		}
		n := len(fence) + end + len(fence)
		b.WriteString(rest[:n])
		rest = rest[n:]
	}
	out := b.String()
	if utf8.RuneCountInString(out) > maxLen && utf8.RuneCountInString(text) <= maxLen {
		return text
	}
	return out
}

// wrapLinks puts the URLs of s, which holds no code, in angle brackets.
func wrapLinks(s string) string {
	return linkish.ReplaceAllStringFunc(s, func(m string) string {
		switch {
		case m[0] == '<':
			return m
		case m[0] == '[':
			if strings.Contains(m, "](<") {
				return m
			}
			i := strings.LastIndex(m, "](")
			target := strings.TrimSuffix(m[i+2:], ")")
			target = strings.TrimSuffix(target, ">")
			return m[:i] + "](<" + target + ">)"
		}
		url, tail := splitTrailing(m)
		return "<" + url + ">" + tail
	})
}

// splitTrailing separates sentence punctuation (and a closing parenthesis
// that opens nowhere in the URL) from the end of a bare URL.
func splitTrailing(u string) (url, tail string) {
	end := len(u)
	for end > 0 {
		c := u[end-1]
		if strings.IndexByte(".,;:!?'\"*_~", c) >= 0 {
			end--
			continue
		}
		if c == ')' && strings.Count(u[:end], "(") < strings.Count(u[:end], ")") {
			end--
			continue
		}
		break
	}
	return u[:end], u[end:]
}
