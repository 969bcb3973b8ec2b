package bridges_test

import (
	"testing"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// TestAdmitTable runs the same-decision table on messages whose facts are
// set directly, as an adapter reports them.
func TestAdmitTable(t *testing.T) {
	bridgestest.CheckAdmission(t, func(t *testing.T, c bridgestest.AdmissionCase) (bridges.Message, bool) {
		return bridges.Message{
			Key:  bridges.Key{Platform: "test", Instance: "main", Chat: "c1"},
			Text: c.Text, Private: c.Private, Mentioned: c.Mention, ReplyToBot: c.ReplyToBot, UserID: "u1",
		}, true
	})
}

func TestAdmitScopeAndRespond(t *testing.T) {
	m := bridges.Message{Key: bridges.Key{Platform: "telegram", Instance: "main", Chat: "-100", Thread: "7"}, UserID: "42", Text: "chatter"}
	if got := bridges.Admit(&m, "mention", "user"); got.Key.String() != "telegram/main/42" || !got.Ignore || got.Reason != "not_addressed" {
		t.Errorf("Admit(user scope, mention) = %+v, want key telegram/main/42, ignored as not_addressed", got)
	}
	if got := bridges.Admit(&m, "all", "chat"); got.Key.String() != "telegram/main/-100/7" || got.Ignore {
		t.Errorf("Admit(chat scope, all) = %+v, want key telegram/main/-100/7, answered", got)
	}
	m.Text = "  "
	if got := bridges.Admit(&m, "all", ""); !got.Ignore || got.Reason != "empty" {
		t.Errorf("Admit(blank) = %+v, want ignored as empty", got)
	}
	m = bridges.Message{Text: "/Reset@bot", Command: "Reset", Directed: true}
	if got := bridges.Admit(&m, "mention", ""); got.Command != "reset" || !got.Known || !got.Addressed {
		t.Errorf("Admit(directed /Reset) = %+v, want the known command reset, addressed", got)
	}
	m = bridges.Message{Text: "/weather", Command: "weather", Directed: true}
	if got := bridges.Admit(&m, "mention", ""); got.Command != "weather" || got.Known || !got.Addressed {
		t.Errorf("Admit(directed /weather) = %+v, want the unknown command weather, addressed", got)
	}
}
