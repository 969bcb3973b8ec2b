package slack

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// dedupeTTL is how long the messages taken (channel and ts, an edit's ts)
// are remembered, alone, to drop Slack's retries (it retries for about 5
// minutes) and the message event that duplicates an app_mention.
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
// Socket Mode) deliver it, to receive; events that are no inbound message
// are taken as they are. An error means h refused the message (logged
// here), which must then not be acknowledged.
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
// it to h. eventID names the delivery in the log (empty: a slash command).
// It returns an error only when h refused the message, which must then
// not be acknowledged.
//
// Slack delivers one post up to twice (app_mention and message) and
// retries what was not acknowledged, possibly to another replica; the
// copies carry the same conversation key and ID (the post's ts), and a
// dedupe mark is never left standing before h accepted the message (a
// process killed in between would lose the question):
//
//   - In cluster mode (Deps.Leader set) a message is passed on every time:
//     the core's Cluster.Accept dedupes it by key and ID atomically with
//     queueing it.
//   - Alone, and for edits (which the core does not dedupe), the mark is
//     taken under an in-process lock of the message with a retry mark put
//     beforehand (guarded), and the retry mark is cleared only once h
//     accepted the message: a copy arriving after a refusal, or after a
//     restart that followed a kill in between, goes through. The lock is
//     this process's: in cluster mode two replicas taking copies of one
//     edit at once may both pass it on or, should the one passing it be
//     killed right then, drop it (the core keeps no edit durably either).
func (a *Adapter) receive(ctx context.Context, h bridges.Handler, self identity, eventID string, in inbound) error {
	m, ok := a.message(self, in)
	if !ok {
		return nil
	}
	if in.Kind == "command" || a.leader != nil && !in.Edited {
		return a.handle(ctx, h, in, m)
	}
	key := "msg/" + in.Channel + "/" + in.TS
	if in.Edited {
		key = "edit/" + in.Channel + "/" + in.TS + "/" + in.EditTS
	}
	unlock := a.marks.lock(key)
	defer unlock()
	g, dup := a.guard(key)
	if dup {
		a.log.Debug("slack duplicate delivery dropped", "event_id", eventID, "channel", in.Channel, "ts", in.TS)
		return nil
	}
	if err := a.handle(ctx, h, in, m); err != nil {
		a.release(key) // in case the guard could not be stored
		return err
	}
	g.accepted()
	return nil
}

// handle enriches m and passes it to h.
func (a *Adapter) handle(ctx context.Context, h bridges.Handler, in inbound, m bridges.Message) error {
	a.enrich(ctx, &m)
	if !in.DM && m.ThreadID != "" && a.cfg.followThreads() > 0 && bridges.Admit(&m, "mention", "").Addressed {
		a.follow(in.Channel, m.ThreadID)
	}
	if err := h.Handle(ctx, m); err != nil {
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

// guarded is a dedupe mark taken by guard, with its retry mark.
type guarded struct {
	a   *Adapter
	key string
	put bool // the retry mark stands (and is cleared on acceptance)
}

// guard takes the dedupe mark of key and reports dup when the message
// was taken before and accepted (or is being handled by this process,
// which holds key's lock meanwhile). Before the mark it stores the retry
// mark "retry/KEY", which lets the next delivery through until the
// returned guard's accepted clears it; so a process killed before the
// handler accepted the message leaves no mark that drops Slack's retry.
// When the store fails guard cannot tell and lets the message through:
// answering a retry twice is better than losing a question.
func (a *Adapter) guard(key string) (g guarded, dup bool) {
	_, retry, rerr := a.kv.Get("retry/" + key)
	if rerr != nil {
		a.stateFailed("dedupe release read", key, rerr)
	}
	g = guarded{a: a, key: key, put: retry}
	if !retry {
		if err := a.kv.Put("retry/"+key, []byte{1}); err != nil {
			a.stateFailed("dedupe guard", key, err)
		} else {
			g.put = true
		}
	}
	seen, err := a.kv.Seen(key, dedupeTTL)
	switch {
	case err != nil:
		a.stateFailed("dedupe", key, err)
		return g, false
	case !seen:
		return g, false
	}
	if _, ok := a.released.LoadAndDelete(key); ok {
		return g, false
	}
	if retry || rerr != nil {
		return g, false
	}
	// A duplicate: the retry mark put above was this call's own.
	g.accepted()
	return g, true
}

// accepted clears g's retry mark: the message is accepted, later
// deliveries are duplicates.
func (g guarded) accepted() {
	g.a.released.Delete(g.key)
	if !g.put {
		return
	}
	if err := g.a.kv.Delete("retry/" + g.key); err != nil {
		g.a.stateFailed("dedupe release clear", g.key, err)
	}
}

// release lets the next delivery of key through after the handler
// refused it. The retry mark normally stands already (guard put it);
// should the store have failed, this process still remembers it.
func (a *Adapter) release(key string) {
	if _, ok, err := a.kv.Get("retry/" + key); err == nil && ok {
		return
	}
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

// keyLocks are per-key mutexes, held while a delivery's dedupe mark is
// taken and its message handed over, so that a copy arriving meanwhile
// (app_mention and message of one post, a retry) waits for the outcome
// instead of being dropped by a mark whose hand-over may still fail.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu    sync.Mutex
	users int // holders and waiters
}

// lock locks key and returns its unlock.
func (l *keyLocks) lock(key string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*keyLock{}
	}
	k := l.m[key]
	if k == nil {
		k = &keyLock{}
		l.m[key] = k
	}
	k.users++
	l.mu.Unlock()
	k.mu.Lock()
	return func() {
		k.mu.Unlock()
		l.mu.Lock()
		if k.users--; k.users == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
}
