package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Discord's rate limits as the fake enforces them (see docs/performance.md):
//
//   - per channel: at most dcChanMax message creates and edits together in
//     a window of dcChanWindow that starts at the first request (Discord's
//     bucket: limit 5, reset after 5 s), with Discord's X-RateLimit-*
//     headers on every answer (discordgo waits on them by itself);
//   - global: at most dcGlobalMax requests of the bot in any sliding second.
//
// Over a limit: HTTP 429 with a Retry-After header (seconds, rounded up)
// and {"message":"You are being rate limited.","retry_after":S,"global":G};
// the request has no effect. Typing, commands and identity are not
// limited per channel but count on the global limit.
const (
	dcChanMax      = 5
	dcChanWindow   = 5 * time.Second
	dcGlobalMax    = 50
	dcGlobalWindow = time.Second
	dcToken        = "load-test-discord-token"
	dcBotID        = "900"
	dcAppID        = "901"
	dcGuild        = "800"
	dcAPIPath      = "/dc/api/v9/"
	dcAdapterEdit  = time.Second // bridges/discord Limits.EditInterval
)

// discordFake is a loopback Discord: REST under /dc/api/v9/ and the
// gateway under /dc/gw/. Each conversation is a DM channel (no guild_id)
// or, with --group, a guild channel where the user mentions the bot.
type discordFake struct {
	counters
	n429Global atomic.Int64
	group      bool
	convs      []*dcConv
	byChannel  map[string]*dcConv // fixed after setup

	readyC    chan struct{}
	readyOnce sync.Once
	ids       atomic.Int64 // snowflakes

	wmu  sync.Mutex // serialises writes on the gateway
	conn *websocket.Conn
	seq  int64

	gmu    sync.Mutex
	global window // enforced, every REST request
	gmirr  gcra   // mirror of the adapter's bot budget (20 ms, burst 10)
}

type dcConv struct {
	convo    // mu also guards the fields below
	channel  string
	user     string
	count    int       // requests in the current bucket window
	resetAt  time.Time // end of the current bucket window
	mirror   gcra      // the adapter's channel budget (1 s, burst 4)
	msgs     map[string]*botMsg
	question string // the current question's message ID
}

func newDiscordFake(n int, group bool, activity *atomic.Int64) *discordFake {
	f := &discordFake{group: group, byChannel: make(map[string]*dcConv, n), readyC: make(chan struct{}),
		gmirr: gcra{every: 20 * time.Millisecond, burst: 10}}
	f.activity = activity
	f.ids.Store(1_000_000)
	for i := range n {
		c := &dcConv{channel: strconv.Itoa(10_000_000 + i), user: strconv.Itoa(20_000_000 + i),
			mirror: gcra{every: time.Second, burst: 4}, msgs: map[string]*botMsg{}}
		f.convs = append(f.convs, c)
		f.byChannel[c.channel] = c
	}
	return f
}

var _ fakePlatform = (*discordFake)(nil)

func (f *discordFake) conv(i int) *convo {
	if i < 0 || i >= len(f.convs) {
		return nil
	}
	return &f.convs[i].convo
}

func (f *discordFake) ready() <-chan struct{} { return f.readyC }

func (f *discordFake) result() PlatformResult {
	r := f.base()
	r.TooManyGlobal = f.n429Global.Load()
	return r
}

func (f *discordFake) model() budgetModel {
	return budgetModel{
		PerReply: float64(dcChanMax) / dcChanWindow.Seconds(), Shared: float64(dcGlobalMax) / dcGlobalWindow.Seconds(),
		SharedName: "global",
		Counted:    func(m string) bool { return m == "POST messages" || m == "PATCH messages" },
	}
}

func (f *discordFake) close() {
	f.wmu.Lock()
	if f.conn != nil {
		f.conn.Close()
	}
	f.wmu.Unlock()
}

func (f *discordFake) newID() string { return strconv.FormatInt(f.ids.Add(1), 10) }

// ask dispatches MESSAGE_CREATE with the question.
func (f *discordFake) ask(i int, rep *replyRec) {
	c := f.convs[i]
	id := f.newID()
	c.mu.Lock()
	c.cur, c.question = rep, id
	c.mu.Unlock()
	d := map[string]any{
		"id": id, "channel_id": c.channel, "content": rep.question, "type": 0,
		"timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"author":    map[string]any{"id": c.user, "username": "user" + c.user},
		"mentions":  []any{},
	}
	if f.group {
		d["guild_id"] = dcGuild
		d["content"] = "<@" + dcBotID + "> " + rep.question
		d["mentions"] = []any{map[string]any{"id": dcBotID, "username": "bridgebot", "bot": true}}
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.conn == nil {
		f.other.Add(1)
		return
	}
	f.seq++
	b, _ := json.Marshal(map[string]any{"op": 0, "s": f.seq, "t": "MESSAGE_CREATE", "d": d})
	f.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := f.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		f.other.Add(1)
	}
}

func dcJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *discordFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/dc/gw/" {
		f.gateway(w, r)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, dcAPIPath)
	if !ok {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if r.Header.Get("Authorization") != "Bot "+dcToken {
		dcJSON(w, 401, `{"message":"401: Unauthorized","code":0}`)
		return
	}
	p := strings.Split(path, "/")
	now := time.Now()
	isMsg := p[0] == "channels" && len(p) >= 3 && p[2] == "messages" &&
		(r.Method == http.MethodPost && len(p) == 3 || r.Method == http.MethodPatch && len(p) == 4)
	name := r.Method + " " + p[0]
	if isMsg {
		name = r.Method + " messages"
	} else if len(p) == 3 && p[0] == "channels" {
		name = r.Method + " " + p[2]
	}
	f.count(name)
	if d := f.globalLimit(now); d > 0 {
		f.n429.Add(1)
		f.n429Global.Add(1)
		if c := f.byChannel[p[min(1, len(p)-1)]]; c != nil && isMsg {
			c.mu.Lock()
			if c.cur != nil {
				c.cur.n429++
			}
			c.mu.Unlock()
		}
		w.Header().Set("X-RateLimit-Global", "true")
		w.Header().Set("X-RateLimit-Scope", "global")
		dcLimited(w, d, true)
		return
	}
	switch {
	case r.Method == http.MethodGet && path == "gateway":
		dcJSON(w, 200, `{"url":"ws://`+r.Host+`/dc/gw/"}`)
	case r.Method == http.MethodGet && path == "gateway/bot":
		dcJSON(w, 200, `{"url":"ws://`+r.Host+`/dc/gw/","shards":1,"session_start_limit":{"total":1000,"remaining":1000,"reset_after":0,"max_concurrency":1}}`)
	case r.Method == http.MethodGet && path == "users/@me":
		dcJSON(w, 200, `{"id":"`+dcBotID+`","username":"bridgebot","bot":true}`)
	case r.Method == http.MethodGet && path == "applications/@me":
		dcJSON(w, 200, `{"id":"`+dcAppID+`","name":"bridge","flags":262144}`)
	case r.Method == http.MethodPut && p[0] == "applications" && len(p) == 3 && p[2] == "commands":
		dcJSON(w, 200, string(body))
	case r.Method == http.MethodPost && p[0] == "channels" && len(p) == 3 && p[2] == "typing":
		w.WriteHeader(204)
	case isMsg:
		f.message(w, r.Method, p, body, now)
	case r.Method == http.MethodDelete && p[0] == "channels" && len(p) == 4 && p[2] == "messages":
		w.WriteHeader(204)
	default:
		f.badRequests.Add(1)
		dcJSON(w, 404, `{"message":"404: Not Found","code":0}`)
	}
}

func dcLimited(w http.ResponseWriter, d time.Duration, global bool) {
	w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(d)))
	dcJSON(w, http.StatusTooManyRequests, fmt.Sprintf(`{"message":"You are being rate limited.","retry_after":%.3f,"global":%t}`, d.Seconds(), global))
}

// globalLimit counts one request on the global window, or returns how
// long until it has room.
func (f *discordFake) globalLimit(now time.Time) time.Duration {
	f.gmu.Lock()
	defer f.gmu.Unlock()
	f.global.prune(now, dcGlobalWindow)
	if len(f.global.t) >= dcGlobalMax {
		return f.global.t[0].Add(dcGlobalWindow).Sub(now)
	}
	f.global.t = append(f.global.t, now)
	return 0
}

// message implements POST channels/{c}/messages and PATCH
// channels/{c}/messages/{id}.
func (f *discordFake) message(w http.ResponseWriter, method string, p []string, body []byte, now time.Time) {
	c := f.byChannel[p[1]]
	if c == nil {
		f.badRequests.Add(1)
		dcJSON(w, 404, `{"message":"Unknown Channel","code":10003}`)
		return
	}
	var v struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Content == nil && method == http.MethodPost {
		f.badRequests.Add(1)
		dcJSON(w, 400, `{"message":"Cannot send an empty message","code":50006}`)
		return
	}
	content := ""
	if v.Content != nil {
		content = *v.Content
	}
	if len([]rune(content)) > 2000 || method == http.MethodPost && strings.TrimSpace(content) == "" {
		f.badRequests.Add(1)
		dcJSON(w, 400, `{"message":"Invalid Form Body","code":50035}`)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var m *botMsg
	id := ""
	if method == http.MethodPatch {
		id = p[3]
		if m = c.msgs[id]; m == nil {
			f.badRequests.Add(1)
			dcJSON(w, 404, `{"message":"Unknown Message","code":10008}`)
			return
		}
	}
	// The channel's bucket: a window opens at the first request.
	if !now.Before(c.resetAt) {
		c.count, c.resetAt = 0, now.Add(dcChanWindow)
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(dcChanMax))
	h.Set("X-RateLimit-Bucket", "channel-"+c.channel)
	if c.count >= dcChanMax {
		d := c.resetAt.Sub(now)
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset-After", fmt.Sprintf("%.3f", d.Seconds()))
		h.Set("X-RateLimit-Scope", "user")
		f.n429.Add(1)
		rep := c.cur
		if m != nil {
			rep = m.rep
		}
		if rep != nil {
			rep.n429++
			rep.lastReq = time.Now()
		}
		dcLimited(w, d, false)
		return
	}
	c.count++
	c.mirror.take(now)
	f.gmu.Lock()
	f.gmirr.take(now)
	f.gmu.Unlock()
	h.Set("X-RateLimit-Remaining", strconv.Itoa(dcChanMax-c.count))
	h.Set("X-RateLimit-Reset-After", fmt.Sprintf("%.3f", c.resetAt.Sub(now).Seconds()))
	h.Set("X-RateLimit-Reset", fmt.Sprintf("%.3f", float64(c.resetAt.UnixMilli())/1000))
	if method == http.MethodPost {
		id = f.newID()
		m = &botMsg{rep: c.cur, mode: "markdown"}
		c.msgs[id] = m
		if c.cur != nil {
			c.cur.msgs = append(c.cur.msgs, m)
		}
	}
	m.raw, m.visible = content, content
	if m.rep == nil {
		f.other.Add(1)
	} else {
		m.rep.request(now, method+" messages", content, false, m)
		m.rep.lastReq = time.Now()
	}
	q, _ := json.Marshal(content)
	dcJSON(w, 200, fmt.Sprintf(`{"id":%q,"channel_id":%q,"type":0,"content":%s,"author":{"id":%q,"username":"bridgebot","bot":true},"timestamp":%q}`,
		id, c.channel, q, dcBotID, now.UTC().Format(time.RFC3339Nano)))
}

// windowOpenLocked: the reply's edit interval has passed, the channel's
// bucket has room, and the adapter's channel and bot budgets would not
// make the request wait.
func (f *discordFake) windowOpenLocked(i int, rep *replyRec, now time.Time) bool {
	c := f.convs[i]
	if !rep.lastReq.IsZero() && now.Sub(rep.lastReq) < dcAdapterEdit {
		return false
	}
	if now.Before(c.resetAt) && c.count >= dcChanMax {
		return false
	}
	if !c.mirror.open(now, mirrorMargin) {
		return false
	}
	f.gmu.Lock()
	defer f.gmu.Unlock()
	f.global.prune(now, dcGlobalWindow)
	return f.gmirr.open(now, mirrorMargin) && float64(len(f.global.t)) < headroom*dcGlobalMax
}

// gateway speaks the websocket side: Hello, Identify → READY, heartbeats
// → ACKs; ask writes the dispatches.
func (f *discordFake) gateway(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"op":10,"d":{"heartbeat_interval":41250}}`)); err != nil {
		return
	}
	var first struct {
		Op int `json:"op"`
	}
	if err := c.ReadJSON(&first); err != nil {
		return
	}
	if first.Op != 2 {
		// No resume: a new session each time.
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4009, "session timed out"), time.Now().Add(time.Second))
		return
	}
	f.wmu.Lock()
	if f.conn != nil {
		f.conn.Close()
	}
	f.conn = c
	f.seq = 1
	ready := fmt.Sprintf(`{"op":0,"s":1,"t":"READY","d":{"v":9,"session_id":"S1","resume_gateway_url":"ws://%s/dc/gw/","user":{"id":%q,"username":"bridgebot","bot":true},"application":{"id":%q},"guilds":[]}}`,
		r.Host, dcBotID, dcAppID)
	err = c.WriteMessage(websocket.TextMessage, []byte(ready))
	f.wmu.Unlock()
	if err != nil {
		return
	}
	f.readyOnce.Do(func() { close(f.readyC) })
	for {
		var v struct {
			Op int `json:"op"`
		}
		if err := c.ReadJSON(&v); err != nil {
			return
		}
		if v.Op == 1 {
			f.wmu.Lock()
			err := c.WriteMessage(websocket.TextMessage, []byte(`{"op":11}`))
			f.wmu.Unlock()
			if err != nil {
				return
			}
		}
	}
}
