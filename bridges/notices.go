package bridges

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chat-bridge/chat-bridge/backend"
)

// Every sentence the core shows a user is here, named, in the 14
// languages of Languages (english here, the others in notices_lang.go).
// Adapters show none of their own. The texts are short and plain: most
// are sent with Out.Plain; the marks (markStopped, …) are appended to an
// answer's Markdown. A translation keeps the English text's format verbs
// (their count and order), its Markdown marks and its /commands
// (TestCatalogComplete).

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
	helpOr          // between commands sharing a line: "/reset or /new"
	helpArgQuestion // /ask's argument as HelpText shows it: "/ask <question>"

	// The commands' descriptions (Command.HelpIn, ArgHelpIn).
	cmdAskHelp
	cmdAskArgHelp
	cmdResetHelp
	cmdStopHelp
	cmdHelpHelp

	// Progress lines shown in the reply's place before the first text
	// (StatusShower), by backend.Status stage.
	statusSearching
	statusWriting

	// noticeTextOnly answers a picture, file or sticker without text.
	noticeTextOnly
	// markRagUnavailable notes under an answer that the knowledge base
	// could not be searched (a backend.Notice "rag_unavailable").
	markRagUnavailable
	// labelSources heads the answer's sources.
	labelSources
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
	helpCommands:    "Commands:",
	helpOr:          " or ",
	helpArgQuestion: "question",

	cmdAskHelp:    "Ask the bot a question",
	cmdAskArgHelp: "Your question",
	cmdResetHelp:  "Start a fresh conversation here",
	cmdStopHelp:   "Stop the answer being written here",
	cmdHelpHelp:   "What this bot does and how to talk to it",

	statusSearching: "Searching the knowledge base…",
	statusWriting:   "Writing the answer…",

	noticeTextOnly:     "I can read text only. Please write your question as a message.",
	markRagUnavailable: "\n\n_(The knowledge base could not be searched for this answer.)_",
	labelSources:       "Sources:",
}

// sayIn returns notice n's text in lang (one of Languages; English when
// the language lacks it) with its arguments filled in.
func sayIn(lang string, n notice, args ...any) string {
	text, ok := catalog[lang][n]
	if !ok {
		text = english[n]
	}
	if len(args) == 0 {
		return text
	}
	return fmt.Sprintf(text, args...)
}

// say returns notice n's English text with its arguments filled in.
func say(n notice, args ...any) string { return sayIn("en", n, args...) }

// LanguageOf maps a platform locale to one of Languages: "pt-BR" is pt,
// "ja" is jp, "zh-CN", "zh-SG" and "zh-Hans" are zh-Hans, "zh-TW",
// "zh-HK" and "zh-Hant" are zh-Hant, "en-GB" is en. An Accept-Language
// list ("de-DE,de;q=0.9,en;q=0.8") gives its first known language.
// Anything unknown, and "", is en.
func LanguageOf(locale string) string {
	for _, part := range strings.Split(locale, ",") {
		tag, _, _ := strings.Cut(part, ";")
		if l := languageOfTag(tag); l != "" {
			return l
		}
	}
	return "en"
}

func languageOfTag(tag string) string {
	tag = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"))
	if tag == "" {
		return ""
	}
	primary, rest, _ := strings.Cut(tag, "-")
	switch primary {
	case "zh":
		for _, sub := range strings.Split(rest, "-") {
			switch sub {
			case "hant", "tw", "hk", "mo":
				return "zh-Hant"
			}
		}
		return "zh-Hans"
	case "ja", "jp":
		return "jp"
	}
	for _, l := range Languages {
		if strings.EqualFold(l, primary) {
			return l
		}
	}
	return ""
}

// IsLanguage reports whether lang names one of Languages (as [bridge]
// language must).
func IsLanguage(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// failNotices is the notice of each backend failure kind; any other kind
// reads as failUnavailable.
var failNotices = map[backend.Kind]notice{
	backend.KindUnauthorized:    failUnauthorized,
	backend.KindNotFound:        failNotFound,
	backend.KindRateLimited:     failRateLimited,
	backend.KindContentFiltered: failContentFiltered,
	backend.KindNoAnswer:        failNoAnswer,
	backend.KindBadResponse:     failBadResponse,
}

// errorText is what the user sees, in lang, for a backend failure of
// kind k.
func errorText(lang string, k backend.Kind) string {
	n, ok := failNotices[k]
	if !ok {
		n = failUnavailable
	}
	return sayIn(lang, n)
}

// HelpText is the answer to /help (and Telegram's /start) in English.
// Its command list is made from Commands, the table the platforms'
// command menus are made from, so the two never disagree.
var HelpText = helpText("en", Commands)

// HelpTextIn is HelpText in lang (one of Languages or a platform locale).
func HelpTextIn(lang string) string { return helpText(LanguageOf(lang), Commands) }

// helpText lists cmds in lang, one line per help text: commands sharing
// one ("/reset or /new") share the line.
func helpText(lang string, cmds []Command) string {
	var b strings.Builder
	b.WriteString(sayIn(lang, helpIntro) + "\n\n" + sayIn(lang, helpCommands))
	done := map[int]bool{}
	for i, c := range cmds {
		if done[i] {
			continue
		}
		names := []string{"/" + c.Name}
		if c.Arg != "" {
			arg := c.Arg
			if c.Name == CmdAsk && arg == "question" {
				arg = sayIn(lang, helpArgQuestion)
			}
			names[0] += " <" + arg + ">"
		}
		for j := i + 1; j < len(cmds); j++ {
			if cmds[j].Help == c.Help && cmds[j].Arg == "" && c.Arg == "" {
				names = append(names, "/"+cmds[j].Name)
				done[j] = true
			}
		}
		help := c.HelpIn(lang)
		if r, n := utf8.DecodeRuneInString(help); n > 0 && lang != "de" {
			help = string(unicode.ToLower(r)) + help[n:] // German nouns keep their capital
		}
		b.WriteString("\n" + strings.Join(names, sayIn(lang, helpOr)) + " — " + help)
	}
	return b.String()
}
