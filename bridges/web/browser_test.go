package web

// Browser tests: the real page in headless Chromium (Debian package
// "chromium"), driven by chromedp. Without a browser they skip loudly,
// except under CI=true, where they fail.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// chromium starts a headless Chromium of the given window size and
// returns a chromedp context for one tab.
func chromium(t *testing.T, width, height int) context.Context {
	t.Helper()
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		p, lerr := exec.LookPath("chromium")
		if lerr != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true and no Chromium at %s or on PATH: the browser tests must run in CI (apt-get install -y chromium)", path)
			}
			t.Skipf("\n\n*** SKIPPING BROWSER TEST %s: no Chromium at %s or on PATH (apt-get install -y chromium); under CI=true this fails ***\n\n", t.Name(), path)
		}
		path = p
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	// Every action after the start is bounded, so a stuck browser fails
	// the test instead of hanging it.
	tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(tcancel)
	return tctx
}

// screenshot saves a PNG of the tab in $WEB_SCREENSHOT_DIR (or the test's
// temporary directory) and logs its path.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("WEB_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// poll waits for a JavaScript expression to be truthy and returns it.
func poll[T any](t *testing.T, ctx context.Context, what, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingInterval(15*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return v
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

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
	ctx := chromium(t, 1000, 900)
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(412, 860, chromedp.EmulateMobile), // a phone's screen
		chromedp.Navigate(h.srv.URL+"/web/test/"),
		chromedp.WaitVisible(chromedp.CSS("#q")),
	); err != nil {
		t.Fatal(err)
	}
	poll[bool](t, ctx, "the event stream", `document.getElementById('status').textContent === 'online'`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#q"), "When are you open?\r")); err != nil {
		t.Fatal(err)
	}
	mid := poll[bubble](t, ctx, "a partial answer", lastBot(`b.dataset.final === 'false' && b.dataset.text.length > 20`))
	screenshot(t, ctx, "web-chat-mid-answer")
	if len(mid.Text) >= len(answer) || !strings.HasPrefix(answer, mid.Text) {
		t.Errorf("partial answer %q, want a proper prefix of the answer", mid.Text)
	}
	final := poll[bubble](t, ctx, "the final answer", lastBot(`b.dataset.final === 'true'`))
	if final.Text != answer || final.Visible != answer {
		t.Errorf("final answer: text %q, shown %q; want exactly %q", final.Text, final.Visible, answer)
	}
	if final.ID != mid.ID || final.Bots != 1 {
		t.Errorf("final in bubble %s (of %d), partial in %s: want one bubble edited in place", final.ID, final.Bots, mid.ID)
	}
	if q := eval[string](t, ctx, `document.querySelector('.msg.user').textContent`); q != "When are you open?" {
		t.Errorf("question bubble = %q", q)
	}
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 412 {
		t.Errorf("page is %dpx wide on a 412px screen, want no horizontal scrolling", w)
	}
	if n := len(h.store.Records()); n != 1 {
		t.Fatalf("store has %d conversations, want 1", n)
	}

	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#q"), "/reset\r")); err != nil {
		t.Fatal(err)
	}
	poll[bubble](t, ctx, "the /reset confirmation", lastBot(`b.textContent === 'Started a new conversation.'`))
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
	ctx := chromium(t, 1000, 800)
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
	poll[bool](t, ctx, "the event stream", `document.getElementById('status').textContent === 'online'`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#q"), "show me\r")); err != nil {
		t.Fatal(err)
	}
	final := poll[bubble](t, ctx, "the final answer", lastBot(`b.dataset.final === 'true'`))
	if final.Text != answer {
		t.Errorf("final text %q, want %q", final.Text, answer)
	}
	time.Sleep(300 * time.Millisecond) // let an injected handler fire, were there one
	type dom struct {
		Pwned    any      `json:"pwned"`
		Elements int      `json:"elements"`
		Links    []string `json:"links"`
		Strong   string   `json:"strong"`
		Code     []string `json:"code"`
	}
	got := eval[dom](t, ctx, `(() => { const b = document.querySelector('.msg.bot:not(.typing)');
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
	visible := eval[string](t, ctx, `document.querySelector('.msg.bot:not(.typing)').textContent`)
	for _, s := range []string{"<script>window.pwned = 'script'</script>", `<img src=x onerror="window.pwned = 'img'">`, "click me", `<iframe src="javascript:parent.pwned='iframe'"></iframe>`} {
		if !strings.Contains(visible, s) {
			t.Errorf("shown text %q does not show %q as text", visible, s)
		}
	}
}
