package discord

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name, in, want string
		plain          bool
	}{
		{"markdown passes through", "**bold** _it_ `x`\n- item", "**bold** _it_ `x`\n- item", false},
		{"bare url", "see https://example.com/a.", "see <https://example.com/a>.", false},
		{"bare url in parentheses", "(see https://example.com/a)", "(see <https://example.com/a>)", false},
		{"wiki url keeps its parenthesis", "https://en.wikipedia.org/wiki/Go_(language) ok", "<https://en.wikipedia.org/wiki/Go_(language)> ok", false},
		{"already wrapped", "<https://example.com>", "<https://example.com>", false},
		{"markdown link", "[Docs](https://example.com/docs)", "[Docs](<https://example.com/docs>)", false},
		{"markdown link already wrapped", "[Docs](<https://example.com/docs>)", "[Docs](<https://example.com/docs>)", false},
		{"sources footer", "Answer.\n\n**Sources:** [A](https://a.example/x) · [B](https://b.example/y)",
			"Answer.\n\n**Sources:** [A](<https://a.example/x>) · [B](<https://b.example/y>)", false},
		{"numbered sources, one without a URL", "Answer.\n\nSources:\n1. [Pricing](https://a.example/p)\n2. Internal handbook\n3. https://b.example/q",
			"Answer.\n\nSources:\n1. [Pricing](<https://a.example/p>)\n2. Internal handbook\n3. <https://b.example/q>", false},
		{"inline code untouched", "run `curl https://example.com` now", "run `curl https://example.com` now", false},
		{"fenced code untouched", "```\nhttps://example.com\n```\nhttps://x.example", "```\nhttps://example.com\n```\n<https://x.example>", false},
		{"unclosed fence untouched", "```\nhttps://example.com", "```\nhttps://example.com", false},
		{"lone backtick", "a ` b https://x.example", "a ` b <https://x.example>", false},
		{"plain unchanged", "see https://example.com", "see https://example.com", true},
		{"mentions untouched (allowed_mentions stops pings)", "@everyone <@123>", "@everyone <@123>", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(tt.in, tt.plain); got != tt.want {
				t.Errorf("render(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRenderNeverOverflows(t *testing.T) {
	in := strings.Repeat("https://e.x ", 166) // 1992 runes, 332 brackets to add
	if n := utf8.RuneCountInString(in); n > maxLen {
		t.Fatalf("test text is %d runes", n)
	}
	if got := render(in, false); got != in {
		t.Errorf("render of a text that would overflow changed it to %d runes", utf8.RuneCountInString(got))
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"see https://example.com.", "[a](https://b.c)", "```https://x```", "`https://x`",
		"<https://x>", "(https://x))", "https://", "[x](<https://y>)", "https://a.b/c_(d)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		got := render(s, false)
		strip := func(s string) string { return strings.NewReplacer("<", "", ">", "").Replace(s) }
		if strip(got) != strip(s) {
			t.Errorf("render(%q) = %q: changed more than angle brackets", s, got)
		}
		if utf8.RuneCountInString(s) <= maxLen && utf8.RuneCountInString(got) > maxLen {
			t.Errorf("render(%q) has %d runes, over %d", s, utf8.RuneCountInString(got), maxLen)
		}
	})
}
