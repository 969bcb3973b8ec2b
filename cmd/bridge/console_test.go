package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestConsoleDemoEndToEnd runs the real wiring in-process: console adapter,
// demo backend, relay and a bbolt store in a temporary directory. A second
// run continues the conversation from the store.
func TestConsoleDemoEndToEnd(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeFile(t, "config.toml", `
[store]
path = "`+filepath.ToSlash(filepath.Join(dir, "bridge.db"))+`"
[backends.demo]
kind = "demo"
pace = "-1ns"
`)
	code, out, stderr := runMain(t, "hello there\n", nil, "console", "--config", cfgPath, "--backend", "demo")
	if code != exitOK {
		t.Fatalf("console = %d, stderr %q", code, stderr)
	}
	if !strings.Contains(out, "turn 1") || !strings.Contains(out, "You asked: _hello there_") {
		t.Errorf("first run output = %q", out)
	}
	if !strings.HasSuffix(out, "dashboard\n\n") || strings.Count(out, "Demo backend") != 1 {
		t.Errorf("non-terminal output = %q, want the final answer once, then a blank line", out)
	}

	checkKeptAndForgotten(t, cfgPath, "the store")
	code, out, _ = runMain(t, "hi\n/reset\nhi\n", nil, "console", "--config", cfgPath, "--backend", "demo")
	if code != exitOK || strings.Count(out, "turn 1") != 2 || !strings.Contains(out, "Started a new conversation.") {
		t.Errorf("after reset = %d, %q, want turn 1, a reset confirmation, turn 1", code, out)
	}
	if code, _, _ := runMain(t, "", nil, "conversations", "reset", "bad", "--config", cfgPath); code != exitUsage {
		t.Errorf("reset of a malformed key = %d, want 2", code)
	}
}

// checkKeptAndForgotten runs the console over cfgPath's store (in where)
// a second time and checks the conversation continued (turn 2), is
// listed by `conversations list` and forgotten by `conversations reset`.
func checkKeptAndForgotten(t *testing.T, cfgPath, where string) {
	t.Helper()
	code, out, _ := runMain(t, "and again\n", nil, "console", "--config", cfgPath, "--backend", "demo")
	if code != exitOK || !strings.Contains(out, "turn 2") {
		t.Errorf("second run = %d, %q, want turn 2 (conversation kept in %s)", code, out, where)
	}
	code, out, _ = runMain(t, "", nil, "conversations", "list", "--config", cfgPath)
	if code != exitOK || !strings.Contains(out, "console/demo/local") || !strings.Contains(out, "demo-") {
		t.Errorf("conversations list = %d, %q", code, out)
	}
	code, out, _ = runMain(t, "", nil, "conversations", "reset", "console/demo/local", "--config", cfgPath)
	if code != exitOK || !strings.Contains(out, "forgot conversation console/demo/local") {
		t.Errorf("conversations reset = %d, %q", code, out)
	}
}

// TestConsoleDemoWithoutConfig is the README's first command: no config
// file at all, store in the user's cache directory.
func TestConsoleDemoWithoutConfig(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)
	t.Chdir(t.TempDir())
	code, out, stderr := runMain(t, "hi\n", nil, "console", "--backend", "demo")
	if code != exitOK || !strings.Contains(out, "turn 1") {
		t.Fatalf("console = %d, %q, %q", code, out, stderr)
	}
	code, out, _ = runMain(t, "hi\n", nil, "console", "--backend", "demo")
	if code != exitOK || !strings.Contains(out, "turn 2") {
		t.Errorf("second run = %d, %q, want turn 2", code, out)
	}
}

func TestConsoleTerminalRedraws(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeFile(t, "config.toml", "[store]\npath = \""+filepath.ToSlash(filepath.Join(dir, "b.db"))+"\"\n[backends.demo]\nkind = \"demo\"\npace = \"2ms\"\n")
	var e = &env{
		stdin: strings.NewReader("hi\n"), getenv: func(string) (string, bool) { return "", false },
		stdoutTerminal: true, termWidth: 80,
	}
	var out strings.Builder
	e.stdout, e.stderr = &out, &out
	if code := run([]string{"console", "--config", cfgPath, "--backend", "demo"}, e); code != exitOK {
		t.Fatalf("console = %d: %s", code, out.String())
	}
	s := out.String()
	if strings.Count(s, "\x1b[J") < 3 {
		t.Errorf("terminal output has %d redraws, want the answer redrawn in place as it streams", strings.Count(s, "\x1b[J"))
	}
	if !strings.Contains(s, "> ") || !strings.Contains(s, "dashboard") {
		t.Errorf("terminal output = %q", s)
	}
}
