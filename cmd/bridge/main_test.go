package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runMain runs the CLI in-process and returns its exit code and output.
func runMain(t *testing.T, stdin string, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		getenv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
	}
	code = run(args, e)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// repoFile returns the text of the file at path (slash-separated) from
// the repository's root.
func repoFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

var exampleEnv = map[string]string{
	"TELEGRAM_BOT_TOKEN": "123:secret-telegram",
	"DISCORD_BOT_TOKEN":  "secret-discord",
	"SLACK_BOT_TOKEN":    "xoxb-secret",
	"SLACK_APP_TOKEN":    "xapp-secret",
	"CHATOFAI_API_KEY":   "secret-chatofai",
	"NEWOAKS_API_KEY":    "secret-newoaks",
}

// uncommentExample switches on the example's commented-out tables: a line
// starting with "#" and no space is configuration.
func uncommentExample(src string) string {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		if len(l) > 1 && l[0] == '#' && l[1] != ' ' && l[1] != '#' && l[1] != '-' {
			lines[i] = l[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func TestConfigExampleLoads(t *testing.T) {
	// As it is, with no variable set: the web chat on the demo backend.
	cfg, err := LoadConfig("../../config.toml.example", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config.toml.example: %v", err)
	}
	if err := cfg.requireEnv(); err != nil {
		t.Errorf("config.toml.example needs a variable: %v", err)
	}
	if len(cfg.Instances) != 1 || cfg.Instances[0].Platform != "web" || cfg.Instances[0].Name != "local" || cfg.Instances[0].Backend != "demo" {
		t.Errorf("instances = %+v, want only [web.local] on the demo backend", cfg.Instances)
	}
	if len(cfg.Backends) != 1 || cfg.Backends["demo"] == nil {
		t.Errorf("backends = %v, want only demo switched on", sortedKeys(cfg.Backends))
	}
	// With every commented-out table switched on.
	lookup := func(k string) (string, bool) { v, ok := exampleEnv[k]; return v, ok }
	cfg, err = ParseConfig("config.toml.example (uncommented)", uncommentExample(repoFile(t, "config.toml.example")), lookup)
	if err != nil {
		t.Fatalf("config.toml.example with its tables switched on: %v", err)
	}
	if len(cfg.Instances) != 4 {
		t.Errorf("instances = %d, want telegram, discord, slack and web", len(cfg.Instances))
	}
	for _, k := range []string{"demo", "support", "chatofai", "newoaks", "local"} {
		if _, ok := cfg.Backends[k]; !ok {
			t.Errorf("backend %q missing", k)
		}
	}
	// Every kind in the registry is documented in the example.
	seen := map[string]bool{}
	for _, b := range cfg.Backends {
		seen[b.Kind] = true
	}
	for _, k := range backendKindNames() {
		if !seen[k] {
			t.Errorf("backend kind %q has no example in config.toml.example", k)
		}
	}
	if cfg.HTTPListen != "127.0.0.1:9090" || cfg.ShutdownGrace.String() != "20s" {
		t.Errorf("defaults: listen %q grace %s", cfg.HTTPListen, cfg.ShutdownGrace)
	}
	// Every adapter and backend can be constructed from it (no I/O).
	if _, err := buildBackends(cfg, newLogger(LogConfig{}, &bytes.Buffer{})); err != nil {
		t.Errorf("building backends: %v", err)
	}
}

// TestConfigDesignExample: DESIGN.md's contract example, as written there,
// is a valid configuration.
func TestConfigDesignExample(t *testing.T) {
	design, err := os.ReadFile("../../../shared/DESIGN.md")
	if err != nil {
		t.Skip("shared/DESIGN.md not beside the checkout")
	}
	s := string(design)
	i := strings.Index(s, "```toml\n")
	j := strings.Index(s[i+8:], "```")
	if i < 0 || j < 0 {
		t.Fatal("no toml block in DESIGN.md")
	}
	// The example's route names a backend "sales" it does not define, as
	// an excerpt; define it as a user would.
	src := s[i+8:i+8+j] + "\n[backends.sales]\nkind = \"demo\"\n"
	env := map[string]string{"SUPPORT_API_KEY": "k", "TELEGRAM_BOT_TOKEN": "1:t", "DISCORD_BOT_TOKEN": "d",
		"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_SIGNING_SECRET": "s"}
	cfg, err := ParseConfig("DESIGN.md", src, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("DESIGN.md's example: %v", err)
	}
	if len(cfg.Instances) != 4 || cfg.Backends["support"].Kind != "chatbotiq" { // telegram, discord, slack, web
		t.Errorf("DESIGN.md's example decoded to %+v", cfg)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig("x", "[backends.d]\nkind = \"demo\"\n", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPListen != defaultListen || cfg.Log.Format != "text" || cfg.Store.IdleReset != 0 {
		t.Errorf("defaults = %+v", cfg)
	}
	// The 60s idle_timeout default is the backend clients' (their
	// TestDefaults check it).
	if b := cfg.Backends["d"]; !b.Citations {
		t.Errorf("backend defaults = %+v", b)
	}
	cfg, _ = ParseConfig("x", "[http]\nlisten = \"\"\n", nil)
	if cfg.HTTPListen != "" {
		t.Errorf(`listen = "" gave %q, want off`, cfg.HTTPListen)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	const base = "[backends.support]\nkind = \"demo\"\n"
	tests := map[string]struct {
		src  string
		want []string // substrings of the message
	}{
		"unknown key": {
			src:  base + "\n[telegram.main]\ntoken = \"x\"\ntokn = \"y\"\n",
			want: []string{"telegram.main.tokn", "line 6", "unknown key"},
		},
		"unknown top-level key": {
			src:  "[store]\npaht = \"x.db\"\n",
			want: []string{"store.paht", "line 2"},
		},
		"wrong type": {
			src:  base + "[log]\ncontent = \"yes\"\n",
			want: []string{"line 4", "content"},
		},
		"bad duration": {
			src:  "[store]\nidle_reset = \"ten minutes\"\n",
			want: []string{"store.idle_reset", "line 2", "duration"},
		},
		"bad duration in an adapter": {
			src:  base + "[telegram.main]\ntoken = \"x\"\nedit_interval = \"fast\"\n",
			want: []string{"line 5", "edit_interval", "duration"},
		},
		"unknown backend kind": {
			src:  "[backends.x]\nkind = \"chatgpt\"\n",
			want: []string{"backends.x.kind", "line 2", "unknown backend kind \"chatgpt\""},
		},
		"missing kind": {
			src:  "[backends.x]\nbot_id = \"b\"\n",
			want: []string{"backends.x.kind", "missing"},
		},
		"instance names a missing backend": {
			src:  base + "[backends.other]\nkind = \"demo\"\n[discord.main]\ntoken = \"x\"\nbackend = \"suport\"\n",
			want: []string{"discord.main.backend", "line 7", "no backend named \"suport\""},
		},
		"bad respond": {
			src:  base + "[slack.main]\nbot_token = \"x\"\nrespond = \"always\"\n",
			want: []string{"slack.main.respond", "line 5"},
		},
		"key of another kind": {
			src:  "[backends.x]\nkind = \"demo\"\nsystem_prompt = \"hi\"\n",
			want: []string{"backends.x.system_prompt", "line 3", "unknown key"},
		},
		"missing env var": {
			src:  "[backends.x]\nkind = \"demo\"\n[telegram.main]\ntoken = \"${NOT_SET_TOKEN}\"\n",
			want: []string{"NOT_SET_TOKEN", "line 4", "not set"},
		},
		"syntax error": {
			src:  "[store\npath = 1\n",
			want: []string{"line 2", "table name"},
		},
		"bad log level": {
			src:  "[log]\nlevel = \"loud\"\n",
			want: []string{"log.level", "line 2"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, "config.toml", tt.src)
			code, _, stderr := runMain(t, "", nil, "run", "--config", p)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr = %q, want it to contain %q", stderr, w)
				}
			}
		})
	}
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"A": "va", "Q": `with "quote" \ back`, "N": "x'y"}
	get := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, want, err string
	}{
		{in: `k = "${A}"`, want: `k = "va"`},
		{in: `k = "pre-${A}-post" # ${UNSET} in a comment`, want: `k = "pre-va-post" # ${UNSET} in a comment`},
		{in: `k = 'lit ${A}'`, want: `k = 'lit va'`},
		{in: `k = "${Q}"`, want: `k = "with \"quote\" \\ back"`},
		{in: `k = '${N}'`, err: "N contains a quote"},
		{in: "a = 1\nk = \"${MISSING}\"", err: "line 2: environment variable MISSING is not set"},
		{in: `k = "$A and ${}"`, err: "not a valid"},
		{in: "k = \"\"\"\n${A}\n\"\"\"", want: "k = \"\"\"\nva\n\"\"\""},
	}
	for _, tt := range tests {
		got, unset, err := expandEnv(tt.in, get)
		if len(unset) > 0 {
			err = unset[0]
		}
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expandEnv(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expandEnv(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestUnsetVariablesWhereUsed: a variable that is not set is refused by
// the commands that use its table, naming it and its line; commands that
// do not use the table work.
func TestUnsetVariablesWhereUsed(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, "config.toml", `[store]
path = "`+filepath.ToSlash(filepath.Join(dir, "b.db"))+`"
[backends.demo]
kind = "demo"
pace = "-1ns"
[backends.paid]
kind = "openai"
bot_id = "m"
api_key = "${PAID_KEY}"
[telegram.main]
token = "${TG_TOKEN}"
backend = "demo"
`)
	// run uses telegram.main and its backend demo, not paid (issue 15:
	// variables are required only for the tables in use).
	if code, _, stderr := runMain(t, "", nil, "run", "--config", p); code != exitUsage || !strings.Contains(stderr, "line 11: ") ||
		!strings.Contains(stderr, "TG_TOKEN is not set") || strings.Contains(stderr, "PAID_KEY") {
		t.Errorf("run = %d, %q; want exit 2 naming TG_TOKEN and its line, and not PAID_KEY of an unused backend", code, stderr)
	}
	if code, out, stderr := runMain(t, "hi\n", nil, "console", "--config", p, "--backend", "demo"); code != exitOK || !strings.Contains(out, "turn 1") {
		t.Errorf("console --backend demo = %d, %q, %q; want it to work without the other tokens", code, out, stderr)
	}
	if code, _, stderr := runMain(t, "hi\n", nil, "console", "--config", p, "--backend", "paid"); code != exitUsage || !strings.Contains(stderr, "PAID_KEY") {
		t.Errorf("console --backend paid = %d, %q; want exit 2 naming PAID_KEY", code, stderr)
	}
	if code, out, _ := runMain(t, "", nil, "conversations", "list", "--config", p); code != exitOK || !strings.Contains(out, "console/demo/local") {
		t.Errorf("conversations list = %d, %q", code, out)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	src := "[backends.x]\nkind = \"demo\"\n[telegram.main]\ntoken = \"${TELEGRAM_BOT_TOKEN}\"\nbogus = 1\n"
	p := writeFile(t, "config.toml", src)
	_, stdout, stderr := runMain(t, "", exampleEnv, "run", "--config", p)
	if strings.Contains(stdout+stderr, "secret-telegram") {
		t.Errorf("output reveals the token: %s %s", stdout, stderr)
	}
}

func TestRunWithoutInstances(t *testing.T) {
	p := writeFile(t, "config.toml", "[backends.x]\nkind = \"demo\"\n")
	code, _, stderr := runMain(t, "", nil, "run", "--config", p)
	if code != exitUsage || !strings.Contains(stderr, "no platform instance configured") {
		t.Errorf("run = %d, %q; want exit 2 saying no instance is configured", code, stderr)
	}
}

func TestMissingConfigFile(t *testing.T) {
	code, _, stderr := runMain(t, "", nil, "run", "--config", filepath.Join(t.TempDir(), "nope.toml"))
	if code != exitUsage || !strings.Contains(stderr, "not found") {
		t.Errorf("run = %d, %q", code, stderr)
	}
}

func TestConfigPathResolution(t *testing.T) {
	e := &env{getenv: func(k string) (string, bool) { return "/etc/bridge.toml", k == "BRIDGE_CONFIG" }}
	if p, _ := configPath("", e); p != "/etc/bridge.toml" {
		t.Errorf("with $BRIDGE_CONFIG: %q", p)
	}
	if p, _ := configPath("x.toml", e); p != "x.toml" {
		t.Errorf("with --config: %q", p)
	}
	e.getenv = func(string) (string, bool) { return "", false }
	if p, explicit := configPath("", e); p != "config.toml" || explicit {
		t.Errorf("default: %q %v", p, explicit)
	}
}

func TestUsageAndHelp(t *testing.T) {
	if code, _, _ := runMain(t, "", nil); code != exitUsage {
		t.Errorf("no command: exit %d, want 2", code)
	}
	if code, _, _ := runMain(t, "", nil, "frobnicate"); code != exitUsage {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if code, _, _ := runMain(t, "", nil, "run", "--bogus"); code != exitUsage {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	for _, cmd := range []string{"run", "check", "console", "conversations", "healthcheck"} {
		code, stdout, stderr := runMain(t, "", nil, cmd, "--help")
		if code != exitOK || !strings.Contains(stdout, "Usage: chat-bridge "+cmd) || !strings.Contains(stdout, "-config") {
			t.Errorf("%s --help = %d, %q", cmd, code, stdout)
		}
		if n := strings.Count(stdout+stderr, "Usage:"); n != 1 {
			t.Errorf("%s --help printed its help %d times, want once: stdout %q, stderr %q", cmd, n, stdout, stderr)
		}
	}
	if _, _, stderr := runMain(t, "", nil, "run", "--bogus"); strings.Count(stderr, "Usage:") != 1 || !strings.Contains(stderr, "bogus") {
		t.Errorf("run --bogus: stderr %q, want the error and the help once", stderr)
	}
	code, stdout, _ := runMain(t, "", nil, "version")
	if code != exitOK || !strings.HasPrefix(stdout, "chat-bridge ") {
		t.Errorf("version = %d, %q", code, stdout)
	}
}

func TestConfigLimits(t *testing.T) {
	src := `
[limits]
user_rate = "10/min"
max_question_chars = 2000
error_policy = "silent"
[backends.x]
kind = "demo"
[telegram.a]
token = "1:x"
[telegram.b]
token = "2:y"
user_rate = "3/10s"
reset = "admins"
admins = ["42"]
max_question_chars = 0
`
	cfg, err := ParseConfig("x", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Instances[0].Policy, cfg.Instances[1].Policy
	if a.UserRate.N != 10 || a.MaxQuestionChars != 2000 || a.ErrorPolicy != "silent" || a.ResetAdminsOnly {
		t.Errorf("global limits = %+v", a)
	}
	if b.UserRate.N != 3 || b.UserRate.Per.String() != "10s" || !b.ResetAdminsOnly || b.Admins[0] != "42" || b.MaxQuestionChars != -1 || b.ErrorPolicy != "silent" {
		t.Errorf("instance override = %+v", b)
	}
	for src, want := range map[string]string{
		"[limits]\nuser_rate = \"lots\"\n":                                              "line 2",
		"[limits]\nerror_policy = \"loud\"\n":                                           "limits.error_policy",
		"[backends.x]\nkind = \"demo\"\n[slack.s]\nbot_token = \"x\"\nreset = \"me\"\n": "slack.s.reset",
	} {
		if _, err := ParseConfig("x", src, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseConfig(%q) = %v, want an error naming %q", src, err, want)
		}
	}
}

func TestMethodLabel(t *testing.T) {
	tests := map[string]string{
		"/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage": "sendMessage",
		"/tg/bot123:abc/editMessageText":                            "tg/editMessageText",
		"/api/chat.update":                                          "chat.update",
		"/api/v9/channels/1234/messages/5678":                       "channels/:id/messages/:id",
		"/api/v9/webhooks/111/aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpxd2VydHl1aW9w/messages/@original": "webhooks/:id/messages/@original",
	}
	for in, want := range tests {
		got := methodLabel(in)
		if got != want {
			t.Errorf("methodLabel(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, "AAHdq") || strings.Contains(got, "aW50") {
			t.Errorf("methodLabel(%q) leaks a token: %q", in, got)
		}
	}
}

// TestConfigErrorsAllAtOnce: every problem of a file is reported in one
// pass, each with the file and its line, in plain words.
func TestConfigErrorsAllAtOnce(t *testing.T) {
	src := "[backend.demo]\nkind = \"demo\"\n\n[telegram.main]\ntoken = \"x\"\nbackend = \"demo\"\nallowed_chats = 5\n\n[log]\nlevel = \"loud\"\n"
	p := writeFile(t, "config.toml", src)
	code, _, stderr := runMain(t, "", nil, "run", "--config", p)
	if code != exitUsage {
		t.Fatalf("exit code = %d, want %d; stderr: %s", code, exitUsage, stderr)
	}
	for _, want := range []string{
		p + " line 1: backend.demo: unknown table; did you mean [backends.demo]?",
		p + " line 6: telegram.main.backend: no backend named \"demo\" (no [backends.NAME] table is defined)",
		p + " line 10: log.level:",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr = %q, want it to contain %q", stderr, want)
		}
	}
	// A wrong type is named in plain words, with the key and the line.
	src = "[backends.demo]\nkind = \"demo\"\n[telegram.main]\ntoken = \"x\"\nallowed_chats = 5\n"
	p = writeFile(t, "config.toml", src)
	_, _, stderr = runMain(t, "", nil, "run", "--config", p)
	if want := p + " line 5: telegram.main.allowed_chats: wrong type: a whole number, want a list"; !strings.Contains(stderr, want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr, want)
	}
}

// TestRequireEnvOnlyTablesInUse: run needs the variables of the tables it
// uses, and names every missing one at once.
func TestRequireEnvOnlyTablesInUse(t *testing.T) {
	src := "[backends.used]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\napi_key = \"${USED_KEY}\"\nbot_id = \"m\"\n" +
		"[backends.unused]\nkind = \"openai\"\napi_key = \"${UNUSED_KEY}\"\nbot_id = \"m\"\n" +
		"[telegram.main]\ntoken = \"${TG_TOKEN}\"\nbackend = \"used\"\n"
	cfg, err := ParseConfig("c.toml", src, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.requireEnv()
	if err == nil {
		t.Fatal("requireEnv() = nil, want the unset variables")
	}
	msg := err.Error()
	for _, want := range []string{"USED_KEY is not set", "TG_TOKEN is not set"} {
		if !strings.Contains(msg, want) {
			t.Errorf("requireEnv() = %q, want it to name %s", msg, want)
		}
	}
	if strings.Contains(msg, "UNUSED_KEY") {
		t.Errorf("requireEnv() = %q names a backend no instance uses", msg)
	}
}

func TestStorePathRelativeToConfig(t *testing.T) {
	cfg, err := ParseConfig("/etc/chat-bridge/config.toml", "[store]\npath = \"data/bridge.db\"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/etc/chat-bridge/data/bridge.db"; cfg.Store.Path != want {
		t.Errorf("store path = %q, want %q", cfg.Store.Path, want)
	}
	cfg, _ = ParseConfig("/etc/chat-bridge/config.toml", "", nil)
	if want := "/etc/chat-bridge/bridge.db"; cfg.Store.Path != want {
		t.Errorf("default store path = %q, want %q", cfg.Store.Path, want)
	}
	cfg, _ = ParseConfig("/etc/chat-bridge/config.toml", "[store]\npath = \"/var/lib/cb.db\"\n", nil)
	if want := "/var/lib/cb.db"; cfg.Store.Path != want {
		t.Errorf("absolute store path = %q, want %q", cfg.Store.Path, want)
	}
}

func TestConversationsRefusesMissingStore(t *testing.T) {
	p := writeFile(t, "config.toml", "[store]\npath = \"nowhere/bridge.db\"\n")
	code, _, stderr := runMain(t, "", nil, "conversations", "list", "--config", p)
	if code != exitUsage || !strings.Contains(stderr, "no store at") {
		t.Errorf("conversations list on a missing store = %d, %q; want exit 2 and \"no store at\"", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(p), "nowhere")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("conversations list created the store's directory (stat err %v)", err)
	}
}

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	p := writeFile(t, "config.toml", "[http]\nlisten = \""+addr+"\"\n")
	if code, stdout, stderr := runMain(t, "", nil, "healthcheck", "--config", p); code != exitOK || !strings.Contains(stdout, "ok") {
		t.Errorf("healthcheck of a healthy bridge = %d, %q, %q; want 0", code, stdout, stderr)
	}
	srv.Close()
	if code, _, _ := runMain(t, "", nil, "healthcheck", "--config", p); code != exitRuntime {
		t.Errorf("healthcheck of a stopped bridge = %d, want %d", code, exitRuntime)
	}
	if got := probeAddr(":9090"); got != "127.0.0.1:9090" {
		t.Errorf("probeAddr(:9090) = %q", got)
	}
	if got := probeAddr("0.0.0.0:80"); got != "127.0.0.1:80" {
		t.Errorf("probeAddr(0.0.0.0:80) = %q", got)
	}
}

func TestJSONLogDurationsInSeconds(t *testing.T) {
	var b strings.Builder
	newLogger(LogConfig{Format: "json"}, &b).Info("answered", "took", 1500*time.Millisecond)
	if !strings.Contains(b.String(), `"took":1.5`) {
		t.Errorf("JSON log = %s, want took as 1.5 seconds", b.String())
	}
}

// TestConfigLanguageAndContext: [bridge] language, thread_context and
// max_citations decode with their defaults, and bad values name the key.
func TestConfigLanguageAndContext(t *testing.T) {
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
