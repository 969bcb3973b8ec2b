package bridgestest

import (
	"testing"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// AdmissionCase is one message as a user writes it, for the
// same-decision table every adapter and the console run: each adapter
// builds the platform's own event for it, translates it, and the core's
// Admit must decide the same on every platform.
type AdmissionCase struct {
	Name string
	// Private is a direct message with the bot.
	Private bool
	// Mention puts an @-mention of the bot before Text.
	Mention bool
	// ReplyToBot makes the message a reply to one of the bot's messages.
	ReplyToBot bool
	// Text is what the user typed (after the mention, if any).
	Text string
	// Addressed and Command are the decision every platform must reach
	// with respond = "mention" (Command "" = not a command).
	Addressed bool
	Command   string
}

// AdmissionCases is the same-decision table.
var AdmissionCases = []AdmissionCase{
	{Name: "private question", Private: true, Text: "what are your hours?", Addressed: true},
	{Name: "group chatter", Text: "hello all"},
	{Name: "group mention", Mention: true, Text: "what are your hours?", Addressed: true},
	{Name: "group reply to bot", ReplyToBot: true, Text: "and then?", Addressed: true},
	{Name: "group reset", Text: "/reset", Addressed: true, Command: bridges.CmdReset},
	{Name: "group ask", Text: "/ask what is X?", Addressed: true, Command: bridges.CmdAsk},
	{Name: "group path is no command", Text: "/usr/bin is slow"},
	{Name: "group unknown command", Text: "/shrug"},
	{Name: "mention then help", Mention: true, Text: "/help", Addressed: true, Command: bridges.CmdHelp},
	{Name: "private unknown command", Private: true, Text: "/frobnicate", Addressed: true, Command: "frobnicate"},
	{Name: "private start is help", Private: true, Text: "/start", Addressed: true, Command: bridges.CmdHelp},
	{Name: "private path", Private: true, Text: "/etc/hosts is missing", Addressed: true},
}

// CheckAdmission runs the table through translate, which builds the
// platform's event for a case and returns the adapter's Message (ok false
// when the adapter dropped it, which counts as not addressed), and checks
// the core's decision. skip lists case names the platform cannot express.
func CheckAdmission(t *testing.T, translate func(t *testing.T, c AdmissionCase) (bridges.Message, bool), skip ...string) {
	t.Helper()
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	for _, c := range AdmissionCases {
		t.Run(c.Name, func(t *testing.T) {
			if skipped[c.Name] {
				t.Skipf("%s cannot express this case", t.Name())
			}
			m, ok := translate(t, c)
			var got bridges.Admission
			if ok {
				got = bridges.Admit(&m, "mention", "chat")
			}
			if got.Addressed != c.Addressed || got.Command != c.Command {
				t.Errorf("Admit(%q) = addressed %v, command %q; want addressed %v, command %q",
					c.Text, got.Addressed, got.Command, c.Addressed, c.Command)
			}
		})
	}
}
