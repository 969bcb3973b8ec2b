package bridges_test

import (
	"strings"
	"testing"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// TestHelpListsEveryCommand: /help is made from the command table the
// menus are made from, so it names every command with its description.
func TestHelpListsEveryCommand(t *testing.T) {
	for _, c := range bridges.Commands {
		if !strings.Contains(bridges.HelpText, "/"+c.Name) {
			t.Errorf("HelpText lacks /%s:\n%s", c.Name, bridges.HelpText)
		}
		if !strings.Contains(strings.ToLower(bridges.HelpText), strings.ToLower(c.Help)) {
			t.Errorf("HelpText lacks %q:\n%s", c.Help, bridges.HelpText)
		}
	}
	if !strings.Contains(bridges.HelpText, "/reset or /new — ") {
		t.Errorf("commands sharing a description should share a line:\n%s", bridges.HelpText)
	}
}
