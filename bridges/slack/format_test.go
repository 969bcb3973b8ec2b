package slack

import (
	"flag"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// Golden files: testdata/format/NAME.md renders to NAME.mrkdwn.
func TestFormatGolden(t *testing.T) {
	bridgestest.Golden(t, "testdata/format/*.md", ".mrkdwn", *update, "toMrkdwn", toMrkdwn, nil)
}

func TestFormat(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"bold":          {"**x**", "*x*"},
		"italic":        {"*x*", "_x_"},
		"strike":        {"~~x~~", "~x~"},
		"link":          {"[t](https://a.b/c)", "<https://a.b/c|t>"},
		"link amp":      {"[t](https://a.b/?x=1&y=2)", "<https://a.b/?x=1&amp;y=2|t>"},
		"escape":        {"a<b>&c", "a&lt;b&gt;&amp;c"},
		"mention text":  {"<@U1> <!here>", "&lt;@U1&gt; &lt;!here&gt;"},
		"unsafe link":   {"[t](!channel)", "t"},
		"heading":       {"## Head", "*Head*"},
		"bullet":        {"- a\n- b", "• a\n• b"},
		"code span":     {"`a<b`", "`a&lt;b`"},
		"code block":    {"```\nx && y\n```", "```\nx &amp;&amp; y\n```"},
		"plain newline": {"a\nb", "a\nb"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := toMrkdwn(tc.in); got != tc.want {
				t.Errorf("toMrkdwn(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzFormat: rendering never panics, and nothing the backend writes can
// become a Slack mention, a channel link or a special command.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{"", "**b**", "[x](https://a.b)", "<!channel>", "[x](<!here>)", "```\n<@U1>\n```",
		"- a\n  - b\n", "> q\n>\n> r", "![i](https://x/y.png)", "<https://a.b|<!here>>", "[a](https://x.y/|<!here>)",
		"*[<@U1>](mailto:<@U1>)*", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := toMrkdwn(in)
		for _, bad := range []string{"<!", "<@", "<#"} {
			if strings.Contains(out, bad) {
				t.Fatalf("toMrkdwn(%q) = %q contains %q", in, out, bad)
			}
		}
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("toMrkdwn(%q) = %q is not valid UTF-8", in, out)
		}
	})
}

func BenchmarkToMrkdwn(b *testing.B) {
	src, err := os.ReadFile("testdata/format/basics.md")
	if err != nil {
		b.Fatal(err)
	}
	in := strings.Repeat(string(src)+"\n\n", 10) // ≈ 3 KB, a full message
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		toMrkdwn(in)
	}
}
