package telegram

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
)

// markdown parses the backend's Markdown (CommonMark plus GFM
// strikethrough, tables and task lists).
var markdown = goldmark.New(goldmark.WithExtensions(
	extension.Strikethrough, extension.Table, extension.TaskList,
))

// RenderHTML renders Markdown as Telegram HTML (parse_mode HTML): bold,
// italic, strikethrough, inline code, code blocks with their language,
// links, block quotes; headings become bold lines, lists become text
// bullets, tables become rows of " | "-separated cells, and everything
// Telegram cannot show (raw HTML, images) degrades to text. Every <, >, &
// of the text is escaped and the tags are always balanced.
func RenderHTML(md string) string {
	md = strings.ReplaceAll(strings.ToValidUTF8(md, "\uFFFD"), "\x00", "\uFFFD")
	src := []byte(md)
	doc := markdown.Parser().Parse(text.NewReader(src))
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	r := &htmlRenderer{src: src, w: w}
	r.block(doc)
	w.Flush()
	return strings.TrimSpace(buf.String())
}

// htmlRenderer walks a goldmark tree writing Telegram HTML.
type htmlRenderer struct {
	src []byte
	w   *bufio.Writer
	// Telegram does not nest code in anything but basic styles, links in
	// links, or quotes in quotes: inside these the inner tag is dropped.
	inLink, inQuote int
	// list nesting: the indentation of the current items.
	depth int
}

func (r *htmlRenderer) str(s string) { r.w.WriteString(s) }

// esc writes s with <, >, & and " escaped.
func (r *htmlRenderer) esc(s []byte) {
	r.w.Write(escapeHTML(s))
}

// text writes Markdown text: backslash escapes and entity references
// resolved, HTML escaped.
func (r *htmlRenderer) text(s []byte) { html.DefaultWriter.Write(r.w, s) }

// separate writes the blank line between two blocks.
func (r *htmlRenderer) separate(n ast.Node) {
	if n.PreviousSibling() == nil {
		return
	}
	if p, ok := n.Parent().(*ast.ListItem); ok && p != nil {
		if l, ok := p.Parent().(*ast.List); ok && l.IsTight {
			r.str("\n")
			return
		}
	}
	r.str("\n\n")
}

// block renders a block node and its children.
func (r *htmlRenderer) block(n ast.Node) {
	switch n := n.(type) {
	case *ast.Document:
		r.blocks(n)
	case *ast.Paragraph, *ast.TextBlock:
		r.separate(n)
		r.inlines(n)
	case *ast.Heading:
		r.separate(n)
		r.str("<b>")
		r.inlines(n)
		r.str("</b>")
	case *ast.ThematicBreak:
		r.separate(n)
		r.str("──────────")
	case *ast.CodeBlock:
		r.separate(n)
		r.str("<pre>")
		r.lines(n)
		r.str("</pre>")
	case *ast.FencedCodeBlock:
		r.separate(n)
		lang := n.Language(r.src)
		if len(lang) > 0 && r.inQuote == 0 {
			r.str(`<pre><code class="language-`)
			r.esc(lang)
			r.str(`">`)
			r.lines(n)
			r.str("</code></pre>")
		} else {
			r.str("<pre>")
			r.lines(n)
			r.str("</pre>")
		}
	case *ast.Blockquote:
		r.separate(n)
		if r.inQuote > 0 {
			r.blocks(n)
			return
		}
		r.inQuote++
		r.str("<blockquote>")
		r.blocks(n)
		r.str("</blockquote>")
		r.inQuote--
	case *ast.List:
		r.separate(n)
		num := n.Start
		for it := n.FirstChild(); it != nil; it = it.NextSibling() {
			if it.PreviousSibling() != nil {
				r.str("\n")
				if !n.IsTight {
					r.str("\n")
				}
			}
			r.str(strings.Repeat("  ", r.depth))
			if n.IsOrdered() {
				r.str(strconv.Itoa(num) + ". ")
				num++
			} else {
				r.str("• ")
			}
			r.depth++
			r.blocks(it)
			r.depth--
		}
	case *ast.HTMLBlock:
		r.separate(n)
		r.lines(n)
		if n.HasClosure() {
			r.esc(n.ClosureLine.Value(r.src))
		}
	case *east.Table:
		r.separate(n)
		for row := n.FirstChild(); row != nil; row = row.NextSibling() {
			if row.PreviousSibling() != nil {
				r.str("\n")
			}
			_, header := row.(*east.TableHeader)
			for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
				if cell.PreviousSibling() != nil {
					r.str(" | ")
				}
				if header {
					r.str("<b>")
				}
				r.inlines(cell)
				if header {
					r.str("</b>")
				}
			}
		}
	default:
		// Unknown blocks (a future extension): their children, as text.
		r.separate(n)
		if n.Type() == ast.TypeInline {
			r.inline(n)
			return
		}
		r.blocks(n)
	}
}

func (r *htmlRenderer) blocks(n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		r.block(c)
	}
}

// lines writes a block's raw lines, escaped (code, raw HTML).
func (r *htmlRenderer) lines(n ast.Node) {
	ls := n.Lines()
	var b []byte
	for i := range ls.Len() {
		seg := ls.At(i)
		b = append(b, seg.Value(r.src)...)
	}
	r.esc(bytes.TrimRight(b, "\n"))
}

func (r *htmlRenderer) inlines(n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		r.inline(c)
	}
}

// inline renders an inline node and its children.
func (r *htmlRenderer) inline(n ast.Node) {
	switch n := n.(type) {
	case *ast.Text:
		if n.IsRaw() {
			r.esc(n.Segment.Value(r.src))
		} else {
			r.text(n.Segment.Value(r.src))
		}
		if n.HardLineBreak() || n.SoftLineBreak() {
			r.str("\n")
		}
	case *ast.String:
		if n.IsCode() || n.IsRaw() {
			r.esc(n.Value)
		} else {
			r.text(n.Value)
		}
	case *ast.CodeSpan:
		var b []byte
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Text:
				b = append(b, c.Segment.Value(r.src)...)
			case *ast.String:
				b = append(b, c.Value...)
			}
		}
		b = bytes.ReplaceAll(b, []byte("\n"), []byte(" "))
		if r.inLink > 0 {
			r.esc(b)
			return
		}
		r.str("<code>")
		r.esc(b)
		r.str("</code>")
	case *ast.Emphasis:
		tag := "i"
		if n.Level >= 2 {
			tag = "b"
		}
		r.str("<" + tag + ">")
		r.inlines(n)
		r.str("</" + tag + ">")
	case *east.Strikethrough:
		r.str("<s>")
		r.inlines(n)
		r.str("</s>")
	case *ast.Link:
		r.link(n.Destination, n)
	case *ast.Image:
		// Telegram messages cannot inline images: link the alt text.
		r.link(n.Destination, n)
	case *ast.AutoLink:
		url := n.URL(r.src)
		if n.AutoLinkType == ast.AutoLinkEmail || !linkable(url) || r.inLink > 0 {
			r.esc(n.Label(r.src))
			return
		}
		r.str(`<a href="`)
		r.esc(url)
		r.str(`">`)
		r.esc(n.Label(r.src))
		r.str("</a>")
	case *ast.RawHTML:
		for i := range n.Segments.Len() {
			seg := n.Segments.At(i)
			r.esc(seg.Value(r.src))
		}
	case *east.TaskCheckBox:
		if n.IsChecked {
			r.str("☑ ")
		} else {
			r.str("☐ ")
		}
	default:
		r.inlines(n)
	}
}

// link writes a link to dest with n's children as its text; unusable
// destinations (relative, javascript:) keep the text only.
func (r *htmlRenderer) link(dest []byte, n ast.Node) {
	if !linkable(dest) || r.inLink > 0 {
		r.inlines(n)
		return
	}
	r.inLink++
	r.str(`<a href="`)
	r.esc(dest)
	r.str(`">`)
	if n.FirstChild() == nil {
		r.esc(dest)
	}
	r.inlines(n)
	r.str("</a>")
	r.inLink--
}

// linkable reports whether Telegram accepts dest in <a href>.
func linkable(dest []byte) bool {
	d := strings.ToLower(string(dest))
	return strings.HasPrefix(d, "https://") || strings.HasPrefix(d, "http://") ||
		strings.HasPrefix(d, "tg://") || strings.HasPrefix(d, "mailto:")
}

// escapeHTML escapes the characters Telegram HTML requires escaped.
func escapeHTML(s []byte) []byte {
	if !bytes.ContainsAny(s, `<>&"`) {
		return s
	}
	var b bytes.Buffer
	for _, c := range s {
		switch c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteByte(c)
		}
	}
	return b.Bytes()
}
