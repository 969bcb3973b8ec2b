package discord

import (
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// slashCommands are the commands registered at start-up, one for each of
// the core's bridges.Commands. The core handles them; the adapter only
// turns an invocation into "/name [argument]".
func slashCommands() []*discordgo.ApplicationCommand {
	var cmds []*discordgo.ApplicationCommand
	for _, c := range bridges.Commands {
		ac := &discordgo.ApplicationCommand{Name: c.Name, Description: c.Help}
		if c.Arg != "" {
			ac.Options = []*discordgo.ApplicationCommandOption{{
				Type:        discordgo.ApplicationCommandOptionString,
				Name:        c.Arg,
				Description: c.ArgHelp,
				Required:    true,
			}}
		}
		cmds = append(cmds, ac)
	}
	return cmds
}

// commandText returns the text of a slash command invocation, as a user
// would type it ("/ask what is X", "/reset"), and false for a command
// the bridge did not register.
func commandText(data discordgo.ApplicationCommandInteractionData) (string, bool) {
	c, ok := bridges.LookupCommand(data.Name)
	if !ok || c.Name != data.Name {
		return "", false
	}
	if c.Arg == "" {
		return "/" + c.Name, true
	}
	var arg string
	for _, o := range data.Options {
		if o != nil && o.Name == c.Arg {
			arg, _ = o.Value.(string)
		}
	}
	if arg = strings.TrimSpace(arg); arg == "" {
		return "/" + c.Name, true
	}
	return "/" + c.Name + " " + arg, true
}
