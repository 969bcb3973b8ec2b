package bridges_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestLogLinesCarryContext: every log line about a message carries the
// platform, instance, conversation key and a request ID; message text
// appears only when content logging is on.
func TestLogLinesCarryContext(t *testing.T) {
	for _, content := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			var buf lockedBuffer
			log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			steps := []bridgestest.Step{
				{Event: backend.Delta{Text: "secret answer text"}},
				{Wait: time.Second, Err: &backend.Error{Kind: backend.KindUnavailable}},
			}
			r, _ := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore(), Logger: log, LogContent: content})
			h := r.Bind(bridgestest.NewPlatform(testLimits), bridges.Route{Backend: &bridgestest.Backend{Steps: steps}})
			_ = h.Handle(context.Background(), msg("c1", "private question text"))
			time.Sleep(time.Minute)
			synctest.Wait()
			lines := strings.Split(strings.TrimSpace(buf.b.String()), "\n")
			if len(lines) < 2 {
				t.Fatalf("log lines = %d", len(lines))
			}
			for _, l := range lines {
				var rec map[string]any
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatalf("bad log line %q", l)
				}
				for _, k := range []string{"platform", "instance", "key", "req"} {
					if _, ok := rec[k]; !ok {
						t.Errorf("log line lacks %q: %s", k, l)
					}
				}
			}
			all := buf.b.String()
			hasContent := strings.Contains(all, "private question text") || strings.Contains(all, "secret answer text")
			if hasContent != content {
				t.Errorf("content logging %v, but message text in logs = %v", content, hasContent)
			}
		})
	}
}
