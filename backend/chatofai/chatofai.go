// Package chatofai is the client of chatof.ai's chat API
// (POST {base}/api/v1/backend/chatbot/{bot_uid}/chat with "stream": true).
// The streamed body is a JSON header, the magic separator
// 645130146e8d07b175fd8b1d5682d520, then the raw answer text up to the end
// of the body; the protocol has no terminator.
//
// Package chatofai imports backend, backend/internal/wire and the standard
// library.
package chatofai

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
)

// Kind is the value of `kind` in a [backends.NAME] table for this client.
const Kind = "chatofai"

// DefaultBaseURL is the public chatof.ai service.
const DefaultBaseURL = "https://chatof.ai"

// apiPrefix is the documented root of every API path.
const apiPrefix = "/api/v1/backend"

// Config configures one chatof.ai chatbot.
type Config struct {
	// BaseURL is the service's root URL; /api/v1/backend/... is appended
	// (a BaseURL already ending in /api/v1/backend is accepted). Empty
	// means https://chatof.ai.
	BaseURL string `toml:"base_url"`
	// BotID is the chatbot's bot_uid. Required.
	BotID string `toml:"bot_id"`
	// APIKey is the account's API key, sent as a Bearer token. Required.
	APIKey backend.Secret `toml:"api_key"`
	// Language is the answer language code ("auto", "en", "fr", "zh-Hans",
	// ...). Empty sends none, so the service's default (auto) applies.
	Language string `toml:"language"`
	// IdleTimeout ends an answer with an "unavailable" error when the
	// service sends nothing for this long. 0 means 60s.
	IdleTimeout time.Duration `toml:"idle_timeout"`
}

// Client asks one chatof.ai chatbot. It is safe for concurrent use.
type Client struct {
	cfg      Config
	conn     wire.Conn // Base ends in apiPrefix
	endpoint string
}

var (
	_ backend.Backend = (*Client)(nil)
	_ backend.Checker = (*Client)(nil)
)

// New validates cfg and returns a client. It does no I/O.
func New(cfg Config, deps backend.Deps) (*Client, error) {
	conn, err := wire.NewConn(wire.Service{BaseURL: cfg.BaseURL, Default: DefaultBaseURL, Root: apiPrefix, IdleTimeout: cfg.IdleTimeout, APIKey: cfg.APIKey}, deps)
	if err != nil {
		return nil, err
	}
	if err := cmp.Or(wire.CheckWord("bot_id", cfg.BotID, true), wire.CheckKey(cfg.APIKey, true), wire.CheckWord("language", cfg.Language, false)); err != nil {
		return nil, err
	}
	conn.Base += apiPrefix
	return &Client{cfg: cfg, conn: conn, endpoint: conn.Base + "/chatbot/" + url.PathEscape(cfg.BotID) + "/chat"}, nil
}

// request is the JSON body of a chat request, in the documented order.
type request struct {
	Q               string `json:"q"`
	ConversationUID string `json:"conversation_uid,omitempty"`
	Language        string `json:"language,omitempty"`
	Stream          bool   `json:"stream"`
}

// Ask implements backend.Backend.
func (c *Client) Ask(ctx context.Context, req backend.Request) *backend.Stream {
	continuing := req.ConversationID != ""
	resp, err := c.conn.Send(ctx, wire.Request{Method: http.MethodPost, URL: c.endpoint, Header: c.header(), JSON: request{
		Q:               req.Question,
		ConversationUID: req.ConversationID,
		Language:        c.cfg.Language,
		Stream:          true,
	}})
	if err != nil {
		return backend.ErrorStream(fmt.Errorf("chatofai: %w", refine(err, continuing)))
	}
	return backend.NewStream(newDecoder(resp.Body, c.conn.Decoder(req.ConversationID)))
}

// header returns the headers of every request.
func (c *Client) header() http.Header {
	return http.Header{"Authorization": {"Bearer " + c.cfg.APIKey.Reveal()}, "Accept": {"*/*"}}
}

// Check implements backend.Checker. It spends no credits: it GETs
// {base}/api/v1/backend with the key, the request the API introduction
// uses as its example. A 401 or 403 (or a JSON envelope whose code reads as
// an authentication failure) means the key is wrong; a 5xx or a connection
// failure means the service is unreachable; any other answer (200, 404,
// 405, ...) proves reachability. The bot ID cannot be checked without
// asking a question, which spends a credit.
func (c *Client) Check(ctx context.Context) error {
	resp, err := c.conn.Probe(ctx, wire.Request{URL: c.conn.Base, Header: c.header()})
	if err != nil {
		var be *backend.Error
		if errors.As(err, &be) && be.Status >= 400 && be.Status < 500 &&
			be.Kind != backend.KindUnauthorized && be.Kind != backend.KindRateLimited {
			return nil
		}
		return fmt.Errorf("chatofai: check %s: %w", wire.RedactURL(c.conn.Base), err)
	}
	defer resp.Body.Close()
	var env envelope
	if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&env) == nil && env.failed() {
		e := env.err(c.cfg.APIKey, false)
		if e.Kind == backend.KindUnauthorized {
			return fmt.Errorf("chatofai: check %s: %w", wire.RedactURL(c.conn.Base), e)
		}
	}
	return nil
}
