package openai

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
)

// decoder turns the SSE body of a streamed chat completion into backend
// events. It implements backend.Decoder.
type decoder struct {
	sse    *wire.SSE
	secret backend.Secret
	// finished is set once a choice reported a finish_reason: an EOF
	// without "[DONE]" then still ends the answer normally.
	finished bool
	done     bool       // Done is queued
	queue    wire.Queue // events produced by one chunk, not yet returned, then the error or EOF
}

func newDecoder(body io.ReadCloser, secret backend.Secret) *decoder {
	return &decoder{sse: wire.NewSSE(body), secret: secret}
}

// Next implements backend.Decoder.
func (d *decoder) Next() (backend.Event, error) {
	for {
		if ev, err := d.queue.Next(); ev != nil || err != nil {
			return ev, err
		}
		data, last, ok := d.sse.Next()
		if !ok {
			return d.end()
		}
		err := d.chunk(data)
		var be *backend.Error
		if last && !(errors.As(err, &be) && be.Err == nil) {
			// The event the body ended inside: a complete chunk or
			// "[DONE]" is still used, a cut one is truncation, but an
			// in-stream error is reported.
			err = nil
		}
		d.queue.Err = err
	}
}

// end handles the end of the SSE stream.
func (d *decoder) end() (backend.Event, error) {
	d.queue.Ended = true
	if err := d.sse.Err(); err != nil {
		return nil, err
	}
	if d.finished && !d.done && d.queue.Err == nil {
		d.queue.Push(backend.Done{})
		d.done = true
	}
	return d.Next()
}

// Close implements backend.Decoder.
func (d *decoder) Close() error { return d.sse.Close() }

// chunk is one streamed chat.completion.chunk (or an error envelope).
type chunk struct {
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content *string `json:"content"`
			Refusal *string `json:"refusal"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Error json.RawMessage `json:"error"`
}

// chunk decodes one data payload into d.queue, or returns the error it
// reports.
func (d *decoder) chunk(data string) error {
	data = strings.TrimSpace(data)
	switch data {
	case "":
		return nil
	case "[DONE]":
		d.queue.Push(backend.Done{})
		d.done = true
		d.queue.Ended = true // nothing after [DONE] is read
		return nil
	}
	var c chunk
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return &backend.Error{Kind: backend.KindBadResponse, Message: "decode chunk " + wire.Snippet([]byte(data), d.secret), Err: err}
	}
	if len(c.Error) > 0 && string(c.Error) != "null" {
		return d.apiError(c.Error)
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue // only the first choice is asked for
		}
		if t := ch.Delta.Content; t != nil && *t != "" {
			d.queue.Push(backend.Delta{Text: *t})
		}
		if t := ch.Delta.Refusal; t != nil && *t != "" {
			d.queue.Push(backend.Delta{Text: *t})
		}
		if fr := ch.FinishReason; fr != nil && *fr != "" {
			d.finished = true
			switch *fr {
			case "content_filter":
				return &backend.Error{Kind: backend.KindContentFiltered, Code: *fr, Message: "the answer was filtered"}
			case "length":
				d.queue.Push(backend.Notice{Code: "length", Message: "the answer reached the token limit"})
			}
		}
	}
	return nil
}

// apiError classifies an in-stream {"error": ...} member: an object with
// message/type/code, or a bare string.
func (d *decoder) apiError(raw json.RawMessage) error {
	var e struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
	if json.Unmarshal(raw, &e) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		e.Message = s
	}
	code := strings.Trim(string(e.Code), `"`)
	if code == "null" {
		code = ""
	}
	if code == "" {
		code = e.Type
	}
	kind := errorKind(code + " " + e.Type)
	if n, err := strconv.Atoi(code); err == nil {
		kind = wire.StatusKind(n) // an HTTP status as the code (Anthropic-style 529, proxies)
	}
	return &backend.Error{Kind: kind, Code: code, Message: wire.Clip(wire.Scrub(e.Message, d.secret))}
}

// errorKind classifies an OpenAI-style error code or type.
func errorKind(s string) backend.Kind {
	s = strings.ToLower(s)
	switch {
	case strings.Contains(s, "rate_limit"):
		return backend.KindRateLimited
	case strings.Contains(s, "content_filter") || strings.Contains(s, "content_policy"):
		return backend.KindContentFiltered
	case strings.Contains(s, "api_key") || strings.Contains(s, "authentication") || strings.Contains(s, "permission"):
		return backend.KindUnauthorized
	case strings.Contains(s, "model_not_found") || strings.Contains(s, "not_found"):
		return backend.KindNotFound
	case strings.Contains(s, "server_error") || strings.Contains(s, "overloaded") || strings.Contains(s, "insufficient_quota") || strings.Contains(s, "unavailable") || strings.Contains(s, "timeout"):
		return backend.KindUnavailable
	}
	return backend.KindBadResponse
}
