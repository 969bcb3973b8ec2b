package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Reply limits. Slack truncates `text` above 40,000 characters, but
// msg_too_long is seen in practice around 4,000; 3,500 runes of Markdown
// leave room for what mrkdwn rendering adds (escaping can grow it, but
// even the worst case stays far below the hard limit).
const (
	maxLen       = 3500
	maxRendered  = 4000
	editInterval = 1500 * time.Millisecond
	// chat.postMessage: 1/s per channel in Slack's terms, plus a margin.
	postEvery = 1100 * time.Millisecond
	// chat.update is Tier 3 (50+/min per workspace): 48/min shared by
	// every live reply in the workspace.
	updateEvery = 1250 * time.Millisecond
	updateBurst = 2
	// chat.appendStream is Tier 4 (100+/min per workspace).
	appendEvery    = 700 * time.Millisecond
	appendBurst    = 3
	streamInterval = time.Second
	// assistant.threads.setStatus stays until the reply is posted (or two
	// minutes pass), so it needs no frequent repetition.
	typingEvery = 30 * time.Second
	// thinking is the status shown while waiting for the backend.
	thinking = "is thinking…"
	// statusKeep is how long the typing status leaves a progress line
	// (ShowStatus) alone; Slack clears a status after two minutes.
	statusKeep = time.Minute
)

// streamed marks a Sent whose message was made by chat.startStream.
type streamed struct{}

// render turns reply text into the `text` Slack gets.
func render(out bridges.Out) string {
	if out.Plain {
		return plain(out.Text)
	}
	if s := toMrkdwn(out.Text); strings.TrimSpace(s) != "" {
		return s
	}
	return plain(out.Text)
}

func (a *Adapter) teamID(m *bridges.Message) string {
	self, _, _, _ := a.state()
	if self.TeamID != "" {
		return self.TeamID
	}
	if r, ok := m.Ref.(ref); ok && r.Team != "" {
		return r.Team
	}
	return "default"
}

// Limits implements bridges.Platform. It does no I/O.
func (a *Adapter) Limits(m *bridges.Message) bridges.Limits {
	return bridges.Limits{
		MaxLen: maxLen,
		Unit:   bridges.Runes,
		// Escaping &, < and > lengthens a text; keep what Slack gets
		// within 4,000 characters.
		Rendered: func(s string) int {
			return utf8.RuneCountInString(render(bridges.Out{Text: s, Final: true}))
		},
		RenderedMax:  maxRendered,
		EditInterval: editInterval,
		// chat.update: Tier 3, about 50 a minute for the whole workspace.
		Budgets: []bridges.Budget{
			{Key: "slack/" + a.name + "/team/" + a.teamID(m), Every: updateEvery, Burst: updateBurst},
		},
		// chat.postMessage: about one a second per channel (short bursts
		// allowed), under a workspace-wide cap Slack does not publish.
		// 1.1 s leaves room for the transit jitter between two posts:
		// at exactly 1 s, a post that overtakes the previous one on the
		// way is refused (seen against slacktest's limits).
		SendBudgets: []bridges.Budget{
			{Key: "slack/" + a.name + "/post/" + m.ChatID, Every: postEvery, Burst: 2},
			{Key: "slack/" + a.name + "/team/" + a.teamID(m) + "/post", Every: 100 * time.Millisecond, Burst: 5},
		},
		TypingEvery: typingEvery,
	}
}

// Send implements bridges.Platform with one chat.postMessage, in m's
// thread (a top-level DM message is answered at top level).
func (a *Adapter) Send(ctx context.Context, m *bridges.Message, out bridges.Out) (bridges.Sent, error) {
	opts := []slackapi.MsgOption{
		slackapi.MsgOptionText(render(out), false),
		slackapi.MsgOptionDisableLinkUnfurl(),
		slackapi.MsgOptionDisableMediaUnfurl(),
	}
	if section, small, _, ok := citeBlocks(out); ok {
		opts = append(opts, slackapi.MsgOptionBlocks(section, small))
	}
	if m.ThreadID != "" {
		opts = append(opts, slackapi.MsgOptionTS(m.ThreadID))
	}
	ch, ts, err := a.api.PostMessageContext(ctx, m.ChatID, opts...)
	if err != nil {
		err = fmt.Errorf("chat.postMessage: %w", apiError(err))
		a.noteSendErr(err)
		return bridges.Sent{}, err
	}
	if ch == "" {
		ch = m.ChatID
	}
	return bridges.Sent{ChatID: ch, ID: ts}, nil
}

// Edit implements bridges.Platform with one chat.update. A message made
// by a native stream gets its blocks cleared so that text shows.
func (a *Adapter) Edit(ctx context.Context, s bridges.Sent, out bridges.Out) error {
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(render(out), false)}
	_, isStream := s.Ref.(streamed)
	if section, small, _, ok := citeBlocks(out); ok {
		// The answer with its sources in small print (replacing the
		// blocks of a streamed message).
		opts = append(opts, slackapi.MsgOptionBlocks(section, small))
	} else if isStream {
		opts = append(opts, slackapi.MsgOptionBlocks())
	}
	_, _, _, err := a.api.UpdateMessageContext(ctx, s.ChatID, s.ID, opts...)
	if isStream && slackCode(err) == "message_is_streaming" {
		// A stream a previous run left open (it was killed mid-answer):
		// end it, then the update can replace its text.
		if _, _, serr := a.api.StopStreamContext(ctx, s.ChatID, s.ID); serr != nil && slackCode(serr) != "message_not_in_streaming_state" {
			err = fmt.Errorf("chat.stopStream: %w", apiError(serr))
			a.noteSendErr(err)
			return err
		}
		_, _, _, err = a.api.UpdateMessageContext(ctx, s.ChatID, s.ID, opts...)
	}
	if err != nil {
		err = fmt.Errorf("chat.update: %w", apiError(err))
		a.noteSendErr(err)
		return err
	}
	return nil
}

var _ bridges.Deleter = (*Adapter)(nil)

// Delete implements bridges.Deleter with one chat.delete of the bot's own
// message (an answer that shrank, or a message a replica posted after it
// lost the conversation). A message already gone is
// bridges.ReasonMessageDeleted.
func (a *Adapter) Delete(ctx context.Context, s bridges.Sent) error {
	if _, _, err := a.api.DeleteMessageContext(ctx, s.ChatID, s.ID); err != nil {
		err = fmt.Errorf("chat.delete: %w", apiError(err))
		a.noteSendErr(err)
		return err
	}
	return nil
}

// noteSendErr records a refused post or edit as the last error; 429s
// are routine and not recorded.
func (a *Adapter) noteSendErr(err error) {
	if !isRateLimit(err) && !errors.Is(err, context.Canceled) {
		a.noteErr(err)
	}
}

// Typing implements bridges.Typer with assistant.threads.setStatus in m's
// thread. Where Slack refuses it (not an assistant thread, missing scope)
// it is not tried again in that channel; nothing replaces it.
func (a *Adapter) Typing(ctx context.Context, m *bridges.Message) error {
	if err := a.setStatus(ctx, m, thinking, false); err != nil && !isRateLimit(err) && ctx.Err() == nil {
		a.log.Info("slack thinking status unavailable here", "channel", m.ChatID, "err", err)
	}
	return nil
}

// setStatus sets the assistant status of m's thread to text with
// assistant.threads.setStatus, holding the thread's serial lock. It sends
// nothing outside a thread, in a channel where Slack refused a status
// before, or, for the typing status (progress false), while a progress
// line shown by ShowStatus is recent; a progress line is remembered. A
// refusal other than a 429 (or a cancelled ctx) stops statuses in the
// channel; the error is returned classified.
func (a *Adapter) setStatus(ctx context.Context, m *bridges.Message, text string, progress bool) error {
	if m.ThreadID == "" {
		return nil
	}
	if _, off := a.statusOff.Load(m.ChatID); off {
		return nil
	}
	key := m.ChatID + "/" + m.ThreadID
	mu := a.statusAt.serial(key)
	mu.Lock()
	defer mu.Unlock()
	if !progress && a.statusAt.recent(key, a.now()) {
		return nil // a progress line shows: keep it
	}
	err := a.api.SetAssistantThreadsStatusContext(ctx, slackapi.AssistantThreadsSetStatusParameters{
		ChannelID: m.ChatID, ThreadTS: m.ThreadID, Status: text,
	})
	if err != nil {
		err = apiError(err)
		if !isRateLimit(err) && ctx.Err() == nil {
			a.statusOff.Store(m.ChatID, true)
		}
		return err
	}
	if progress {
		a.statusAt.set(key, a.now())
	}
	return nil
}

// OpenStream implements bridges.Streamer: Slack's native streaming
// (chat.startStream/appendStream/stopStream) for replies in a thread —
// in channels with the recipient's user and team, as Slack requires. It
// returns ErrNoStream at top level in DMs (Slack streams only into
// threads), when no_streaming is set, and in channels where Slack refused
// a stream before.
func (a *Adapter) OpenStream(ctx context.Context, m *bridges.Message) (bridges.NativeStream, error) {
	if a.cfg.NoStreaming || m.ThreadID == "" {
		return nil, bridges.ErrNoStream
	}
	if _, off := a.noStream.Load(m.ChatID); off {
		return nil, bridges.ErrNoStream
	}
	r, _ := m.Ref.(ref)
	if !r.DM && (r.Team == "" || r.User == "") {
		return nil, bridges.ErrNoStream
	}
	return &stream{a: a, channel: m.ChatID, thread: m.ThreadID, ref: r, budget: a.teamID(m)}, nil
}

// stream is one native streaming reply. Slack's appendStream appends, so
// the stream remembers the Markdown it has sent and appends the rest;
// text that does not extend it (a Replace) ends the stream with an error
// and the core continues the message with chat.update.
type stream struct {
	a       *Adapter
	channel string
	thread  string
	ref     ref
	budget  string

	mu      sync.Mutex
	ts      string // the streamed message, once started
	sent    string // Markdown appended so far
	stopped bool
}

var _ bridges.NativeStream = (*stream)(nil)

// errNotExtension ends a stream whose text was replaced.
var errNotExtension = errors.New("stream text replaced")

func (s *stream) Limits() bridges.Limits {
	return bridges.Limits{
		MaxLen:       maxLen,
		Unit:         bridges.Runes,
		EditInterval: streamInterval,
		Budgets: []bridges.Budget{
			{Key: "slack/" + s.a.name + "/team/" + s.budget + "/stream", Every: appendEvery, Burst: appendBurst},
		},
	}
}

func (s *stream) Message() (bridges.Sent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ts == "" {
		return bridges.Sent{}, false
	}
	return bridges.Sent{ChatID: s.channel, ID: s.ts, Ref: streamed{}}, true
}

func (s *stream) start(ctx context.Context, text string) error {
	opts := []slackapi.MsgOption{slackapi.MsgOptionTS(s.thread), slackapi.MsgOptionMarkdownText(text)}
	if !s.ref.DM {
		opts = append(opts, slackapi.MsgOptionRecipientTeamID(s.ref.Team), slackapi.MsgOptionRecipientUserID(s.ref.User))
	}
	_, ts, err := s.a.api.StartStreamContext(ctx, s.channel, opts...)
	if err != nil {
		switch slackCode(err) {
		case "", "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
		default:
			// Refused here for good (channel_type_not_supported,
			// missing_scope, …): do not try again in this channel.
			s.a.noStream.Store(s.channel, true)
		}
		// Never a RateLimitError: nothing is visible yet, so the core
		// had better fall back to chat.postMessage than wait (Tier 2).
		return fmt.Errorf("start stream: %v", err)
	}
	s.ts, s.sent = ts, text
	return nil
}

// stop ends the stream, best effort.
func (s *stream) stop(ctx context.Context) {
	if s.stopped || s.ts == "" {
		return
	}
	s.stopped = true
	if _, _, err := s.a.api.StopStreamContext(ctx, s.channel, s.ts); err != nil {
		s.a.log.Debug("slack stop stream", "err", err)
	}
}

func (s *stream) Update(ctx context.Context, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errNotExtension
	}
	if s.ts == "" {
		return s.start(ctx, text)
	}
	if !strings.HasPrefix(text, s.sent) {
		s.stop(ctx)
		return errNotExtension
	}
	delta := text[len(s.sent):]
	if delta == "" {
		return nil
	}
	_, _, err := s.a.api.AppendStreamContext(ctx, s.channel, s.ts, slackapi.MsgOptionMarkdownText(delta))
	if err != nil {
		err = apiError(err)
		if isRateLimit(err) {
			return fmt.Errorf("append stream: %w", err)
		}
		s.stop(ctx)
		return fmt.Errorf("append stream: %w", err)
	}
	s.sent = text
	return nil
}

func (s *stream) Finish(ctx context.Context, out bridges.Out) (bridges.Sent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ts == "" {
		// Nothing streamed yet: a plain post holds the whole text.
		m := bridges.Message{ChatID: s.channel, ThreadID: s.thread}
		return s.a.Send(ctx, &m, out)
	}
	sent := bridges.Sent{ChatID: s.channel, ID: s.ts, Ref: streamed{}}
	text := out.Text
	var opts []slackapi.MsgOption
	if _, small, main, ok := citeBlocks(out); ok {
		// The sources go in a context block under the streamed answer.
		text = main
		opts = append(opts, slackapi.MsgOptionBlocks(small))
	}
	if !s.stopped && strings.HasPrefix(text, s.sent) {
		if delta := text[len(s.sent):]; delta != "" {
			opts = append(opts, slackapi.MsgOptionMarkdownText(delta))
		}
		if _, _, err := s.a.api.StopStreamContext(ctx, s.channel, s.ts, opts...); err != nil {
			return bridges.Sent{}, fmt.Errorf("stop stream: %w", apiError(err))
		}
		s.stopped, s.sent = true, text
		return sent, nil
	}
	// The text was replaced: end the stream and overwrite the message.
	s.stop(ctx)
	if err := s.a.Edit(ctx, sent, out); err != nil {
		return bridges.Sent{}, err
	}
	return sent, nil
}

// React implements bridges.Reactor with reactions.add.
func (a *Adapter) React(ctx context.Context, m *bridges.Message, emoji string) error {
	name := "warning"
	if emoji != "⚠️" && emoji != "⚠" {
		name = strings.Trim(emoji, ":")
	}
	if err := a.api.AddReactionContext(ctx, name, slackapi.NewRefToMessage(m.ChatID, m.ID)); err != nil {
		return fmt.Errorf("add reaction: %w", apiError(err))
	}
	return nil
}
