package slack

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// dedupeTTL is how long event IDs and message timestamps are remembered to
// drop Slack's retries (it retries for about 5 minutes) and the message
// event that duplicates an app_mention.
const dedupeTTL = time.Hour

// ref is the adapter data a bridges.Message carries in Ref.
type ref struct {
	Team string // workspace of the author (recipient_team_id)
	User string // author (recipient_user_id)
	DM   bool
}

// inbound is one user message from an app_mention or message event.
type inbound struct {
	Kind     string // "app_mention", "message" or "command"
	Team     string
	Channel  string
	DM       bool
	User     string
	BotID    string
	SubType  string
	Edited   bool
	EditTS   string // the edit's own ts (edited.ts), for an edit
	Files    bool   // carries files (a picture, an upload)
	Text     string
	TS       string
	ThreadTS string
}

// fromEvent extracts the user message of an Events API event, if any.
func fromEvent(ev slackevents.EventsAPIEvent) (inbound, bool) {
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		team := e.UserTeam
		if team == "" {
			team = ev.TeamID
		}
		in := inbound{
			Kind: "app_mention", Team: team, Channel: e.Channel, DM: strings.HasPrefix(e.Channel, "D"),
			User: e.User, BotID: e.BotID, Text: e.Text, TS: e.TimeStamp,
			ThreadTS: e.ThreadTimeStamp, Files: len(e.Files) > 0,
		}
		if e.Edited != nil {
			in.Edited, in.EditTS = true, e.Edited.TimeStamp
		}
		return in, true
	case *slackevents.MessageEvent:
		team := e.UserTeam
		if team == "" {
			team = ev.TeamID
		}
		if e.SubType == "message_changed" {
			return fromEdit(ev.TeamID, e)
		}
		return inbound{
			Kind: "message", Team: team, Channel: e.Channel, DM: e.ChannelType == "im",
			User: e.User, BotID: e.BotID, SubType: e.SubType, Edited: e.IsEdited(), Text: e.Text,
			TS: e.TimeStamp, ThreadTS: e.ThreadTimeStamp, Files: e.Message != nil && len(e.Message.Files) > 0,
		}, true
	}
	return inbound{}, false
}

// fromEdit extracts a user's edit of a message from a message_changed
// event: the new text under the original ts. Changes that are no edit of
// the text (an unfurl, a reply count) are ignored.
func fromEdit(team string, e *slackevents.MessageEvent) (inbound, bool) {
	nm := e.Message
	if nm == nil || nm.Edited == nil || e.PreviousMessage != nil && e.PreviousMessage.Text == nm.Text {
		return inbound{}, false
	}
	if nm.Team != "" {
		team = nm.Team
	}
	return inbound{
		Kind: "message", Team: team, Channel: e.Channel, DM: e.ChannelType == "im",
		User: nm.User, BotID: nm.BotID, SubType: nm.SubType, Edited: true, EditTS: nm.Edited.Timestamp,
		Text: nm.Text, TS: nm.Timestamp, ThreadTS: nm.ThreadTimestamp, Files: len(nm.Files) > 0,
	}, true
}

// userSubtypes are the message subtypes that are still a user's
// message; every other subtype (message_deleted, bot_message,
// channel_join, …) is ignored. A message_changed event is unwrapped
// first (fromEdit): a user's edit comes with Edited set.
var userSubtypes = map[string]bool{"": true, "file_share": true, "thread_broadcast": true}

// receiveEvent passes an Events API event, as both transports (HTTP and
// Socket Mode) deliver it, to receive, keyed by its event ID; events that
// are no inbound message are taken as they are. An error means h refused
// the message (logged here), which must then not be acknowledged.
func (a *Adapter) receiveEvent(ctx context.Context, h bridges.Handler, self identity, ev slackevents.EventsAPIEvent) error {
	var eventID string
	if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok {
		eventID = cb.EventID
	}
	in, ok := fromEvent(ev)
	if !ok {
		return nil
	}
	if err := a.receive(ctx, h, self, eventID, in); err != nil {
		a.log.Warn("slack event not accepted", "event_id", eventID, "err", err)
		return err
	}
	return nil
}

// receive applies the adapter's filters to one inbound message and passes
// it to h. eventID deduplicates retries (empty: none). It returns an error
// only when h refused the message, which must then not be acknowledged.
func (a *Adapter) receive(ctx context.Context, h bridges.Handler, self identity, eventID string, in inbound) error {
	if eventID != "" {
		if a.claim("event/" + eventID) {
			a.log.Debug("slack duplicate event dropped", "event_id", eventID)
			return nil
		}
	}
	m, ok := a.message(self, in)
	if !ok {
		return nil
	}
	// Slack sends both app_mention and message for a mention in a channel
	// subscribed to both: the first one wins.
	msgKey := "msg/" + in.Channel + "/" + in.TS
	if in.Edited {
		msgKey = "edit/" + in.Channel + "/" + in.TS + "/" + in.EditTS
	}
	if in.Kind != "command" && a.claim(msgKey) {
		return nil
	}
	a.enrich(ctx, &m)
	if !in.DM && m.ThreadID != "" && a.cfg.followThreads() > 0 && bridges.Admit(&m, "mention", "").Addressed {
		a.follow(in.Channel, m.ThreadID)
	}
	if err := h.Handle(ctx, m); err != nil {
		// Let Slack's next delivery of this event through.
		if eventID != "" {
			a.release("event/" + eventID)
		}
		if in.Kind != "command" {
			a.release(msgKey)
		}
		return fmt.Errorf("handle message: %w", err)
	}
	return nil
}

// message translates and filters in; ok is false for what is ignored.
func (a *Adapter) message(self identity, in inbound) (bridges.Message, bool) {
	switch {
	case in.Channel == "" || in.User == "" || in.TS == "" && in.Kind != "command":
		return bridges.Message{}, false
	case in.User == self.UserID || in.BotID != "" || (self.BotID != "" && in.BotID == self.BotID):
		return bridges.Message{}, false
	case !userSubtypes[in.SubType]:
		return bridges.Message{}, false
	case len(a.allowed) > 0 && !a.allowed[in.Channel]:
		return bridges.Message{}, false
	}
	slash := in.Kind == "command"
	mentioned := in.Kind == "app_mention" ||
		(self.UserID != "" && strings.Contains(in.Text, "<@"+self.UserID))
	text := stripMention(in.Text, self.UserID)
	if mentioned || in.DM || slash {
		text = normaliseCommand(text, mentioned || slash)
	}
	text = plainText(text)
	// A slash command has no thread: it addresses the channel's (the DM's)
	// top-level conversation.
	key, thread := a.conversation(in.Channel, in.TS, in.ThreadTS, in.DM || in.Kind == "command")
	m := bridges.Message{
		Key:         key,
		ID:          in.TS,
		ChatID:      in.Channel,
		ThreadID:    thread,
		UserID:      in.User,
		Text:        text,
		Private:     in.DM,
		Mentioned:   mentioned,
		InBotThread: in.ThreadTS != "" && a.following(in.Channel, in.ThreadTS),
		Time:        tsTime(in.TS, a.now),
		Ref:         ref{Team: in.Team, User: in.User, DM: in.DM},
		Space:       self.TeamID, // the workspace (an author from a shared channel may be of another)
		// Written in an existing thread, not its root.
		InThread: in.ThreadTS != "" && in.ThreadTS != in.TS && !slash,
		NonText:  in.Files && strings.TrimSpace(text) == "",
		Edited:   in.Edited,
	}
	if m.Space == "" {
		m.Space = in.Team
	}
	if slash {
		m.Directed = true
		if name, _, ok := bridges.ParseCommand(text); ok {
			m.Command = name
		} else {
			m.Mentioned = true // "/app question": a question put to the bot
		}
	}
	return m, true
}

// claim records key and reports whether it was already claimed (a
// duplicate), unless a failed hand-over released it. When the store
// fails, claim cannot tell and lets the message through: answering a
// retry twice is better than losing a question.
func (a *Adapter) claim(key string) bool {
	seen, err := a.kv.Seen(key, dedupeTTL)
	if err != nil {
		a.stateFailed("dedupe", key, err)
		return false
	}
	if !seen {
		return false
	}
	if _, ok := a.released.LoadAndDelete(key); ok {
		return false
	}
	_, ok, err := a.kv.Get("retry/" + key)
	switch {
	case err != nil:
		a.stateFailed("dedupe release read", key, err)
		return false
	case ok:
		if err := a.kv.Delete("retry/" + key); err != nil {
			a.stateFailed("dedupe release clear", key, err)
		}
		return false
	}
	return true
}

// release lets the next claim of key through. Should the store fail,
// this process still remembers it.
func (a *Adapter) release(key string) {
	if err := a.kv.Put("retry/"+key, []byte{1}); err != nil {
		a.stateFailed("dedupe release", key, err)
		a.released.Store(key, true)
	}
}

// follow remembers that the bot answers in the thread root of channel.
// Should the store fail, this process still remembers it.
func (a *Adapter) follow(channel, root string) {
	k := "thread/" + channel + "/" + root
	now := a.now()
	if err := a.kv.Put(k, []byte(strconv.FormatInt(now.Unix(), 10))); err != nil {
		a.stateFailed("follow thread", k, err)
		a.followed.Store(k, now)
	}
}

// following reports whether the bot answered in thread root of channel
// within follow_threads.
func (a *Adapter) following(channel, root string) bool {
	ttl := a.cfg.followThreads()
	if ttl <= 0 {
		return false
	}
	k := "thread/" + channel + "/" + root
	if at, ok := a.followed.Load(k); ok && a.now().Sub(at.(time.Time)) <= ttl {
		return true
	}
	v, ok, err := a.kv.Get(k)
	if err != nil {
		a.stateFailed("followed thread read", k, err)
		return false
	}
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || a.now().Sub(time.Unix(sec, 0)) > ttl {
		if err := a.kv.Delete(k); err != nil {
			a.stateFailed("followed thread expiry", k, err)
		}
		return false
	}
	return true
}

// stateFailed logs and counts a failed read or write of the adapter's
// state (dedupe, followed threads). The key names a channel, a ts or an
// event ID, never content.
func (a *Adapter) stateFailed(what, key string, err error) {
	a.stateErrors.Add(1)
	a.log.Warn("slack state store failed", "what", what, "key", key, "err", err)
}

// StateErrors returns how many reads and writes of the adapter's state
// (dedupe, followed threads) failed since New.
func (a *Adapter) StateErrors() int64 { return a.stateErrors.Load() }

// isCommand reports whether name is one of the core's commands, which
// "@bot name" becomes.
func isCommand(name string) bool {
	c, ok := bridges.LookupCommand(name)
	return ok && c.Name == name
}

// normaliseCommand turns "reset", "/reset" or "Reset please" addressed to
// the bot into "/reset…". In a DM without a mention only a lone command
// word counts.
func normaliseCommand(text string, mentioned bool) string {
	word, rest, _ := strings.Cut(text, " ")
	name := strings.ToLower(strings.TrimPrefix(word, "/"))
	if i := strings.IndexByte(name, '@'); i > 0 {
		name = name[:i]
	}
	if !isCommand(name) {
		return text
	}
	if !mentioned && rest != "" && !strings.HasPrefix(word, "/") {
		return text
	}
	if name == "ask" && !strings.HasPrefix(word, "/") {
		return text
	}
	if rest = strings.TrimSpace(rest); rest != "" {
		return "/" + name + " " + rest
	}
	return "/" + name
}

// stripMention removes the bot's own mentions (<@U1> or <@U1|name>).
func stripMention(text, botUser string) string {
	if botUser == "" {
		return strings.TrimSpace(text)
	}
	for {
		i := strings.Index(text, "<@"+botUser)
		if i < 0 {
			break
		}
		j := strings.IndexByte(text[i:], '>')
		if j < 0 {
			break
		}
		rest := text[i+j+1:]
		if rest != "" && rest[0] == ':' { // "<@U1>: hi"
			rest = rest[1:]
		}
		text = text[:i] + rest
	}
	return strings.Join(strings.Fields(text), " ")
}

var slackLink = regexp.MustCompile(`<([^<>|]*)(?:\|([^<>]*))?>`)

// plainText turns Slack's message markup into plain text for the backend:
// <url|label> → "label (url)", <@U1> → "@U1", <#C1|name> → "#name",
// <!here> → "@here", and unescapes &amp; &lt; &gt;.
func plainText(s string) string {
	s = slackLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := slackLink.FindStringSubmatch(m)
		target, label := sub[1], sub[2]
		switch {
		case strings.HasPrefix(target, "@"):
			if label != "" {
				return "@" + label
			}
			return target
		case strings.HasPrefix(target, "#"):
			if label != "" {
				return "#" + label
			}
			return target
		case strings.HasPrefix(target, "!"):
			name, _, _ := strings.Cut(target[1:], "^")
			if label != "" {
				return label
			}
			return "@" + name
		case label != "" && label != target && label != strings.TrimPrefix(strings.TrimPrefix(target, "mailto:"), "https://"):
			return label + " (" + target + ")"
		default:
			return strings.TrimPrefix(target, "mailto:")
		}
	})
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// tsTime parses a Slack ts ("1700000000.000100").
func tsTime(ts string, now func() time.Time) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return now()
	}
	var us int64
	if frac != "" {
		frac = (frac + "000000")[:6]
		us, _ = strconv.ParseInt(frac, 10, 64)
	}
	return time.Unix(s, us*1000)
}

// fromCommand turns a slash command into an inbound message: "/reset" and
// "/app reset" become "/reset"; "/ask q" and "/app q" become a question.
func fromCommand(c slackapi.SlashCommand) inbound {
	name := strings.TrimPrefix(c.Command, "/")
	text := strings.TrimSpace(c.Text)
	switch {
	case isCommand(name):
		text = strings.TrimSpace("/" + name + " " + text)
	default:
		if t := normaliseCommand(text, true); strings.HasPrefix(t, "/") {
			text = t
		}
	}
	return inbound{
		Kind: "command", Team: c.TeamID, Channel: c.ChannelID, DM: strings.HasPrefix(c.ChannelID, "D"),
		User: c.UserID, Text: text,
	}
}
