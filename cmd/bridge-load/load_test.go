package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the tool end to end at small N against the real bridge
// binary: every final text exact, no 429, latency samples taken.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bridge binary")
	}
	// BRIDGE_LOAD_BIN names a prebuilt bridge binary; by default the test
	// builds ../bridge.
	bin := os.Getenv("BRIDGE_LOAD_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "bridge")
		build := exec.Command("go", "build", "-o", bin, "../bridge")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build ../bridge: %v\n%s", err, out)
		}
	}
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
