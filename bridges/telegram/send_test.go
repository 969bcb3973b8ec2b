package telegram

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
)

func TestSendEdit(t *testing.T) {
	h := newHarness(t, newFake(t, telegramtest.Options{NoLimits: true}), nil)
	ctx := context.Background()
	q := h.f.Queue(in{Chat: -100200, From: 9, Text: "question", Thread: 33, Topic: true})
	m := &bridges.Message{ChatID: "-100200", ThreadID: "33", ID: itoa(q)}

	s, err := h.a.Send(ctx, m, bridges.Out{Text: "**partial**", Part: 0})
	if err != nil {
		t.Fatalf("Send() = %v", err)
	}
	p := h.f.Calls("sendMessage")[0]
	if p.Get("parse_mode") != "" || p.Get("text") != "**partial**" || p.Get("message_thread_id") != "33" ||
		p.Get("reply_parameters") != `{"message_id":`+itoa(q)+`,"allow_sending_without_reply":true}` {
		t.Errorf("intermediate sendMessage params = %v", p)
	}
	if err := h.a.Edit(ctx, s, bridges.Out{Text: "**final**", Final: true}); err != nil {
		t.Fatalf("Edit() = %v", err)
	}
	if got := h.f.BotMessages(-100200)[0]; got.Raw != "<b>final</b>" || got.ParseMode != "HTML" {
		t.Errorf("after the final edit: %+v", got)
	}
	if err := h.a.Edit(ctx, s, bridges.Out{Text: "**final**", Final: true}); err != nil {
		t.Errorf("Edit() to unchanged text = %v, want nil (not modified is success)", err)
	}
	if _, err := h.a.Send(ctx, m, bridges.Out{Text: "more", Part: 1}); err != nil {
		t.Fatal(err)
	}
	if p := h.f.Calls("sendMessage")[1]; p.Get("reply_parameters") != "" || p.Get("message_thread_id") != "33" {
		t.Errorf("part 1 params = %v: want the topic and no reply", p)
	}

	tests := map[string]struct {
		method string
		fault  telegramtest.Fault
		check  func(t *testing.T, err error)
	}{
		"429 on edit": {"editMessageText", telegramtest.Fault{Code: 429, Description: "Too Many Requests: retry after 7", RetryAfter: 7}, func(t *testing.T, err error) {
			var rl *bridges.RateLimitError
			if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
				t.Errorf("err = %v, want *RateLimitError{RetryAfter: 7s}", err)
			}
		}},
		"429 on send": {"sendMessage", telegramtest.Fault{Code: 429, Description: "Too Many Requests: retry after 2", RetryAfter: 2}, func(t *testing.T, err error) {
			var rl *bridges.RateLimitError
			if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
				t.Errorf("err = %v, want *RateLimitError{RetryAfter: 2s}", err)
			}
		}},
		"entities rejected": {"sendMessage", telegramtest.Fault{Code: 400, Description: "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"}, func(t *testing.T, err error) {
			var fe *bridges.FormatError
			if !errors.As(err, &fe) {
				t.Errorf("err = %v, want *FormatError", err)
			}
		}},
		"other 400": {"editMessageText", telegramtest.Fault{Code: 400, Description: "Bad Request: message to edit not found"}, func(t *testing.T, err error) {
			var fe *bridges.FormatError
			var rl *bridges.RateLimitError
			if err == nil || errors.As(err, &fe) || errors.As(err, &rl) {
				t.Errorf("err = %v, want a plain error", err)
			}
		}},
		"migrated": {"sendMessage", telegramtest.Fault{Code: 400, Description: "Bad Request: group chat was upgraded to a supergroup chat", MigrateTo: -100999}, func(t *testing.T, err error) {
			if err == nil {
				t.Fatal("no error")
			}
			if h.a.originalChat(-100999) != -100200 {
				t.Errorf("migration from the error not recorded")
			}
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			h.f.FailWith(tt.method, 1, tt.fault)
			var err error
			if tt.method == "sendMessage" {
				_, err = h.a.Send(ctx, m, bridges.Out{Text: "x", Final: true})
			} else {
				err = h.a.Edit(ctx, s, bridges.Out{Text: "y" + name, Final: true})
			}
			tt.check(t, err)
		})
	}

	if err := h.a.Typing(ctx, m); err != nil {
		t.Fatal(err)
	}
	if p := h.f.Calls("sendChatAction")[0]; p.Get("action") != "typing" || p.Get("message_thread_id") != "33" {
		t.Errorf("sendChatAction params = %v", p)
	}
	if err := h.a.Delete(ctx, s); err != nil {
		t.Errorf("Delete() = %v", err)
	}
}

func TestLimits(t *testing.T) {
	h := newHarness(t, nil, func(c *Config, _ *bridges.Deps) { c.Name = "support" })
	h.a.timing = defaultTiming()
	priv := h.a.Limits(&bridges.Message{ChatID: "55", Private: true})
	grp := h.a.Limits(&bridges.Message{ChatID: "-1001"})
	if priv.MaxLen > 4096 || priv.Unit != bridges.UTF16 || !priv.StreamPlain || priv.TypingEvery != 4*time.Second {
		t.Errorf("Limits(private) = %+v", priv)
	}
	if priv.EditInterval < time.Second || grp.EditInterval < 3*time.Second {
		t.Errorf("edit intervals %s / %s, want ≥ 1s private, ≥ 3s group", priv.EditInterval, grp.EditInterval)
	}
	// Groups and the bot are rolling windows too: 20 in any minute, 30 in
	// any second (36 ms × 30 is just over one). A group may use the
	// window's whole allowance at once (burst 19: 20 requests), never more.
	want := []bridges.Budget{{Key: "telegram/support/chat/-1001", Every: 3 * time.Second, Burst: 19, Window: time.Minute, Max: 20},
		{Key: "telegram/support", Every: 36 * time.Millisecond, Window: 36 * time.Millisecond * 30 * 100 / 107, Max: 30}}
	if len(grp.Budgets) != 2 || grp.Budgets[0] != want[0] || grp.Budgets[1] != want[1] {
		t.Errorf("group budgets = %+v, want %+v", grp.Budgets, want)
	}
	// A private chat: 3 at once, then one per 1.07 s, inside Telegram's
	// 3 + 1/s with room for jitter (TestPrivateBudgetRoomForJitter).
	if b := priv.Budgets[0]; b.Key != "telegram/support/chat/55" || b.Every != 1070*time.Millisecond || b.Burst != 2 || b.Window != 0 {
		t.Errorf("private chat budget = %+v", b)
	}
	// Drafts: not the chat's message budget; their own, then a bot-wide
	// draft budget apart from the messages' one.
	ns, err := h.a.OpenStream(context.Background(), &bridges.Message{ChatID: "55", Private: true})
	if err != nil {
		t.Fatal(err)
	}
	if l := ns.Limits(); len(l.Budgets) != 2 || l.Budgets[0].Key != "telegram/support/drafts/55" ||
		l.Budgets[1] != (bridges.Budget{Key: "telegram/support/drafts", Every: 36 * time.Millisecond}) || l.EditInterval >= time.Second {
		t.Errorf("draft limits = %+v", l)
	}
	if _, err := h.a.OpenStream(context.Background(), &bridges.Message{ChatID: "-1001"}); !errors.Is(err, bridges.ErrNoStream) {
		t.Errorf("OpenStream(group) = %v, want ErrNoStream", err)
	}
}

func itoa(n int) string { return fmtInt(int64(n)) }

func TestRenderTooLongFallsBackToPlain(t *testing.T) {
	var md string
	for len(md) < 3900 {
		md += "|a|b|c|d|e|f|g|h|\n"
	}
	md = "|h|h|h|h|h|h|h|h|\n|-|-|-|-|-|-|-|-|\n" + md
	text, mode := render(bridges.Out{Text: md, Final: true})
	if mode != "" || text != md {
		t.Errorf("render(long table) mode %q: want the plain source when the rendering exceeds 4096", mode)
	}
	if got, _ := telegramtest.VisibleHTML(RenderHTML(md)); visibleLen(RenderHTML(md)) != len(got) {
		t.Errorf("visibleLen = %d, want %d", visibleLen(RenderHTML(md)), len(got))
	}
}

func TestReact(t *testing.T) {
	h := newHarness(t, nil, nil)
	m := &bridges.Message{ChatID: "-100200", ID: "17"}
	if err := h.a.React(context.Background(), m, "⚠️"); err != nil {
		t.Fatalf("React() = %v", err)
	}
	p := h.f.Calls("setMessageReaction")[0]
	if p.Get("chat_id") != "-100200" || p.Get("message_id") != "17" || p.Get("reaction") != `[{"emoji":"🤷","type":"emoji"}]` {
		t.Errorf("setMessageReaction params = %v", p)
	}
}
