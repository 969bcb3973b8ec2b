package telegram

import (
	"context"
	"fmt"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
)

// TestAdmissionTable runs the core's same-decision table through the
// real poll loop: each case becomes the update a Telegram client makes
// (a private chat or a supergroup, a mention entity, a reply to one of
// the bot's messages, the bot_command entities Telegram marks), the fake
// delivers it by getUpdates, and the adapter's translation feeds
// bridges.Admit.
func TestAdmissionTable(t *testing.T) {
	const (
		private = 55
		group   = -100123
		marker  = 99 // a private chat whose message marks the end of a case
	)
	h := newHarness(t, nil, nil)
	rec := &bridgestest.Recorder{}
	run(t, h.a, rec)
	botMsg, err := h.a.Send(context.Background(), &bridges.Message{ChatID: fmtInt(group)}, bridges.Out{Text: "an earlier answer", Final: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	n := 0
	bridgestest.CheckAdmission(t, func(t *testing.T, c bridgestest.AdmissionCase) (bridges.Message, bool) {
		m := in{Chat: group, From: 7, Text: c.Text}
		if c.Private {
			m.Chat = private
		}
		if c.Mention {
			m.Text = "@" + h.f.Bot().UserName + " " + c.Text
		}
		m.Entities = clientEntities(m.Text)
		if c.ReplyToBot {
			fmt.Sscan(botMsg.ID, &m.ReplyTo)
		}
		h.f.Queue(m)
		n++
		end := fmt.Sprintf("end of case %d", n)
		h.f.Queue(in{Chat: marker, Text: end})
		bridgestest.WaitFor(t, "the end of the case", 5*time.Second, func() bool {
			got := rec.Got()
			return len(got) > 0 && got[len(got)-1].Text == end
		})
		got := rec.Got()[seen:]
		seen += len(got)
		switch len(got) {
		case 1:
			return bridges.Message{}, false // dropped by the adapter
		case 2:
			return got[0], true
		}
		t.Fatalf("delivered %+v, want the case and the marker", got)
		return bridges.Message{}, false
	})
}

// clientEntities returns the entities a Telegram client marks in text: a
// mention of a username at the start, and bot commands as Telegram finds
// them (tdlib find_bot_commands: "/" not after a word character, then
// [A-Za-z0-9_]{1,64}, an optional @username, and no word character, "/",
// "<" or ">" right after).
func clientEntities(text string) []telegramtest.Entity {
	u := utf16.Encode([]rune(text))
	word := func(c uint16) bool {
		return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	var out []telegramtest.Entity
	for i := 0; i < len(u); i++ {
		switch {
		case u[i] == '@' && i == 0:
			j := i + 1
			for j < len(u) && word(u[j]) {
				j++
			}
			if j-i > 1 {
				out = append(out, telegramtest.Entity{Type: "mention", Offset: i, Length: j - i})
			}
			i = j - 1
		case u[i] == '/' && (i == 0 || !word(u[i-1]) && u[i-1] != '/' && u[i-1] != '<' && u[i-1] != '>'):
			j := i + 1
			for j < len(u) && word(u[j]) {
				j++
			}
			if j == i+1 || j-i-1 > 64 {
				continue
			}
			if j < len(u) && u[j] == '@' {
				k := j + 1
				for k < len(u) && word(u[k]) {
					k++
				}
				j = k
			}
			if j < len(u) && (word(u[j]) || u[j] == '/' || u[j] == '<' || u[j] == '>') {
				i = j - 1
				continue
			}
			out = append(out, telegramtest.Entity{Type: "bot_command", Offset: i, Length: j - i})
			i = j - 1
		}
	}
	return out
}

func TestClientEntities(t *testing.T) {
	tests := map[string]string{
		"/reset":              "[{bot_command 0 6 <nil>}]",
		"/ask what is X?":     "[{bot_command 0 4 <nil>}]",
		"/usr/bin is slow":    "[]",
		"/etc/hosts is gone":  "[]",
		"@test_bot /help":     "[{mention 0 9 <nil>} {bot_command 10 5 <nil>}]",
		"/reset@test_bot now": "[{bot_command 0 15 <nil>}]",
		"a/b":                 "[]",
	}
	for text, want := range tests {
		got := clientEntities(text)
		if got == nil {
			got = []telegramtest.Entity{}
		}
		if s := fmt.Sprint(got); s != want {
			t.Errorf("clientEntities(%q) = %s, want %s", text, s, want)
		}
	}
}
