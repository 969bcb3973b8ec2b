package discord

import (
	"strings"

	"github.com/bwmarrin/discordgo"
)

// slashCommands are the commands registered at start-up. The core handles
// them; the adapter only turns an invocation into "/name [question]".
func slashCommands() []*discordgo.ApplicationCommand {
	return []*discordgo.ApplicationCommand{
		{
			Name:        "ask",
			Description: "Ask the bot a question",
			Options: []*discordgo.ApplicationCommandOption{{
				Type:        discordgo.ApplicationCommandOptionString,
				Name:        "question",
				Description: "Your question",
				Required:    true,
			}},
		},
		{Name: "reset", Description: "Start a fresh conversation in this channel"},
		{Name: "new", Description: "Start a fresh conversation in this channel"},
		{Name: "stop", Description: "Stop the answer being written here"},
		{Name: "help", Description: "What this bot does and how to talk to it"},
	}
}

// commandText returns the text of a slash command invocation, as a user
// would type it ("/ask what is X", "/reset"), and false for a command
// the bridge did not register.
func commandText(data discordgo.ApplicationCommandInteractionData) (string, bool) {
	switch data.Name {
	case "ask":
		var q string
		for _, o := range data.Options {
			if o != nil && o.Name == "question" {
				q, _ = o.Value.(string)
			}
		}
		q = strings.TrimSpace(q)
		if q == "" {
			return "/ask", true
		}
		return "/ask " + q, true
	case "reset", "new", "stop", "help":
		return "/" + data.Name, true
	}
	return "", false
}

// isCommand reports whether text, typed as a message, is one of the
// bridge's commands; in a guild it then counts as addressed to the bot.
func isCommand(text string) bool {
	if !strings.HasPrefix(text, "/") {
		return false
	}
	name, _, _ := strings.Cut(text[1:], " ")
	name, _, _ = strings.Cut(name, "\n")
	switch strings.ToLower(name) {
	case "ask", "reset", "new", "stop", "help":
		return true
	}
	return false
}
