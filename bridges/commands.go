package bridges

import "strings"

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
