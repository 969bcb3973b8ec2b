package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/internal/browsertest"
	"github.com/chat-bridge/chat-bridge/internal/logtest"
	"github.com/chat-bridge/chat-bridge/store"
)

// testApp is the wired process, in-process, serving on a free port.
type testApp struct {
	a    *app
	db   *store.DB // the bbolt store (startApp)
	base string    // http://127.0.0.1:PORT
	logs *logtest.Buffer
	// stop ends serve (as SIGTERM does) and returns its error.
	stop func() error
}

func startApp(t *testing.T, extra string) *testApp { return startAppPace(t, extra, "-1ns") }

func startAppPace(t *testing.T, extra, pace string) *testApp {
	t.Helper()
	dir := t.TempDir()
	src := `[store]
path = "` + filepath.ToSlash(filepath.Join(dir, "bridge.db")) + `"
[http]
listen = "127.0.0.1:0"
` + extra + `
[backends.demo]
kind = "demo"
pace = "` + pace + `"
[web.local]
title = "Local"
`
	return startAppSrc(t, src)
}

// startAppSrc wires the config src over its store (bbolt or Redis) and
// serves it until the test ends; the store is closed then.
func startAppSrc(t *testing.T, src string) *testApp {
	t.Helper()
	cfg, err := ParseConfig("test.toml", src, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	db, err := openStoreErr(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	a, err := wire(cfg, slog.New(slog.NewTextHandler(logs, nil)), db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx) }()
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() { cancel(); serveErr = <-done })
		return serveErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve = %v", err)
		}
		db.Close()
	})
	select {
	case addr := <-a.addr:
		ta := &testApp{a: a, base: "http://" + addr, logs: logs, stop: stop}
		if b, ok := db.(bboltStore); ok {
			ta.db = b.DB
		}
		return ta
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10s")
	}
	return nil
}

func (ta *testApp) request(t *testing.T, method, path string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, ta.base+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if c := resp.Header.Get("Set-Cookie"); c != "" {
		b = append([]byte("Set-Cookie: "+c+"\n"), b...)
	}
	return resp.StatusCode, string(b)
}

func TestAdminRefusesWithoutToken(t *testing.T) {
	ta := startApp(t, `admin_token = "s3cret-admin-token"`)
	bearer := map[string]string{"Authorization": "Bearer s3cret-admin-token"}
	tests := map[string]struct {
		method, path string
		hdr          map[string]string
		body         string
		want         int
	}{
		"page, no token":            {"GET", "/admin/", nil, "", 401},
		"api, no token":             {"GET", "/admin/api/status", nil, "", 401},
		"reset, no token":           {"POST", "/admin/api/conversations/reset", map[string]string{"Content-Type": "application/json"}, `{"key":"web/local/x"}`, 401},
		"wrong bearer":              {"GET", "/admin/api/conversations", map[string]string{"Authorization": "Bearer nope"}, "", 403},
		"bearer, other scheme":      {"GET", "/admin/api/status", map[string]string{"Authorization": "Basic czNjcmV0"}, "", 403},
		"wrong ?token=":             {"GET", "/admin/?token=nope", nil, "", 403},
		"wrong cookie":              {"GET", "/admin/api/status", map[string]string{"Cookie": adminCookie + "=abc"}, "", 403},
		"token as cookie value":     {"GET", "/admin/api/status", map[string]string{"Cookie": adminCookie + "=s3cret-admin-token"}, "", 403},
		"right bearer":              {"GET", "/admin/api/status", bearer, "", 200},
		"right bearer, page":        {"GET", "/admin/", bearer, "", 200},
		"right ?token= sets cookie": {"GET", "/admin/?token=s3cret-admin-token", nil, "", 303},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, body := ta.request(t, tc.method, tc.path, tc.hdr, tc.body)
			if code != tc.want {
				t.Errorf("%s %s = %d %q, want %d", tc.method, tc.path, code, body, tc.want)
			}
			if strings.Contains(body, "s3cret-admin-token") {
				t.Errorf("response reveals the token: %q", body)
			}
		})
	}
	// The cookie from ?token= opens the page and the API, not a form post.
	_, body := ta.request(t, "GET", "/admin/?token=s3cret-admin-token", nil, "")
	cookie := strings.TrimPrefix(strings.SplitN(body, "\n", 2)[0], "Set-Cookie: ")
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") || !strings.Contains(cookie, "Path=/admin/") {
		t.Errorf("cookie = %q, want HttpOnly, SameSite=Strict, Path=/admin/", cookie)
	}
	jar := map[string]string{"Cookie": strings.SplitN(cookie, ";", 2)[0]}
	if code, _ := ta.request(t, "GET", "/admin/api/conversations", jar, ""); code != 200 {
		t.Errorf("API with the page's cookie = %d, want 200", code)
	}
	jar["Content-Type"] = "application/x-www-form-urlencoded"
	if code, _ := ta.request(t, "POST", "/admin/api/conversations/reset", jar, "key=web/local/x"); code != 403 {
		t.Errorf("form post with the cookie = %d, want 403", code)
	}
	if code, body := ta.request(t, "GET", "/", nil, ""); code != 303 || !strings.Contains(body, "/web/local/") {
		t.Errorf("GET / = %d %q, want a redirect to the web chat", code, body)
	}
	if strings.Contains(ta.logs.String(), "s3cret-admin-token") {
		t.Error("the log reveals the admin token")
	}
}

func TestAdminConversations(t *testing.T) {
	ta := startApp(t, `admin_token = "tok"`)
	bearer := map[string]string{"Authorization": "Bearer tok", "Content-Type": "application/json"}
	now := time.Now().UTC().Truncate(time.Second)
	for _, k := range []string{"web/local/aaa", "web/local/bbb", "telegram/main/-100"} {
		key, _ := store.ParseKey(k)
		if err := ta.db.Put(key, store.Record{Backend: "demo", ConversationID: "c-" + k, Created: now, LastUsed: now, Turns: 3}); err != nil {
			t.Fatal(err)
		}
	}
	code, body := ta.request(t, "GET", "/admin/api/conversations?prefix=web/", bearer, "")
	var list []adminConversation
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil {
		t.Fatalf("list = %d %q %v", code, body, err)
	}
	if len(list) != 2 || list[0].Key != "web/local/aaa" || list[1].Key != "web/local/bbb" || list[0].Turns != 3 || list[0].ConversationID != "c-web/local/aaa" || !list[0].LastUsed.Equal(now) {
		t.Errorf("list prefix web/ = %+v", list)
	}
	code, body = ta.request(t, "POST", "/admin/api/conversations/reset", bearer, `{"key":"web/local/aaa"}`)
	if code != 200 || !strings.Contains(body, `"found": true`) {
		t.Errorf("reset = %d %q", code, body)
	}
	if _, ok, _ := ta.db.Get(store.Key{Platform: "web", Instance: "local", Chat: "aaa"}); ok {
		t.Error("reset left the conversation in the store")
	}
	if code, body = ta.request(t, "POST", "/admin/api/conversations/reset", bearer, `{"key":"web/local/aaa"}`); code != 200 || !strings.Contains(body, `"found": false`) {
		t.Errorf("second reset = %d %q", code, body)
	}
	if code, _ = ta.request(t, "POST", "/admin/api/conversations/reset", bearer, `{"key":"nonsense"}`); code != 400 {
		t.Errorf("reset of a malformed key = %d, want 400", code)
	}
}

func TestAdminStatusShowsErrors(t *testing.T) {
	ta := startApp(t, `admin_token = "tok"`)
	// An error logged in an instance's scope, as the relay logs a
	// backend failure: the instance and its backend show it.
	ta.a.log.With("platform", "web", "instance", "local", "key", "web/local/x").Error("backend failed", "kind", "unavailable", "err", "backend: unavailable: 503")
	var st adminStatus
	adminGet(t, ta.base+"/admin/api/status", "tok", &st)
	if len(st.Instances) != 1 {
		t.Fatalf("instances = %+v", st.Instances)
	}
	in := st.Instances[0]
	if in.Name != "web/local" || in.Backend != "demo" || in.State != "connected" || in.URL != "/web/local/" {
		t.Errorf("instance = %+v", in)
	}
	if in.LastError != "backend failed: backend: unavailable: 503" || in.ErrorSince == nil || time.Since(*in.ErrorSince) > time.Minute {
		t.Errorf("instance error = %q at %v", in.LastError, in.ErrorSince)
	}
	if len(st.Backends) != 1 || st.Backends[0].Name != "demo" || st.Backends[0].Healthy || st.Backends[0].LastError != in.LastError {
		t.Errorf("backends = %+v, want demo failing with the same error", st.Backends)
	}
	if st.Cluster != nil {
		t.Errorf("cluster = %+v outside cluster mode, want none", st.Cluster)
	}
}

func TestAdminLastHour(t *testing.T) {
	ad := &admin{}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ad.now = func() time.Time { return now }
	counts := map[string]outcomes{}
	ad.countsFn = func() map[string]outcomes {
		out := map[string]outcomes{}
		for k, v := range counts {
			out[k] = v
		}
		return out
	}
	ad.takeSample() // 12:00, nothing yet
	for i := 1; i <= 90; i++ {
		now = now.Add(time.Minute)
		counts["web/local"] = outcomes{answered: float64(i * 2), failed: float64(i)}
		ad.takeSample()
	}
	// At 13:30: 180 answers and 90 failures since start, 120 and 60 in the
	// last hour (since 12:30).
	got := ad.lastHour()["web/local"]
	if got.answered != 120 || got.failed != 60 {
		t.Errorf("lastHour = %+v, want 120 answered and 60 failed", got)
	}
	if n := len(ad.samples); n > 62 {
		t.Errorf("%d samples kept, want about an hour's worth", n)
	}
}

func TestWebNeedsListen(t *testing.T) {
	_, err := ParseConfig("x.toml", "[http]\nlisten = \"\"\n[backends.d]\nkind = \"demo\"\n[web.local]\n", nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "http.listen" || ce.Line != 2 || !strings.Contains(ce.Msg, "[web.local]") {
		t.Errorf("web with listen off = %v, want a config error naming http.listen (line 2) and [web.local]", err)
	}
}

func TestMissingVariablesAllAtOnce(t *testing.T) {
	p := writeFile(t, "config.toml", "[backends.a]\nkind = \"openai\"\nbot_id = \"${KEY_B}\"\napi_key = \"${KEY_A}\"\n[backends.b]\nkind = \"openai\"\nbot_id = \"m\"\napi_key = \"${KEY_C}\"\n[web.x]\nbackend = \"a\"\n")
	code, _, stderr := runMain(t, "", nil, "run", "--config", p)
	if code != exitUsage || !strings.Contains(stderr, "line 4: environment variable KEY_A is not set") || !strings.Contains(stderr, "line 3: environment variable KEY_B is not set") {
		t.Errorf("run = %d, %q; want exit 2 naming both variables of the used backend at once", code, stderr)
	}
	if strings.Contains(stderr, "KEY_C") {
		t.Errorf("run = %q names KEY_C of backend b, which no instance uses", stderr)
	}
}

func TestAdminClientFindsProcess(t *testing.T) {
	dir := t.TempDir()
	storePath := filepath.Join(dir, "b.db")
	cfg := &Config{HTTPListen: "0.0.0.0:9999"}
	if _, err := newAdminClient(cfg, storePath); err == nil || !strings.Contains(err.Error(), "admin_token") {
		t.Errorf("no token anywhere: %v, want an error naming admin_token", err)
	}
	if err := writePrivate(adminFile(storePath), []byte(`{"url":"http://127.0.0.1:1234","token":"gen"}`)); err != nil {
		t.Fatal(err)
	}
	c, err := newAdminClient(cfg, storePath)
	if err != nil || c.base != "http://127.0.0.1:1234" || c.token != "gen" {
		t.Errorf("with the admin file: %+v, %v", c, err)
	}
	os.Remove(adminFile(storePath))
	cfg.AdminToken = backend.NewSecret("configured")
	c, err = newAdminClient(cfg, storePath)
	if err != nil || c.base != "http://127.0.0.1:9999" || c.token != "configured" {
		t.Errorf("from the config: %+v, %v", c, err)
	}
}

// TestOperatorPageInBrowser: the operator page, in headless Chromium,
// lists a conversation made over the web chat and resets it.
func TestOperatorPageInBrowser(t *testing.T) {
	ta := startApp(t, `admin_token = "browser-token"`)
	wc := newWebClient(t, ta.base+"/web/local/")
	wc.ask("hello operator")
	if a := wc.final(20 * time.Second); a == "" {
		t.Log(ta.logs.String())
	}
	entries, _ := ta.db.List()
	if len(entries) != 1 {
		t.Fatalf("store has %d conversations, want 1", len(entries))
	}
	key := entries[0].Key

	ctx := browsertest.Chromium(t, 1200, 800)
	if err := chromedp.Do(ctx, chromedp.Navigate(ta.base+"/admin/?token=browser-token")); err != nil {
		t.Fatal(err)
	}
	if u, _ := chromedp.Run(ctx, chromedp.Location()); strings.Contains(u, "token") {
		t.Errorf("after login the address still shows the token: %s", u)
	}
	row := `document.querySelector('#conversations tr[data-key="` + key + `"]')`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](row+` !== null && document.querySelector('#instances tr[data-name="web/local"] .answered')?.textContent === '1'`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the operator page does not list %s with one answer: %v", key, err)
	}
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#instances tr[data-name="web/local"] .state').textContent`))
	if state != "connected" {
		t.Errorf("web/local state = %q, want connected", state)
	}
	if hidden := browsertest.Eval[bool](t, ctx, `document.getElementById('cluster').hidden`); !hidden {
		t.Error("the Cluster section is shown outside cluster mode")
	}
	browsertest.Screenshot(t, ctx, "operator-page")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#conversations tr[data-key="`+key+`"] button.reset`))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](row+` === null && (document.getElementById('message')?.textContent || '').startsWith('Forgot conversation')`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the row did not go after Reset: %v", err)
	}
	if entries, _ := ta.db.List(); len(entries) != 0 {
		t.Errorf("after Reset the store has %+v", entries)
	}
}

// TestShutdownDeliversFinalToBrowser: on SIGTERM, the answer being
// streamed ends in the open page, and the event stream does not hold up
// the shutdown.
func TestShutdownDeliversFinalToBrowser(t *testing.T) {
	ta := startAppPace(t, "", "30ms")
	wc := newWebClient(t, ta.base+"/web/local/")
	wc.ask("stream slowly")
	for m := range wc.msgs {
		if m["role"] == "bot" {
			break // the answer is streaming
		}
	}
	stopped := make(chan error, 1)
	go func() { stopped <- ta.stop() }()
	final := wc.final(30 * time.Second)
	if !strings.Contains(final, "Demo backend") {
		t.Errorf("final text in the page = %q", final)
	}
	start := time.Now()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("serve = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve still running 15s after the stop: the event stream holds the shutdown")
	}
	// The HTTP server's own wait for busy connections is 5s.
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %s after the final text: the event stream held it", d)
	}
}
