package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Slack's rate limits as the fake enforces them (see docs/performance.md):
//
//   - chat.update is Tier 3, "50+ per minute" per method per workspace: at
//     most slackUpdateMax in any sliding minute, all channels together;
//   - chat.postMessage, "1 per second per channel, short bursts allowed":
//     a token bucket per channel, 1 token/s, capacity slackPostBurst;
//   - chat.appendStream is Tier 4, "100+ per minute" per workspace;
//   - the others (auth.test, apps.connections.open, chat.startStream,
//     chat.stopStream, assistant.threads.setStatus, reactions.add) are not
//     limited.
//
// Over a limit: HTTP 429 with an integer Retry-After header and
// {"ok":false,"error":"ratelimited"}; the request has no effect.
const (
	slackUpdateMax  = 50
	slackAppendMax  = 100
	slackWindow     = time.Minute
	slackPostEvery  = time.Second
	slackPostBurst  = 3
	slackPingEvery  = 10 * time.Second
	slackBotToken   = "xoxb-load-test-token"
	slackAppToken   = "xapp-load-test-token"
	slackBotUser    = "UBOT"
	slackBotID      = "BBOT"
	slackTeam       = "T0LOAD"
	slackTSBase     = 1800000000
	slackAdapterEdt = 1500 * time.Millisecond // bridges/slack editInterval
	slackAdapterStr = time.Second             // bridges/slack streamInterval
)

// slackFake is a loopback Slack: the Web API under /slack/api/ and a
// Socket Mode WebSocket under /slack/ws/. Each conversation is a DM
// channel (D…, message.im events, answered at top level) or, with
// --group, a public channel (C…, app_mention events, answered in the
// question's thread).
type slackFake struct {
	counters
	group, streaming bool
	convs            []*slackConv
	byChannel        map[string]*slackConv // fixed after setup

	readyC    chan struct{}
	readyOnce sync.Once
	ts        atomic.Int64 // message timestamps, one sequence for users and the bot

	wmu   sync.Mutex // serialises writes on the socket
	conn  *websocket.Conn
	wg    sync.WaitGroup
	stop  chan struct{}
	amu   sync.Mutex
	sent  int             // envelopes sent
	acked map[string]bool // envelope ID → acknowledged

	gmu     sync.Mutex
	updates window // chat.update, workspace-wide, the enforced window
	appends window // chat.appendStream
	team    gcra   // mirror of the adapter's team budget (posts and updates)
	stream  gcra   // mirror of its stream budget (appends)
}

type slackConv struct {
	convo   // mu also guards the fields below
	i       int
	channel string
	user    string
	thread  string // the current question's ts (channels: the reply's thread)
	post    bucket
	msgs    map[string]*botMsg // ts → message
}

func newSlackFake(n int, group, streaming bool, activity *atomic.Int64) *slackFake {
	f := &slackFake{
		group: group, streaming: streaming, byChannel: make(map[string]*slackConv, n),
		readyC: make(chan struct{}), stop: make(chan struct{}), acked: map[string]bool{},
		team:   gcra{every: 1250 * time.Millisecond, burst: 2},
		stream: gcra{every: 700 * time.Millisecond, burst: 3},
	}
	f.activity = activity
	for i := range n {
		c := &slackConv{i: i, channel: slackChannel(i, group), user: fmt.Sprintf("U%08d", i),
			post: bucket{every: slackPostEvery, size: slackPostBurst}, msgs: map[string]*botMsg{}}
		f.convs = append(f.convs, c)
		f.byChannel[c.channel] = c
	}
	return f
}

func slackChannel(i int, group bool) string {
	if group {
		return fmt.Sprintf("C%08d", i)
	}
	return fmt.Sprintf("D%08d", i)
}

var _ fakePlatform = (*slackFake)(nil)

func (f *slackFake) conv(i int) *convo {
	if i < 0 || i >= len(f.convs) {
		return nil
	}
	return &f.convs[i].convo
}

func (f *slackFake) ready() <-chan struct{} { return f.readyC }

func (f *slackFake) result() PlatformResult {
	r := f.base()
	f.amu.Lock()
	r.Envelopes = f.sent
	for _, ok := range f.acked {
		if ok {
			r.Acked++
		}
	}
	f.amu.Unlock()
	return r
}

// model: chat.update's 50/min is the shared budget; each reply may edit
// at most once a second (the bound of the per-reply figure: Slack states
// no per-message limit, and the adapter edits every 1.5 s). Streamed
// thread replies count chat.appendStream against its 100/min instead.
func (f *slackFake) model() budgetModel {
	if f.streaming && f.group {
		return budgetModel{
			PerReply: 1, Shared: float64(slackAppendMax) / slackWindow.Seconds(), SharedName: "workspace chat.appendStream",
			Counted: func(m string) bool { return m == "chat.appendStream" },
		}
	}
	return budgetModel{
		PerReply: 1, Shared: float64(slackUpdateMax) / slackWindow.Seconds(), SharedName: "workspace chat.update",
		Counted: func(m string) bool { return m == "chat.update" },
	}
}

// close ends the socket's ping loop and closes it.
func (f *slackFake) close() {
	close(f.stop)
	f.wmu.Lock()
	if f.conn != nil {
		f.conn.Close()
	}
	f.wmu.Unlock()
	f.wg.Wait()
}

func (f *slackFake) newTS() string {
	return fmt.Sprintf("%d.%06d", slackTSBase, f.ts.Add(1))
}

// ask delivers the question as an events_api envelope: message.im in a
// DM, app_mention in a channel.
func (f *slackFake) ask(i int, rep *replyRec) {
	c := f.convs[i]
	ts := f.newTS()
	c.mu.Lock()
	c.cur, c.thread = rep, ts
	c.mu.Unlock()
	ev := map[string]any{"type": "message", "channel": c.channel, "user": c.user, "text": rep.question,
		"ts": ts, "event_ts": ts, "channel_type": "im"}
	if f.group {
		ev = map[string]any{"type": "app_mention", "channel": c.channel, "user": c.user,
			"text": "<@" + slackBotUser + "> " + rep.question, "ts": ts, "event_ts": ts}
	}
	f.amu.Lock()
	f.sent++
	id := fmt.Sprintf("env-%d-%d", i, rep.round)
	f.acked[id] = false
	f.amu.Unlock()
	env := map[string]any{
		"envelope_id": id, "type": "events_api", "accepts_response_payload": false,
		"retry_attempt": 0, "retry_reason": "",
		"payload": map[string]any{
			"token": "verif", "team_id": slackTeam, "api_app_id": "A0LOAD", "type": "event_callback",
			"event_id": fmt.Sprintf("Ev%d_%d", i, rep.round), "event_time": slackTSBase, "event": ev,
		},
	}
	b, _ := json.Marshal(env)
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.conn == nil {
		f.other.Add(1)
		return
	}
	f.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := f.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		f.other.Add(1)
	}
}

func (f *slackFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/slack/ws/" {
		f.socket(w, r)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/slack/api/")
	if !ok || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		slackErr(w, "invalid_form_data")
		return
	}
	f.count(method)
	form := r.PostForm
	auth := r.Header.Get("Authorization")
	if method == "apps.connections.open" {
		if auth != "Bearer "+slackAppToken {
			slackErr(w, "invalid_auth")
			return
		}
	} else if form.Get("token") != slackBotToken && auth != "Bearer "+slackBotToken {
		slackErr(w, "invalid_auth")
		return
	}
	switch method {
	case "auth.test":
		slackOK(w, `"url":"https://load.slack.com/","team":"Load","user":"bridgebot","team_id":"`+slackTeam+`","user_id":"`+slackBotUser+`","bot_id":"`+slackBotID+`"`)
	case "apps.connections.open":
		slackOK(w, `"url":"ws://`+r.Host+`/slack/ws/"`)
	case "assistant.threads.setStatus", "reactions.add":
		slackOK(w, "")
	case "chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream":
		f.message(w, method, form)
	default:
		slackErr(w, "unknown_method")
	}
}

func slackOK(w http.ResponseWriter, fields string) {
	w.Header().Set("Content-Type", "application/json")
	if fields != "" {
		fields = "," + fields
	}
	fmt.Fprintf(w, `{"ok":true%s}`, fields)
}

func slackErr(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"ok":false,"error":%q}`, code)
}

func slackLimited(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(d)))
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprint(w, `{"ok":false,"error":"ratelimited"}`)
}

// message implements the methods that make or change a bot message.
func (f *slackFake) message(w http.ResponseWriter, method string, form map[string][]string) {
	arrival := time.Now()
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	c := f.byChannel[get("channel")]
	if c == nil {
		f.badRequests.Add(1)
		slackErr(w, "channel_not_found")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var m *botMsg
	ts := get("ts")
	if method != "chat.postMessage" && method != "chat.startStream" {
		if m = c.msgs[ts]; m == nil {
			f.badRequests.Add(1)
			slackErr(w, "message_not_found")
			return
		}
	}
	text, md := get("text"), get("markdown_text")
	switch method {
	case "chat.postMessage":
		if strings.TrimSpace(text) == "" {
			f.badRequests.Add(1)
			slackErr(w, "no_text")
			return
		}
	case "chat.update":
		if m.streaming && !m.stopped {
			f.badRequests.Add(1)
			slackErr(w, "message_is_streaming")
			return
		}
	case "chat.startStream":
		if get("thread_ts") == "" || (f.group && (get("recipient_user_id") == "" || get("recipient_team_id") == "")) {
			f.badRequests.Add(1)
			slackErr(w, "invalid_arguments")
			return
		}
	default: // appendStream, stopStream
		if !m.streaming || m.stopped {
			f.badRequests.Add(1)
			slackErr(w, "message_not_in_streaming_state")
			return
		}
	}
	if len([]rune(text)) > 40000 || len([]rune(md)) > 12000 {
		f.badRequests.Add(1)
		slackErr(w, "msg_too_long")
		return
	}
	if d := f.limitLocked(c, method, arrival); d > 0 {
		if rep := c.cur; m != nil && m.rep != nil {
			m.rep.n429++
			m.rep.lastReq = time.Now()
		} else if rep != nil {
			rep.n429++
		}
		f.n429.Add(1)
		slackLimited(w, d)
		return
	}
	rep := c.cur
	switch method {
	case "chat.postMessage", "chat.startStream":
		ts = f.newTS()
		m = &botMsg{rep: rep, mode: "mrkdwn"}
		c.msgs[ts] = m
		if rep != nil {
			rep.msgs = append(rep.msgs, m)
		}
		if method == "chat.postMessage" {
			m.raw = text
		} else {
			m.md, m.streaming = md, true
		}
	case "chat.update":
		m.raw = text
		if b := get("blocks"); b == "[]" {
			m.md = ""
		}
	case "chat.appendStream":
		m.md += md
	case "chat.stopStream":
		m.md += md
		m.stopped = true
	}
	m.visible = m.raw
	if m.md != "" {
		m.visible = m.md
	}
	if m.rep == nil {
		f.other.Add(1)
	} else {
		m.rep.request(arrival, method, m.visible, false, m)
		m.rep.lastReq = time.Now()
	}
	slackOK(w, fmt.Sprintf(`"channel":%q,"ts":%q`, c.channel, ts))
}

// limitLocked applies the rate limits to one request; it returns how long
// until the request would be allowed, or 0 when it is (and counted).
func (f *slackFake) limitLocked(c *slackConv, method string, now time.Time) time.Duration {
	f.gmu.Lock()
	defer f.gmu.Unlock()
	switch method {
	case "chat.postMessage":
		if d := c.post.take(now); d > 0 {
			return d
		}
		f.team.take(now)
	case "chat.update":
		f.updates.prune(now, slackWindow)
		if len(f.updates.t) >= slackUpdateMax {
			return f.updates.t[0].Add(slackWindow).Sub(now)
		}
		f.updates.t = append(f.updates.t, now)
		f.team.take(now)
	case "chat.appendStream":
		f.appends.prune(now, slackWindow)
		if len(f.appends.t) >= slackAppendMax {
			return f.appends.t[0].Add(slackWindow).Sub(now)
		}
		f.appends.t = append(f.appends.t, now)
		f.stream.take(now)
	}
	return 0
}

// windowOpenLocked: the reply's interval since its previous request has
// passed, and the limit and the adapter's budget of its next request
// (post, update or append) have room.
func (f *slackFake) windowOpenLocked(i int, rep *replyRec, now time.Time) bool {
	c := f.convs[i]
	streaming := len(rep.msgs) > 0 && rep.msgs[0].streaming && !rep.msgs[0].stopped
	iv := slackAdapterEdt
	if streaming {
		iv = slackAdapterStr
	}
	if !rep.lastReq.IsZero() && now.Sub(rep.lastReq) < iv {
		return false
	}
	f.gmu.Lock()
	defer f.gmu.Unlock()
	switch {
	case len(rep.msgs) == 0:
		return c.post.level(now) >= 1 && f.team.open(now, mirrorMargin)
	case streaming:
		f.appends.prune(now, slackWindow)
		return len(f.appends.t) < slackAppendMax && f.stream.open(now, mirrorMargin)
	default:
		f.updates.prune(now, slackWindow)
		return len(f.updates.t) < slackUpdateMax && f.team.open(now, mirrorMargin)
	}
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// socket is the Socket Mode endpoint: hello, then the envelopes ask
// writes; it pings every slackPingEvery and records every ack.
func (f *slackFake) socket(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	hello := `{"type":"hello","num_connections":1,"connection_info":{"app_id":"A0LOAD"},"debug_info":{"host":"load"}}`
	f.wmu.Lock()
	if f.conn != nil {
		f.conn.Close() // one connection at a time: the latest
	}
	f.conn = c
	err = c.WriteMessage(websocket.TextMessage, []byte(hello))
	f.wmu.Unlock()
	if err != nil {
		return
	}
	f.readyOnce.Do(func() { close(f.readyC) })
	done := make(chan struct{})
	defer close(done)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		tk := time.NewTicker(slackPingEvery)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-f.stop:
				return
			case <-tk.C:
				f.wmu.Lock()
				err := c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
				f.wmu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
	for {
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if err := c.ReadJSON(&ack); err != nil {
			return
		}
		f.amu.Lock()
		if _, ok := f.acked[ack.EnvelopeID]; ok {
			f.acked[ack.EnvelopeID] = true
		}
		f.amu.Unlock()
	}
}
