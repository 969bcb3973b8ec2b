package discordtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The gateway, as Discord speaks it (developers/events/gateway.mdx):
// the server sends Hello (op 10) with the heartbeat interval; the client
// sends Identify (op 2) and gets READY, or Resume (op 6) and gets
// RESUMED (an unknown session gets Invalid Session, op 9, d=false, and
// may then identify); every Heartbeat (op 1) is acknowledged (op 11).
// A client may send at most 120 frames per 60 s on a connection; over
// that the connection is closed with 4008. With more than one shard, a
// guild's events go to shard (guild_id >> 22) % shards and direct
// messages to shard 0. Identify pacing (max_concurrency per 5 s) is
// recorded (Identifies, with times), not enforced.

// Gateway frame limits.
const (
	gatewaySendLimit  = 120
	gatewaySendWindow = 60 * time.Second
)

// Identify is one Identify the fake received.
type Identify struct {
	At      time.Time
	Token   string
	Intents int
	// Shard is [id, count]; [0, 1] when the client sent none.
	Shard [2]int
	Raw   map[string]any
}

// Resume is one Resume the fake received.
type Resume struct {
	At        time.Time
	Token     string
	SessionID string
	Seq       int64
	// AtResumeURL is true when the client connected to READY's
	// resume_gateway_url, false for the URL of GET /gateway.
	AtResumeURL bool
}

type gwSession struct {
	id    string
	seq   int64
	shard int
}

type gwConn struct {
	wmu     sync.Mutex
	c       *websocket.Conn
	session *gwSession
	beats   int // heartbeats received on this connection
}

func (g *gwConn) write(v any) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return g.c.WriteJSON(v)
}

type gatewayState struct {
	conns         map[int]*gwConn // shard → live (identified or resumed) connection
	all           map[*gwConn]bool
	sessions      map[string]*gwSession
	nextSession   int
	identifies    []Identify
	resumes       []Resume
	dials         int
	heartbeats    int
	identifyClose int
	resumeClose   int
	reconnectNext int // identifies answered with Op 7 instead of READY
}

func (g *gatewayState) init() {
	g.conns = map[int]*gwConn{}
	g.all = map[*gwConn]bool{}
	g.sessions = map[string]*gwSession{}
}

// Identifies returns the Identify frames received, in order.
func (s *Server) Identifies() []Identify {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Identify(nil), s.gw.identifies...)
}

// Resumes returns the Resume frames received, in order.
func (s *Server) Resumes() []Resume {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Resume(nil), s.gw.resumes...)
}

// Heartbeats returns the number of heartbeats received.
func (s *Server) Heartbeats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gw.heartbeats
}

// Dials returns the number of websocket connections made.
func (s *Server) Dials() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gw.dials
}

// Connected reports whether shard has a live gateway session (READY or
// RESUMED sent).
func (s *Server) Connected(shard int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gw.conns[shard] != nil
}

// Ready reports whether shard has a live session on which the client
// has sent a heartbeat: discordgo starts heartbeating when Open returns,
// so the client is done connecting.
func (s *Server) Ready(shard int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.gw.conns[shard]
	return c != nil && c.beats > 0
}

// ConnectedShards returns the number of shards with a live session.
func (s *Server) ConnectedShards() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.gw.conns)
}

// SetIdentifyClose makes the fake answer every Identify by closing the
// connection with code (0: READY, the default), e.g. 4014 (disallowed
// intents).
func (s *Server) SetIdentifyClose(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gw.identifyClose = code
}

// SetResumeClose makes the fake answer every Resume by closing the
// connection with code (0: RESUMED), e.g. 4009 (session timed out).
func (s *Server) SetResumeClose(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gw.resumeClose = code
}

// ReconnectOnIdentify makes the fake answer the next n Identify frames
// with Reconnect (op 7) instead of READY: the frame discordgo v0.29.0
// deadlocks on inside Open (bwmarrin/discordgo#513).
func (s *Server) ReconnectOnIdentify(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gw.reconnectNext = n
}

// ShardOf returns the shard that gets the events of guildID ("" = a
// direct message) among shards.
func ShardOf(guildID string, shards int) int {
	id, err := strconv.ParseUint(guildID, 10, 64)
	if guildID == "" || err != nil || shards <= 1 {
		return 0
	}
	return int((id >> 22) % uint64(shards))
}

// Dispatch sends a dispatch event (op 0) of type typ with data d (a
// value that marshals to the event's JSON) to the shard that gets it.
// An INTERACTION_CREATE also registers the interaction's token, which the
// fake then accepts for 15 minutes; in a guild, its member gets the roles
// of SetMember (when it has none) and its permissions in the channel
// (PermissionsIn; when it has none), as Discord sends them.
func (s *Server) Dispatch(typ string, d any) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	var head struct {
		ID        string `json:"id"`
		GuildID   string `json:"guild_id"`
		ChannelID string `json:"channel_id"`
		Token     string `json:"token"`
	}
	_ = json.Unmarshal(b, &head)
	s.mu.Lock()
	shards := 1
	if id := s.gw.identifies; len(id) > 0 {
		shards = max(1, id[len(id)-1].Shard[1])
	}
	c := s.gw.conns[ShardOf(head.GuildID, shards)]
	if c == nil {
		s.mu.Unlock()
		return errors.New("discordtest: no gateway connection for the event")
	}
	s.recordDispatchLocked(typ, b)
	if typ == "INTERACTION_CREATE" {
		b = s.fillMemberLocked(b)
	}
	if typ == "INTERACTION_CREATE" && head.Token != "" {
		s.interactions[head.Token] = &interaction{id: head.ID, token: head.Token, channel: head.ChannelID, at: s.opts.Now()}
	}
	c.session.seq++
	seq := c.session.seq
	s.mu.Unlock()
	return c.write(map[string]any{"op": 0, "s": seq, "t": typ, "d": json.RawMessage(b)})
}

// AddInteraction registers an interaction token as if the fake had
// dispatched it at now.
func (s *Server) AddInteraction(id, token, channel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.interactions[token] = &interaction{id: id, token: token, channel: channel, at: s.opts.Now()}
}

// SendOp sends a raw gateway frame {op, d} on shard's connection, e.g. op
// 1 (Heartbeat request), 7 (Reconnect), 9 (Invalid Session, d = false
// or true).
func (s *Server) SendOp(shard, op int, d any) error {
	c, err := s.conn(shard)
	if err != nil {
		return err
	}
	return c.write(map[string]any{"op": op, "d": d})
}

// conn returns shard's live connection.
func (s *Server) conn(shard int) (*gwConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.gw.conns[shard]; c != nil {
		return c, nil
	}
	return nil, errors.New("discordtest: shard not connected")
}

// CloseShard closes shard's connection with a close frame of code.
func (s *Server) CloseShard(shard, code int, reason string) error {
	c, err := s.conn(shard)
	if err != nil {
		return err
	}
	err = s.closeWith(c, code, reason)
	c.c.Close()
	return err
}

// Drop closes shard's connection without a close frame (a network
// failure).
func (s *Server) Drop(shard int) error {
	s.mu.Lock()
	c := s.gw.conns[shard]
	if c != nil {
		delete(s.gw.conns, shard)
		s.notifyLocked()
	}
	s.mu.Unlock()
	if c == nil {
		return errors.New("discordtest: shard not connected")
	}
	return c.c.UnderlyingConn().Close()
}

// DropAll closes every gateway connection without a close frame.
func (s *Server) DropAll() {
	s.mu.Lock()
	var cs []*gwConn
	for c := range s.gw.all {
		cs = append(cs, c)
	}
	clear(s.gw.conns)
	s.notifyLocked()
	s.mu.Unlock()
	for _, c := range cs {
		c.c.UnderlyingConn().Close()
	}
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// frame is a client frame.
type frame struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
}

func (s *Server) gateway(w http.ResponseWriter, r *http.Request, resumeURL bool) {
	wc, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &gwConn{c: wc}
	s.mu.Lock()
	s.gw.dials++
	s.gw.all[c] = true
	s.notifyLocked()
	s.mu.Unlock()
	defer func() {
		wc.Close()
		s.mu.Lock()
		delete(s.gw.all, c)
		for sh, cc := range s.gw.conns {
			if cc == c {
				delete(s.gw.conns, sh)
			}
		}
		s.notifyLocked()
		s.mu.Unlock()
	}()
	if c.write(map[string]any{"op": 10, "d": map[string]any{"heartbeat_interval": s.opts.HeartbeatInterval.Milliseconds()}}) != nil {
		return
	}
	var sent []time.Time // client frames in the last minute
	for {
		var f frame
		if err := wc.ReadJSON(&f); err != nil {
			return
		}
		now := time.Now()
		sent = append(sent, now)
		for len(sent) > 0 && !sent[0].After(now.Add(-gatewaySendWindow)) {
			sent = sent[1:]
		}
		if len(sent) > gatewaySendLimit {
			s.closeWith(c, 4008, "Rate limited.")
			return
		}
		switch f.Op {
		case 1:
			s.mu.Lock()
			s.gw.heartbeats++
			c.beats++
			s.notifyLocked()
			s.mu.Unlock()
			if c.write(map[string]any{"op": 11}) != nil {
				return
			}
		case 2:
			if !s.identify(r, c, f.D) {
				return
			}
		case 6:
			if !s.resume(c, f.D, resumeURL) {
				return
			}
		}
	}
}

// closeWith sends a close frame of code.
func (s *Server) closeWith(c *gwConn, code int, reason string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

// identify answers an Identify; false means the connection is done.
func (s *Server) identify(r *http.Request, c *gwConn, d json.RawMessage) bool {
	var v struct {
		Token   string `json:"token"`
		Intents int    `json:"intents"`
		Shard   *[2]int
	}
	_ = json.Unmarshal(d, &v)
	var raw map[string]any
	_ = json.Unmarshal(d, &raw)
	id := Identify{At: s.opts.Now(), Token: v.Token, Intents: v.Intents, Shard: [2]int{0, 1}, Raw: raw}
	if v.Shard != nil {
		id.Shard = *v.Shard
	}
	s.mu.Lock()
	s.gw.identifies = append(s.gw.identifies, id)
	s.notifyLocked()
	code := s.gw.identifyClose
	switch {
	case c.session != nil:
		code = 4005 // already authenticated
	case v.Token != "Bot "+s.opts.Token:
		code = 4004
	case id.Shard[1] < 1 || id.Shard[0] < 0 || id.Shard[0] >= id.Shard[1]:
		code = 4010
	}
	reconnect := code == 0 && s.gw.reconnectNext > 0
	if reconnect {
		s.gw.reconnectNext--
	}
	var ready map[string]any
	if code == 0 && !reconnect {
		s.gw.nextSession++
		sess := &gwSession{id: fmt.Sprintf("S%d", s.gw.nextSession), seq: 1, shard: id.Shard[0]}
		s.gw.sessions[sess.id] = sess
		c.session = sess
		s.gw.conns[sess.shard] = c
		ready = map[string]any{"op": 0, "s": 1, "t": "READY", "d": map[string]any{
			"v": 9, "session_id": sess.id, "resume_gateway_url": s.gatewayURL(r, true),
			"user":        map[string]any{"id": BotID, "username": BotName, "bot": true},
			"application": map[string]any{"id": AppID, "flags": s.appFlags},
			"guilds":      []any{}, "shard": id.Shard,
		}}
	}
	s.mu.Unlock()
	switch {
	case code != 0:
		s.closeWith(c, code, closeReason(code))
		return false
	case reconnect:
		return c.write(map[string]any{"op": 7, "d": nil}) == nil
	}
	return c.write(ready) == nil
}

// resume answers a Resume; false means the connection is done.
func (s *Server) resume(c *gwConn, d json.RawMessage, atResumeURL bool) bool {
	var v struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int64  `json:"seq"`
	}
	_ = json.Unmarshal(d, &v)
	s.mu.Lock()
	s.gw.resumes = append(s.gw.resumes, Resume{At: s.opts.Now(), Token: v.Token, SessionID: v.SessionID, Seq: v.Seq, AtResumeURL: atResumeURL})
	s.notifyLocked()
	code := s.gw.resumeClose
	if v.Token != "Bot "+s.opts.Token {
		code = 4004
	}
	sess := s.gw.sessions[v.SessionID]
	var seq int64
	if code == 0 && sess != nil {
		c.session = sess
		if old := s.gw.conns[sess.shard]; old != nil && old != c {
			old.c.UnderlyingConn().Close()
		}
		s.gw.conns[sess.shard] = c
		sess.seq++
		seq = sess.seq
	}
	s.mu.Unlock()
	switch {
	case code != 0:
		s.closeWith(c, code, closeReason(code))
		return false
	case sess == nil:
		return c.write(map[string]any{"op": 9, "d": false}) == nil
	}
	return c.write(map[string]any{"op": 0, "s": seq, "t": "RESUMED", "d": map[string]any{}}) == nil
}

func closeReason(code int) string {
	switch code {
	case 4004:
		return "Authentication failed."
	case 4005:
		return "Already authenticated."
	case 4008:
		return "Rate limited."
	case 4009:
		return "Session timed out."
	case 4010:
		return "Invalid shard."
	case 4014:
		return "Disallowed intent(s)."
	}
	return "refused"
}

// MessageCreate returns the data of a MESSAGE_CREATE event: a default
// message by author (a user "user"+author) in channel (guild "" for a
// direct message). A mention of the bot in content ("<@900>") is also
// listed in "mentions", as Discord does.
func MessageCreate(id, channel, guild, author, content string) map[string]any {
	d := map[string]any{
		"id": id, "channel_id": channel, "content": content, "type": 0,
		"timestamp": "2026-01-02T03:04:05Z",
		"author":    map[string]any{"id": author, "username": "user" + author},
		"mentions":  []any{},
	}
	if guild != "" {
		d["guild_id"] = guild
	}
	if strings.Contains(content, "<@"+BotID+">") || strings.Contains(content, "<@!"+BotID+">") {
		d["mentions"] = []any{map[string]any{"id": BotID, "username": BotName, "bot": true}}
	}
	return d
}

// ReplyTo makes the MESSAGE_CREATE data d a reply to message ref by
// refAuthor in the same channel.
func ReplyTo(d map[string]any, ref, refAuthor string) map[string]any {
	d["type"] = 19
	ch, _ := d["channel_id"].(string)
	d["message_reference"] = map[string]any{"message_id": ref, "channel_id": ch}
	guild, _ := d["guild_id"].(string)
	d["referenced_message"] = MessageCreate(ref, ch, guild, refAuthor, "an earlier message")
	return d
}

// Command returns the data of an INTERACTION_CREATE event for the slash
// command name by user in channel (guild "" for a direct message), with
// the string option "question" when question is not empty.
func Command(id, token, channel, guild, user, name, question string) map[string]any {
	data := map[string]any{"id": "c" + name, "name": name, "type": 1}
	if question != "" {
		data["options"] = []any{map[string]any{"name": "question", "type": 3, "value": question}}
	}
	d := map[string]any{
		"id": id, "application_id": AppID, "type": 2, "token": token,
		"channel_id": channel, "data": data, "version": 1,
	}
	u := map[string]any{"id": user, "username": "user" + user}
	if guild != "" {
		d["guild_id"] = guild
		d["member"] = map[string]any{"user": u, "roles": []any{}}
	} else {
		d["user"] = u
	}
	return d
}
