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

// TestPermanentErrors: the lasting refusals of the Bot API (as the fake
// and Telegram word them) are *bridges.PermanentError with the core's
// reason and Telegram's description; passing ones are not.
func TestPermanentErrors(t *testing.T) {
	h := newHarness(t, nil, nil)
	ctx := context.Background()
	m := &bridges.Message{ChatID: "55", ID: "1", Private: true}
	tests := []struct {
		name   string
		fault  *telegramtest.Fault // nil: the fake's own answer
		edit   bool                // editMessageText instead of sendMessage
		reason string              // "" means passing
	}{
		{"blocked", &telegramtest.Fault{Code: 403, Description: "Forbidden: bot was blocked by the user"}, false, bridges.ReasonBlocked},
		{"deactivated", &telegramtest.Fault{Code: 403, Description: "Forbidden: user is deactivated"}, false, bridges.ReasonBlocked},
		{"kicked", &telegramtest.Fault{Code: 403, Description: "Forbidden: bot was kicked from the supergroup chat"}, false, bridges.ReasonForbidden},
		{"not a member", &telegramtest.Fault{Code: 403, Description: "Forbidden: bot is not a member of the supergroup chat"}, false, bridges.ReasonForbidden},
		{"no rights", &telegramtest.Fault{Code: 400, Description: "Bad Request: have no rights to send a message"}, false, bridges.ReasonForbidden},
		{"not enough rights", &telegramtest.Fault{Code: 400, Description: "Bad Request: not enough rights to send text messages to the chat"}, false, bridges.ReasonForbidden},
		{"topic closed", &telegramtest.Fault{Code: 400, Description: "Bad Request: TOPIC_CLOSED"}, false, bridges.ReasonForbidden},
		{"chat not found", &telegramtest.Fault{Code: 400, Description: "Bad Request: chat not found"}, false, bridges.ReasonChatGone},
		{"chat not found, no error_code", &telegramtest.Fault{Code: 400, Body: `{"ok":false,"description":"Bad Request: chat not found"}`}, false, bridges.ReasonChatGone},
		{"thread not found", &telegramtest.Fault{Code: 400, Description: "Bad Request: message thread not found"}, false, bridges.ReasonChatGone},
		{"edit of a deleted message (the fake's own)", nil, true, bridges.ReasonMessageDeleted},
		{"can't be edited", &telegramtest.Fault{Code: 400, Description: "Bad Request: message can't be edited"}, true, bridges.ReasonMessageDeleted},
		{"5xx", &telegramtest.Fault{Code: 502, Description: "Bad Gateway"}, false, ""},
		{"proxy page", &telegramtest.Fault{Code: 502, Body: "<html>502</html>"}, false, ""},
		{"other 400", &telegramtest.Fault{Code: 400, Description: "Bad Request: message is too long"}, false, ""},
		{"429", &telegramtest.Fault{Code: 429, Description: "Too Many Requests: retry after 1", RetryAfter: 1}, false, ""},
		{"migrated", &telegramtest.Fault{Code: 400, Description: "Bad Request: group chat was upgraded to a supergroup chat", MigrateTo: -1009}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "sendMessage"
			if tt.edit {
				method = "editMessageText"
			}
			if tt.fault != nil {
				h.f.FailWith(method, 1, *tt.fault)
			}
			var err error
			if tt.edit {
				err = h.a.Edit(ctx, bridges.Sent{ChatID: "55", ID: "99999"}, bridges.Out{Text: "x", Final: true})
			} else {
				_, err = h.a.Send(ctx, m, bridges.Out{Text: "x", Final: true})
			}
			if err == nil {
				t.Fatalf("%s = nil error", method)
			}
			var pe *bridges.PermanentError
			got := ""
			if errors.As(err, &pe) {
				got = pe.Reason
			}
			if got != tt.reason {
				t.Fatalf("%s error = %v: reason %q, want %q", method, err, got, tt.reason)
			}
			if pe != nil {
				var ae *APIError
				if !errors.As(pe.Err, &ae) || ae.Method != method || !strings.Contains(err.Error(), ae.Description) {
					t.Errorf("PermanentError.Err = %v, want the *APIError of %s with Telegram's description", pe.Err, method)
				}
			}
		})
	}
	t.Run("not modified stays success", func(t *testing.T) {
		s, err := h.a.Send(ctx, m, bridges.Out{Text: "same", Final: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.a.Edit(ctx, s, bridges.Out{Text: "same", Final: true}); err != nil {
			t.Errorf("Edit to the same text = %v, want nil", err)
		}
	})
	t.Run("a deleted part removed again", func(t *testing.T) {
		err := h.a.Delete(ctx, bridges.Sent{ChatID: "55", ID: "99998"})
		var pe *bridges.PermanentError
		if !errors.As(err, &pe) || pe.Reason != bridges.ReasonMessageDeleted {
			t.Errorf("Delete of a missing message = %v, want message_deleted", err)
		}
	})
}

// TestSendFollowsMigration: a send refused because the group became a
// supergroup is a passing error, and the retry goes to the supergroup.
func TestSendFollowsMigration(t *testing.T) {
	h := newHarness(t, nil, nil)
	ctx := context.Background()
	m := &bridges.Message{ChatID: "-4001", ID: "3"}
	h.f.FailWith("sendMessage", 1, telegramtest.Fault{Code: 400, Description: "Bad Request: group chat was upgraded to a supergroup chat", MigrateTo: -1004001})
	_, err := h.a.Send(ctx, m, bridges.Out{Text: "x", Final: true})
	var pe *bridges.PermanentError
	if err == nil || errors.As(err, &pe) {
		t.Fatalf("Send() = %v, want a passing error", err)
	}
	s, err := h.a.Send(ctx, m, bridges.Out{Text: "x", Final: true})
	if err != nil || s.ChatID != "-1004001" {
		t.Fatalf("the retry = %+v, %v; want it sent to the supergroup", s, err)
	}
	if got := h.f.BotMessages(-1004001); len(got) != 1 || got[0].ReplyTo != 0 {
		t.Errorf("supergroup messages = %+v, want one, not a reply to a message of the old group", got)
	}
}
