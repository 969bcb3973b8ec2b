package slack

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
)

// TestErrorsClassified: the fake's real ok:false answers to
// chat.postMessage and chat.update, through slack-go, become the core's
// error kinds: lasting refusals *bridges.PermanentError with Slack's code
// in the message, passing ones plain errors.
func TestErrorsClassified(t *testing.T) {
	f, a := newFakeAdapter(t)
	ctx := context.Background()
	m := &bridges.Message{ChatID: "C1", ThreadID: "1700000000.000100"}
	posted, err := a.Send(ctx, m, bridges.Out{Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		fault  slacktest.Fault
		reason string // "" for a passing error
		rate   bool
		format bool
	}{
		{fault: slacktest.Fault{Error: "channel_not_found"}, reason: bridges.ReasonChatGone},
		{fault: slacktest.Fault{Error: "is_archived"}, reason: bridges.ReasonChatGone},
		{fault: slacktest.Fault{Error: "not_in_channel"}, reason: bridges.ReasonForbidden},
		{fault: slacktest.Fault{Error: "restricted_action"}, reason: bridges.ReasonForbidden},
		{fault: slacktest.Fault{Error: "account_inactive"}, reason: bridges.ReasonForbidden},
		{fault: slacktest.Fault{Error: "invalid_auth"}, reason: bridges.ReasonForbidden},
		{fault: slacktest.Fault{Error: "token_revoked"}, reason: bridges.ReasonForbidden},
		{fault: slacktest.Fault{Error: "missing_scope"}, reason: bridges.ReasonForbidden},
		{fault: slacktest.Fault{Error: "message_not_found"}, reason: bridges.ReasonMessageDeleted},
		{fault: slacktest.Fault{Error: "cant_update_message"}, reason: bridges.ReasonMessageDeleted},
		{fault: slacktest.Fault{Error: "msg_too_long"}},
		{fault: slacktest.Fault{Error: "internal_error"}},
		{fault: slacktest.Fault{Error: "fatal_error"}},
		{fault: slacktest.Fault{Error: "service_unavailable"}},
		{fault: slacktest.Fault{Status: http.StatusInternalServerError}},
		{fault: slacktest.Fault{Status: http.StatusBadGateway, Error: "bad_gateway"}},
		{fault: slacktest.Fault{Hangup: true}},
		{fault: slacktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2e9}, rate: true},
		{fault: slacktest.Fault{Error: "invalid_blocks"}, format: true},
	}
	for _, c := range cases {
		name := c.fault.Error
		if name == "" {
			name = http.StatusText(c.fault.Status)
		}
		if c.fault.Hangup {
			name = "hangup"
		}
		t.Run(name, func(t *testing.T) {
			for _, method := range []string{"chat.postMessage", "chat.update"} {
				f.Fail(method, 1, c.fault)
				if method == "chat.postMessage" {
					_, err = a.Send(ctx, m, bridges.Out{Text: "x"})
				} else {
					err = a.Edit(ctx, posted, bridges.Out{Text: "y"})
				}
				if err == nil {
					t.Fatalf("%s: no error", method)
				}
				if !strings.Contains(err.Error(), method) {
					t.Errorf("%s: error %q does not name the method", method, err)
				}
				if c.fault.Error != "" && c.fault.Status == 0 && !strings.Contains(err.Error(), c.fault.Error) {
					t.Errorf("%s: error %q lost Slack's code %s", method, err, c.fault.Error)
				}
				pe, isPerm := errors.AsType[*bridges.PermanentError](err)
				_, isRate := errors.AsType[*bridges.RateLimitError](err)
				_, isFormat := errors.AsType[*bridges.FormatError](err)
				switch {
				case c.reason != "" && (!isPerm || pe.Reason != c.reason):
					t.Errorf("%s: %v, want a PermanentError %s", method, err, c.reason)
				case c.reason == "" && isPerm:
					t.Errorf("%s: %v is permanent, want passing", method, err)
				case isRate != c.rate || isFormat != c.format:
					t.Errorf("%s: %v: rate limit %v, format %v; want %v, %v", method, err, isRate, isFormat, c.rate, c.format)
				}
			}
		})
	}
	// The last refusal is what /readyz shows.
	msg, at := a.LastError()
	if !strings.Contains(msg, "chat.update") || at.IsZero() {
		t.Errorf("LastError = %q, %v; want the last refused chat.update", msg, at)
	}
	if strings.Contains(msg, botToken) {
		t.Errorf("LastError shows the token: %q", msg)
	}
}

// A message a user deleted: chat.update answers message_not_found, which
// the core must see as message_deleted (it then posts the rest anew).
func TestEditDeletedMessage(t *testing.T) {
	f, a := newFakeAdapter(t)
	ctx := context.Background()
	s, err := a.Send(ctx, &bridges.Message{ChatID: "C1"}, bridges.Out{Text: "partial"})
	if err != nil {
		t.Fatal(err)
	}
	f.DeleteMessage("C1", s.ID)
	err = a.Edit(ctx, s, bridges.Out{Text: "final", Final: true})
	if pe, ok := errors.AsType[*bridges.PermanentError](err); !ok || pe.Reason != bridges.ReasonMessageDeleted {
		t.Errorf("Edit of a deleted message = %v, want PermanentError message_deleted", err)
	}
}

// TestRefCodec: every ref the adapter makes survives EncodeRef/DecodeRef
// unchanged; foreign values and garbage are refused.
func TestRefCodec(t *testing.T) {
	a := newTestAdapter(t, Config{}, &bridgestest.Recorder{}, nil)
	for _, v := range []any{
		ref{Team: "T1", User: "U1"},
		ref{Team: "T2", User: "U9", DM: true},
		ref{},
		streamed{},
	} {
		data, err := a.EncodeRef(v)
		if err != nil {
			t.Fatalf("EncodeRef(%#v): %v", v, err)
		}
		got, err := a.DecodeRef(data)
		if err != nil {
			t.Fatalf("DecodeRef(%s): %v", data, err)
		}
		if got != v {
			t.Errorf("round trip of %#v = %#v (%s)", v, got, data)
		}
	}
	if _, err := a.EncodeRef("a string"); err == nil {
		t.Error("EncodeRef of a foreign value: no error")
	}
	for _, bad := range []string{"", "{", `{"k":"other"}`, "null"} {
		if _, err := a.DecodeRef([]byte(bad)); err == nil {
			t.Errorf("DecodeRef(%q): no error", bad)
		}
	}
}

// A resumed answer edits a streamed message a killed run left open: the
// edit ends the stream and replaces its text with the final one.
func TestEditOpenStream(t *testing.T) {
	f, a := newFakeAdapter(t)
	ctx := context.Background()
	m := &bridges.Message{ChatID: "C1", ThreadID: "1700000000.000100", Ref: ref{Team: teamID, User: "U1"}}
	ns, err := a.OpenStream(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Update(ctx, "partial answ"); err != nil {
		t.Fatal(err)
	}
	s, ok := ns.Message()
	if !ok {
		t.Fatal("no streamed message")
	}
	// The restart: only the encoded ref is left.
	data, err := a.EncodeRef(s.Ref)
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.DecodeRef(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Edit(ctx, bridges.Sent{ChatID: s.ChatID, ID: s.ID, Ref: r}, bridges.Out{Text: "the whole answer", Final: true}); err != nil {
		t.Fatalf("Edit of an open stream: %v", err)
	}
	msgs := f.Messages("C1", "")
	if len(msgs) != 1 || msgs[0].Visible() != "the whole answer" || !msgs[0].Stopped {
		t.Errorf("messages = %+v, want the one streamed message, stopped, showing the final text", msgs)
	}
}

// Through the relay: a user deletes the bot's reply while it is being
// written; chat.update answers message_not_found, and the rest of the
// answer is posted as a new message, which then holds the whole text.
func TestSocketReplyDeletedMidAnswer(t *testing.T) {
	const ans = "A long answer that keeps growing for a while, chunk after chunk, until the end."
	e := start(t, envOpts{socket: true, backend: answer(ans, 6, 100*time.Millisecond, "c"),
		cfg: func(c *Config) { c.NoStreaming = true }})
	e.envelope("Ev1", 0, slacktest.MessageEvent("im", "D1", "U1", "question", "1700000800.000100", ""))
	bridgestest.WaitFor(t, "the first post", 10*time.Second, func() bool { return len(e.fake.Messages("D1", "")) == 1 })
	first := e.fake.Messages("D1", "")[0]
	if first.Visible() == ans {
		t.Fatalf("the answer was complete at once: %q", first.Visible())
	}
	e.fake.DeleteMessage("D1", first.TS)
	bridgestest.WaitFor(t, "the answer reposted", 15*time.Second, func() bool {
		v := e.fake.Visible("D1", "")
		return len(v) == 1 && v[0] == ans
	})
	if n := e.fake.Errors()["chat.update message_not_found"]; n == 0 {
		t.Errorf("no chat.update was refused with message_not_found: %v", e.fake.Errors())
	}
}
