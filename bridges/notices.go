package bridges

import (
	"fmt"
	"strings"

	"github.com/chat-bridge/chat-bridge/backend"
)

// Every sentence the core shows a user is here, named, so that a later
// translation replaces one table and nothing else. Adapters show none of
// their own. The texts are short and plain: most are sent with Out.Plain;
// the marks (markStopped, …) are appended to an answer's Markdown.

// notice names one of the core's user-facing texts.
type notice int

const (
	noticeReset notice = iota
	noticeStopped
	noticeNothingRunning
	noticeBusy
	noticePanic
	noticeEmptyAsk
	noticeNoAnswer
	noticeUnknownCommand // arg: the command's name
	noticeRestartApology // arg: the time the message was received ("15:04 UTC")
	noticeExpired
	markStopped
	markInterrupt
	markResume

	// Refusals by the access policy (Policy, policy.go).
	refuseNotAdmin
	refuseTooLong // args: the message's length, the limit
	refuseUserRate
	refuseChatRate
	refuseDailyQuota

	// Backend failures, by backend.Kind (errorText).
	failUnauthorized
	failNotFound
	failRateLimited
	failContentFiltered
	failNoAnswer
	failBadResponse
	failUnavailable

	// The emoji put on a question whose answer failed (error_policy =
	// "reaction").
	reactionFailed

	// The parts of HelpText around the command list.
	helpIntro
	helpCommands
)

// english is the text of every notice. A format verb takes the argument
// the notice's comment names.
var english = map[notice]string{
	noticeReset:          "Started a new conversation.",
	noticeStopped:        "Stopped.",
	noticeNothingRunning: "Nothing is being answered right now.",
	noticeBusy:           "I'm still answering your earlier messages. Please wait a moment.",
	noticePanic:          "Sorry, something went wrong on my side while answering. Please try again.",
	noticeEmptyAsk:       "Ask a question after the command, for example: /ask What are your opening hours?",
	noticeNoAnswer:       "(The assistant returned an empty answer.)",
	noticeUnknownCommand: "Unknown command /%s. Try /help.",
	noticeRestartApology: "Sorry — I was restarted and could not answer your message from %s. Please ask again.",
	noticeExpired:        "_(Your previous conversation had expired, so I started a new one.)_\n\n",
	markStopped:          " … _(stopped)_",
	markInterrupt:        "\n\n_(interrupted: the bridge is restarting; please ask again)_",
	markResume:           "\n\n_(interrupted: the bridge is restarting; the full answer follows when it is back)_",

	refuseNotAdmin:   "Only the group's admins can start a new conversation here.",
	refuseTooLong:    "Your message is too long (%d characters). Please keep questions under %d characters.",
	refuseUserRate:   "You're asking faster than I can answer. Please wait a moment and try again.",
	refuseChatRate:   "This chat is asking faster than I can answer. Please wait a moment and try again.",
	refuseDailyQuota: "You've reached today's limit of questions. Please come back tomorrow.",

	failUnauthorized:    "⚠️ The assistant is not set up correctly (its API key was refused). The operator has been told.",
	failNotFound:        "⚠️ The assistant could not be found. The operator has been told.",
	failRateLimited:     "⚠️ The assistant is busy right now. Please try again in a minute.",
	failContentFiltered: "⚠️ Sorry, I can't answer that.",
	failNoAnswer:        "Sorry, I couldn't find an answer to that in the knowledge base.",
	failBadResponse:     "⚠️ The assistant sent an answer I could not read. Please try again.",
	failUnavailable:     "⚠️ The assistant is unavailable right now. Please try again later.",

	reactionFailed: "⚠️",

	helpIntro: "I answer questions from our knowledge base.\n\n" +
		"• In a private chat, just write your question.\n" +
		"• In a group or channel, mention me or reply to one of my messages.",
	helpCommands: "Commands:",
}

// say returns notice n's text with its arguments filled in.
func say(n notice, args ...any) string {
	if len(args) == 0 {
		return english[n]
	}
	return fmt.Sprintf(english[n], args...)
}

// errorText is what the user sees for a backend failure of kind k.
func errorText(k backend.Kind) string {
	switch k {
	case backend.KindUnauthorized:
		return say(failUnauthorized)
	case backend.KindNotFound:
		return say(failNotFound)
	case backend.KindRateLimited:
		return say(failRateLimited)
	case backend.KindContentFiltered:
		return say(failContentFiltered)
	case backend.KindNoAnswer:
		return say(failNoAnswer)
	case backend.KindBadResponse:
		return say(failBadResponse)
	default:
		return say(failUnavailable)
	}
}

// HelpText is the answer to /help (and Telegram's /start). Its command
// list is made from Commands, the table the platforms' command menus are
// made from, so the two never disagree.
var HelpText = helpText(Commands)

// helpText lists cmds, one line per help text: commands sharing one
// ("/reset or /new") share the line.
func helpText(cmds []Command) string {
	var b strings.Builder
	b.WriteString(say(helpIntro) + "\n\n" + say(helpCommands))
	done := map[int]bool{}
	for i, c := range cmds {
		if done[i] {
			continue
		}
		names := []string{"/" + c.Name}
		if c.Arg != "" {
			names[0] += " <" + c.Arg + ">"
		}
		for j := i + 1; j < len(cmds); j++ {
			if cmds[j].Help == c.Help && cmds[j].Arg == "" && c.Arg == "" {
				names = append(names, "/"+cmds[j].Name)
				done[j] = true
			}
		}
		help := c.Help
		if help != "" {
			help = strings.ToLower(help[:1]) + help[1:]
		}
		b.WriteString("\n" + strings.Join(names, " or ") + " — " + help)
	}
	return b.String()
}
