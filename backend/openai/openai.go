// Package openai is the client of any OpenAI-compatible chat completions
// endpoint (POST {base}/chat/completions with "stream": true: OpenAI
// itself, Azure-style proxies, Ollama, vLLM, LiteLLM, ...). The service
// keeps no conversation, so the client implements backend.HistoryKeeper and
// sends the turns the bridge keeps, after an optional system prompt.
//
// Package openai imports backend, backend/internal/sse,
// backend/internal/wire and the standard library.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
)

// Kind is the value of `kind` in a [backends.NAME] table for this client.
const Kind = "openai"

// DefaultBaseURL is OpenAI's API.
const DefaultBaseURL = "https://api.openai.com/v1"

// Config configures one OpenAI-compatible model.
type Config struct {
	// BaseURL is the API root; /chat/completions and /models are appended.
	// Empty means https://api.openai.com/v1.
	BaseURL string `toml:"base_url"`
	// BotID is the model name, such as "gpt-4o-mini" or "llama3.1".
	// Required.
	BotID string `toml:"bot_id"`
	// APIKey is sent as "Authorization: Bearer <key>". Empty sends no
	// Authorization header (local servers).
	APIKey backend.Secret `toml:"api_key"`
	// IdleTimeout ends an answer with an "unavailable" error when the
	// service sends nothing for this long. 0 means 60s.
	IdleTimeout time.Duration `toml:"idle_timeout"`
	// SystemPrompt, when set, is sent first as the "system" message. Empty
	// sends none.
	SystemPrompt string `toml:"system_prompt"`
	// HistoryTurns is how many earlier question/answer turns the bridge
	// keeps per conversation and sends back. 0 means 10.
	HistoryTurns int `toml:"history_turns"`
	// MaxTokens, when positive, is sent as "max_tokens". 0 leaves it to the
	// service.
	MaxTokens int `toml:"max_tokens"`
}

func (c Config) historyTurns() int {
	if c.HistoryTurns <= 0 {
		return 10
	}
	return c.HistoryTurns
}

// Client asks one model. It is safe for concurrent use.
type Client struct {
	cfg  Config
	conn wire.Conn
}

var (
	_ backend.Backend       = (*Client)(nil)
	_ backend.Checker       = (*Client)(nil)
	_ backend.HistoryKeeper = (*Client)(nil)
)

// New validates cfg and returns a client. It does no I/O.
func New(cfg Config, deps backend.Deps) (*Client, error) {
	conn, err := wire.NewConn(wire.Service{BaseURL: cfg.BaseURL, Default: DefaultBaseURL, IdleTimeout: cfg.IdleTimeout, APIKey: cfg.APIKey}, deps)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.BotID) == "" {
		return nil, errors.New("bot_id: required (the model name)")
	}
	if cfg.HistoryTurns < 0 {
		return nil, fmt.Errorf("history_turns %d: must not be negative", cfg.HistoryTurns)
	}
	if cfg.MaxTokens < 0 {
		return nil, fmt.Errorf("max_tokens %d: must not be negative", cfg.MaxTokens)
	}
	if err := wire.CheckKey(cfg.APIKey, false); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, conn: conn}, nil
}

// HistoryTurns implements backend.HistoryKeeper.
func (c *Client) HistoryTurns() int { return c.cfg.historyTurns() }

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type request struct {
	Model     string    `json:"model"`
	Messages  []message `json:"messages"`
	Stream    bool      `json:"stream"`
	MaxTokens int       `json:"max_tokens,omitempty"`
}

// messages builds the conversation: the system prompt, the last
// HistoryTurns turns of req.History, the question.
func (c *Client) messages(req backend.Request) []message {
	hist := req.History
	if n := c.cfg.historyTurns(); len(hist) > n {
		hist = hist[len(hist)-n:]
	}
	msgs := make([]message, 0, 2+2*len(hist))
	if c.cfg.SystemPrompt != "" {
		msgs = append(msgs, message{"system", c.cfg.SystemPrompt})
	}
	for _, t := range hist {
		if t.Question != "" {
			msgs = append(msgs, message{"user", t.Question})
		}
		if t.Answer != "" {
			msgs = append(msgs, message{"assistant", t.Answer})
		}
	}
	return append(msgs, message{"user", req.Question})
}

// Ask implements backend.Backend. The Done event's ConversationID is
// always empty: the bridge keeps the history.
func (c *Client) Ask(ctx context.Context, req backend.Request) *backend.Stream {
	resp, err := c.conn.Send(ctx, wire.Request{
		Method: http.MethodPost,
		URL:    c.conn.Base + "/chat/completions",
		JSON:   request{Model: c.cfg.BotID, Messages: c.messages(req), Stream: true, MaxTokens: c.cfg.MaxTokens},
		Header: c.header("text/event-stream"),
	})
	if err == nil {
		err = wire.CheckEventStream(resp, c.cfg.APIKey)
	}
	if err != nil {
		return backend.ErrorStream(fmt.Errorf("openai: %w", err))
	}
	return backend.NewStream(newDecoder(resp.Body, c.cfg.APIKey))
}

// header returns the headers of a request whose answer is of type accept:
// the key, when one is configured.
func (c *Client) header(accept string) http.Header {
	h := http.Header{"Accept": {accept}}
	if c.cfg.APIKey.IsSet() {
		h.Set("Authorization", "Bearer "+c.cfg.APIKey.Reveal())
	}
	return h
}

// Check implements backend.Checker: GET {base}/models with the key, which
// spends no tokens. It fails on any non-2xx answer (401: bad key) and,
// when the service lists models, on a model it does not list.
func (c *Client) Check(ctx context.Context) error {
	resp, err := c.conn.Probe(ctx, wire.Request{URL: c.conn.Base + "/models", Header: c.header("application/json")})
	if err != nil {
		return fmt.Errorf("openai: check %s/models: %w", wire.RedactURL(c.conn.Base), err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&list) != nil || len(list.Data) == 0 {
		return nil // reachable and authorised; the list is not ours to judge
	}
	for _, m := range list.Data {
		if m.ID == c.cfg.BotID {
			return nil
		}
	}
	return fmt.Errorf("openai: check: %w", &backend.Error{Kind: backend.KindNotFound, Message: fmt.Sprintf("model %q is not among the %d models the service lists", c.cfg.BotID, len(list.Data))})
}
