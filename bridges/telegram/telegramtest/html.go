package telegramtest

import (
	"fmt"
	"strconv"
	"strings"
)

// htmlTags are the tags Telegram's parse_mode HTML accepts.
var htmlTags = map[string]bool{"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
	"s": true, "strike": true, "del": true, "span": true, "tg-spoiler": true, "a": true,
	"code": true, "pre": true, "blockquote": true, "tg-emoji": true}

// VisibleHTML checks text the way Telegram parses parse_mode HTML
// (supported tags only, balanced, nesting rules of pre and code, the four
// named entities and numeric ones) and returns the text a user sees. Its
// error is the part Telegram puts after "can't parse entities: ".
func VisibleHTML(s string) (string, error) {
	var out strings.Builder
	var stack []string
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				return "", fmt.Errorf("unclosed start tag at byte offset %d", i)
			}
			tag := s[i+1 : i+j]
			if strings.HasPrefix(tag, "/") {
				name := tag[1:]
				if len(stack) == 0 || stack[len(stack)-1] != name {
					return "", fmt.Errorf("unexpected end tag at byte offset %d", i)
				}
				stack = stack[:len(stack)-1]
			} else {
				name, attrs, _ := strings.Cut(tag, " ")
				if !htmlTags[name] {
					return "", fmt.Errorf("unsupported start tag %q at byte offset %d", name, i)
				}
				if strings.ContainsAny(attrs, "<&") && !strings.Contains(attrs, "&amp;") && !strings.Contains(attrs, "&quot;") && !strings.Contains(attrs, "&lt;") && !strings.Contains(attrs, "&gt;") {
					return "", fmt.Errorf("bad attribute at byte offset %d", i)
				}
				if name == "pre" || name == "code" {
					for _, open := range stack {
						if open == "code" || (open == "pre" && name == "pre") {
							return "", fmt.Errorf("can't nest %s in %s", name, open)
						}
					}
				}
				stack = append(stack, name)
			}
			i += j + 1
		case '>':
			return "", fmt.Errorf("unexpected '>' at byte offset %d", i)
		case '&':
			j := strings.IndexByte(s[i:], ';')
			if j < 0 {
				return "", fmt.Errorf("character entity expected at byte offset %d", i)
			}
			ent := s[i+1 : i+j]
			switch {
			case ent == "lt":
				out.WriteByte('<')
			case ent == "gt":
				out.WriteByte('>')
			case ent == "amp":
				out.WriteByte('&')
			case ent == "quot":
				out.WriteByte('"')
			case strings.HasPrefix(ent, "#"):
				num, base := ent[1:], 10
				if strings.HasPrefix(num, "x") || strings.HasPrefix(num, "X") {
					num, base = num[1:], 16
				}
				n, err := strconv.ParseInt(num, base, 32)
				if err != nil {
					return "", fmt.Errorf("bad numeric entity at byte offset %d", i)
				}
				out.WriteRune(rune(n))
			default:
				return "", fmt.Errorf("unsupported entity %q at byte offset %d", ent, i)
			}
			i += j + 1
		default:
			out.WriteByte(c)
			i++
		}
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("can't find end tag corresponding to start tag %q", stack[len(stack)-1])
	}
	return out.String(), nil
}
