package bridges

import (
	"strings"

	"github.com/chat-bridge/chat-bridge/backend"
)

// The chat commands (a contract): /reset and /new forget the conversation,
// /stop ends the answer being streamed, /help explains the bot, /ask
// forwards a question where a platform needs an explicit command.
const (
	CmdReset = "reset"
	CmdNew   = "new"
	CmdStop  = "stop"
	CmdHelp  = "help"
	CmdAsk   = "ask"
	CmdStart = "start"
)

// ParseCommand splits a message text of the form "/name args" into the
// lower-cased name (without any "@botname" suffix) and the rest. ok is
// false when text is not a command.
func ParseCommand(text string) (name, arg string, ok bool) {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "/") || len(t) < 2 {
		return "", "", false
	}
	head, rest, _ := strings.Cut(t[1:], " ")
	if i := strings.IndexAny(head, "\n\t"); i >= 0 {
		rest = head[i+1:] + " " + rest
		head = head[:i]
	}
	head, _, _ = strings.Cut(head, "@")
	if head == "" || strings.ContainsAny(head, "/.") {
		return "", "", false // a path such as "/usr/bin", not a command
	}
	return strings.ToLower(head), strings.TrimSpace(rest), true
}

// The bridge's own texts. They are short and plain: they are sent with
// Out.Plain.
const (
	textReset      = "Started a new conversation."
	textStopped    = "Stopped."
	textNothingRun = "Nothing is being answered right now."
	textBusy       = "I'm still answering your earlier messages. Please wait a moment."
	textPanic      = "Sorry, something went wrong on my side while answering. Please try again."
	textEmptyAsk   = "Ask a question after the command, for example: /ask What are your opening hours?"
	textNoAnswer   = "(The assistant returned an empty answer.)"
	markStopped    = " … _(stopped)_"
	markInterrupt  = "\n\n_(interrupted: the bridge is restarting; please ask again)_"
	markResume     = "\n\n_(interrupted: the bridge is restarting; the full answer follows when it is back)_"
	textExpired    = "_(Your previous conversation had expired, so I started a new one.)_\n\n"
)

// HelpText is the answer to /help (and Telegram's /start).
const HelpText = "I answer questions from our knowledge base.\n\n" +
	"• In a private chat, just write your question.\n" +
	"• In a group or channel, mention me or reply to one of my messages.\n\n" +
	"Commands:\n" +
	"/ask <question> — ask explicitly\n" +
	"/reset or /new — start a new conversation\n" +
	"/stop — stop the answer being written\n" +
	"/help — this message"

// errorText is what the user sees for a backend failure of kind k.
func errorText(k backend.Kind) string {
	switch k {
	case backend.KindUnauthorized:
		return "⚠️ The assistant is not set up correctly (its API key was refused). The operator has been told."
	case backend.KindNotFound:
		return "⚠️ The assistant could not be found. The operator has been told."
	case backend.KindRateLimited:
		return "⚠️ The assistant is busy right now. Please try again in a minute."
	case backend.KindContentFiltered:
		return "⚠️ Sorry, I can't answer that."
	case backend.KindNoAnswer:
		return "Sorry, I couldn't find an answer to that in the knowledge base."
	case backend.KindBadResponse:
		return "⚠️ The assistant sent an answer I could not read. Please try again."
	default:
		return "⚠️ The assistant is unavailable right now. Please try again later."
	}
}
