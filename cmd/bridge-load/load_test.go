package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// bridgeBinary is the bridge binary the tests run: BRIDGE_LOAD_BIN, or
// ../bridge built once for the test binary.
func bridgeBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("BRIDGE_LOAD_BIN"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bridge-load-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "bridge")
		if out, err := exec.Command("go", "build", "-o", builtBin, "../bridge").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ../bridge: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// TestSmoke runs the tool end to end at small N against the real bridge
// binary: every final text exact, no 429, latency samples taken.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bridge binary")
	}
	bin := bridgeBinary(t)
	tests := map[string]Options{
		"private drafts":   {N: 20, Rounds: 2, AnswerChars: 200, ChunksPerSec: 80, Drafts: true},
		"private messages": {N: 20, Rounds: 1, AnswerChars: 300, ChunksPerSec: 80},
		"groups":           {N: 10, Rounds: 1, AnswerChars: 200, ChunksPerSec: 80, Group: true},
		// Several users at once in each group: one conversation per
		// group, its answers pipelined and posted in question order.
		"groups, 3 at once": {N: 3, PerGroup: 3, Rounds: 1, AnswerChars: 200, ChunksPerSec: 80, Group: true},
		// Slack's adapter books posts and updates on one workspace budget
		// of 1.25 s a request: keep these small.
		"slack DMs":                {Platform: "slack", N: 4, Rounds: 1, AnswerChars: 300, ChunksPerSec: 80},
		"slack channels streaming": {Platform: "slack", N: 2, Rounds: 1, AnswerChars: 300, ChunksPerSec: 80, Group: true, SlackStream: true},
		"discord DMs":              {Platform: "discord", N: 6, Rounds: 2, AnswerChars: 300, ChunksPerSec: 80},
		"discord guild":            {Platform: "discord", N: 3, Rounds: 1, AnswerChars: 300, ChunksPerSec: 80, Group: true},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			if o.Platform == "" {
				o.Platform = "telegram"
			}
			o.Bridge, o.Timeout, o.Ramp, o.LogLevel = bin, 2*time.Minute, 200*time.Millisecond, "warn"
			o.Plot = filepath.Join(t.TempDir(), "plot.svg")
			res, err := run(context.Background(), &o, io.Discard)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			var b strings.Builder
			res.writeTable(&b)
			t.Log("\n" + b.String())
			if want := o.askers() * o.Rounds; res.Answers.Exact != want || res.Answers.Asked != want {
				t.Errorf("exact answers = %d of %d asked, want %d: %v", res.Answers.Exact, res.Answers.Asked, want, res.Answers.Wrong)
			}
			if o.Group && (res.LastFinal <= 0 || res.FirstText.N != res.Answers.Asked) {
				t.Errorf("groups: last final %.0f ms, first texts %d of %d: want both measured", res.LastFinal, res.FirstText.N, res.Answers.Asked)
			}
			if res.Platform.TooMany != 0 {
				t.Errorf("429s = %d, want 0", res.Platform.TooMany)
			}
			if res.Latency.N == 0 {
				t.Errorf("no latency samples")
			}
			if res.Process.PeakRSSMB <= 0 || res.Process.MaxGoroutines <= 0 {
				t.Errorf("process figures missing: %+v", res.Process)
			}
			if o.Platform == "slack" && res.Platform.Acked != o.N*o.Rounds {
				t.Errorf("socket mode envelopes acknowledged = %d, want %d", res.Platform.Acked, o.N*o.Rounds)
			}
			if res.Platform.BadRequests != 0 {
				t.Errorf("bad requests = %d, want 0", res.Platform.BadRequests)
			}
		})
	}
}

func TestNewReply(t *testing.T) {
	r := newReply(3, 1, 500)
	if len(r.answer) < 500 || r.cum[len(r.cum)-1] != len(r.answer) {
		t.Fatalf("answer length %d, last cum %d", len(r.answer), r.cum[len(r.cum)-1])
	}
	var b strings.Builder
	for j := range r.cum {
		b.WriteString(r.chunk(j))
	}
	if b.String() != r.answer || strings.ContainsAny(r.answer, "<>&*_`[]#") || strings.HasPrefix(r.answer, " ") {
		t.Errorf("chunks do not make up a plain answer: %q", r.answer)
	}
	if avg := float64(len(r.answer)) / float64(len(r.cum)); avg < 3 || avg > 6 {
		t.Errorf("average chunk %.1f bytes, want about 4", avg)
	}
}

// TestDiscordLimits checks the Discord fake's rate limits over HTTP: 5
// message requests per channel per 5 s window, 50 per second globally,
// with Discord's 429 body and headers.
func TestDiscordLimits(t *testing.T) {
	tests := map[string]struct {
		convs, n, allowed int
		global            bool
	}{
		"5 per channel per 5 s": {convs: 1, n: 7, allowed: dcChanMax},
		"50 per second global":  {convs: 20, n: 60, allowed: dcGlobalMax, global: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newDiscordFake(tc.convs, false, 1, nil)
			got := 0
			for k := range tc.n {
				c := f.convs[k%tc.convs]
				req := httptest.NewRequest("POST", dcAPIPath+"channels/"+c.channel+"/messages", strings.NewReader(`{"content":"hello"}`))
				req.Header.Set("Authorization", "Bot "+dcToken)
				w := httptest.NewRecorder()
				f.ServeHTTP(w, req)
				switch w.Code {
				case 200:
					got++
					if w.Header().Get("X-RateLimit-Remaining") == "" {
						t.Errorf("request %d: no X-RateLimit-Remaining", k)
					}
				case 429:
					var body struct {
						Message    string  `json:"message"`
						RetryAfter float64 `json:"retry_after"`
						Global     bool    `json:"global"`
					}
					if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Message != "You are being rate limited." ||
						body.RetryAfter <= 0 || body.Global != tc.global || w.Header().Get("Retry-After") == "" {
						t.Errorf("request %d: 429 %s (Retry-After %q), want global=%t", k, w.Body, w.Header().Get("Retry-After"), tc.global)
					}
				default:
					t.Fatalf("request %d: status %d %s", k, w.Code, w.Body)
				}
			}
			if got != tc.allowed {
				t.Errorf("allowed %d of %d, want %d", got, tc.n, tc.allowed)
			}
		})
	}
}

// TestPerGroupFlags: --per-group needs Telegram groups; the questions
// asked at once are N × per-group, and drafts are off in groups.
func TestPerGroupFlags(t *testing.T) {
	o, err := parseFlags([]string{"-group", "-n", "10", "-per-group", "5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.askers() != 50 || o.Drafts {
		t.Errorf("askers = %d, drafts = %t; want 50 and false", o.askers(), o.Drafts)
	}
	d, err := parseFlags(nil, io.Discard)
	if err != nil || !d.Drafts || d.askers() != d.N || d.EditInterval != 0 {
		t.Errorf("defaults: drafts %t, askers %d of n %d, edit interval %s, err %v; want the config's defaults (drafts on, adapter pace)",
			d.Drafts, d.askers(), d.N, d.EditInterval, err)
	}
	for _, args := range [][]string{{"-per-group", "2"}, {"-platform", "slack", "-group", "-per-group", "2"}, {"-group", "-per-group", "0"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

// TestCluster runs the tool in cluster mode: three replicas on a
// redis-server the tool starts itself, Telegram through the round-robin
// webhook front. Every answer exact, no 429, and the report carries the
// Redis and per-replica figures. Without redis-server it skips loudly,
// or fails under CI (redistest's rule).
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bridge binary and redis-server")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		msg := "redis-server not found in PATH (Debian: apt-get install -y redis-server)"
		if redistest.Required() {
			t.Fatal(msg + " (required here: CI or CHATBRIDGE_REQUIRE_REDIS is set)")
		}
		t.Skip("SKIPPED: " + msg)
	}
	bin := bridgeBinary(t)
	o, err := parseFlags([]string{"-replicas", "3", "-store", "redis", "-n", "30", "-answer-chars", "300", "-chunks-per-sec", "80", "-ramp", "200ms", "-timeout", "2m"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.Bridge = bin
	res, err := run(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var b strings.Builder
	res.writeTable(&b)
	t.Log("\n" + b.String())
	if res.Answers.Exact != 30 || res.Answers.Asked != 30 {
		t.Errorf("exact answers = %d of %d asked, want 30: %v", res.Answers.Exact, res.Answers.Asked, res.Answers.Wrong)
	}
	if res.Platform.TooMany != 0 || res.Platform.BadRequests != 0 {
		t.Errorf("429s = %d, bad requests = %d, want 0 and 0", res.Platform.TooMany, res.Platform.BadRequests)
	}
	if res.Config.Receive != "webhook" || res.Platform.Methods["setWebhook"] != 1 || res.Platform.Methods["getUpdates"] != 0 {
		t.Errorf("receive %q, setWebhook %d, getUpdates %d: want the webhook set once (by the leader) and no polling",
			res.Config.Receive, res.Platform.Methods["setWebhook"], res.Platform.Methods["getUpdates"])
	}
	if len(res.Replicas) != 3 {
		t.Fatalf("replicas in the report = %+v, want 3", res.Replicas)
	}
	answered, hooks, cpu := 0.0, 0, 0.0
	for _, r := range res.Replicas {
		answered += r.Answered
		hooks += r.Webhooks
		cpu += r.CPUSeconds
		if r.Webhooks == 0 || r.PeakRSSMB <= 0 {
			t.Errorf("replica %s: %d webhook deliveries, peak RSS %.0f MB: want the front to spread the updates over every replica, and its memory measured", r.ID, r.Webhooks, r.PeakRSSMB)
		}
	}
	if answered != 30 || hooks != 30 {
		t.Errorf("answered %.0f and webhook deliveries %d over the replicas, want 30 each", answered, hooks)
	}
	if p := res.Process; p.CPUSeconds <= 0 || p.CPUPer1000 <= 0 || math.Abs(p.CPUSeconds-cpu) > 1e-9 {
		t.Errorf("CPU %.3f s (%.2f per 1000 answers), replicas' sum %.3f s: want the sum over the replicas", p.CPUSeconds, p.CPUPer1000, cpu)
	}
	rd := res.Redis
	if rd == nil || rd.Commands <= 0 || rd.PerAnswer <= 0 || len(rd.Top) == 0 || rd.CPUSeconds <= 0 {
		t.Fatalf("redis figures = %+v, want commands per answer, by command, and redis-server's CPU", rd)
	}
	var sum int64
	for _, c := range rd.Top {
		sum += c.Calls
	}
	if sum != rd.Commands || math.Abs(rd.PerAnswer-float64(rd.Commands)/30) > 1e-9 {
		t.Errorf("redis: %d commands, by command %d, %.2f per answer: want the parts to add up", rd.Commands, sum, rd.PerAnswer)
	}
	for _, want := range []string{"redis-server", "commands per answer", "replica r2"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the table has no %q", want)
		}
	}
}

// TestClusterFlags: more than one replica needs Redis, and the cluster
// flags need --store redis.
func TestClusterFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-replicas", "3"}, {"-replicas", "2", "-store", "bbolt"}, {"-store", "mysql"}, {"-replicas", "0", "-store", "redis"},
		{"-redis-url", "redis://127.0.0.1:1/0"}, {"-partitions", "8"}, {"-store", "redis", "-lease-ttl", "100ms"},
		{"-store", "redis", "-partitions", "101"},
	} {
		var stderr strings.Builder
		if _, err := parseFlags(args, &stderr); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		} else if !strings.Contains(stderr.String(), "bridge-load: -") {
			t.Errorf("parseFlags(%q): usage %q, want the rule said", args, stderr.String())
		}
	}
	o, err := parseFlags([]string{"-replicas", "3", "-store", "redis", "-platform", "discord"}, io.Discard)
	if err != nil || o.replicas() != 3 || !o.redis() || o.shards() != 3 || o.partitions() != defaultPartitions || o.webhook() {
		t.Errorf("3 replicas on Redis, Discord: %+v, %v; want 3 shards, 64 partitions, no webhook", o, err)
	}
	cfg := configText(o, t.TempDir(), "http://127.0.0.1:1", replicaConf{listen: "127.0.0.1:2", id: "r1", prefix: "load"})
	for _, want := range []string{`kind = "redis"`, `url = "${` + envRedisURL + `}"`, `replica_id = "r1"`, "shards = 3"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config has no %s:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "lease_ttl") || strings.Contains(cfg, "partitions") {
		t.Errorf("config sets lease_ttl or partitions without the flags (want the defaults):\n%s", cfg)
	}
}
