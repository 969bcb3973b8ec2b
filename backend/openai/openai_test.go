package openai

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
	"github.com/chat-bridge/chat-bridge/backend/internal/wiretest"
)

const (
	model      = "gpt-4o-mini"
	testSecret = "sk-proj-never-shown-4711"
)

func newClient(t *testing.T, cfg Config, hc *http.Client) *Client {
	t.Helper()
	if cfg.BotID == "" {
		cfg.BotID = model
	}
	return wiretest.NewClient(t, New, cfg, hc)
}

// collect drains a stream: see wiretest.Collector.
var collect = wiretest.Collector(testSecret)

var readFile = wiretest.ReadFile

var answerEvents = []backend.Event{
	backend.Delta{Text: "Hello"},
	backend.Delta{Text: ", wörld 🙂\n\n<b>"},
	backend.Delta{Text: "done."},
	backend.Done{},
}

// textChunk returns one chat.completion.chunk payload carrying content.
func textChunk(content string) string {
	return fmt.Sprintf(`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":%q},"finish_reason":null}]}`, content)
}

const stop = `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`

func TestAsk(t *testing.T) {
	rec := wiretest.NewRecorder(t, wiretest.EventStream(readFile(t, "testdata/answer.sse")))
	c := newClient(t, Config{BaseURL: rec.Base + "/v1/", APIKey: backend.NewSecret(testSecret), SystemPrompt: "You are helpful.", HistoryTurns: 2, MaxTokens: 256}, nil)
	req := backend.Request{
		Question: "What is <b>?",
		History:  []backend.Turn{{Question: "q1", Answer: "a1"}, {Question: "q2", Answer: "a2"}, {Question: "q3", Answer: "a3"}},
		User:     "u1",
	}
	evs, err := collect(t, c.Ask(t.Context(), req))
	if err != nil {
		t.Fatalf("Ask() error = %v", err)
	}
	wiretest.CheckEvents(t, answerEvents, evs)
	reqs := rec.Requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.URI != "/prefix/v1/chat/completions" {
		t.Errorf("request = %s %s, want POST /prefix/v1/chat/completions", r.Method, r.URI)
	}
	wantBody := `{"model":"gpt-4o-mini","messages":[` +
		`{"role":"system","content":"You are helpful."},` +
		`{"role":"user","content":"q2"},{"role":"assistant","content":"a2"},` +
		`{"role":"user","content":"q3"},{"role":"assistant","content":"a3"},` +
		`{"role":"user","content":"What is <b>?"}],"stream":true,"max_tokens":256}`
	if r.Body != wantBody {
		t.Errorf("body = %s\nwant   %s", r.Body, wantBody)
	}
	for k, want := range map[string]string{
		"Content-Type":  "application/json",
		"Accept":        "text/event-stream",
		"Authorization": "Bearer " + testSecret,
		"User-Agent":    "chat-bridge",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestAskMinimal(t *testing.T) {
	rec := wiretest.NewRecorder(t, wiretest.EventStream(wiretest.SSE("\n", textChunk("hi"), stop, "[DONE]")))
	c := newClient(t, Config{BaseURL: rec.Base, BotID: "llama3.1"}, nil)
	var hist []backend.Turn
	for i := range 12 {
		hist = append(hist, backend.Turn{Question: fmt.Sprint("q", i), Answer: fmt.Sprint("a", i)})
	}
	hist[11].Answer = "" // a turn whose answer failed: only the question is sent
	evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "now", History: hist}))
	if diff := cmp.Diff([]backend.Event{backend.Delta{Text: "hi"}, backend.Done{}}, evs); err != nil || diff != "" {
		t.Fatalf("Ask() err %v, events mismatch (-want +got):\n%s", err, diff)
	}
	r := rec.Requests()[0]
	var msgs []string
	for i := 2; i < 12; i++ {
		msgs = append(msgs, fmt.Sprintf(`{"role":"user","content":"q%d"}`, i))
		if i < 11 {
			msgs = append(msgs, fmt.Sprintf(`{"role":"assistant","content":"a%d"}`, i))
		}
	}
	msgs = append(msgs, `{"role":"user","content":"now"}`)
	wantBody := `{"model":"llama3.1","messages":[` + strings.Join(msgs, ",") + `],"stream":true}`
	if r.Body != wantBody || r.URI != "/prefix/chat/completions" {
		t.Errorf("request %s body = %s\nwant   %s", r.URI, r.Body, wantBody)
	}
	if h, ok := r.Header["Authorization"]; ok {
		t.Errorf("Authorization header %q sent without api_key", h)
	}
	if c.HistoryTurns() != 10 {
		t.Errorf("HistoryTurns() = %d, want 10", c.HistoryTurns())
	}
}

// TestAskSplitEverywhere cuts the stream (LF, CRLF and CR line endings) at
// every byte; each piece reaches the client in its own reads.
func TestAskSplitEverywhere(t *testing.T) {
	wiretest.CheckSplitSSE(t, readFile(t, "testdata/answer.sse"), answerEvents, func(t *testing.T, base string, hc *http.Client) ([]backend.Event, error) {
		c := newClient(t, Config{BaseURL: base}, hc)
		return collect(t, c.Ask(t.Context(), backend.Request{Question: "q"}))
	})
}

func TestAskHTTPErrors(t *testing.T) {
	tests := wiretest.StatusErrors()
	for name, tt := range map[string]wiretest.HTTPError{
		"401 bad key": {Status: 401, Body: `{"error":{"message":"Incorrect API key provided: sk-proj-***4711.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			Kind: backend.KindUnauthorized, Code: "invalid_api_key", Msg: "Incorrect API key provided: sk-proj-***4711."},
		"401 echoes key": {Status: 401, Body: `{"error":{"message":"bad key ` + testSecret + `","code":"invalid_api_key"}}`,
			Kind: backend.KindUnauthorized, Code: "invalid_api_key", Msg: "bad key [redacted]"},
		"404 model": {Status: 404, Body: `{"error":{"message":"The model 'gpt-9' does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}`,
			Kind: backend.KindNotFound, Code: "model_not_found", Msg: "The model 'gpt-9' does not exist"},
		"429 retry-after": {Status: 429, Header: map[string]string{"Retry-After": "20"}, Body: `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`,
			Kind: backend.KindRateLimited, Code: "rate_limit_exceeded", Msg: "Rate limit reached", RetryAfter: 20 * time.Second},
		"400 context": {Status: 400, Body: `{"error":{"message":"maximum context length is 128000 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}`,
			Kind: backend.KindBadResponse, Code: "context_length_exceeded", Msg: "maximum context length is 128000 tokens"},
		"500": {Status: 500, Body: `{"error":{"message":"The server had an error","type":"server_error","code":null}}`,
			Kind: backend.KindUnavailable, Msg: "The server had an error"},
	} {
		tests[name] = tt
	}
	wiretest.CheckHTTPErrors(t, tests, func(t *testing.T, tt wiretest.HTTPError) (*wiretest.Recorder, []backend.Event, error) {
		rec := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Content-Type", "application/json")
			tt.Respond(w)
		})
		c := newClient(t, Config{BaseURL: rec.Base, APIKey: backend.NewSecret(testSecret)}, nil)
		evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q"}))
		return rec, evs, err
	})
}

func TestAskStreamErrors(t *testing.T) {
	tests := map[string]struct {
		payload  string
		wantKind backend.Kind
		wantCode string
		wantMsg  string
	}{
		"rate limit":     {`{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`, backend.KindRateLimited, "rate_limit_exceeded", "Rate limit reached"},
		"server error":   {`{"error":{"message":"The server had an error","type":"server_error","code":null}}`, backend.KindUnavailable, "server_error", "The server had an error"},
		"string error":   {`{"error":"boom"}`, backend.KindBadResponse, "", "boom"},
		"numeric code":   {`{"error":{"message":"overloaded","code":529}}`, backend.KindUnavailable, "529", "overloaded"},
		"echoes key":     {`{"error":{"message":"key ` + testSecret + ` revoked","code":"invalid_api_key"}}`, backend.KindUnauthorized, "invalid_api_key", "key [redacted] revoked"},
		"content filter": {`{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"content_filter"}]}`, backend.KindContentFiltered, "content_filter", "the answer was filtered"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rec := wiretest.NewRecorder(t, wiretest.EventStream(wiretest.SSE("\n", textChunk("partial"), tt.payload)))
			c := newClient(t, Config{BaseURL: rec.Base, APIKey: backend.NewSecret(testSecret)}, nil)
			evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q"}))
			wiretest.CheckEvents(t, []backend.Event{backend.Delta{Text: "partial"}}, evs)
			wiretest.CheckError(t, err, tt.wantKind, tt.wantCode, tt.wantMsg)
		})
	}
}

func TestAskBadStreams(t *testing.T) {
	hi := backend.Delta{Text: "hi"}
	tests := map[string]wiretest.StreamCase{
		"empty body":          {Body: "", Kind: backend.KindBadResponse, Truncated: true},
		"ends after content":  {Body: wiretest.SSE("\n", textChunk("hi")), Events: []backend.Event{hi}, Kind: backend.KindBadResponse, Truncated: true},
		"cut inside JSON":     {Body: "data: " + textChunk("hi") + "\n\ndata: {\"id\":\"c\",\"choi", Events: []backend.Event{hi}, Kind: backend.KindBadResponse, Truncated: true},
		"stop without DONE":   {Body: wiretest.SSE("\n", textChunk("hi"), stop), Events: []backend.Event{hi, backend.Done{}}, OK: true},
		"DONE without blank":  {Body: wiretest.SSE("\n", textChunk("hi")) + "data: [DONE]\n", Events: []backend.Event{hi, backend.Done{}}, OK: true},
		"DONE without EOL":    {Body: wiretest.SSE("\n", textChunk("hi")) + "data: [DONE]", Events: []backend.Event{hi, backend.Done{}}, OK: true},
		"stop chunk no blank": {Body: wiretest.SSE("\n", textChunk("hi")) + "data: " + stop + "\n", Events: []backend.Event{hi, backend.Done{}}, OK: true},
		"length":              {Body: wiretest.SSE("\n", textChunk("hi"), `{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}`, "[DONE]"), Events: []backend.Event{hi, backend.Notice{Code: "length", Message: "the answer reached the token limit"}, backend.Done{}}, OK: true},
		"refusal":             {Body: wiretest.SSE("\n", `{"choices":[{"index":0,"delta":{"refusal":"I can't help with that."}}]}`, "[DONE]"), Events: []backend.Event{backend.Delta{Text: "I can't help with that."}, backend.Done{}}, OK: true},
		"other choices":       {Body: wiretest.SSE("\n", `{"choices":[{"index":1,"delta":{"content":"x"}},{"index":0,"delta":{"content":"hi"}}]}`, "[DONE]"), Events: []backend.Event{hi, backend.Done{}}, OK: true},
		"after DONE ignored":  {Body: wiretest.SSE("\n", textChunk("hi"), "[DONE]", "garbage"), Events: []backend.Event{hi, backend.Done{}}, OK: true},
		"garbage no newline":  {Body: "\x00\xff\xfe<<garbage>>", Kind: backend.KindBadResponse, Truncated: true},
		"data not JSON":       {Body: "data: not json\n\n", Kind: backend.KindBadResponse},
		"html page":           {CType: "text/html", Body: "<!doctype html><title>x</title>", Kind: backend.KindBadResponse},
		"stream ignored":      {CType: "application/json", Body: `{"choices":[{"message":{"role":"assistant","content":"hi"}}]}`, Kind: backend.KindBadResponse},
	}
	wiretest.CheckStreams(t, "text/event-stream", tests, func(t *testing.T, base string) ([]backend.Event, error) {
		return collect(t, newClient(t, Config{BaseURL: base}, nil).Ask(t.Context(), backend.Request{Question: "q"}))
	})
}

func TestAskCancel(t *testing.T) {
	h, done := wiretest.Hang(wiretest.SSE("\n", textChunk("a")), "text/event-stream")
	rec := wiretest.NewRecorder(t, h)
	c := newClient(t, Config{BaseURL: rec.Base}, nil)
	wiretest.CheckCancel(t, func(ctx context.Context) *backend.Stream {
		return c.Ask(ctx, backend.Request{Question: "q"})
	}, true, done)
}

func TestAskIdleTimeout(t *testing.T) {
	h, done := wiretest.Hang(wiretest.SSE("\n", textChunk("a")), "text/event-stream") // and then silence
	rec := wiretest.NewRecorder(t, h)
	const idle = 100 * time.Millisecond
	c := newClient(t, Config{BaseURL: rec.Base, IdleTimeout: idle}, nil)
	wiretest.CheckIdle(t, idle, func() ([]backend.Event, error) {
		return collect(t, c.Ask(t.Context(), backend.Request{Question: "q"}))
	}, []backend.Event{backend.Delta{Text: "a"}}, wire.ErrIdle, done)
}

func TestAskRetry(t *testing.T) {
	t.Run("503 before the stream is retried", func(t *testing.T) {
		refuse := wiretest.RefuseFirst(http.StatusServiceUnavailable)
		rec := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if !refuse(w) {
				wiretest.EventStream(wiretest.SSE("\n", textChunk("once"), "[DONE]"))(w, r, n)
			}
		})
		evs, err := collect(t, newClient(t, Config{BaseURL: rec.Base}, nil).Ask(t.Context(), backend.Request{Question: "q"}))
		wiretest.CheckRetried(t, []backend.Event{backend.Delta{Text: "once"}, backend.Done{}}, evs, err, rec.Requests(), 2)
	})
	t.Run("broken stream is not retried", func(t *testing.T) {
		wiretest.CheckBrokenStreamNotRetried(t, func(base string) *backend.Stream {
			return newClient(t, Config{BaseURL: base}, nil).Ask(t.Context(), backend.Request{Question: "q"})
		}, "text/event-stream", wiretest.SSE("\n", textChunk("once")), []backend.Event{backend.Delta{Text: "once"}},
			func(s *backend.Stream) ([]backend.Event, error) { return collect(t, s) }, func(a, b []backend.Event) string { return cmp.Diff(a, b) })
	})
}

func TestNew(t *testing.T) {
	tests := map[string]wiretest.ConfigCase[Config]{
		"minimal":          {Config: Config{BotID: model}},
		"full":             {Config: Config{BaseURL: "http://127.0.0.1:11434/v1", BotID: "llama3.1", IdleTimeout: time.Second, SystemPrompt: "s", HistoryTurns: 3, MaxTokens: 100}},
		"no model":         {Config: Config{BotID: " "}, Err: "bot_id"},
		"bad url":          {Config: Config{BaseURL: "api.openai.com", BotID: model}, Err: "base_url"},
		"query":            {Config: Config{BaseURL: "https://x/v1?key=" + testSecret, BotID: model}, Err: "base_url"},
		"userinfo":         {Config: Config{BaseURL: "https://u:" + testSecret + "@x/v1", BotID: model}, Err: "base_url"},
		"negative idle":    {Config: Config{BotID: model, IdleTimeout: -1}, Err: "idle_timeout"},
		"negative history": {Config: Config{BotID: model, HistoryTurns: -1}, Err: "history_turns"},
		"negative tokens":  {Config: Config{BotID: model, MaxTokens: -1}, Err: "max_tokens"},
		"key with newline": {Config: Config{BotID: model, APIKey: backend.NewSecret(testSecret + "\n")}, Err: "api_key"},
	}
	wiretest.CheckConfigs(t, tests, testSecret, func(c wiretest.ConfigCase[Config]) error {
		_, err := New(c.Config, backend.Deps{})
		return err
	})
}

func TestDefaults(t *testing.T) {
	c, err := New(Config{BotID: model}, backend.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if c.conn.Base != "https://api.openai.com/v1" || c.conn.Idle != time.Minute || c.HistoryTurns() != 10 {
		t.Errorf("base %q, idle %v, history %d; want OpenAI, 1m, 10", c.conn.Base, c.conn.Idle, c.HistoryTurns())
	}
}

func TestCheck(t *testing.T) {
	tests := map[string]wiretest.CheckCase{
		"listed":       {Status: 200, Body: `{"object":"list","data":[{"id":"gpt-4o","object":"model"},{"id":"gpt-4o-mini","object":"model"}]}`},
		"not listed":   {Status: 200, Body: `{"object":"list","data":[{"id":"gpt-4o","object":"model"}]}`, Err: true, Kind: backend.KindNotFound},
		"empty list":   {Status: 200, Body: `{"data":[]}`},
		"not JSON":     {Status: 200, Body: `ok`},
		"bad key":      {Status: 401, Body: `{"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}}`, Err: true, Kind: backend.KindUnauthorized},
		"no /models":   {Status: 404, Body: `{"error":"not found"}`, Err: true, Kind: backend.KindNotFound},
		"server error": {Status: 502, Body: `bad gateway`, Err: true, Kind: backend.KindUnavailable},
	}
	want := wiretest.Request{Method: http.MethodGet, URI: "/prefix/v1/models", Header: http.Header{"Authorization": {"Bearer " + testSecret}}}
	wiretest.CheckChecks(t, tests, testSecret, want, func(t *testing.T, base string) error {
		return newClient(t, Config{BaseURL: base + "/v1", APIKey: backend.NewSecret(testSecret)}, nil).Check(t.Context())
	})
}

// openDecoder opens the stream decoder over body, for the fuzz target and
// the benchmark.
func openDecoder(body io.ReadCloser) backend.Decoder {
	return newDecoder(body, backend.NewSecret(testSecret))
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte(readFile(f, "testdata/answer.sse")), []byte{3, 1, 16})
	f.Add([]byte(wiretest.SSE("\r\n", `{"error":{"message":"m","code":429}}`)), []byte{1})
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":null},\"finish_reason\":\"stop\"}]}"), []byte{5})
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"length\"}]}\n\ndata: [DONE]"), []byte{2, 7})
	f.Add([]byte("data: {\"error\":\"sk-proj-never-shown-4711\"}\n\n"), []byte{0, 1})
	check := wiretest.DecoderCheck{Decode: wiretest.Decode(openDecoder), Secret: testSecret}
	f.Fuzz(check.Run)
}

// BenchmarkDecode decodes a ~1 MB streamed completion.
func BenchmarkDecode(b *testing.B) {
	line := "data: " + `{"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1718000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}]}` + "\n\n"
	in, events := wiretest.Repeat("", line, "data: [DONE]\n\n", 1<<20)
	wiretest.BenchStream(b, in, 0, openDecoder, func(n, _ int) bool { return n == events+1 })
}
