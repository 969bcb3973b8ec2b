// Package chatbotiq is the client of ChatbotIQ's public chat API
// (POST {base}/v1/public/chat/stream, an SSE stream of JSON events with a
// "type" discriminator: status, content, replace, notice, done, error).
// The API needs no key; the bot must be Public, without reCAPTCHA, and
// its allowed domains must admit the configured Origin (if any).
//
// Package chatbotiq imports backend, backend/internal/sse,
// backend/internal/wire and the standard library.
package chatbotiq

import (
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
)

// Kind is the value of `kind` in a [backends.NAME] table for this client.
const Kind = "chatbotiq"

// DefaultBaseURL is the public ChatbotIQ service.
const DefaultBaseURL = "https://app.chatbotiq.eu"

const streamPath = "/v1/public/chat/stream"

// Config configures one ChatbotIQ bot.
type Config struct {
	// BaseURL is the service's root URL; the path /v1/public/chat/stream
	// is appended (a BaseURL already ending in /v1/public is accepted).
	// Empty means https://app.chatbotiq.eu.
	BaseURL string `toml:"base_url"`
	// BotID is the bot's ID from the Embed tab of the Playground (a UUID).
	// Required.
	BotID string `toml:"bot_id"`
	// APIKey is accepted for symmetry with the other backends but not
	// sent: the public chat API has no authentication. Empty by default.
	APIKey backend.Secret `toml:"api_key"`
	// IdleTimeout ends an answer with an "unavailable" error when the
	// service sends nothing for this long. 0 means 60s.
	IdleTimeout time.Duration `toml:"idle_timeout"`
	// Origin, when set, is sent as the Origin header, for bots whose
	// allowed domains are enforced on API calls (e.g.
	// "https://www.example.com"). Empty sends none.
	Origin string `toml:"origin"`
}

// Client asks one ChatbotIQ bot. It is safe for concurrent use.
type Client struct {
	cfg      Config
	conn     wire.Conn
	endpoint string
}

var (
	_ backend.Backend = (*Client)(nil)
	_ backend.Checker = (*Client)(nil)
)

// New validates cfg and returns a client. It does no I/O.
func New(cfg Config, deps backend.Deps) (*Client, error) {
	conn, err := wire.NewConn(wire.Service{BaseURL: cfg.BaseURL, Default: DefaultBaseURL, Root: "/v1/public", IdleTimeout: cfg.IdleTimeout, APIKey: cfg.APIKey}, deps)
	if err != nil {
		return nil, err
	}
	if err := cmp.Or(wire.CheckWord("bot_id", cfg.BotID, true), wire.CheckOrigin("origin", cfg.Origin)); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, conn: conn, endpoint: conn.Base + streamPath}, nil
}

// request is the JSON body of a chat request, in the documented order.
type request struct {
	BotID          string `json:"bot_id"`
	Message        string `json:"message"`
	SessionID      string `json:"session_id"`
	ConversationID string `json:"conversation_id,omitempty"`
}

// Ask implements backend.Backend.
func (c *Client) Ask(ctx context.Context, req backend.Request) *backend.Stream {
	header := http.Header{"Accept": {"text/event-stream"}}
	if c.cfg.Origin != "" {
		header.Set("Origin", c.cfg.Origin)
	}
	resp, err := c.conn.Send(ctx, wire.Request{Method: http.MethodPost, URL: c.endpoint, Header: header, JSON: request{
		BotID:          c.cfg.BotID,
		Message:        req.Question,
		SessionID:      c.sessionID(req),
		ConversationID: req.ConversationID,
	}})
	if err == nil {
		err = wire.CheckEventStream(resp, c.cfg.APIKey)
	}
	if err != nil {
		return backend.ErrorStream(fmt.Errorf("chatbotiq: %w", err))
	}
	return backend.NewStream(newDecoder(resp.Body, c.conn.Log))
}

// sessionID returns req.SessionID, or, when the bridge gave none, a UUID
// derived from the bot and the user, stable across requests and restarts.
func (c *Client) sessionID(req backend.Request) string {
	if req.SessionID != "" {
		return req.SessionID
	}
	return nameUUID("chat-bridge/chatbotiq\x00" + c.cfg.BotID + "\x00" + req.User)
}

// nameUUID returns a name-based (version 5 layout, SHA-1) UUID for name.
func nameUUID(name string) string {
	sum := sha1.Sum([]byte(name))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Check implements backend.Checker. It spends no credits: it GETs the
// base URL, which proves DNS, TLS and reachability; any answer below 500
// counts as reachable. (The public API offers no way to validate bot_id
// without asking a question.)
func (c *Client) Check(ctx context.Context) error {
	resp, err := c.conn.Probe(ctx, wire.Request{URL: c.conn.Base + "/"})
	if err != nil {
		var be *backend.Error
		if errors.As(err, &be) && be.Status >= 400 && be.Status < 500 {
			return nil
		}
		return fmt.Errorf("chatbotiq: check %s: %w", wire.RedactURL(c.conn.Base), err)
	}
	resp.Body.Close()
	return nil
}
