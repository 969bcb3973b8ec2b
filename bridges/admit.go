package bridges

import (
	"strings"
)

// Admission is written once, here, for every adapter: adapters report
// facts about a message (Message.Private, Mentioned, ReplyToBot,
// InBotThread, Command, Directed, the raw Text) and Admit decides whether
// it is addressed to the bot, whether it is a command (and which), and
// its conversation key under the instance's scope. Copies of this policy
// per adapter drifted before (STYLE.md rule 21).

// Command is one of the bridge's chat commands (a contract). The one
// table, Commands, feeds /help, Telegram's setMyCommands, Discord's slash
// commands and Slack's app manifest.
type Command struct {
	// Name is the command without its slash, lower case.
	Name string
	// Arg names the argument the command takes ("question"), "" for none.
	Arg string
	// Help is the one-line description shown in /help and command menus.
	Help string
	// ArgHelp describes Arg for menus that ask for it (Discord).
	ArgHelp string
}

// Commands are the bridge's chat commands, in the order menus list them.
var Commands = []Command{
	{Name: CmdAsk, Arg: "question", Help: "Ask the bot a question", ArgHelp: "Your question"},
	{Name: CmdReset, Help: "Start a fresh conversation here"},
	{Name: CmdNew, Help: "Start a fresh conversation here"},
	{Name: CmdStop, Help: "Stop the answer being written here"},
	{Name: CmdHelp, Help: "What this bot does and how to talk to it"},
}

// LookupCommand returns the command called name (case-insensitive);
// Telegram's /start is the help.
func LookupCommand(name string) (Command, bool) {
	name = strings.ToLower(name)
	if name == CmdStart {
		name = CmdHelp
	}
	for _, c := range Commands {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// Admission is the core's decision about one message.
type Admission struct {
	// Ignore is true when the message is not answered at all; Reason
	// says why ("empty", "not_addressed").
	Ignore bool
	Reason string
	// Addressed is true when the message is for the bot.
	Addressed bool
	// Command is the canonical name of the command the message is (start
	// is help), or "" when it is not a command; Known is false for a
	// command the bridge does not have. Arg is the rest of the text.
	Command string
	Known   bool
	Arg     string
	// Key is the conversation the message belongs to, under the scope.
	Key Key
}

// Admit decides what to do with m for an instance that responds as
// respond ("mention" or "all") and keys conversations by scope ("chat"
// or "user"). It does no I/O.
//
// The rules: a message is addressed in a private chat, when the bot is
// mentioned, when it replies to one of the bot's messages, inside a
// thread the bot takes part in, or when it is a command. A command is a
// text "/name …" whose name is in Commands, or any command the platform
// directed at this bot explicitly (a slash command, Telegram's
// "/name@thisbot"); "/usr/bin is slow" is no command. With respond =
// "mention" only addressed messages are answered.
func Admit(m *Message, respond, scope string) Admission {
	a := Admission{Key: m.Key}
	if scope == "user" && m.UserID != "" {
		a.Key = Key{Platform: m.Key.Platform, Instance: m.Key.Instance, Chat: m.UserID}
	}
	if strings.TrimSpace(m.Text) == "" {
		return Admission{Ignore: true, Reason: "empty", Key: a.Key}
	}
	name, arg, isCmd := ParseCommand(m.Text)
	if m.Command != "" {
		name, isCmd = strings.ToLower(m.Command), true
	}
	if isCmd {
		c, known := LookupCommand(name)
		if known {
			name = c.Name
		}
		if known || m.Directed || m.Private {
			a.Command, a.Known, a.Arg = name, known, arg
		}
	}
	a.Addressed = m.Private || m.Mentioned || m.ReplyToBot || m.InBotThread || a.Command != ""
	if respond != "all" && !a.Addressed {
		a.Ignore, a.Reason = true, "not_addressed"
	}
	return a
}

// Languages are the languages of the notices and command descriptions,
// as chatof.ai names them (its 14), English first.
var Languages = []string{"en", "fr", "es", "ru", "zh-Hans", "zh-Hant", "ar", "de", "jp", "pt", "hi", "ko", "it", "uk"}

// commandHelp names the catalog entries of the commands' descriptions.
var commandHelp = map[string]notice{
	CmdAsk: cmdAskHelp, CmdReset: cmdResetHelp, CmdNew: cmdResetHelp,
	CmdStop: cmdStopHelp, CmdHelp: cmdHelpHelp,
}

// HelpIn returns the command's description in lang (one of Languages, or
// a platform locale such as "pt-BR"); Help itself for a command the
// catalog does not know (or whose Help was changed).
func (c Command) HelpIn(lang string) string {
	if n, ok := commandHelp[c.Name]; ok && english[n] == c.Help {
		return sayIn(LanguageOf(lang), n)
	}
	return c.Help
}

// ArgHelpIn returns the argument's description in lang, like HelpIn.
func (c Command) ArgHelpIn(lang string) string {
	if c.Name == CmdAsk && c.ArgHelp == english[cmdAskArgHelp] {
		return sayIn(LanguageOf(lang), cmdAskArgHelp)
	}
	return c.ArgHelp
}
