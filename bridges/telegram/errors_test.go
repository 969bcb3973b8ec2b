package telegram

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
)

// TestErrorsKeepFacts: every error names the method, the HTTP status and
// what the server said, with the token redacted, also for answers
// without error_code or that are no Bot API JSON at all.
func TestErrorsKeepFacts(t *testing.T) {
	tests := map[string]struct {
		fault telegramtest.Fault
		want  []string
	}{
		"no error_code, no description": {telegramtest.Fault{Code: 500, Body: `{"ok":false}`},
			[]string{"sendMessage: http 500", `body "{\"ok\":false}"`}},
		"no error_code": {telegramtest.Fault{Code: 400, Body: `{"ok":false,"description":"Bad Request: chat not found"}`},
			[]string{"sendMessage: http 400: Bad Request: chat not found"}},
		"a proxy's page": {telegramtest.Fault{Code: 502, Body: "<html><h1>502 Bad Gateway</h1></html>"},
			[]string{"sendMessage: http 502", "502 Bad Gateway", "invalid character"}},
		"Bot API error": {telegramtest.Fault{Code: 403, Description: "Forbidden: bot was blocked by the user"},
			[]string{"sendMessage: http 403: Forbidden: bot was blocked by the user"}},
		"token in the description": {telegramtest.Fault{Code: 500, Description: "upstream failed for /bot" + testToken + "/sendMessage"},
			[]string{"sendMessage: http 500: upstream failed for /bot<token>/sendMessage"}},
	}
	h := newHarness(t, nil, nil)
	m := &bridges.Message{ChatID: "55", ID: "1", Private: true}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			h.f.FailWith("sendMessage", 1, tt.fault)
			_, err := h.a.Send(context.Background(), m, bridges.Out{Text: "x", Final: true})
			if err == nil {
				t.Fatal("Send() = nil error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Send() error = %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("Send() error reveals the token: %q", err)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Method != "sendMessage" || ae.Status != tt.fault.Code {
				t.Errorf("Send() error = %#v, want an *APIError of sendMessage with status %d", err, tt.fault.Code)
			}
		})
	}

	t.Run("setMyCommands in the log", func(t *testing.T) {
		h := newHarness(t, nil, nil)
		h.f.FailWith("setMyCommands", 1, telegramtest.Fault{Code: 500, Body: `{"ok":false}`})
		run(t, h.a, &bridgestest.Recorder{})
		bridgestest.WaitFor(t, "the warning", 5*time.Second, func() bool { return strings.Contains(h.logs.String(), "setMyCommands failed") })
		if logs := h.logs.String(); !strings.Contains(logs, `err="setMyCommands: http 500: body`) {
			t.Errorf("the log lacks the method, status and body:\n%s", logs)
		}
	})
	t.Run("an answer without error_code is still classified", func(t *testing.T) {
		h.f.FailWith("sendMessage", 1, telegramtest.Fault{Code: 429, Body: `{"ok":false,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}`})
		_, err := h.a.Send(context.Background(), m, bridges.Out{Text: "x", Final: true})
		var rl *bridges.RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
			t.Errorf("Send() error = %v, want a RateLimitError of 3s", err)
		}
	})
}
