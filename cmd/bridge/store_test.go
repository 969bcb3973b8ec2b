package main

import (
	"strings"
	"testing"

	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

func TestConfigStore(t *testing.T) {
	const base = "[backends.d]\nkind = \"demo\"\n"
	tests := map[string]struct {
		src      string
		kind     string
		url      string
		prefix   string
		wantErrs []string // substrings; nil means valid
	}{
		"default bbolt":      {src: "", kind: "bbolt"},
		"bbolt ignores url":  {src: "[store]\nkind = \"bbolt\"\nurl = \"redis://x:1/0\"\n", kind: "bbolt", url: "redis://x:1/0"},
		"redis":              {src: "[store]\nkind = \"redis\"\nurl = \"unix:///run/redis.sock\"\nprefix = \"prod\"\n", kind: "redis", url: "unix:///run/redis.sock", prefix: "prod"},
		"redis without url":  {src: "[store]\nkind = \"redis\"\n", wantErrs: []string{"store.url", "line 2", "missing"}},
		"unknown kind":       {src: "[store]\nkind = \"mongo\"\n", wantErrs: []string{"store.kind", "line 2", `"mongo"`}},
		"password from env":  {src: "[store]\nkind = \"redis\"\nurl = \"redis://:${REDIS_PASS}@h:6379/0\"\n", kind: "redis", url: "redis://:pw@h:6379/0"},
		"prefix key unknown": {src: "[store]\nprefx = \"p\"\n", wantErrs: []string{"store.prefx"}},
		"bad prefix":         {src: "[store]\nkind = \"redis\"\nurl = \"unix:///r.sock\"\nprefix = \"a:b\"\n", wantErrs: []string{"store.prefix", "line 4", "letters, digits"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := ParseConfig("x.toml", tt.src+base, func(k string) (string, bool) { return "pw", k == "REDIS_PASS" })
			if tt.wantErrs != nil {
				if err == nil {
					t.Fatalf("ParseConfig = nil, want an error with %q", tt.wantErrs)
				}
				for _, w := range tt.wantErrs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("ParseConfig = %q, want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig = %v", err)
			}
			if cfg.StoreKind != tt.kind || cfg.Redis.URL != tt.url || cfg.Redis.Prefix != tt.prefix {
				t.Errorf("store = %q %q %q, want %q %q %q", cfg.StoreKind, cfg.Redis.URL, cfg.Redis.Prefix, tt.kind, tt.url, tt.prefix)
			}
		})
	}
}

// TestConversationsOnRedis: console and `bridge conversations list|reset`
// work against a real redis-server through the configured store.
func TestConversationsOnRedis(t *testing.T) {
	url := redistest.Start(t)
	cfgPath := writeFile(t, "config.toml", `
[store]
kind = "redis"
url = "`+url+`"
prefix = "e2e"
[backends.demo]
kind = "demo"
pace = "-1ns"
`)
	code, out, stderr := runMain(t, "hello there\n", nil, "console", "--config", cfgPath, "--backend", "demo")
	if code != exitOK || !strings.Contains(out, "turn 1") {
		t.Fatalf("console = %d, %q, stderr %q", code, out, stderr)
	}
	if !strings.Contains(stderr, "appendonly") {
		t.Errorf("console on a server without AOF: stderr %q, want a warning naming appendonly", stderr)
	}
	checkKeptAndForgotten(t, cfgPath, "Redis")
	code, out, _ = runMain(t, "", nil, "conversations", "list", "--config", cfgPath)
	if code != exitOK || strings.Contains(out, "console/demo/local") {
		t.Errorf("conversations list after reset = %d, %q, want it gone", code, out)
	}
	code, out, _ = runMain(t, "", nil, "conversations", "reset", "console/demo/local", "--config", cfgPath)
	if code != exitOK || !strings.Contains(out, "no conversation console/demo/local") {
		t.Errorf("conversations reset again = %d, %q", code, out)
	}
}

// TestRedisStoreRefused: an evicting server is refused at start with the
// setting named, and a wrong password is refused without being shown.
func TestRedisStoreRefused(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{Args: []string{"--maxmemory-policy", "allkeys-lru"}})
	cfg := "[store]\nkind = \"redis\"\nurl = \"" + srv.URL + "\"\n[backends.demo]\nkind = \"demo\"\n"
	code, _, stderr := runMain(t, "hi\n", nil, "console", "--config", writeFile(t, "c.toml", cfg), "--backend", "demo")
	if code != exitRuntime || !strings.Contains(stderr, "maxmemory-policy") || !strings.Contains(stderr, "noeviction") {
		t.Errorf("console on an evicting server = %d, stderr %q, want 1 and the setting named", code, stderr)
	}

	const pass = "hunter2-secret"
	auth := redistest.StartServer(t, redistest.Options{Password: pass, TCP: true})
	wrong := strings.Replace(auth.URL, pass, "not-"+pass, 1)
	cfg = "[store]\nkind = \"redis\"\nurl = \"" + wrong + "\"\n[backends.demo]\nkind = \"demo\"\n"
	code, out, stderr := runMain(t, "", nil, "conversations", "list", "--config", writeFile(t, "c.toml", cfg))
	if code != exitRuntime {
		t.Errorf("conversations list with a wrong password = %d, want 1", code)
	}
	if strings.Contains(stderr+out, pass) {
		t.Errorf("output shows the password: stdout %q stderr %q", out, stderr)
	}
	if !strings.Contains(stderr, auth.Addr) {
		t.Errorf("stderr %q, want the server named", stderr)
	}
}
