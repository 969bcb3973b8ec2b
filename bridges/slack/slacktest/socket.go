package slacktest

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// ErrNoConnection is returned when an envelope is to be sent and no
// Socket Mode connection is open.
var ErrNoConnection = errors.New("slacktest: no socket mode connection")

// slack-go dials with Origin https://api.slack.com: accept any origin.
var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) wsURL(r *http.Request) string {
	n := s.ws.opens.Add(1)
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}
	return fmt.Sprintf("%s://%s%s/ws/?ticket=%d", scheme, r.Host, s.opts.Prefix, n)
}

// socket is the Socket Mode endpoint: hello, then the envelopes the test
// sends; it pings every PingEvery and records every ack.
func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.ws.stop:
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	default:
	}
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	wc := &wsConn{c: c}
	c.SetPongHandler(func(string) error {
		s.ws.mu.Lock()
		s.ws.pongs++
		s.ws.mu.Unlock()
		return nil
	})
	s.ws.mu.Lock()
	if s.ws.closed {
		s.ws.mu.Unlock()
		c.Close()
		return
	}
	s.ws.conns = append(s.ws.conns, wc)
	s.ws.total++
	s.ws.wg.Add(1)
	s.ws.mu.Unlock()
	defer s.ws.wg.Done()
	defer s.dropConn(wc)
	if err := wc.write(map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": DefaultAppID}, "debug_info": map[string]any{"host": "slacktest"}}); err != nil {
		return
	}
	s.ws.helloed.Do(func() { close(s.ws.hello) })
	done := make(chan struct{})
	defer close(done)
	go func() {
		tk := time.NewTicker(s.opts.PingEvery)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-s.ws.stop:
				c.Close()
				return
			case <-tk.C:
				wc.wmu.Lock()
				err := c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
				wc.wmu.Unlock()
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
		s.ws.mu.Lock()
		if _, dup := s.ws.acks[ack.EnvelopeID]; !dup && ack.EnvelopeID != "" {
			s.ws.acks[ack.EnvelopeID] = time.Now()
		}
		s.ws.mu.Unlock()
	}
}

func (s *Server) dropConn(wc *wsConn) {
	wc.c.Close()
	s.ws.mu.Lock()
	defer s.ws.mu.Unlock()
	for i, c := range s.ws.conns {
		if c == wc {
			s.ws.conns = append(s.ws.conns[:i], s.ws.conns[i+1:]...)
			break
		}
	}
}

func (s *Server) closeSockets() {
	s.ws.stopOnce.Do(func() { close(s.ws.stop) })
	s.ws.mu.Lock()
	s.ws.closed = true
	for _, c := range s.ws.conns {
		c.c.Close()
	}
	s.ws.mu.Unlock()
	s.ws.wg.Wait()
}

func (wc *wsConn) write(v any) error {
	wc.wmu.Lock()
	defer wc.wmu.Unlock()
	_ = wc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return wc.c.WriteJSON(v)
}

// latest returns the newest open connection.
func (s *Server) latest() *wsConn {
	s.ws.mu.Lock()
	defer s.ws.mu.Unlock()
	if len(s.ws.conns) == 0 {
		return nil
	}
	return s.ws.conns[len(s.ws.conns)-1]
}

// Hello is closed once the first Socket Mode connection got its hello.
func (s *Server) Hello() <-chan struct{} { return s.ws.hello }

// Connections returns how many Socket Mode connections are open now;
// Accepted how many were ever accepted; Opens how many URLs
// apps.connections.open handed out.
func (s *Server) Connections() int {
	s.ws.mu.Lock()
	defer s.ws.mu.Unlock()
	return len(s.ws.conns)
}

// Accepted returns how many Socket Mode connections were ever accepted.
func (s *Server) Accepted() int {
	s.ws.mu.Lock()
	defer s.ws.mu.Unlock()
	return s.ws.total
}

// Opens returns how many Socket Mode URLs apps.connections.open handed
// out.
func (s *Server) Opens() int { return int(s.ws.opens.Load()) }

// Pongs returns how many pongs answered the fake's pings.
func (s *Server) Pongs() int {
	s.ws.mu.Lock()
	defer s.ws.mu.Unlock()
	return s.ws.pongs
}

// AckedAt returns when the envelope's ack arrived.
func (s *Server) AckedAt(envelopeID string) (time.Time, bool) {
	s.ws.mu.Lock()
	defer s.ws.mu.Unlock()
	at, ok := s.ws.acks[envelopeID]
	return at, ok
}

// Envelopes returns how many envelopes were sent and how many of them
// were acknowledged.
func (s *Server) Envelopes() (sent, acked int) {
	s.ws.mu.Lock()
	defer s.ws.mu.Unlock()
	for id := range s.ws.sent {
		if _, ok := s.ws.acks[id]; ok {
			acked++
		}
	}
	return len(s.ws.sent), acked
}

// Raw sends any frame on the newest Socket Mode connection.
func (s *Server) Raw(v any) error {
	c := s.latest()
	if c == nil {
		return ErrNoConnection
	}
	return c.write(v)
}

// Disconnect sends Slack's disconnect frame (reason "refresh_requested",
// "warning", "link_disabled", …) on the newest connection; slack-go then
// opens a new one.
func (s *Server) Disconnect(reason string) error {
	return s.Raw(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "slacktest"}})
}

// DropConnections closes every open Socket Mode connection without a
// frame, as a network failure would.
func (s *Server) DropConnections() {
	s.ws.mu.Lock()
	defer s.ws.mu.Unlock()
	for _, c := range s.ws.conns {
		c.c.Close()
	}
}

func (s *Server) envelopeID(id string) string {
	s.ws.mu.Lock()
	defer s.ws.mu.Unlock()
	if id == "" {
		s.ws.envSeq++
		id = fmt.Sprintf("env-%d", s.ws.envSeq)
	}
	s.ws.sent[id] = true
	return id
}

// Envelope delivers an Events API event over Socket Mode: an events_api
// envelope wrapping an event_callback (Callback) with inner event ev
// (MentionEvent, MessageEvent, or any map). retry is the retry_attempt (0 for the
// first delivery). It returns the envelope ID.
func (s *Server) Envelope(eventID string, retry int, ev map[string]any) (string, error) {
	return s.EnvelopeID("", eventID, retry, ev)
}

// EnvelopeID is Envelope with a chosen envelope ID ("" for a fresh one).
func (s *Server) EnvelopeID(envelopeID, eventID string, retry int, ev map[string]any) (string, error) {
	return s.envelopeOn(s.latest(), envelopeID, eventID, retry, ev)
}

// EnvelopeOn is Envelope on open connection n (modulo the number open,
// oldest first), as Slack spreads an app's envelopes over its
// connections (one per replica).
func (s *Server) EnvelopeOn(n int, eventID string, retry int, ev map[string]any) (string, error) {
	s.ws.mu.Lock()
	var c *wsConn
	if k := len(s.ws.conns); k > 0 {
		c = s.ws.conns[(n%k+k)%k]
	}
	s.ws.mu.Unlock()
	return s.envelopeOn(c, "", eventID, retry, ev)
}

func (s *Server) envelopeOn(c *wsConn, envelopeID, eventID string, retry int, ev map[string]any) (string, error) {
	if c == nil {
		return "", ErrNoConnection
	}
	id := s.envelopeID(envelopeID)
	reason := ""
	if retry > 0 {
		reason = "timeout"
	}
	err := c.write(map[string]any{
		"envelope_id": id, "type": "events_api", "accepts_response_payload": false,
		"retry_attempt": retry, "retry_reason": reason,
		"payload": s.Callback(eventID, ev),
	})
	return id, err
}

// Command is a slash command as Slack sends it.
type Command struct {
	Command, Text, ChannelID, UserID, UserName, TeamID string
}

func (s *Server) commandFields(c Command) map[string]string {
	if c.TeamID == "" {
		c.TeamID = s.opts.TeamID
	}
	if c.UserName == "" {
		c.UserName = strings.ToLower(c.UserID)
	}
	return map[string]string{
		"command": c.Command, "text": c.Text, "channel_id": c.ChannelID, "user_id": c.UserID,
		"user_name": c.UserName, "team_id": c.TeamID, "trigger_id": "trigger-1",
		"response_url": "https://hooks.slack.invalid/commands/1",
	}
}

// SlashCommand delivers a slash command over Socket Mode (a
// slash_commands envelope) and returns its envelope ID.
func (s *Server) SlashCommand(envelopeID string, c Command) (string, error) {
	conn := s.latest()
	if conn == nil {
		return "", ErrNoConnection
	}
	id := s.envelopeID(envelopeID)
	payload := map[string]any{}
	for k, v := range s.commandFields(c) {
		payload[k] = v
	}
	err := conn.write(map[string]any{"envelope_id": id, "type": "slash_commands", "accepts_response_payload": true, "payload": payload})
	return id, err
}
