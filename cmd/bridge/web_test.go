package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/internal/logtest"
)

// webClient is one browser of a web chat, over its HTTP API: a cookie jar
// and the event stream.
type webClient struct {
	t    *testing.T
	base string // ".../web/NAME/"
	http *http.Client
	msgs chan map[string]any
}

func newWebClient(t *testing.T, base string) *webClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &webClient{t: t, base: base, http: &http.Client{Jar: jar}, msgs: make(chan map[string]any, 1000)}
	resp, err := c.http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `src="static/app.js"`) {
		t.Fatalf("GET %s = %d %.200q", base, resp.StatusCode, page)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"api/events", nil)
	ev, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); ev.Body.Close() })
	go func() {
		sc := bufio.NewScanner(ev.Body)
		sc.Buffer(nil, 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				event = e
			} else if d, ok := strings.CutPrefix(line, "data: "); ok && event == "msg" {
				var m map[string]any
				if json.Unmarshal([]byte(d), &m) == nil {
					c.msgs <- m
				}
			}
		}
	}()
	return c
}

func (c *webClient) ask(text string) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"text": text})
	resp, err := c.http.Post(c.base+"api/send", "application/json", strings.NewReader(string(b)))
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		c.t.Fatalf("send %q = %d", text, resp.StatusCode)
	}
}

// final waits for the next final bot message and returns its text.
func (c *webClient) final(d time.Duration) string {
	c.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m := <-c.msgs:
			if m["role"] == "bot" && m["final"] == true {
				return m["text"].(string)
			}
		case <-timeout:
			c.t.Errorf("no final answer within %s", d)
			return ""
		}
	}
}

// startExample starts the real binary on config.toml.example copied
// unchanged into a new directory, with no variable of the example set,
// listening on a free port (the --listen flag). It returns the directory,
// the process and the URLs it printed.
func startExample(t *testing.T) (dir string, p *bridgeProc, chatURL, adminURL string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(repoFile(t, "config.toml.example")), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bridgeBinary(t), "run", "--config", "config.toml", "--listen", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	p = &bridgeProc{cmd: cmd, stderr: &logtest.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		for range lines {
		}
		if t.Failed() {
			t.Logf("bridge log:\n%s", p.stderr.String())
		}
	})
	chatRE := regexp.MustCompile(`^web chat local: (http://127\.0\.0\.1:\d+/web/local/)$`)
	adminRE := regexp.MustCompile(`^operator page: (http://127\.0\.0\.1:\d+/admin/\?token=[0-9a-f]{48})$`)
	timeout := time.After(60 * time.Second)
	for chatURL == "" || adminURL == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("bridge exited before printing its URLs; stderr:\n%s", p.stderr.String())
			}
			if m := chatRE.FindStringSubmatch(l); m != nil {
				chatURL = m[1]
			} else if m := adminRE.FindStringSubmatch(l); m != nil {
				adminURL = m[1]
			} else {
				t.Errorf("unexpected output line %q", l)
			}
		case <-timeout:
			t.Fatalf("no URLs printed within 60s; stderr:\n%s", p.stderr.String())
		}
	}
	return dir, p, chatURL, adminURL
}

// TestExampleRunsUnchanged is the README's first command: the example as it
// is, with no variable set, serves the web chat on the demo backend, and
// `bridge conversations list|reset` work while it runs.
func TestExampleRunsUnchanged(t *testing.T) {
	t.Parallel() // waits mostly; runs beside TestClusterAcceptance
	dir, p, chatURL, adminURL := startExample(t)
	c := newWebClient(t, chatURL)
	c.ask("hello from the test")
	answer := c.final(30 * time.Second)
	if !strings.Contains(answer, "**Demo backend** (turn 1") || !strings.Contains(answer, "You asked: _hello from the test_") {
		t.Errorf("answer = %q, want the demo backend's turn 1 for the question", answer)
	}
	c.ask("and again")
	if answer := c.final(30 * time.Second); !strings.Contains(answer, "(turn 2") {
		t.Errorf("second answer = %q, want turn 2 of the same conversation", answer)
	}

	// The operator API: refused without the token, open with it.
	base := strings.TrimSuffix(chatURL, "/web/local/")
	token := adminURL[strings.Index(adminURL, "token=")+len("token="):]
	if code, _ := scrape(t, base+"/admin/api/status"); code != http.StatusUnauthorized {
		t.Errorf("status without the token = %d, want 401", code)
	}
	var st adminStatus
	adminGet(t, base+"/admin/api/status", token, &st)
	if len(st.Instances) != 1 || st.Instances[0].Name != "web/local" || st.Instances[0].State != "connected" || st.Instances[0].Answered1h != 2 {
		t.Errorf("status instances = %+v, want web/local connected with 2 answers", st.Instances)
	}
	if fi, err := os.Stat(filepath.Join(dir, "bridge.db.admin")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin file: %v, %v; want it beside the store with mode 0600", fi, err)
	}

	// bridge conversations, while bridge run holds the store.
	conv := func(args ...string) (string, string, error) {
		cmd := exec.Command(bridgeBinary(t), append([]string{"conversations"}, append(args, "--config", "config.toml")...)...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
		var out, errb logtest.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	out, stderr, err := conv("list")
	key := regexp.MustCompile(`web/local/[0-9a-f]{32}`).FindString(out)
	if err != nil || key == "" || !strings.Contains(out, "demo") {
		t.Fatalf("conversations list = %v, %q, %q; want the web chat's conversation", err, out, stderr)
	}
	if out, stderr, err := conv("reset", key); err != nil || strings.TrimSpace(out) != "forgot conversation "+key {
		t.Errorf("conversations reset = %v, %q, %q", err, out, stderr)
	}
	if out, _, err := conv("reset", key); err != nil || strings.TrimSpace(out) != "no conversation "+key {
		t.Errorf("second reset = %v, %q; want no conversation", err, out)
	}
	if out, _, err := conv("list"); err != nil || strings.Contains(out, key) {
		t.Errorf("list after reset = %v, %q; want %s gone", err, out, key)
	}
	c.ask("after the reset")
	if answer := c.final(30 * time.Second); !strings.Contains(answer, "(turn 1") {
		t.Errorf("answer after reset = %q, want a new conversation (turn 1)", answer)
	}

	// A clean stop removes the admin file.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("bridge exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bridge did not stop within 30s of SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(dir, "bridge.db.admin")); !os.IsNotExist(err) {
		t.Errorf("admin file still there after a clean stop: %v", err)
	}
}

func TestExampleChecks(t *testing.T) {
	code, out, stderr := runMain(t, "", nil, "check", "--config", "../../config.toml.example")
	if code != exitOK || !strings.Contains(out, "backend demo (demo): ok") || !strings.Contains(out, "web.local: ok: served at /web/local/") {
		t.Errorf("check = %d, %q, %q; want the example to pass", code, out, stderr)
	}
}

func adminGet(t *testing.T, url, token string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
