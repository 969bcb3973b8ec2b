package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/discord/discordtest"
	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// The acceptance load: 100 conversations of 3 questions. Telegram has
// the largest share (its bot-wide 30/s is what three replicas on local
// budgets overrun first, the control's proof); Slack the smallest, since
// every Slack answer's final text, streamed or not, books a slot of the
// workspace's chat.update budget (Tier 3, about 50 a minute): 30 Slack
// answers alone take over 35 s of it.
const (
	acceptPrivate    = 48 // Telegram private chats
	acceptGroups     = 12 // Telegram groups (a mention each; 20/min per group)
	acceptThreads    = 8  // Slack channel mentions, answered (streamed) in a thread
	acceptDMs        = 2  // Slack DMs, answered at top level (chat.update)
	acceptDiscord    = 30 // Discord guild channels, 15 on each of the 2 shards
	acceptPer        = 3  // questions per conversation
	acceptPartitions = 16
	acceptTTL        = 3 * time.Second // the lease_ttl of clusterConf
	acceptFreeze     = 20 * time.Second
)

// acceptConv is one conversation of the acceptance load.
type acceptConv struct {
	name     string // the questions are name-q0, name-q1, …
	platform string
	key      string // as `bridge conversations list` shows it ("" until known)
	shard    int    // Discord: the shard its guild is on; -1 elsewhere
	// ask delivers question q, redelivering as the platform does until
	// a replica took it.
	ask func(ctx context.Context, c *acceptConv, q string)
	// msgs are the bot's messages in the conversation, in order.
	msgs func(c *acceptConv) []acceptMsg

	mu        sync.Mutex
	asked     []string
	thread    string // Slack: the first question's ts, the reply thread
	delivered atomic.Int32
}

func (c *acceptConv) questions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.asked...)
}

// acceptMsg is one bot message as a user sees it.
type acceptMsg struct {
	text  string
	edits int
}

func (c *acceptConv) texts() []string {
	var out []string
	for _, m := range c.msgs(c) {
		out = append(out, m.text)
	}
	return out
}

// acceptCluster is one run's deployment: the three fakes with their rate
// limits on, three replicas with all three platforms, the round-robin
// webhook front, and the load's conversations.
type acceptCluster struct {
	tg    *telegramtest.Server
	sl    *slacktest.Server
	dc    *discordtest.Server
	llm   *fakeLLM
	rr    *telegramtest.Front
	reps  []*clusterReplica
	cfgs  []string
	convs []*acceptConv

	slSeq atomic.Int64
	dcSeq atomic.Int64
	// dcMu guards dcHeld, the shards no question is dispatched to (the
	// shard's replica is about to be killed; Discord does not redeliver).
	dcMu   sync.RWMutex
	dcHeld map[int]bool

	// The chaos's moments, and the Telegram fake's 429s.
	killed, stopped, resumed time.Time
	tgMu                     sync.Mutex
	tg429                    []telegramtest.Request
}

// startAcceptance starts the deployment under prefix on redisURL and
// waits until it is ready: the webhook set, three Socket Mode
// connections, both shards ready, every partition owned and spread. env
// is added to the replicas' environment.
func startAcceptance(t *testing.T, redisURL, prefix string, env ...string) *acceptCluster {
	t.Helper()
	a := &acceptCluster{
		sl:     slacktest.NewServer(slacktest.Options{RateLimits: true}),
		dc:     discordtest.NewServer(discordtest.Options{Token: "e2e-discord-token", Shards: 2, MaxConcurrency: 1}),
		llm:    newFakeLLM(t, 40*time.Millisecond),
		reps:   newReplicas(t, 3, 0),
		dcHeld: map[int]bool{},
	}
	a.tg = telegramtest.NewServer(telegramtest.Options{Token: e2eToken, OnRequest: func(r telegramtest.Request) {
		if r.Status == 429 {
			a.tgMu.Lock()
			a.tg429 = append(a.tg429, r)
			a.tgMu.Unlock()
		}
	}})
	t.Cleanup(a.tg.Close)
	t.Cleanup(a.sl.Close)
	t.Cleanup(a.dc.Close)
	a.rr = telegramtest.NewFront(listens(a.reps), time.Second)
	front := httptest.NewServer(a.rr)
	t.Cleanup(front.Close)
	conf := clusterConf{redisURL: redisURL, prefix: prefix, partitions: acceptPartitions, level: "info", grace: "5s", llm: a.llm}
	platforms := telegramWebhookTable(a.tg, front.URL) + slackSocketTable(a.sl) + discordShardsTable(a.dc)
	for _, r := range a.reps {
		r.env = env
	}
	startReplicas(t, a.reps, func(r *clusterReplica) string {
		cfg := conf.write(t, r.id, r.listen, platforms)
		a.cfgs = append(a.cfgs, cfg)
		return cfg
	})
	waitFor(t, "the webhook set, three Socket Mode connections, both shards ready", 40*time.Second, func() bool {
		return a.tg.WebhookURL() != "" && a.sl.Connections() == 3 && a.dc.Ready(0) && a.dc.Ready(1)
	})
	waitReady(t, a.reps, 20*time.Second)
	waitSpread(t, a.reps, acceptPartitions, 3, 30*time.Second)
	a.convs = a.conversations()
	return a
}

// conversations builds the load's 100 conversations.
func (a *acceptCluster) conversations() []*acceptConv {
	var convs []*acceptConv
	tgMsgs := func(chat int64) func(*acceptConv) []acceptMsg {
		return func(*acceptConv) []acceptMsg { return tgAcceptMsgs(a.tg.BotMessages(chat)) }
	}
	for i := range acceptPrivate {
		chat := int64(5001 + i)
		convs = append(convs, &acceptConv{name: fmt.Sprintf("tp%02d", i), platform: "telegram", shard: -1,
			key:  fmt.Sprintf("telegram/main/%d", chat),
			ask:  func(_ context.Context, _ *acceptConv, q string) { ask(a.tg, chat, q) },
			msgs: tgMsgs(chat)})
	}
	for i := range acceptGroups {
		chat := int64(-100001 - i)
		convs = append(convs, &acceptConv{name: fmt.Sprintf("tg%02d", i), platform: "telegram", shard: -1,
			key:  fmt.Sprintf("telegram/main/%d", chat),
			ask:  func(_ context.Context, _ *acceptConv, q string) { mentionBot(a.tg, chat, 7, q) },
			msgs: tgMsgs(chat)})
	}
	slMsgs := func(ch string) func(*acceptConv) []acceptMsg {
		return func(c *acceptConv) []acceptMsg {
			c.mu.Lock()
			thread := c.thread
			c.mu.Unlock()
			if thread == "" {
				return nil
			}
			var out []acceptMsg
			for _, m := range a.sl.Messages(ch, thread) {
				if !m.Deleted {
					out = append(out, acceptMsg{m.Visible(), len(m.Versions) - 1})
				}
			}
			return out
		}
	}
	for i := range acceptThreads {
		ch := fmt.Sprintf("C%d", i+1)
		convs = append(convs, &acceptConv{name: fmt.Sprintf("sc%02d", i), platform: "slack", shard: -1,
			ask: func(ctx context.Context, c *acceptConv, q string) {
				ts, text := a.sl.NewTS(), a.sl.Mentioning(q)
				c.mu.Lock()
				if c.thread == "" { // the first question: its thread is the conversation
					c.thread, c.key = ts, "slack/main/"+ch+"/"+ts
				}
				thread := c.thread
				c.mu.Unlock()
				if thread == ts {
					thread = ""
				}
				// A mention comes twice, as an app_mention and its message
				// copy, each on its own connection.
				a.slackDeliver(ctx, slacktest.MentionEvent(ch, "U1", text, ts, thread), slacktest.MessageEvent("channel", ch, "U1", text, ts, thread))
			},
			msgs: slMsgs(ch)})
	}
	for i := range acceptDMs {
		ch := fmt.Sprintf("D%d", i+1)
		c := &acceptConv{name: fmt.Sprintf("sd%02d", i), platform: "slack", shard: -1, key: "slack/main/" + ch, thread: "-",
			ask: func(ctx context.Context, _ *acceptConv, q string) {
				a.slackDeliver(ctx, slacktest.MessageEvent("im", ch, fmt.Sprintf("U%d", 10+i), q, a.sl.NewTS(), ""))
			}}
		c.msgs = slMsgs(ch)
		convs = append(convs, c)
	}
	for i := range acceptDiscord {
		ch := fmt.Sprint(7001 + i)
		guild := uint64(i+1) << 22
		convs = append(convs, &acceptConv{name: fmt.Sprintf("dc%02d", i), platform: "discord",
			key:   "discord/main/" + ch,
			shard: discordtest.ShardOf(fmt.Sprint(guild), 2),
			ask: func(ctx context.Context, c *acceptConv, q string) {
				a.dcDispatch(ctx, c, discordtest.MessageCreate(fmt.Sprint(800000+a.dcSeq.Add(1)), ch, fmt.Sprint(guild), "42", "<@"+discordtest.BotID+"> "+q))
			},
			msgs: func(*acceptConv) []acceptMsg { return dcAcceptMsgs(a.dc.Messages(ch)) }})
	}
	return convs
}

// slackDeliver delivers the events of one user message over Socket Mode,
// each on its own connection, and, as Slack does, delivers each again
// (retry_attempt 1, 2, 3, on another connection) while no replica acked
// it (Slack waits 3 s for an ack, then retries an event up to 3 times).
func (a *acceptCluster) slackDeliver(ctx context.Context, evs ...map[string]any) {
	n := int(a.slSeq.Add(int64(len(evs)))) - len(evs) // evs get event IDs n…n+len-1
	var wg sync.WaitGroup
	for k, ev := range evs {
		wg.Go(func() {
			for retry := 0; retry <= 3 && ctx.Err() == nil; retry++ {
				id, err := a.sl.EnvelopeOn(n+k+retry, fmt.Sprintf("Ev%d", n+k), retry, ev)
				for deadline := time.Now().Add(3 * time.Second); err == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					if _, ok := a.sl.AckedAt(id); ok {
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// dcDispatch dispatches a MESSAGE_CREATE to its shard once the shard has
// a ready session and is not held. Discord does not redeliver: an event
// sent to a session that dies before it is accepted is lost (failure
// window W5, research/scale-out.md §7), so the chaos holds a shard while
// its replica is killed.
func (a *acceptCluster) dcDispatch(ctx context.Context, c *acceptConv, d map[string]any) {
	for ctx.Err() == nil {
		a.dcMu.RLock()
		if !a.dcHeld[c.shard] && a.dc.Ready(c.shard) && a.dc.Dispatch("MESSAGE_CREATE", d) == nil {
			c.delivered.Add(1)
			a.dcMu.RUnlock()
			return
		}
		a.dcMu.RUnlock()
		time.Sleep(20 * time.Millisecond)
	}
}

// hold stops (or, with on false, resumes) the dispatches to shards.
func (a *acceptCluster) hold(shards []int, on bool) {
	a.dcMu.Lock()
	defer a.dcMu.Unlock()
	for _, s := range shards {
		a.dcHeld[s] = on
	}
}

// drive asks the conversations' questions: each follow-up once the
// previous answer shows (it was accepted, in order, and streams).
func (a *acceptCluster) drive(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, c := range a.convs {
		wg.Go(func() {
			for i := range acceptPer {
				q := fmt.Sprintf("%s-q%d", c.name, i)
				c.mu.Lock()
				c.asked = append(c.asked, q)
				c.mu.Unlock()
				c.ask(ctx, c, q)
				if c.platform != "discord" {
					c.delivered.Add(1)
				}
				for deadline := time.Now().Add(45 * time.Second); len(c.msgs(c)) < i+1 && time.Now().Before(deadline) && ctx.Err() == nil; {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	return &wg
}

// complete reports whether every conversation shows the answer to each
// of its questions (the checks of order and doubles come after).
func (a *acceptCluster) complete() bool {
	for _, c := range a.convs {
		if len(c.missing()) > 0 {
			return false
		}
	}
	return true
}

// missing are the questions of c whose whole answer is not shown.
func (c *acceptConv) missing() []string {
	qs, texts := c.questions(), c.texts()
	var out []string
	for _, q := range qs {
		if !slices.Contains(texts, answerFor(q)) {
			out = append(out, q)
		}
	}
	if len(qs) < acceptPer {
		out = append(out, "(not all asked)")
	}
	return out
}

// tooMany is the 429s of each fake's rate limits.
func (a *acceptCluster) tooMany() map[string]int {
	dc := 0
	for _, n := range a.dc.TooMany() {
		dc += int(n)
	}
	return map[string]int{"telegram": a.tg.Flood429(), "slack": a.sl.TooMany(), "discord": dc}
}

var shardRuns = regexp.MustCompile(`msg="cluster: this replica runs a shard".* shard=(\d+)`)

// shards are the Discord shards the replica's log says it runs (none is
// lost before the chaos).
func (r *clusterReplica) shards() []int {
	var out []int
	for _, m := range shardRuns.FindAllStringSubmatch(r.p.stderr.String(), -1) {
		n, _ := strconv.Atoi(m[1])
		out = append(out, n)
	}
	return out
}

// TestClusterAcceptance is issue 14's acceptance test: three real `bridge
// run` replicas on one redis-server, each with Telegram (webhook behind a
// round-robin front, one shared webhook_secret), Slack (Socket Mode, a
// connection per replica) and Discord (2 shards leased across them), the
// fakes' rate limits on. 300 questions over 100 conversations, each
// follow-up asked while the previous answer streams.
//
// shared: while answers stream, a replica that is answering and runs a
// Discord shard is killed with SIGKILL and another frozen with SIGSTOP
// for 20 s, then resumed. Every question gets exactly one answer, in
// order per conversation, none shown twice (but for failure window W1,
// counted); each follow-up reaches the backend with the previous turn as
// history; no fake answers a 429; setWebhook is called once, the
// partitions are taken over within the lease TTL, the metrics carry the
// replica label, `bridge conversations list` on Redis sees every
// conversation and the slash commands are registered once. The bridge's
// defects it found are fixed (see below). The control, the same load (no chaos) with
// CHATBRIDGE_LOCAL_BUDGETS=1 (a budget per replica), draws Telegram or
// Slack 429s: the test can tell a shared budget from none.
func TestClusterAcceptance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	// Mostly waiting (the platforms' paces, the 20 s freeze): it runs
	// beside the other parallel end-to-end tests to keep the suite short.
	t.Parallel()
	redis := redistest.StartServer(t, redistest.Options{Args: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	bridgeBinary(t)
	t.Run("shared", func(t *testing.T) {
		stats := openBudgetDB(t, redis.URL, "stats")
		a := startAcceptance(t, redis.URL, "shared", localBudgetsEnv+"=")
		if c := len(a.tg.Calls("setWebhook")); c != 1 {
			t.Errorf("setWebhook called %d times, want once (by the leader)", c)
		}
		before := redisCalls(t, stats)
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		wg := a.drive(ctx)
		a.chaos(t)
		wg.Wait()
		for deadline := time.Now().Add(45 * time.Second); !a.complete(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				for _, c := range a.convs {
					var short []string
					for _, m := range c.msgs(c) {
						short = append(short, fmt.Sprintf("%.30q…(%d, %d edits)", m.text, len(m.text), m.edits))
					}
					t.Logf("%s %s: asked %v, %d messages %v", c.platform, c.name, c.questions(), len(short), short)
				}
				t.Fatal("timed out waiting for every question answered")
			}
		}
		took := time.Since(start)
		time.Sleep(time.Second) // a late or doubled write would land by now
		a.checkAnswers(t, took)
		total, detail := perAnswer(before, redisCalls(t, stats), len(a.convs)*acceptPer)
		t.Logf("Redis (the three replicas, chaos included): %.1f commands per answer: %s", total, detail)
	})
	t.Run("control_local_budgets", func(t *testing.T) {
		a := startAcceptance(t, redis.URL, "control", localBudgetsEnv+"=1")
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		wg := a.drive(ctx)
		// The outcome is known at the first 429 of Telegram or Slack (or
		// when every question is answered without one): stop the load
		// there. Discord's do not count (known defect 1: they come with
		// shared budgets too).
		waitFor(t, "a 429 or every question answered", 90*time.Second, func() bool {
			n := a.tooMany()
			return n["telegram"]+n["slack"] > 0 || a.complete()
		})
		took := time.Since(start)
		cancel()
		wg.Wait()
		flood := a.tooMany()
		t.Logf("3 replicas, budgets per replica: the first 429 %v into the load; 429s %v (Telegram by scope %v, Slack %v, Discord %v)",
			took.Round(time.Millisecond), flood, a.tg.Stats().TooMany, a.sl.Limited(), a.dc.TooMany())
		if flood["telegram"]+flood["slack"] == 0 {
			t.Error("per-replica budgets drew no 429 under the same load: the test cannot tell a shared budget from none")
		}
	})
}

// chaos kills a replica that is answering and runs a Discord shard, and
// freezes one that runs none for acceptFreeze; it returns once the frozen
// one is resumed.
func (a *acceptCluster) chaos(t *testing.T) {
	t.Helper()
	var victim *clusterReplica
	waitFor(t, "a replica answering that runs a shard", 30*time.Second, func() bool {
		for _, r := range a.reps {
			if len(r.shards()) > 0 && r.answering() {
				victim = r
				return true
			}
		}
		return false
	})
	var frozen, alive *clusterReplica
	for _, r := range a.reps {
		switch {
		case r == victim:
		case frozen == nil && len(r.shards()) == 0:
			frozen = r
		default:
			alive = r
		}
	}
	if frozen == nil || alive == nil {
		t.Fatalf("no replica without a shard to freeze: %s runs %v, the others %v and %v", victim.id, victim.shards(), a.reps[0].shards(), a.reps[2].shards())
	}
	// What the victim's shards dispatched must be accepted before it
	// dies: hold them and wait until each question sent there shows its
	// answer.
	held := victim.shards()
	a.hold(held, true)
	waitFor(t, "the questions on the victim's shards accepted", 30*time.Second, func() bool {
		for _, c := range a.convs {
			if c.platform == "discord" && slices.Contains(held, c.shard) && len(c.msgs(c)) < int(c.delivered.Load()) {
				return false
			}
		}
		return true
	})
	waitFor(t, victim.id+" answering", 20*time.Second, victim.answering)
	killed := victim.kill(t)
	if err := frozen.p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	a.killed, a.stopped = killed, stopped
	// The one running replica owns every partition within the TTL (and
	// a maintenance tick) of the kill and of the freeze.
	waitFor(t, "the running replica owns every partition", 3*acceptTTL+5*time.Second, func() bool {
		st, err := replicaStatus(alive.listen)
		return err == nil && len(st.Partitions) == acceptPartitions
	})
	t.Logf("takeover: %s (running) owns all %d partitions %v after the SIGKILL of %s (%v after the SIGSTOP of %s; lease TTL %v)",
		alive.id, acceptPartitions, time.Since(killed).Round(time.Millisecond), victim.id, time.Since(stopped).Round(time.Millisecond), frozen.id, acceptTTL)
	if d := time.Since(stopped); d > acceptTTL+2*time.Second {
		t.Errorf("takeover of the frozen replica's partitions took %v, want within the lease TTL %v (+ a tick)", d, acceptTTL)
	}
	waitFor(t, "the killed replica's shards identified again and ready", 30*time.Second, func() bool {
		for _, s := range held {
			again := false
			for _, id := range a.dc.Identifies() {
				again = again || id.Shard[0] == s && id.At.After(killed)
			}
			if !again || !a.dc.Ready(s) {
				return false
			}
		}
		return true
	})
	t.Logf("takeover: shards %v of %s identified again and ready %v after the SIGKILL", held, victim.id, time.Since(killed).Round(time.Millisecond))
	a.hold(held, false)
	time.Sleep(time.Until(stopped.Add(acceptFreeze))) // the freeze lasts acceptFreeze
	if err := frozen.p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	a.resumed = time.Now()
	t.Logf("%s resumed after %v frozen", frozen.id, time.Since(stopped).Round(time.Millisecond))
	// Metrics carry the replica's ID.
	if _, body := scrape(t, "http://"+alive.listen+"/metrics"); !strings.Contains(body, `replica="`+alive.id+`"`) {
		t.Errorf("/metrics of replica %s has no replica label", alive.id)
	}
}

// checkAnswers asserts what every question got, once all are answered:
// one answer each in order, continuity, no 429, the conversations in
// `bridge conversations list`, the slash commands registered once.
func (a *acceptCluster) checkAnswers(t *testing.T, took time.Duration) {
	t.Helper()
	w1 := map[string]int{}
	for _, c := range a.convs {
		// Failure window W1 (research/scale-out.md §7): a first message
		// whose request was in flight when its replica was killed or
		// frozen, and whose checkpoint never landed, stays as it was; the
		// new owner posts the answer anew right after it. No platform
		// here gives the bridge an idempotency key for it. It must be a
		// strict prefix of the answer that follows it, never edited.
		got, partials := withoutW1(c.msgs(c))
		for _, p := range partials {
			w1[c.platform]++
			t.Logf("%s %s: W1: a partial first message %q left by a killed or frozen replica", c.platform, c.name, p)
		}
		checkOneEach(t, c.platform+" "+c.name, got, c.questions())
	}
	// Failure window W2: a send that left a frozen replica before it
	// lost its lease and landed after; the replica deletes it (its
	// claim is gone when the send returns), so it is not in msgs.
	t.Logf("W2: %d stale first messages deleted by their replica", a.logCount("lost the conversation while posting a message of the reply; deleted it"))
	// Continuity: each follow-up reached the backend with the previous
	// turn of its conversation as history.
	a.llm.mu.Lock()
	reqs := append([]map[string]any(nil), a.llm.requests...)
	a.llm.mu.Unlock()
	asked := map[string]int{}
	for _, body := range reqs {
		msgs, _ := body["messages"].([]any)
		last, _ := msgs[len(msgs)-1].(map[string]any)
		q, _ := last["content"].(string)
		asked[q]++
		name, i, ok := strings.Cut(q, "-q")
		if n, err := strconv.Atoi(i); !ok || err != nil || n == 0 {
			continue
		} else if prev := fmt.Sprintf("%s-q%d", name, n-1); !strings.Contains(fmt.Sprint(msgs[:len(msgs)-1]), prev) {
			t.Errorf("%s reached the backend without the previous turn %s: %v", q, prev, msgs)
		}
	}
	again, orphans := 0, 0
	for _, k := range asked {
		again += k - 1
	}
	for _, n := range w1 {
		orphans += n
	}
	flood := a.tooMany()
	t.Logf("%d questions answered in %v; %d backend requests (%d asked again after a takeover); W1 partial messages %v; 429s %v; webhook deliveries per replica %v",
		len(a.convs)*acceptPer, took.Round(time.Millisecond), len(reqs), again, w1, flood, a.rr.Served())
	if orphans > again {
		t.Errorf("%d partial first messages left, but only %d answers were taken over", orphans, again)
	}
	if len(asked) != len(a.convs)*acceptPer {
		t.Errorf("the backend was asked %d distinct questions, want %d", len(asked), len(a.convs)*acceptPer)
	}
	if flood["discord"] > 0 {
		t.Logf("Discord 429s: %s", a.discord429s())
	}
	a.tgMu.Lock()
	for _, r := range a.tg429 {
		t.Logf("Telegram 429 (%s) on %s in chat %d: %v after the SIGKILL, %v after the SIGCONT; the chat's requests: %v", r.Scope, r.Method, r.Chat,
			r.At.Sub(a.killed).Round(time.Millisecond), r.At.Sub(a.resumed).Round(time.Millisecond), a.tgChatCalls(r.Chat, r.At))
	}
	a.tgMu.Unlock()
	for fake, n := range flood {
		if n != 0 {
			t.Errorf("the %s fake answered %d 429s to three replicas on one budget, want 0 (Telegram %v, Slack %v, Discord %v)",
				fake, n, a.tg.Stats().TooMany, a.sl.Limited(), a.dc.TooMany())
		}
	}
	// `bridge conversations list` on Redis sees every replica's
	// conversations.
	out, err := exec.Command(bridgeBinary(t), "conversations", "list", "--config", a.cfgs[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("bridge conversations list: %v\n%s", err, out)
	}
	for _, c := range a.convs {
		if !strings.Contains(string(out), c.key+"\t") && !strings.Contains(string(out), c.key+" ") {
			t.Errorf("bridge conversations list misses %s:\n%s", c.key, out)
		}
	}
	commands := a.dc.Requests(func(r discordtest.Request) bool {
		return r.Method == "PUT" && strings.HasSuffix(r.Path, "/commands")
	})
	if len(commands) != 1 {
		t.Errorf("slash commands registered %d times, want once by one replica", len(commands))
	}
}

// tgChatCalls lists the sendMessage and editMessageText requests to chat,
// each as how long before at it arrived.
func (a *acceptCluster) tgChatCalls(chat int64, at time.Time) []string {
	var out []string
	for _, m := range []string{"sendMessage", "editMessageText"} {
		times := a.tg.CallTimes(m)
		for i, c := range a.tg.Calls(m) {
			if c.Get("chat_id") == fmt.Sprint(chat) {
				out = append(out, fmt.Sprintf("%s -%v", m, at.Sub(times[i]).Round(time.Millisecond)))
			}
		}
	}
	return out
}

// The defects this test found, each fixed and failed on again: Discord
// lookups outside the global budget and a channel budget looser than
// Discord's 5 per 5 s (h-fixdc); a Slack question lost when a replica
// died between the adapter's dedupe mark and the accept (h-fixsl); a
// Telegram private-chat 429 at a takeover, a budget with no margin for
// jitter (h-fixw2); W2, a frozen replica's stale first message left
// after the new owner's answer, now deleted (h-fixw2).

// logCount counts the replicas' log lines containing s.
func (a *acceptCluster) logCount(s string) int {
	n := 0
	for _, r := range a.reps {
		n += strings.Count(r.p.stderr.String(), s)
	}
	return n
}

// discord429s describes the 429s the Discord fake answered: how many by
// scope and route, and the most requests of the second before one that
// were lookups outside the budget (GET /channels/{channel}, GET
// /guilds/{guild}) and that were booked (message creates and edits,
// typing).
func (a *acceptCluster) discord429s() string {
	all := a.dc.Requests(func(discordtest.Request) bool { return true })
	by := map[string]int{}
	maxLookups, maxBooked := 0, 0
	for _, r := range all {
		if r.Status != 429 {
			continue
		}
		by[r.Scope+" "+r.Route]++
		lookups, booked := 0, 0
		for _, o := range all {
			if o.Status == 429 || o.At.After(r.At) || !o.At.After(r.At.Add(-time.Second)) {
				continue
			}
			switch o.Route {
			case "GET /channels/{channel}", "GET /guilds/{guild}":
				lookups++
			case "POST /channels/{channel}/messages", "PATCH /channels/{channel}/messages/{message}", "POST /channels/{channel}/typing":
				booked++
			}
		}
		maxLookups, maxBooked = max(maxLookups, lookups), max(maxBooked, booked)
	}
	return fmt.Sprintf("%v; in the second before one, at most %d lookups outside the budget and %d booked requests", by, maxLookups, maxBooked)
}
