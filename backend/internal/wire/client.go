package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/chat-bridge/chat-bridge/backend"
)

// UserAgent is sent with every request unless Request.Header sets one.
const UserAgent = "chat-bridge"

// Request is one request a client sends through Send.
type Request struct {
	// Method is the HTTP method; empty means GET.
	Method string
	// URL is the full request URL.
	URL string
	// JSON, when not nil, is encoded (Marshal) as the request body, sent
	// with Content-Type application/json.
	JSON any
	// Header is set on every attempt, after Content-Type and User-Agent.
	Header http.Header
}

// Service is what a client's config says about reaching its service.
type Service struct {
	// BaseURL is the configured base_url; empty means Default.
	BaseURL string
	// Default is the client's DefaultBaseURL.
	Default string
	// Root is an API root the configured URL may already end in ("" for
	// none): it is trimmed, as the client appends its own paths.
	Root string
	// IdleTimeout is the configured idle_timeout; 0 means DefaultIdle.
	IdleTimeout time.Duration
	// APIKey is scrubbed from every error text.
	APIKey backend.Secret
}

// Conn is how a client reaches its service: what NewConn validated, and
// the client and logger of its Deps. It is safe for concurrent use.
type Conn struct {
	// Base is the base URL without trailing slashes or Service.Root.
	Base string
	// Idle is the idle timeout, its default applied.
	Idle   time.Duration
	Secret backend.Secret
	HTTP   *http.Client
	Log    *slog.Logger
}

// NewConn checks s (base_url, then idle_timeout; errors name the key) and
// returns the connection it describes. It does no I/O.
func NewConn(s Service, deps backend.Deps) (Conn, error) {
	base, err := BaseURL(s.BaseURL, s.Default)
	if err != nil {
		return Conn{}, err
	}
	if err := CheckIdle(s.IdleTimeout); err != nil {
		return Conn{}, err
	}
	if s.Root != "" {
		base = strings.TrimSuffix(base, s.Root)
	}
	return Conn{Base: base, Idle: Idle(s.IdleTimeout), Secret: s.APIKey, HTTP: deps.Client(), Log: deps.Log()}, nil
}

// Send sends r as Send does, under the policy of an answer: retried,
// each retry logged, bounded by the idle timeout, the key scrubbed.
func (c Conn) Send(ctx context.Context, r Request) (*http.Response, error) {
	return Send(ctx, c.HTTP, r, Policy{Idle: c.Idle, Secret: c.Secret, Logger: c.Log})
}

// Probe sends r once, for a client's Check: no retry, bounded by the
// idle timeout, the key scrubbed.
func (c Conn) Probe(ctx context.Context, r Request) (*http.Response, error) {
	return Send(ctx, c.HTTP, r, Policy{Idle: c.Idle, Secret: c.Secret, Attempts: 1})
}

// Decoder returns the options of a stream decoder for conversation conv:
// c's secret and logger.
func (c Conn) Decoder(conv string) DecoderOptions {
	return DecoderOptions{ConversationID: conv, Secret: c.Secret, Log: c.Log}
}

// Send sends r through Do, with a fresh body for every attempt, and
// returns Do's answer. A body that cannot be encoded is a
// KindBadResponse error, without a request.
func Send(ctx context.Context, client *http.Client, r Request, p Policy) (*http.Response, error) {
	var body []byte
	if r.JSON != nil {
		b, err := Marshal(r.JSON)
		if err != nil {
			return nil, &backend.Error{Kind: backend.KindBadResponse, Message: "encode request", Err: err}
		}
		body = b
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	return Do(ctx, client, func(ctx context.Context) (*http.Request, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, r.URL, rd)
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("User-Agent", UserAgent)
		for k, v := range r.Header {
			req.Header[k] = v
		}
		return req, nil
	}, p)
}

// CheckEventStream rejects a 2xx response to a streaming request that is
// plainly not an event stream: a JSON body (an error envelope, or a server
// that ignored "stream") or an HTML page (a wrong base_url). It then reads
// the body's message as StatusError would, scrubbed of secret, and closes
// the body. Any other type is left to the stream decoder.
func CheckEventStream(resp *http.Response, secret backend.Secret) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/json" && mt != "text/html" {
		return nil
	}
	e := StatusError(resp)
	e.Kind = backend.KindBadResponse
	e.Message = "not an event stream (" + mt + "): " + Scrub(e.Message, secret)
	return e
}

// badRune reports the runes a value sent verbatim (an ID, a key, a
// language code) must not contain.
func badRune(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// CheckWord checks the config value v of key, sent verbatim in a URL, a
// header or a body: it must not contain spaces or control characters, and
// must be set when required. The error names key.
func CheckWord(key, v string, required bool) error {
	if v == "" && required {
		return errors.New(key + ": required")
	}
	if strings.ContainsFunc(v, badRune) {
		return fmt.Errorf("%s %q: must not contain spaces", key, v)
	}
	return nil
}

// CheckKey checks the api_key secret as CheckWord checks a value, without
// ever showing it.
func CheckKey(s backend.Secret, required bool) error {
	if !s.IsSet() && required {
		return errors.New("api_key: required")
	}
	if strings.ContainsFunc(s.Reveal(), badRune) {
		return errors.New("api_key: must not contain spaces or control characters")
	}
	return nil
}
