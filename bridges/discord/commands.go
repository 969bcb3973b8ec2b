package discord

import (
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// slashCommands are the commands registered at start-up, one for each of
// the core's bridges.Commands, with their descriptions in every language
// of bridges.Languages that Discord has a locale for. The core handles
// them; the adapter only turns an invocation into "/name [argument]".
func slashCommands() []*discordgo.ApplicationCommand {
	var cmds []*discordgo.ApplicationCommand
	for _, c := range bridges.Commands {
		ac := &discordgo.ApplicationCommand{Name: c.Name, Description: c.Help,
			DescriptionLocalizations: localized(c.Help, c.HelpIn)}
		if c.Arg != "" {
			ac.Options = []*discordgo.ApplicationCommandOption{{
				Type:                     discordgo.ApplicationCommandOptionString,
				Name:                     c.Arg,
				Description:              c.ArgHelp,
				DescriptionLocalizations: *localized(c.ArgHelp, c.ArgHelpIn),
				Required:                 true,
			}}
		}
		cmds = append(cmds, ac)
	}
	return cmds
}

// discordLocales maps the languages of bridges.Languages to Discord's
// locales (developers/reference#locales). English is the default
// description; Arabic has no Discord locale.
var discordLocales = map[string][]discordgo.Locale{
	"fr":      {discordgo.French},
	"es":      {discordgo.SpanishES, discordgo.SpanishLATAM},
	"ru":      {discordgo.Russian},
	"zh-Hans": {discordgo.ChineseCN},
	"zh-Hant": {discordgo.ChineseTW},
	"de":      {discordgo.German},
	"jp":      {discordgo.Japanese},
	"pt":      {discordgo.PortugueseBR},
	"hi":      {discordgo.Hindi},
	"ko":      {discordgo.Korean},
	"it":      {discordgo.Italian},
	"uk":      {discordgo.Ukrainian},
}

// localized returns the descriptions of one text in every Discord locale
// of bridges.Languages, by in (HelpIn or ArgHelpIn). Discord allows 100
// characters.
func localized(def string, in func(lang string) string) *map[discordgo.Locale]string {
	out := map[discordgo.Locale]string{}
	for _, lang := range bridges.Languages {
		for _, loc := range discordLocales[lang] {
			if d := in(lang); d != "" {
				out[loc] = truncate(d, 100)
			} else {
				out[loc] = truncate(def, 100)
			}
		}
	}
	return &out
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
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
