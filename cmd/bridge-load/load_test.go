package main

import (
	"context"
	"io"
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
	dir := t.TempDir()
	bin := filepath.Join(dir, "bridge")
	build := exec.Command("go", "build", "-o", bin, "../bridge")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ../bridge: %v\n%s", err, out)
	}
	tests := map[string]Options{
		"private drafts":   {N: 20, Rounds: 2, AnswerChars: 200, ChunksPerSec: 80, Drafts: true},
		"private messages": {N: 20, Rounds: 1, AnswerChars: 300, ChunksPerSec: 80, EditInterval: 300 * time.Millisecond},
		"groups":           {N: 10, Rounds: 1, AnswerChars: 200, ChunksPerSec: 80, Group: true},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			o.Bridge, o.Timeout, o.Ramp, o.LogLevel = bin, 2*time.Minute, 200*time.Millisecond, "warn"
			o.Plot = filepath.Join(t.TempDir(), "plot.svg")
			res, err := run(context.Background(), &o, io.Discard)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			var b strings.Builder
			res.writeTable(&b)
			t.Log("\n" + b.String())
			if res.Answers.Exact != o.N*o.Rounds {
				t.Errorf("exact answers = %d, want %d: %v", res.Answers.Exact, o.N*o.Rounds, res.Answers.Wrong)
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
		})
	}
}
