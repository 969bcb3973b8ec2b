package main

import (
	"strings"
	"testing"
)

// TestConfigIssue16Keys: [bridge] language, thread_context and
// max_citations decode with their defaults, and bad values name the key.
func TestConfigIssue16Keys(t *testing.T) {
	src := `
[bridge]
language = "de"
[backends.a]
kind = "demo"
[backends.b]
kind = "demo"
max_citations = 3
[telegram.x]
token = "1:x"
backend = "a"
routes = [ { chats = [-1001, "-1002"], backend = "b" } ]
[telegram.y]
token = "2:y"
backend = "a"
thread_context = 0
`
	cfg, err := ParseConfig("x", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Language != "de" {
		t.Errorf("language = %q, want de", cfg.Language)
	}
	if a, b := cfg.Backends["a"].MaxCitations, cfg.Backends["b"].MaxCitations; a != 5 || b != 3 {
		t.Errorf("max_citations = %d, %d; want the default 5 and 3", a, b)
	}
	x, y := cfg.Instances[0], cfg.Instances[1]
	if x.ThreadContext != 20 || y.ThreadContext != 0 {
		t.Errorf("thread_context = %d, %d; want the default 20 and 0 (off)", x.ThreadContext, y.ThreadContext)
	}
	if len(x.Routes) != 1 || strings.Join(x.Routes[0].Chats, ",") != "-1001,-1002" || x.Routes[0].Backend != "b" {
		t.Errorf("routes = %+v", x.Routes)
	}

	cfg, err = ParseConfig("x", "[backends.a]\nkind = \"demo\"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Language != "auto" {
		t.Errorf("default language = %q, want auto", cfg.Language)
	}

	for src, want := range map[string]string{
		"[bridge]\nlanguage = \"klingon\"\n":                                                  "bridge.language",
		"[backends.a]\nkind = \"demo\"\nmax_citations = 0\n":                                  "backends.a.max_citations",
		"[backends.a]\nkind = \"demo\"\n[slack.s]\nbot_token = \"x\"\nthread_context = -1\n":  "slack.s.thread_context",
		"[backends.a]\nkind = \"demo\"\n[telegram.t]\ntoken = \"x\"\nthread_context = 1000\n": "telegram.t.thread_context",
	} {
		if _, err := ParseConfig("x", src, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseConfig(%q) = %v, want an error naming %q", src, err, want)
		}
	}
}
