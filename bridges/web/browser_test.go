package web

// Browser tests: the real page in headless Chromium (Debian package
// "chromium"), driven by chromedp. Without a browser they skip loudly,
// except under CI=true, where they fail.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/internal/browsertest"
)

type bubble struct {
	ID      string `json:"id"`
	Text    string `json:"text"`
	Visible string `json:"visible"`
	Final   bool   `json:"final"`
	Bots    int    `json:"bots"`
}

// lastBot returns the JS expression describing the last bot bubble when
// cond (on b, the bubble) holds, else null.
func lastBot(cond string) string {
	return `(() => { const all = document.querySelectorAll('.msg.bot:not(.typing)'); const b = all[all.length - 1];
		if (!b || !(` + cond + `)) return null;
		return {id: b.dataset.id, text: b.dataset.text, visible: b.textContent, final: b.dataset.final === 'true', bots: all.length}; })()`
}

func TestBrowserChat(t *testing.T) {
	const answer = "Our opening hours are 9 to 5 on weekdays and 10 to 2 on Saturdays. We are closed on Sundays and public holidays."
	h := newHarness(t, func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer(answer, 4, 50*time.Millisecond, "conv-browser")
	})
	ctx := browsertest.Chromium(t, 1000, 900)
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(412, 860, chromedp.EmulateMobile), // a phone's screen
		chromedp.Navigate(h.srv.URL+"/web/test/"),
		chromedp.WaitVisible(chromedp.CSS("#q")),
	); err != nil {
		t.Fatal(err)
	}
	browsertest.Poll[bool](t, ctx, "the event stream", `document.getElementById('status').textContent === 'online'`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#q"), "When are you open?"), chromedp.Click(chromedp.CSS("#send"))); err != nil {
		t.Fatal(err)
	}
	mid := browsertest.Poll[bubble](t, ctx, "a partial answer", lastBot(`b.dataset.final === 'false' && b.dataset.text.length > 20`))
	browsertest.Screenshot(t, ctx, "web-chat-mid-answer")
	if len(mid.Text) >= len(answer) || !strings.HasPrefix(answer, mid.Text) {
		t.Errorf("partial answer %q, want a proper prefix of the answer", mid.Text)
	}
	final := browsertest.Poll[bubble](t, ctx, "the final answer", lastBot(`b.dataset.final === 'true'`))
	if final.Text != answer || final.Visible != answer {
		t.Errorf("final answer: text %q, shown %q; want exactly %q", final.Text, final.Visible, answer)
	}
	if final.ID != mid.ID || final.Bots != 1 {
		t.Errorf("final in bubble %s (of %d), partial in %s: want one bubble edited in place", final.ID, final.Bots, mid.ID)
	}
	if q := browsertest.Eval[string](t, ctx, `document.querySelector('.msg.user').textContent`); q != "When are you open?" {
		t.Errorf("question bubble = %q", q)
	}
	if w := browsertest.Eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 412 {
		t.Errorf("page is %dpx wide on a 412px screen, want no horizontal scrolling", w)
	}
	id := browsertest.Eval[string](t, ctx, `localStorage.getItem('chat-bridge-web-test')`)
	if _, ok := h.store.Records()[Key("test", id).String()]; !ok || len(h.store.Records()) != 1 {
		t.Fatalf("store = %v, want one conversation, web/test/<the page's ID %q>", h.store.Records(), id)
	}

	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#q"), "/reset\r")); err != nil { // Enter sends
		t.Fatal(err)
	}
	browsertest.Poll[bubble](t, ctx, "the /reset confirmation", lastBot(`b.textContent === 'Started a new conversation.'`))
	if n := len(h.store.Records()); n != 0 {
		t.Errorf("after /reset the store has %d conversations, want 0", n)
	}
	if n := len(h.be.Requests()); n != 1 {
		t.Errorf("backend got %d requests, want 1 (/reset is the bridge's)", n)
	}
}

func TestBrowserRendersUntrustedTextAsText(t *testing.T) {
	const answer = "Try this: <script>window.pwned = 'script'</script> or <img src=x onerror=\"window.pwned = 'img'\">.\n\n" +
		"[click me](javascript:window.pwned='link') and **bold** with `<b>code</b>`, see [hours](https://example.com/hours \"t\")\n\n" +
		"- <iframe src=\"javascript:parent.pwned='iframe'\"></iframe>\n\n" +
		"```\n<svg onload=\"window.pwned='svg'\"></svg>\n```"
	h := newHarness(t, func(req backend.Request) []bridgestest.Step {
		return bridgestest.Answer(answer, 30, 10*time.Millisecond, "c")
	})
	ctx := browsertest.Chromium(t, 1000, 800)
	// Without the page's CSP, so that only the rendering stands between
	// the backend's text and the page.
	if _, err := chromedp.Call(ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(h.srv.URL+"/web/test/"),
		chromedp.WaitVisible(chromedp.CSS("#q")),
	); err != nil {
		t.Fatal(err)
	}
	browsertest.Poll[bool](t, ctx, "the event stream", `document.getElementById('status').textContent === 'online'`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#q"), "show me\r")); err != nil {
		t.Fatal(err)
	}
	final := browsertest.Poll[bubble](t, ctx, "the final answer", lastBot(`b.dataset.final === 'true'`))
	if final.Text != answer {
		t.Errorf("final text %q, want %q", final.Text, answer)
	}
	time.Sleep(300 * time.Millisecond) // let an injected handler fire, were there one
	browsertest.Screenshot(t, ctx, "web-chat-untrusted-text")
	type dom struct {
		Pwned    any      `json:"pwned"`
		Elements int      `json:"elements"`
		Links    []string `json:"links"`
		Strong   string   `json:"strong"`
		Code     []string `json:"code"`
	}
	got := browsertest.Eval[dom](t, ctx, `(() => { const b = document.querySelector('.msg.bot:not(.typing)');
		return {pwned: window.pwned === undefined ? null : window.pwned,
			elements: b.querySelectorAll('script, img, iframe, svg, b').length,
			links: [...b.querySelectorAll('a')].map(a => a.getAttribute('href') + ' ' + a.textContent),
			strong: (b.querySelector('strong') || {}).textContent,
			code: [...b.querySelectorAll('code')].map(c => c.textContent)}; })()`)
	if got.Pwned != nil {
		t.Errorf("window.pwned = %v: backend text ran as script", got.Pwned)
	}
	if got.Elements != 0 {
		t.Errorf("%d script/img/iframe/svg/b elements made from backend text, want 0", got.Elements)
	}
	if len(got.Links) != 1 || got.Links[0] != "https://example.com/hours hours" {
		t.Errorf("links = %q, want only the https one", got.Links)
	}
	if got.Strong != "bold" || len(got.Code) != 2 || got.Code[0] != "<b>code</b>" || !strings.Contains(got.Code[1], "<svg onload") {
		t.Errorf("Markdown rendered as strong %q, code %q", got.Strong, got.Code)
	}
	visible := browsertest.Eval[string](t, ctx, `document.querySelector('.msg.bot:not(.typing)').textContent`)
	for _, s := range []string{"<script>window.pwned = 'script'</script>", `<img src=x onerror="window.pwned = 'img'">`, "click me", `<iframe src="javascript:parent.pwned='iframe'"></iframe>`} {
		if !strings.Contains(visible, s) {
			t.Errorf("shown text %q does not show %q as text", visible, s)
		}
	}
}

// TestBrowserMarkdown renders Markdown with the page's own renderer and
// compares the DOM it builds, in a compact form: tag(children), a[href](..),
// " br " for a line break.
func TestBrowserMarkdown(t *testing.T) {
	h := newHarness(t, func(req backend.Request) []bridgestest.Step { return bridgestest.Answer("x", 1, 0, "c") })
	ctx := browsertest.Chromium(t, 800, 600)
	if err := chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+"/web/test/"), chromedp.WaitVisible(chromedp.CSS("#q"))); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, md, want string }{
		{"heading and text", "# Title\nText", "h2(Title)p(Text)"},
		{"line breaks kept", "a\nb", "p(a br b)"},
		{"paragraphs", "a\n\nb", "p(a)p(b)"},
		{"bullets", "- a\n- b **c**", "ul(li(p(a))li(p(b strong(c))))"},
		{"numbers", "1. one\n2. two", "ol(li(p(one))li(p(two)))"},
		{"code fence", "```go\nx := <b>\n```", "pre(code(x := <b>))"},
		{"unclosed fence while streaming", "```\npartial", "pre(code(partial))"},
		{"quote", "> quoted", "blockquote(p(quoted))"},
		{"inline code", "`a<b` c", "p(code(a<b) c)"},
		{"emphasis", "*em* and _em2_ and ~~del~~", "p(em(em) and em(em2) and del(del))"},
		{"snake_case is not emphasis", "snake_case_word", "p(snake_case_word)"},
		{"unclosed bold stays text", "**unclosed", "p(**unclosed)"},
		{"link", "[docs](https://example.com/d?q=1)", "p(a[https://example.com/d?q=1](docs))"},
		{"link with title", `[t](https://example.com/ "T")`, "p(a[https://example.com/](t))"},
		{"bare URL, trailing dot", "see https://example.com/a.", "p(see a[https://example.com/a](https://example.com/a).)"},
		{"javascript link is text", "[x](javascript:alert(1))", "p(x)"},
		{"data link is text", "[x](data:text/html,<script>alert(1)</script>)", "p(x)"},
		{"ftp link is text", "[x](ftp://h/f)", "p(x)"},
		{"html is text", "<b onclick=x>hi</b>", "p(<b onclick=x>hi</b>)"},
		{"escapes", `\*not em\*`, "p(*not em*)"},
		{"citations", "Answer\n\n**Sources:** [A](https://a.example/) · [B](https://b.example/x)", "p(Answer)p(strong(Sources:) a[https://a.example/](A) · a[https://b.example/x](B))"},
		{"rule", "a\n\n---\n\nb", "p(a)hrp(b)"},
		{"URL in a link label is not a link", "[see https://x.example/](https://y.example/)", "p(a[https://y.example/](see https://x.example/))"},
		{"URL in parentheses", "(https://example.com/a)", "p((a[https://example.com/a](https://example.com/a)))"},
		{"spaced asterisks", "a * b * c", "p(a * b * c)"},
		{"list item continued", "- a\n  more\n- b", "ul(li(p(a br more))li(p(b)))"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := browsertest.Eval[string](t, ctx, `(() => {
				const ser = (n) => {
					if (n.nodeType === 3) return n.textContent;
					const tag = n.tagName.toLowerCase();
					const inner = [...n.childNodes].map(ser).join('');
					if (tag === 'a') return 'a[' + n.getAttribute('href') + '](' + inner + ')';
					if (tag === 'br') return ' br ';
					if (tag === 'hr') return 'hr';
					return tag + '(' + inner + ')';
				};
				const d = document.createElement('div');
				window.chatBridge.renderMarkdown(`+jsString(tc.md)+`, d);
				return [...d.childNodes].map(ser).join('');
			})()`)
			if got != tc.want {
				t.Errorf("render(%q) = %s, want %s", tc.md, got, tc.want)
			}
		})
	}
	// Random mixes of Markdown's pieces (seeded): rendering never throws,
	// makes only the renderer's own elements, and links only http(s).
	t.Run("random inputs", func(t *testing.T) {
		bad := browsertest.Eval[[]string](t, ctx, `(() => {
			const pieces = ["*", "**", "_", "__", "~~", "`+"`"+`", "`+"```"+`", "[", "]", "(", ")", "\\", "\n", "\n\n", "# ", "- ", "1. ", "> ",
				"---", " ", "word", "https://e.example/p", "javascript:x", "<script>", "<img onerror=x>", "\"", "  ", "\t"];
			let seed = 42;
			const rnd = (n) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return (seed >>> 8) % n; };
			const allowed = new Set(["P", "BR", "STRONG", "EM", "DEL", "CODE", "PRE", "A", "UL", "OL", "LI", "BLOCKQUOTE", "H2", "H3", "H4", "H5", "H6", "HR"]);
			const bad = [], made = new Set();
			for (let i = 0; i < 400 && bad.length < 5; i++) {
				let s = "";
				for (let j = rnd(40); j >= 0; j--) s += pieces[rnd(pieces.length)];
				const d = document.createElement("div");
				try { window.chatBridge.renderMarkdown(s, d); } catch (e) { bad.push(JSON.stringify(s) + ": " + e); continue; }
				for (const n of d.querySelectorAll("*")) {
					made.add(n.tagName);
					if (!allowed.has(n.tagName)) bad.push(JSON.stringify(s) + ": made " + n.tagName);
					for (const a of n.attributes) if (!["href", "target", "rel", "start", "data-lang"].includes(a.name)) bad.push(JSON.stringify(s) + ": attribute " + a.name);
					if (n.tagName === "A" && !/^https?:/.test(n.getAttribute("href"))) bad.push(JSON.stringify(s) + ": link " + n.getAttribute("href"));
				}
			}
			for (const tag of ["P", "STRONG", "EM", "CODE", "PRE", "A", "UL", "OL", "BLOCKQUOTE", "H2"]) if (!made.has(tag)) bad.push("no input made a " + tag + " (the inputs are too tame)");
			return bad;
		})()`)
		for _, b := range bad {
			t.Error(b)
		}
	})
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestBrowserStatusLine: ChatbotIQ's status events show in the page as a
// muted line in the answer's place (the typing bubble), the second
// replacing the first, and the answer's text replaces it: the final page
// shows the answer alone. A status line is set as text, never markup.
func TestBrowserStatusLine(t *testing.T) {
	const answer = "To get started, open the Playground."
	iq := newIQServer(t, []string{"retrieving", "generating"}, []string{"To get started, ", "open the Playground."})
	h := newHarnessWith(t, iq.client(t))
	ctx := browsertest.Chromium(t, 1000, 900)
	if err := chromedp.Do(ctx, chromedp.Navigate(h.srv.URL+"/web/test/"), chromedp.WaitVisible(chromedp.CSS("#q"))); err != nil {
		t.Fatal(err)
	}
	browsertest.Poll[bool](t, ctx, "the event stream", `document.getElementById('status').textContent === 'online'`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#q"), "how do I embed?\r")); err != nil {
		t.Fatal(err)
	}
	type line struct {
		Text  string `json:"text"`
		Muted bool   `json:"muted"`
		Bots  int    `json:"bots"`
	}
	statusLine := func(want string) string {
		return `(() => { const s = document.getElementById('typing');
			if (!s || s.textContent !== ` + jsString(want) + ` || s.offsetParent === null) return null;
			return {text: s.textContent, muted: s.classList.contains('statusline') && getComputedStyle(s).fontStyle === 'italic',
				bots: document.querySelectorAll('.msg.bot:not(.typing)').length}; })()`
	}
	for i, want := range []string{"Searching the knowledge base…", "Writing the answer…"} {
		got := browsertest.Poll[line](t, ctx, "status line "+want, statusLine(want))
		if !got.Muted || got.Bots != 0 {
			t.Errorf("status line %+v, want it muted and no answer bubble yet", got)
		}
		if i == 0 {
			browsertest.Screenshot(t, ctx, "web-chat-status-line")
		}
		iq.proceed <- struct{}{}
	}
	final := browsertest.Poll[bubble](t, ctx, "the final answer", lastBot(`b.dataset.final === 'true'`))
	if final.Visible != answer || final.Bots != 1 {
		t.Errorf("final %+v, want the answer alone in one bubble", final)
	}
	if n := browsertest.Eval[int](t, ctx, `document.querySelectorAll('#typing').length`); n != 0 {
		t.Errorf("%d status bubbles left after the answer, want none", n)
	}
	if txt := browsertest.Eval[string](t, ctx, `document.getElementById('log').textContent`); strings.Contains(txt, "Searching") || strings.Contains(txt, "Writing") {
		t.Errorf("page text %q still shows a status line", txt)
	}

	// A status line is text: markup in it is shown, never run.
	const evil = `<img src=x onerror="window.pwned = 1">`
	id := browsertest.Eval[string](t, ctx, `localStorage.getItem('chat-bridge-web-test')`)
	m := &bridges.Message{ChatID: id, ID: "q"}
	if err := h.a.ShowStatus(context.Background(), m, evil); err != nil {
		t.Fatal(err)
	}
	browsertest.Poll[line](t, ctx, "the markup status line", statusLine(evil))
	if n := browsertest.Eval[int](t, ctx, `document.querySelectorAll('#log img').length + (window.pwned ? 100 : 0)`); n != 0 {
		t.Errorf("status markup became elements or ran (%d)", n)
	}
	h.a.Completed(m)
	browsertest.Poll[bool](t, ctx, "the status line gone", `document.getElementById('typing') === null`)
}
