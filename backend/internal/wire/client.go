package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
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
