package slack

import (
	"bytes"
	"net/url"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

var markdown = goldmark.New(goldmark.WithExtensions(extension.Strikethrough))

// escape escapes the three characters Slack's mrkdwn reserves.
func escape(s string) string {
	return mrkdwnEscaper.Replace(s)
}

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// plain renders text as-is for Slack: only &, <, > are escaped, so nothing
// in it can become a mention or a link.
func plain(text string) string { return escape(text) }

// toMrkdwn renders the backend's Markdown as Slack mrkdwn: **b** → *b*,
// _i_ → _i_, ~~s~~ → ~s~, [t](u) → <u|t>, headings in bold, bullets as
// "• ", code kept, and &, <, > escaped everywhere except in the links it
// generates. Only http, https and mailto links become links, so nothing
// the backend writes can turn into <!channel> or a user mention.
func toMrkdwn(md string) string {
	src := []byte(md)
	doc := markdown.Parser().Parse(text.NewReader(src))
	r := &mrkdwn{src: src}
	r.blocks(doc, "")
	return strings.TrimRight(r.b.String(), "\n ")
}

type mrkdwn struct {
	src []byte
	b   strings.Builder
}

// blocks renders the block children of n, each line prefixed by indent.
func (r *mrkdwn) blocks(n ast.Node, indent string) {
	first := true
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if !first {
			r.b.WriteString("\n")
			if !tightItem(c) {
				r.b.WriteString(indent + "\n")
			}
		}
		first = false
		r.block(c, indent)
	}
}

// tightItem is true for the blocks of a tight list item (no blank line).
func tightItem(c ast.Node) bool {
	if _, ok := c.(*ast.ListItem); ok {
		if l, ok := c.Parent().(*ast.List); ok {
			return l.IsTight
		}
	}
	if li, ok := c.Parent().(*ast.ListItem); ok {
		if l, ok := li.Parent().(*ast.List); ok {
			return l.IsTight
		}
	}
	return false
}

func (r *mrkdwn) block(n ast.Node, indent string) {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		r.b.WriteString(indentLines(r.inlines(n), indent))
	case *ast.Heading:
		if s := strings.TrimSpace(r.inlines(n)); s != "" {
			r.b.WriteString(indent + emphasize(s, "*"))
		}
	case *ast.ThematicBreak:
		r.b.WriteString(indent + "───")
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		var code bytes.Buffer
		lines := n.Lines()
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			code.Write(seg.Value(r.src))
		}
		body := strings.TrimRight(code.String(), "\n")
		r.b.WriteString(indentLines("```\n"+escape(body)+"\n```", indent))
	case *ast.Blockquote:
		var sub mrkdwn
		sub.src = r.src
		sub.blocks(n, "")
		q := strings.TrimRight(sub.b.String(), "\n")
		r.b.WriteString(indentLines(prefixLines(q, "> "), indent))
	case *ast.List:
		i := n.Start
		if i == 0 {
			i = 1
		}
		first := true
		for li := n.FirstChild(); li != nil; li = li.NextSibling() {
			if !first {
				r.b.WriteString("\n")
				if !n.IsTight {
					r.b.WriteString("\n")
				}
			}
			first = false
			marker := "• "
			if n.IsOrdered() {
				marker = strconv.Itoa(i) + ". "
				i++
			}
			var sub mrkdwn
			sub.src = r.src
			sub.blocks(li, "")
			item := strings.TrimRight(sub.b.String(), "\n")
			pad := strings.Repeat(" ", len([]rune(marker))+1)
			lines := strings.Split(item, "\n")
			for j, l := range lines {
				if j == 0 {
					lines[j] = indent + marker + l
				} else if l != "" {
					lines[j] = indent + pad + l
				}
			}
			r.b.WriteString(strings.Join(lines, "\n"))
		}
	case *ast.HTMLBlock:
		var raw bytes.Buffer
		lines := n.Lines()
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			raw.Write(seg.Value(r.src))
		}
		if n.HasClosure() {
			raw.Write(n.ClosureLine.Value(r.src))
		}
		r.b.WriteString(indentLines(escape(strings.TrimRight(raw.String(), "\n")), indent))
	default:
		// Unknown blocks (from extensions): render their text.
		if n.HasChildren() {
			if n.FirstChild().Type() == ast.TypeInline {
				r.b.WriteString(indentLines(r.inlines(n), indent))
				return
			}
			r.blocks(n, indent)
		}
	}
}

// inlines renders the inline children of n.
func (r *mrkdwn) inlines(n ast.Node) string {
	var b strings.Builder
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		r.inline(&b, c)
	}
	return b.String()
}

func (r *mrkdwn) inline(b *strings.Builder, n ast.Node) {
	switch n := n.(type) {
	case *ast.Text:
		v := n.Segment.Value(r.src)
		if !n.IsRaw() {
			v = util.UnescapePunctuations(v)
			v = util.ResolveNumericReferences(v)
			v = util.ResolveEntityNames(v)
		}
		b.WriteString(escape(string(v)))
		if n.HardLineBreak() || n.SoftLineBreak() {
			b.WriteString("\n")
		}
	case *ast.String:
		v := n.Value
		if !n.IsRaw() && !n.IsCode() {
			v = util.UnescapePunctuations(v)
		}
		b.WriteString(escape(string(v)))
	case *ast.CodeSpan:
		var code strings.Builder
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch t := c.(type) {
			case *ast.Text:
				code.Write(t.Segment.Value(r.src))
			case *ast.String:
				code.Write(t.Value)
			}
		}
		s := strings.ReplaceAll(code.String(), "`", "'")
		if strings.TrimSpace(s) == "" {
			b.WriteString(escape(s))
			return
		}
		b.WriteString("`" + escape(s) + "`")
	case *ast.Emphasis:
		inner := r.inlines(n)
		if n.Level >= 2 {
			b.WriteString(emphasize(inner, "*"))
		} else {
			b.WriteString(emphasize(inner, "_"))
		}
	case *east.Strikethrough:
		b.WriteString(emphasize(r.inlines(n), "~"))
	case *ast.Link:
		b.WriteString(link(string(n.Destination), r.inlines(n)))
	case *ast.Image:
		alt := r.inlines(n)
		if alt == "" {
			alt = "image"
		}
		b.WriteString(link(string(n.Destination), alt))
	case *ast.AutoLink:
		u := string(n.URL(r.src))
		if n.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(u, "mailto:") {
			u = "mailto:" + u
		}
		b.WriteString(link(u, escape(string(n.Label(r.src)))))
	case *ast.RawHTML:
		for i := 0; i < n.Segments.Len(); i++ {
			seg := n.Segments.At(i)
			b.WriteString(escape(string(seg.Value(r.src))))
		}
	default:
		b.WriteString(r.inlines(n))
	}
}

// emphasize wraps s in marker, keeping surrounding spaces outside (Slack
// needs the markers next to the words) and dropping it when s is empty.
func emphasize(s, marker string) string {
	t := strings.TrimSpace(s)
	if t == "" {
		return s
	}
	lead := s[:strings.Index(s, t)]
	trail := s[len(lead)+len(t):]
	// Markers do not span lines in mrkdwn: wrap each line.
	lines := strings.Split(t, "\n")
	for i, l := range lines {
		if lt := strings.TrimSpace(l); lt != "" && !strings.HasPrefix(lt, marker) {
			lines[i] = strings.Replace(l, lt, marker+lt+marker, 1)
		}
	}
	return lead + strings.Join(lines, "\n") + trail
}

// link renders <url|label> for a safe URL, else the label and the URL as
// text. label is already rendered (escaped).
func link(dest, label string) string {
	u, err := url.Parse(dest)
	if err != nil || !(u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "mailto") || u.Opaque == "" && u.Host == "" && u.Scheme != "mailto" {
		if label == "" {
			return escape(dest)
		}
		return label
	}
	// Inside <…|…> only &, <, > and | are special.
	d := urlEscaper.Replace(dest)
	l := labelEscaper.Replace(strings.TrimSpace(label))
	if l == "" || l == escape(dest) {
		return "<" + d + ">"
	}
	return "<" + d + "|" + l + ">"
}

var (
	urlEscaper   = strings.NewReplacer("|", "%7C", "<", "%3C", ">", "%3E", " ", "%20", "\n", "", "&", "&amp;")
	labelEscaper = strings.NewReplacer("|", "¦", "\n", " ")
)

func indentLines(s, indent string) string {
	if indent == "" {
		return s
	}
	return prefixLines(s, indent)
}

func prefixLines(s, p string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l == "" && p == "> " {
			lines[i] = ">"
			continue
		}
		lines[i] = p + l
	}
	return strings.Join(lines, "\n")
}
