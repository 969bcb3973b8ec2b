package discord

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
)

// relayed binds a to a real relay with a scripted backend answering each
// question with answers[question] (streamed in chunks).
func relayed(t *testing.T, a *Adapter, answers map[string][]bridgestest.Step) (bridges.Handler, *bridgestest.Backend) {
	t.Helper()
	return relayedWith(t, a, answers, nil)
}

// relayedWith is relayed with a route changed by mod.
func relayedWith(t *testing.T, a *Adapter, answers map[string][]bridgestest.Step, mod func(*bridges.Route)) (bridges.Handler, *bridgestest.Backend) {
	t.Helper()
	b := &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
		if s, ok := answers[req.Question]; ok {
			return s
		}
		return bridgestest.Answer("no script for "+req.Question, 100, 0, "")
	}}
	return bindRelay(t, a, b, mod), b
}

// bindRelay binds a to a real relay (an in-memory store, edits 50 ms
// apart) routed to be, the route changed by mod.
func bindRelay(t *testing.T, a *Adapter, be *bridgestest.Backend, mod func(*bridges.Route)) bridges.Handler {
	t.Helper()
	r := bridgestest.NewRelay(t, bridges.Config{Store: bridgestest.NewStore(), Logger: testLogger(t)})
	rt := bridges.Route{BackendName: "test", Backend: be, EditInterval: 50 * time.Millisecond}
	if mod != nil {
		mod(&rt)
	}
	return r.Bind(a, rt)
}

// words returns n runes of text made of words and sentences.
func words(n int, seed string) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%s%d is a word. ", seed, i)
	}
	return strings.TrimSpace(b.String()[:n])
}

// progressive checks that the writes of one message show growing
// prefixes of final and end with final.
func progressive(t *testing.T, writes []discordtest.Request, final string) {
	t.Helper()
	if len(writes) < 3 {
		t.Errorf("%d writes, want a post and at least two edits (progressive)", len(writes))
	}
	prev := ""
	for i, w := range writes {
		c := w.Content()
		if !strings.HasPrefix(final, c) || len(c) < len(prev) {
			t.Errorf("write %d = %q, want a growing prefix of the answer", i, c)
		}
		prev = c
	}
	if prev != final {
		t.Errorf("last write = %q, want %q", prev, final)
	}
}

func TestEndToEnd(t *testing.T) {
	f := newFake(t)
	mention := "<@" + fakeBotID + "> "
	answerMention := words(300, "alpha")
	answerDM := "Hello from the bridge."
	answerAsk := words(200, "ask")
	answerEveryone := "@everyone and <@&" + fakeRole + "> and <@5>: read this"
	answerLong := words(5000, "long")
	answerLongTight := strings.Repeat("é𝄞x", 1667) // 5001 runes, no word boundary
	answer429 := words(400, "limited")
	answerResumed := "Answered after the resume."
	answers := map[string][]bridgestest.Step{
		"what is X?":       bridgestest.Answer(answerMention, 15, 15*time.Millisecond, "convX"),
		"plain question":   bridgestest.Answer(answerDM, 100, 0, ""),
		"hi in DM":         bridgestest.Answer(answerDM, 5, 5*time.Millisecond, "convDM"),
		"thread one":       bridgestest.Answer("one", 100, 0, "conv-one"),
		"thread one again": bridgestest.Answer("one again", 100, 0, "conv-one"),
		"thread two":       bridgestest.Answer("two", 100, 0, "conv-two"),
		"what is Z?":       bridgestest.Answer(answerAsk, 10, 15*time.Millisecond, "convZ"),
		"ping everyone":    bridgestest.Answer(answerEveryone, 100, 0, ""),
		"long answer":      bridgestest.Answer(answerLong, 500, 0, ""),
		"tight answer":     bridgestest.Answer(answerLongTight, 500, 0, ""),
		"rate limit me":    bridgestest.Answer(answer429, 20, 10*time.Millisecond, ""),
		"after resume":     bridgestest.Answer(answerResumed, 100, 0, ""),
	}
	a := newAdapter(t, f, nil)
	var internalRetries atomic.Int32
	a.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.RateLimit) { internalRetries.Add(1) })
	h, b := relayed(t, a, answers)
	run := start(t, a, h)

	t.Run("identify and commands", func(t *testing.T) {
		f.wait(t, "slash command registration", func() bool {
			return len(f.requests(func(r discordtest.Request) bool {
				return r.Method == "PUT" && r.Path == "applications/"+fakeAppID+"/commands"
			})) > 0
		})
		id := f.Identifies()[0].Raw
		intents, _ := id["intents"].(float64)
		want := discordgo.IntentsGuildMessages | discordgo.IntentsDirectMessages | discordgo.IntentMessageContent
		if discordgo.Intent(intents)&want != want {
			t.Errorf("identify intents = %d, want at least %d (message content included)", int(intents), want)
		}
		if id["token"] != "Bot "+fakeToken {
			t.Errorf("identify token is not the bot token with its prefix")
		}
		cmds := f.requests(func(r discordtest.Request) bool { return r.Method == "PUT" })[0]
		for _, name := range []string{`"ask"`, `"reset"`, `"new"`, `"stop"`, `"help"`, `"question"`} {
			if !strings.Contains(string(cmds.Body), name) {
				t.Errorf("registered commands %s lack %s", cmds.Body, name)
			}
		}
	})

	t.Run("mention answered with progressive edits", func(t *testing.T) {
		f.dispatch(t, "MESSAGE_CREATE", msgEvent("100", "C1", "G1", "5", mention+"what is X?"))
		f.wait(t, "the final answer in C1", func() bool {
			ms := f.Messages("C1")
			return len(ms) == 1 && ms[0].Content == answerMention
		})
		msg := f.messages("C1")[0]
		if msg.ReplyTo != "100" {
			t.Errorf("answer replies to %q, want the question 100", msg.ReplyTo)
		}
		writes := f.requests(func(r discordtest.Request) bool {
			return r.Path == "channels/C1/messages" || r.Path == "channels/C1/messages/"+msg.ID
		})
		progressive(t, writes, answerMention)
		typing := f.requests(func(r discordtest.Request) bool { return r.Path == "channels/C1/typing" })
		if len(typing) == 0 || typing[0].At.After(writes[0].At) {
			t.Errorf("no typing indicator before the first text")
		}
	})

	t.Run("plain guild message ignored", func(t *testing.T) {
		f.dispatch(t, "MESSAGE_CREATE", msgEvent("200", "C2", "G1", "5", "plain question"))
		f.dispatch(t, "MESSAGE_CREATE", msgEvent("201", "C2", "G1", "5", mention+"hi in DM"))
		f.wait(t, "the answer to the mention in C2", func() bool {
			ms := f.Messages("C2")
			return len(ms) > 0 && ms[len(ms)-1].Content == answerDM
		})
		if ms := f.messages("C2"); len(ms) != 1 || ms[0].ReplyTo != "201" {
			t.Errorf("C2 messages = %+v, want only the answer to the mention", ms)
		}
		for _, r := range b.Requests() {
			if r.Question == "plain question" {
				t.Errorf("the backend was asked a plain guild message")
			}
		}
	})

	t.Run("DM answered", func(t *testing.T) {
		f.dispatch(t, "MESSAGE_CREATE", msgEvent("300", "D1", "", "6", "hi in DM"))
		f.wait(t, "the DM answer", func() bool {
			ms := f.Messages("D1")
			return len(ms) == 1 && ms[0].Content == answerDM
		})
	})

	t.Run("thread isolation", func(t *testing.T) {
		f.dispatch(t, "MESSAGE_CREATE", msgEvent("400", "TH1", "G1", "5", mention+"thread one"))
		f.dispatch(t, "MESSAGE_CREATE", msgEvent("401", "TH2", "G1", "5", mention+"thread two"))
		f.wait(t, "both thread answers", func() bool {
			return len(f.Messages("TH1")) == 1 && len(f.Messages("TH2")) == 1
		})
		f.dispatch(t, "MESSAGE_CREATE", msgEvent("402", "TH1", "G1", "5", mention+"thread one again"))
		f.wait(t, "the second answer in TH1", func() bool { return len(f.Messages("TH1")) == 2 })
		f.wait(t, "the final text in TH1", func() bool { return f.Messages("TH1")[1].Content == "one again" })
		conv := map[string]string{}
		for _, r := range b.Requests() {
			conv[r.Question] = r.ConversationID
		}
		want := map[string]string{"thread one": "", "thread two": "", "thread one again": "conv-one"}
		for q, w := range want {
			if conv[q] != w {
				t.Errorf("question %q continued conversation %q, want %q", q, conv[q], w)
			}
		}
		if f.messages("TH2")[0].Content != "two" {
			t.Errorf("TH2 answer = %q, want %q", f.messages("TH2")[0].Content, "two")
		}
	})

	t.Run("ask through the interaction", func(t *testing.T) {
		f.dispatch(t, "INTERACTION_CREATE", commandEvent("500", "itok500", "C5", "G1", "5", "ask", "what is Z?"))
		f.wait(t, "the final /ask answer", func() bool {
			ms := f.InteractionMessages("500")
			return len(ms) == 1 && ms[0].Content == answerAsk
		})
		cb := f.requests(func(r discordtest.Request) bool { return strings.HasPrefix(r.Path, "interactions/500/") })
		if len(cb) != 1 || cb[0].Path != "interactions/500/itok500/callback" || reqJSON(t, cb[0])["type"] != float64(5) {
			t.Fatalf("interaction callbacks = %v, want one deferred response (type 5)", cb)
		}
		edits := f.requests(func(r discordtest.Request) bool {
			return r.Path == "webhooks/"+fakeAppID+"/itok500/messages/@original"
		})
		if len(edits) == 0 || edits[0].At.Before(cb[0].At) {
			t.Fatalf("no @original edit after the deferred response")
		}
		progressive(t, append([]discordtest.Request{{Body: []byte(`{"content":""}`)}}, edits...), answerAsk)
		if n := len(f.requests(func(r discordtest.Request) bool { return strings.HasPrefix(r.Path, "channels/C5/") })); n != 0 {
			t.Errorf("%d channel requests for /ask, want none (typing and answer go through the interaction)", n)
		}
	})

	t.Run("reset through the interaction", func(t *testing.T) {
		f.dispatch(t, "INTERACTION_CREATE", commandEvent("501", "itok501", "C5", "G1", "5", "reset", ""))
		f.wait(t, "the /reset confirmation", func() bool {
			ms := f.InteractionMessages("501")
			return len(ms) == 1 && ms[0].Content != ""
		})
	})

	t.Run("mentions never ping", func(t *testing.T) {
		f.dispatch(t, "MESSAGE_CREATE", msgEvent("600", "C6", "G1", "5", mention+"ping everyone"))
		f.wait(t, "the @everyone answer", func() bool {
			ms := f.Messages("C6")
			return len(ms) == 1 && ms[0].Content == answerEveryone
		})
	})

	t.Run("long answer split in three", func(t *testing.T) {
		for i, tt := range []struct{ channel, q, answer string }{
			{"C7", "long answer", answerLong},
			{"C8", "tight answer", answerLongTight},
		} {
			f.dispatch(t, "MESSAGE_CREATE", msgEvent(fmt.Sprint(700+i), tt.channel, "G1", "5", mention+tt.q))
			f.wait(t, "three messages in "+tt.channel, func() bool {
				ms := f.Messages(tt.channel)
				var got []string
				for _, m := range ms {
					got = append(got, m.Content)
				}
				// The split may drop the whitespace it cuts at.
				return len(ms) == 3 && strings.Join(strings.Fields(strings.Join(got, " ")), "") ==
					strings.Join(strings.Fields(tt.answer), "")
			})
			var all string
			for i, m := range f.messages(tt.channel) {
				if n := utf8.RuneCountInString(m.Content); n > 2000 {
					t.Errorf("%s message %d has %d code points, over 2000", tt.channel, i, n)
				}
				all += m.Content
			}
			if tt.channel == "C8" && all != tt.answer {
				t.Errorf("C8: the parts do not concatenate to the answer")
			}
		}
	})

	t.Run("429 on an edit obeyed", func(t *testing.T) {
		const retryAfter = 400 * time.Millisecond
		var limitedAt atomic.Int64
		f.Intercept(func(r discordtest.Request) (int, string, bool) {
			if r.Method == "PATCH" && strings.HasPrefix(r.Path, "channels/C9/messages/") && limitedAt.Load() == 0 {
				limitedAt.Store(r.At.UnixNano())
				return 429, fmt.Sprintf(`{"message":"You are being rate limited.","retry_after":%g,"global":false}`, retryAfter.Seconds()), true
			}
			return 0, "", false
		})
		defer f.Intercept(nil)
		f.dispatch(t, "MESSAGE_CREATE", msgEvent("900", "C9", "G1", "5", mention+"rate limit me"))
		f.wait(t, "the final answer in C9", func() bool {
			ms := f.Messages("C9")
			return len(ms) == 1 && ms[0].Content == answer429
		})
		if limitedAt.Load() == 0 {
			t.Fatal("no edit was rate limited")
		}
		patches := f.requests(func(r discordtest.Request) bool {
			return r.Method == "PATCH" && strings.HasPrefix(r.Path, "channels/C9/messages/")
		})
		t429 := time.Unix(0, limitedAt.Load())
		for _, p := range patches[1:] {
			if d := p.At.Sub(t429); d < retryAfter {
				t.Errorf("an edit came %v after the 429, before retry_after %v", d, retryAfter)
			}
		}
		if n := internalRetries.Load(); n != 0 {
			t.Errorf("discordgo retried %d requests itself; the core must own 429s", n)
		}
	})

	t.Run("resume after a dropped connection", func(t *testing.T) {
		f.drop(t)
		f.wait(t, "a resume", func() bool { return len(f.Resumes()) == 1 && f.Connected(0) })
		res := f.Resumes()[0]
		identifies := len(f.Identifies())
		if res.SessionID != "S1" || res.Token != "Bot "+fakeToken {
			t.Errorf("resume = session %v, want S1 with the bot token", res.SessionID)
		}
		if identifies != 1 {
			t.Errorf("%d identifies, want 1 (a resume, not a new session)", identifies)
		}
		f.dispatch(t, "MESSAGE_CREATE", msgEvent("1000", "C10", "G1", "5", mention+"after resume"))
		f.wait(t, "the answer after the resume", func() bool {
			ms := f.Messages("C10")
			return len(ms) == 1 && ms[0].Content == answerResumed
		})
	})

	if err := run.stop(t); err != nil {
		t.Errorf("Run() = %v, want nil after cancel", err)
	}
	t.Run("no write may ping", func(t *testing.T) {
		writes := f.requests(isWrite)
		if len(writes) < 20 {
			t.Fatalf("only %d writes recorded", len(writes))
		}
		for _, w := range writes {
			checkNoPings(t, w)
		}
	})
}

func TestFatalCloseCodes(t *testing.T) {
	tests := []struct {
		name     string
		identify int
		resume   int
		code     int
		hint     string
	}{
		{"disallowed intents", 4014, 0, 4014, "enable the Message Content intent in the Developer Portal → Bot → Privileged Gateway Intents"},
		{"bad token on resume", 0, 4004, 4004, "the bot token is wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.SetIdentifyClose(tt.identify)
			f.SetResumeClose(tt.resume)
			a := newAdapter(t, f, nil)
			run := start(t, a, bridges.HandlerFunc(func(context.Context, bridges.Message) error { return nil }))
			if tt.resume != 0 {
				f.drop(t)
			}
			err := run.wait(t)
			var ge *GatewayError
			if !errors.As(err, &ge) || ge.Code != tt.code || !strings.Contains(err.Error(), tt.hint) {
				t.Fatalf("Run() = %v, want a *GatewayError %d saying %q", err, tt.code, tt.hint)
			}
			if n := len(f.Identifies()) + len(f.Resumes()); n > 2 {
				t.Errorf("%d connection attempts, want no reconnect loop", n)
			}
		})
	}
}

func TestInvalidSessionIdentifiesAnew(t *testing.T) {
	f := newFake(t)
	f.SetResumeClose(4009) // session timed out: a resume can never work
	a := newAdapter(t, f, func(c *Config) { c.SkipCommands = true })
	a.identifyEvery = 100 * time.Millisecond // Discord's 5 s between identifies, shortened
	h, got := collect()
	start(t, a, h)
	f.drop(t)
	f.wait(t, "a second identify", func() bool { return len(f.Identifies()) == 2 && f.Connected(0) })
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("1", "D1", "", "5", "still there?"))
	if m := received(t, got, "message after identifying anew"); m.Text != "still there?" {
		t.Errorf("message after the new session = %q", m.Text)
	}
	if n := len(f.requests(func(r discordtest.Request) bool { return r.Method == "PUT" })); n != 0 {
		t.Errorf("skip_commands: %d command registrations", n)
	}
}

func TestReplyInThread(t *testing.T) {
	f := newFake(t)
	a := newAdapter(t, f, func(c *Config) { c.ReplyInThread = true; c.SkipCommands = true })
	h, b := relayed(t, a, map[string][]bridgestest.Step{
		"what is X?": bridgestest.Answer("X is a letter.", 100, 0, "convT"),
		"and Y?":     bridgestest.Answer("Y too.", 100, 0, "convT"),
	})
	start(t, a, h)
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("100", "C1", "G1", "5", "<@"+fakeBotID+"> what is X?"))
	var thread string
	f.wait(t, "a thread started from the question", func() bool {
		if th := f.Threads("C1"); len(th) == 1 {
			thread = th[0]
		}
		ms := f.Messages(thread)
		return thread != "" && len(ms) == 1 && ms[0].Content == "X is a letter."
	})
	if n := len(f.requests(func(r discordtest.Request) bool {
		return r.Method == "POST" && r.Path == "channels/C1/messages/100/threads"
	})); n != 1 {
		t.Errorf("%d thread starts from the question, want 1", n)
	}
	if ms := f.messages("C1"); len(ms) != 0 {
		t.Errorf("answer posted in the channel too: %+v", ms)
	}
	// In the bot's thread, no mention is needed, and the conversation goes on.
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("101", thread, "G1", "5", "and Y?"))
	f.wait(t, "the follow-up answer in the thread", func() bool {
		ms := f.Messages(thread)
		return len(ms) == 2 && ms[1].Content == "Y too."
	})
	reqs := b.Requests()
	if len(reqs) != 2 || reqs[1].ConversationID != "convT" {
		t.Errorf("backend requests = %+v, want the follow-up to continue convT", reqs)
	}
}

// TestReplyInThreadLazy: a question the core refuses opens no thread;
// the thread is started with the first reply to an answered one.
func TestReplyInThreadLazy(t *testing.T) {
	f := newFake(t)
	a := newAdapter(t, f, func(c *Config) { c.ReplyInThread = true; c.SkipCommands = true })
	h, b := relayedWith(t, a, map[string][]bridgestest.Step{
		"what is X?": bridgestest.Answer("X is a letter.", 5, 10*time.Millisecond, "convX"),
	}, func(rt *bridges.Route) {
		rt.Policy = bridges.Policy{MaxQuestionChars: 30, UserRate: bridges.Rate{N: 1, Per: time.Hour}}
	})
	start(t, a, h)
	mention := "<@" + fakeBotID + "> "
	refusedIn := func(id string) func() bool {
		return func() bool {
			for _, m := range f.Messages("C1") {
				if m.ReplyTo == id {
					return true
				}
			}
			return false
		}
	}
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("200", "C1", "G1", "6", mention+strings.Repeat("very long question ", 3)))
	f.wait(t, "the too-long notice in the channel", refusedIn("200"))
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("201", "C1", "G1", "5", mention+"what is X?"))
	f.wait(t, "the answer in thread 201", func() bool {
		ms := f.Messages("201")
		return len(ms) == 1 && ms[0].Content == "X is a letter."
	})
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("202", "C1", "G1", "5", mention+"and Y?"))
	f.wait(t, "the rate-limit notice in the channel", refusedIn("202"))

	if got := f.Threads("C1"); len(got) != 1 || got[0] != "201" {
		t.Errorf("threads started in C1 = %v, want only 201 (refused questions open none)", got)
	}
	if n := len(f.requests(func(r discordtest.Request) bool { return strings.HasSuffix(r.Path, "/threads") })); n != 1 {
		t.Errorf("%d thread starts, want 1", n)
	}
	if ms := f.Messages("C1"); len(ms) != 2 {
		t.Errorf("channel messages = %+v, want the two notices only", ms)
	}
	if ms := f.Messages("201"); ms[0].ReplyTo != "" {
		t.Errorf("the answer in the thread replies to %q, want no reference", ms[0].ReplyTo)
	}
	// Typing before the thread existed showed in the channel, none went
	// to a thread that did not exist yet.
	for _, r := range f.requests(func(r discordtest.Request) bool { return strings.HasSuffix(r.Path, "/typing") }) {
		if r.Status != 204 {
			t.Errorf("typing %s answered %d", r.Path, r.Status)
		}
	}
	if reqs := b.Requests(); len(reqs) != 1 || reqs[0].Question != "what is X?" {
		t.Errorf("backend asked %+v, want only the answered question", reqs)
	}
}

// TestShards runs every shard in one process: the count Discord
// recommends (0) or the configured one, each shard identifying with
// [id, count] at Discord's pace, and events of every shard answered.
func TestShards(t *testing.T) {
	tests := []struct {
		name        string
		recommended int
		configured  int
		want        int
	}{
		{"recommended", 2, 0, 2},
		{"configured", 1, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeWith(t, discordtest.Options{NoRateLimits: true, Shards: tt.recommended, MaxConcurrency: 1})
			a := newAdapter(t, f, func(c *Config) { c.SkipCommands = true; c.Shards = tt.configured })
			const every = 300 * time.Millisecond
			a.identifyEvery = every
			h, got := collect()
			start(t, a, h)
			f.wait(t, "every shard ready", func() bool {
				for i := range tt.want {
					if !f.Ready(i) {
						return false
					}
				}
				return true
			})
			if !a.Connected() {
				t.Errorf("Connected() = false with every shard ready")
			}
			ids := f.Identifies()
			if len(ids) != tt.want {
				t.Fatalf("%d identifies, want %d", len(ids), tt.want)
			}
			seen := map[int]bool{}
			for i, id := range ids {
				if id.Shard[1] != tt.want {
					t.Errorf("identify %d: shard %v, want a count of %d", i, id.Shard, tt.want)
				}
				seen[id.Shard[0]] = true
				if i > 0 && id.At.Sub(ids[i-1].At) < every-20*time.Millisecond {
					t.Errorf("identify %d came %v after the previous one, want at least %v (max_concurrency 1)", i, id.At.Sub(ids[i-1].At), every)
				}
			}
			if len(seen) != tt.want {
				t.Errorf("shards identified = %v, want each of 0..%d once", seen, tt.want-1)
			}
			// A guild on the last shard and a DM (shard 0).
			guild := fmt.Sprint(uint64(tt.want-1) << 22)
			if s := discordtest.ShardOf(guild, tt.want); s != tt.want-1 {
				t.Fatalf("ShardOf(%s) = %d", guild, s)
			}
			f.dispatch(t, "MESSAGE_CREATE", msgEvent("1", "C1", guild, "5", "<@"+fakeBotID+"> hi"))
			f.dispatch(t, "MESSAGE_CREATE", msgEvent("2", "D1", "", "5", "hello"))
			for range 2 {
				if m := received(t, got, "message of a shard"); m.Text != "hi" && m.Text != "hello" {
					t.Errorf("message %q", m.Text)
				}
			}
		})
	}
}

// TestReplyInThreadExisting: a question whose thread exists already (the
// question was delivered again) is answered in that thread.
func TestReplyInThreadExisting(t *testing.T) {
	f := newFake(t)
	f.AddChannel(discordtest.Channel{ID: "300", Type: 11, ParentID: "C1", OwnerID: fakeBotID, GuildID: "G1"})
	a := newAdapter(t, f, func(c *Config) { c.ReplyInThread = true; c.SkipCommands = true })
	h, _ := relayed(t, a, map[string][]bridgestest.Step{"what is X?": bridgestest.Answer("X.", 100, 0, "")})
	start(t, a, h)
	f.dispatch(t, "MESSAGE_CREATE", msgEvent("300", "C1", "G1", "5", "<@"+fakeBotID+"> what is X?"))
	f.wait(t, "the answer in thread 300", func() bool {
		ms := f.Messages("300")
		return len(ms) == 1 && ms[0].Content == "X."
	})
	if ms := f.Messages("C1"); len(ms) != 0 {
		t.Errorf("answer posted in the channel: %+v", ms)
	}
}

// Thread context, platform admins for reset = "admins" and the user's
// language, end to end through the Discord fake.

// echoE2E is an adapter on the fake bound to a real relay whose backend
// answers every question with "Answer: " and the question's last line
// (the question itself, after a thread's preface).
type echoE2E struct {
	f  *fake
	be *bridgestest.Backend
}

func newEchoE2E(t *testing.T, be *bridgestest.Backend, mod func(*bridges.Route)) *echoE2E {
	t.Helper()
	f := newFake(t)
	if be == nil {
		be = &bridgestest.Backend{}
	}
	be.Script = func(req backend.Request) []bridgestest.Step {
		lines := strings.Split(req.Question, "\n")
		return bridgestest.Answer("Answer: "+strings.TrimPrefix(lines[len(lines)-1], "Question: "), 100, 0, "")
	}
	a := newAdapter(t, f, nil)
	start(t, a, bindRelay(t, a, be, mod))
	f.connected(t)
	return &echoE2E{f: f, be: be}
}

// requests waits for n backend requests and returns them.
func (e *echoE2E) requests(t *testing.T, n int) []backend.Request {
	t.Helper()
	bridgestest.WaitFor(t, "backend request", 10*time.Second, func() bool { return len(e.be.Requests()) >= n })
	return e.be.Requests()
}

// answered waits for a bot message in channel with content want.
func (e *echoE2E) answered(t *testing.T, channel, want string) {
	t.Helper()
	e.f.wait(t, "the answer "+want+" in "+channel, func() bool {
		for _, m := range e.f.Messages(channel) {
			if m.Content == want {
				return true
			}
		}
		return false
	})
}

// threadScene puts seven earlier messages in T9, a thread of C1 the bot
// did not start: two old ones, then five (one of them the bot's own
// answer, one a user's earlier mention that was answered elsewhere).
func threadScene(t *testing.T, e *echoE2E) []string {
	t.Helper()
	e.f.AddChannel(discordtest.Channel{ID: "T9", Type: 11, ParentID: "C1", OwnerID: "77", GuildID: "G1"})
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("90", "T9", "G1", "8", "old message one"))
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("91", "T9", "G1", "8", "old message two"))
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("101", "T9", "G1", "6", "the build is red"))
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("102", "T9", "G1", "7", "since when?"))
	e.f.AddMessage("T9", "Probably the flaky test.")
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("104", "T9", "G1", "6", "since Monday"))
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("105", "T9", "G1", "7", "it is the flaky test"))
	return []string{"[user6] the build is red", "[user7] since when?", "[assistant] Probably the flaky test.",
		"[user6] since Monday", "[user7] it is the flaky test"}
}

// TestE2EThreadContext: a mention inside a thread the bot did not start,
// with seven earlier messages and thread_context = 5, sends the last 5
// (in order, labelled, the bot's as the assistant's) ahead of the
// question, and the user sees only the answer; a reply to someone's
// message sends that message; a mention outside any thread sends
// nothing but the question and reads no history.
func TestE2EThreadContext(t *testing.T) {
	e := newEchoE2E(t, nil, func(rt *bridges.Route) { rt.ThreadContext = 5 })
	want := threadScene(t, e)
	mention := "<@" + fakeBotID + "> "
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("110", "T9", "G1", "5", mention+"sum up the thread"))
	q := e.requests(t, 1)[0].Question
	bridgestest.CheckThreadLines(t, q, want)
	if strings.Contains(q, "old message") {
		t.Errorf("question %q holds messages beyond thread_context = 5", q)
	}
	if !strings.HasSuffix(q, "\nQuestion: sum up the thread") || strings.Contains(q, fakeBotID) {
		t.Errorf("question %q does not end with the question, its mention stripped", q)
	}
	e.answered(t, "T9", "Answer: sum up the thread")
	hist := e.f.requests(func(r discordtest.Request) bool {
		return r.Method == "GET" && strings.HasPrefix(r.Path, "channels/T9/messages")
	})
	if len(hist) != 1 || !strings.Contains(hist[0].Query, "before=110") || !strings.Contains(hist[0].Query, "limit=5") {
		t.Errorf("history requests %+v, want one, of 5 before the mention", hist)
	}

	// Later questions of the conversation rely on the backend's memory.
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("111", "T9", "G1", "5", mention+"and now?"))
	if q := e.requests(t, 2)[1].Question; q != "and now?" {
		t.Errorf("second question in the thread = %q, want it alone", q)
	}

	e.f.dispatch(t, "MESSAGE_CREATE", discordtest.ReplyTo(msgEvent("201", "C1", "G1", "5", mention+"is that right?"), "200", "6"))
	q = e.requests(t, 3)[2].Question
	if !strings.Contains(q, "[user6] an earlier message\n") || !strings.HasSuffix(q, "\nQuestion: is that right?") {
		t.Errorf("reply's question %q lacks the replied-to message, labelled, ahead of the question", q)
	}
	e.answered(t, "C1", "Answer: is that right?")

	before := len(e.f.requests(nil))
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("301", "C2", "G1", "5", mention+"plain question"))
	if q := e.requests(t, 4)[3].Question; q != "plain question" {
		t.Errorf("outside a thread the question is %q, want it alone", q)
	}
	e.answered(t, "C2", "Answer: plain question")
	for _, r := range e.f.requests(nil)[before:] {
		if r.Method == "GET" && strings.Contains(r.Path, "/messages") {
			t.Errorf("a history request outside a thread: %s", r.Path)
		}
	}
	if n := len(e.be.Requests()); n != 4 {
		t.Errorf("%d backend requests, want 4 (the thread's plain messages are not questions)", n)
	}
}

// TestE2EThreadContextAsHistory: to a backend that keeps no memory (an
// OpenAI-compatible one), the thread goes as history turns, the bot's
// message as the assistant's answer, and the question alone.
func TestE2EThreadContextAsHistory(t *testing.T) {
	be := &bridgestest.HistoryBackend{Turns: 10}
	f := newFake(t)
	be.Script = func(req backend.Request) []bridgestest.Step { return bridgestest.Answer("ok", 100, 0, "") }
	a := newAdapter(t, f, nil)
	r := bridgestest.NewRelay(t, bridges.Config{Store: bridgestest.NewStore(), Logger: testLogger(t)})
	start(t, a, r.Bind(a, bridges.Route{BackendName: "test", Backend: be, ThreadContext: 5, EditInterval: 50 * time.Millisecond}))
	f.connected(t)
	e := &echoE2E{f: f, be: &be.Backend}
	threadScene(t, e)
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("110", "T9", "G1", "5", "<@"+fakeBotID+"> sum up the thread"))
	req := e.requests(t, 1)[0]
	want := []backend.Turn{
		{Question: "[user6] the build is red\n[user7] since when?", Answer: "Probably the flaky test."},
		{Question: "[user6] since Monday\n[user7] it is the flaky test"},
	}
	if req.Question != "sum up the thread" || len(req.History) != len(want) {
		t.Fatalf("request = %q with history %+v, want the question alone after %+v", req.Question, req.History, want)
	}
	for i := range want {
		if req.History[i] != want[i] {
			t.Errorf("history turn %d = %+v, want %+v", i, req.History[i], want[i])
		}
	}
}

// TestE2EResetByAdmins: with reset = "admins", /reset by a member whose
// role has Manage Messages (the fake's guild roles, GET
// /guilds/{g}/members/{u}) starts a new conversation, by a plain member
// it is refused, and a channel overwrite denying Manage Messages makes
// the mod a plain member there; the same through slash commands, whose
// member.permissions the fake computes from those roles and overwrites.
func TestE2EResetByAdmins(t *testing.T) {
	e := newEchoE2E(t, nil, func(rt *bridges.Route) { rt.Policy.ResetAdminsOnly = true })
	e.f.SetMember("G1", "8", "940") // the default guild's "mods" role: Manage Messages
	e.f.SetMember("G1", "9")
	e.f.AddChannel(discordtest.Channel{ID: "CX", GuildID: "G1", PermissionOverwrites: []discordtest.Overwrite{
		{ID: "940", Type: 0, Deny: discordtest.PermManageMessages},
	}})
	const done, refused = "Started a new conversation.", "Only the group's admins can start a new conversation here."

	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("1", "C1", "G1", "8", "/reset"))
	e.answered(t, "C1", done)
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("2", "C1", "G1", "9", "/reset"))
	e.answered(t, "C1", refused)
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("3", "CX", "G1", "8", "/reset"))
	e.answered(t, "CX", refused)
	if n := len(e.f.requests(func(r discordtest.Request) bool {
		return r.Method == "GET" && strings.HasPrefix(r.Path, "guilds/G1/members/")
	})); n != 3 {
		t.Errorf("%d member lookups, want 3 (the platform asked per channel and user)", n)
	}

	// Slash commands: the fake computes member.permissions from the same
	// roles and overwrites. New users: a refusal is shown once a minute
	// per user.
	e.f.SetMember("G1", "12", "940")
	e.f.SetMember("G1", "13")
	e.f.SetMember("G1", "14", "940")
	e.f.AddChannel(discordtest.Channel{ID: "CY", GuildID: "G1", PermissionOverwrites: []discordtest.Overwrite{
		{ID: "940", Type: 0, Deny: discordtest.PermManageMessages},
	}})
	e.f.dispatch(t, "INTERACTION_CREATE", commandEvent("501", "itok501", "C5", "G1", "12", "reset", ""))
	e.f.dispatch(t, "INTERACTION_CREATE", commandEvent("502", "itok502", "C5", "G1", "13", "reset", ""))
	e.f.dispatch(t, "INTERACTION_CREATE", commandEvent("503", "itok503", "CY", "G1", "14", "reset", ""))
	for id, want := range map[string]string{"501": done, "502": refused, "503": refused} {
		e.f.wait(t, "the /reset answer of "+id, func() bool {
			ms := e.f.InteractionMessages(id)
			return len(ms) == 1 && ms[0].Content == want
		})
	}
	if n := len(e.f.requests(func(r discordtest.Request) bool {
		return r.Method == "GET" && strings.HasPrefix(r.Path, "guilds/G1/members/")
	})); n != 3 {
		t.Errorf("%d member lookups after the slash commands, want still 3 (their permissions come with them)", n)
	}
	for _, m := range append(e.f.Messages("C1"), e.f.Messages("CX")...) {
		if m.Content != done && m.Content != refused {
			t.Errorf("unexpected bot message %q", m.Content)
		}
	}
}

// TestE2ELanguage: a slash command with locale "de" gets its notices in
// German, another user's in English; a guild whose preferred locale is
// "fr" gets French notices for messages.
func TestE2ELanguage(t *testing.T) {
	e := newEchoE2E(t, nil, nil)
	de := commandEvent("601", "itok601", "C6", "G1", "5", "reset", "")
	de["locale"] = "de"
	e.f.dispatch(t, "INTERACTION_CREATE", de)
	en := commandEvent("602", "itok602", "C7", "G1", "6", "reset", "")
	en["locale"] = "en-US"
	e.f.dispatch(t, "INTERACTION_CREATE", en)
	for id, want := range map[string]string{"601": "Neue Unterhaltung begonnen.", "602": "Started a new conversation."} {
		e.f.wait(t, "the /reset confirmation of "+id, func() bool {
			ms := e.f.InteractionMessages(id)
			return len(ms) == 1 && ms[0].Content == want
		})
	}

	e.f.SetGuild(discordtest.Guild{ID: "G4", OwnerID: "1", PreferredLocale: "fr", Roles: []discordtest.Role{{ID: "G4"}}})
	e.f.dispatch(t, "MESSAGE_CREATE", msgEvent("603", "C8", "G4", "5", "/reset"))
	e.answered(t, "C8", "Nouvelle conversation commencée.")
	if n := len(e.be.Requests()); n != 0 {
		t.Errorf("%d backend requests for commands, want none", n)
	}
}
