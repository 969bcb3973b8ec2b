package chatbotiq

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
	"github.com/chat-bridge/chat-bridge/backend/internal/wiretest"
)

const (
	botID      = "0b6a9c3e-1d2f-4a5b-8c7d-9e0f1a2b3c4d"
	testSecret = "sk-never-shown-4711"
)

func newClient(t *testing.T, cfg Config, hc *http.Client) *Client {
	t.Helper()
	if cfg.BotID == "" {
		cfg.BotID = botID
	}
	cfg.APIKey = backend.NewSecret(testSecret)
	return wiretest.NewClient(t, New, cfg, hc)
}

// collect drains a stream: see wiretest.Collector.
var collect = wiretest.Collector(testSecret)

var readFile = wiretest.ReadFile

var answerEvents = []backend.Event{
	backend.Status{Stage: "retrieving"},
	backend.Status{Stage: "generating"},
	backend.Delta{Text: "To get started, "},
	backend.Delta{Text: "open the <b>Playground</b> — ünïcode 🙂\n\n"},
	backend.Notice{Code: "rag_unavailable", Message: "Knowledge retrieval temporarily degraded"},
	backend.Delta{Text: "and click **Embed**."},
	backend.Replace{Text: "To get started, open the Playground and click Embed."},
	backend.Done{
		ConversationID: "6f1c2d3e-0000-4000-8000-000000000001",
		Citations: []backend.Citation{
			{Title: "Getting Started", URL: "https://docs.example.com/start"},
			{Title: "Embedding", URL: "https://docs.example.com/embed"},
		},
	},
}

func TestAsk(t *testing.T) {
	f := wiretest.NewRecorder(t, wiretest.EventStream(readFile(t, "testdata/answer.sse")))
	c := newClient(t, Config{BaseURL: f.Base, Origin: "https://www.example.com"}, nil)
	evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "How do I get <started>?", SessionID: "sess-1", User: "u1"}))
	if err != nil {
		t.Fatalf("Ask() error = %v", err)
	}
	wiretest.CheckEvents(t, answerEvents, evs)
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.URI != "/prefix/v1/public/chat/stream" {
		t.Errorf("request = %s %s, want POST /prefix/v1/public/chat/stream", r.Method, r.URI)
	}
	wantBody := `{"bot_id":"` + botID + `","message":"How do I get <started>?","session_id":"sess-1"}`
	if r.Body != wantBody {
		t.Errorf("body = %s\nwant   %s", r.Body, wantBody)
	}
	for k, want := range map[string]string{
		"Content-Type":  "application/json",
		"Accept":        "text/event-stream",
		"Origin":        "https://www.example.com",
		"User-Agent":    "chat-bridge",
		"Authorization": "",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	var a backend.Answer
	for _, ev := range evs {
		a.Add(ev)
	}
	if want := "To get started, open the Playground and click Embed."; a.Text() != want {
		t.Errorf("answer = %q, want %q", a.Text(), want)
	}
}

// TestAskSplitEverywhere cuts the documented stream (LF, CRLF and CR line
// endings) at every byte; each piece reaches the client in its own reads.
func TestAskSplitEverywhere(t *testing.T) {
	wiretest.CheckSplitSSE(t, readFile(t, "testdata/answer.sse"), answerEvents, func(t *testing.T, base string, hc *http.Client) ([]backend.Event, error) {
		c := newClient(t, Config{BaseURL: base}, hc)
		return collect(t, c.Ask(t.Context(), backend.Request{Question: "q", SessionID: "s"}))
	})
}

func TestAskContinuation(t *testing.T) {
	f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, wiretest.SSE("\n", `{"type":"content","content":"hi"}`, `{"type":"done","conversation_id":"conv-1"}`))
	})
	c := newClient(t, Config{BaseURL: f.Base + "/v1/public/"}, nil) // the documented "Base URL" works too
	ask := func(req backend.Request) backend.Done {
		t.Helper()
		evs, err := collect(t, c.Ask(t.Context(), req))
		if err != nil || len(evs) == 0 {
			t.Fatalf("Ask(%+v) = %v, %v", req, evs, err)
		}
		return evs[len(evs)-1].(backend.Done)
	}
	done := ask(backend.Request{Question: "first", SessionID: "sess-9"})
	ask(backend.Request{Question: "second", SessionID: "sess-9", ConversationID: done.ConversationID})
	ask(backend.Request{Question: "anon", User: "user-a"})
	ask(backend.Request{Question: "anon", User: "user-a", ConversationID: "conv-1"})
	ask(backend.Request{Question: "anon", User: "user-b"})

	reqs := f.Requests()
	bodies := make([]string, len(reqs))
	for i, r := range reqs {
		bodies[i] = r.Body
		if r.URI != "/prefix/v1/public/chat/stream" {
			t.Errorf("request %d URI = %s", i, r.URI)
		}
	}
	sessA := nameUUID("chat-bridge/chatbotiq\x00" + botID + "\x00user-a")
	sessB := nameUUID("chat-bridge/chatbotiq\x00" + botID + "\x00user-b")
	want := []string{
		`{"bot_id":"` + botID + `","message":"first","session_id":"sess-9"}`,
		`{"bot_id":"` + botID + `","message":"second","session_id":"sess-9","conversation_id":"conv-1"}`,
		`{"bot_id":"` + botID + `","message":"anon","session_id":"` + sessA + `"}`,
		`{"bot_id":"` + botID + `","message":"anon","session_id":"` + sessA + `","conversation_id":"conv-1"}`,
		`{"bot_id":"` + botID + `","message":"anon","session_id":"` + sessB + `"}`,
	}
	if diff := cmp.Diff(want, bodies); diff != "" {
		t.Errorf("request bodies mismatch (-want +got):\n%s", diff)
	}
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if !uuidRE.MatchString(sessA) || sessA == sessB {
		t.Errorf("derived session IDs %q, %q: want distinct version-5 UUIDs", sessA, sessB)
	}
}

func TestAskHTTPErrors(t *testing.T) {
	tests := wiretest.StatusErrors()
	for name, tt := range map[string]wiretest.HTTPError{
		"400 missing field": {Status: 400, Body: `{"detail":"message: field required"}`, Kind: backend.KindBadResponse, Msg: "message: field required"},
		"400 recaptcha":     {Status: 400, Body: `{"error":"recaptcha_token required"}`, Kind: backend.KindBadResponse, Msg: "recaptcha_token required"},
		"403 not public":    {Status: 403, Body: `{"detail":"Bot is not public"}`, Kind: backend.KindUnauthorized, Msg: "Bot is not public"},
		"403 plain text":    {Status: 403, Header: map[string]string{"Content-Type": "text/plain"}, Body: "Origin not allowed\n", Kind: backend.KindUnauthorized, Msg: "Origin not allowed"},
		"404 bot":           {Status: 404, Body: `{"detail":"Bot not found"}`, Kind: backend.KindNotFound, Msg: "Bot not found"},
		"429 retry-after":   {Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: `{"detail":"Rate limit exceeded"}`, Kind: backend.KindRateLimited, Msg: "Rate limit exceeded", RetryAfter: 30 * time.Second},
		"500":               {Status: 500, Body: "Internal Server Error", Kind: backend.KindUnavailable, Msg: "Internal Server Error"},
	} {
		tests[name] = tt
	}
	wiretest.CheckHTTPErrors(t, tests, func(t *testing.T, tt wiretest.HTTPError) (*wiretest.Recorder, []backend.Event, error) {
		f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) { tt.Respond(w) })
		evs, err := collect(t, newClient(t, Config{BaseURL: f.Base}, nil).Ask(t.Context(), backend.Request{Question: "q", SessionID: "s"}))
		return f, evs, err
	})
}

func TestAskStreamErrors(t *testing.T) {
	content := `{"type":"content","content":"partial"}`
	tests := map[string]struct {
		payload  string
		wantKind backend.Kind
		wantCode string
		wantMsg  string
	}{
		"content_filtered":       {`{"type":"error","error":"content_filtered","message":"The response was blocked."}`, backend.KindContentFiltered, "content_filtered", "The response was blocked."},
		"service_unavailable":    {`{"type":"error","error":"service_unavailable","message":"Service temporarily unavailable"}`, backend.KindUnavailable, "service_unavailable", "Service temporarily unavailable"},
		"conversation_not_found": {`{"type":"error","error":"conversation_not_found","message":"Unknown conversation"}`, backend.KindConversationExpired, "conversation_not_found", "Unknown conversation"},
		"session_expired":        {`{"type":"error","error":"session_expired","message":"x"}`, backend.KindConversationExpired, "session_expired", "x"},
		"unknown code":           {`{"type":"error","error":"generation_failed","message":"Model error"}`, backend.KindBadResponse, "generation_failed", "Model error"},
		"code field":             {`{"type":"error","code":"content_filtered"}`, backend.KindContentFiltered, "content_filtered", ""},
		"error object":           {`{"type":"error","error":{"reason":"x"},"message":"odd"}`, backend.KindBadResponse, `{"reason":"x"}`, "odd"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f := wiretest.NewRecorder(t, wiretest.EventStream(wiretest.SSE("\n", content, tt.payload)))
			c := newClient(t, Config{BaseURL: f.Base}, nil)
			evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q", SessionID: "s"}))
			wiretest.CheckEvents(t, []backend.Event{backend.Delta{Text: "partial"}}, evs)
			wiretest.CheckError(t, err, tt.wantKind, tt.wantCode, tt.wantMsg)
		})
	}
}

func TestAskBadStreams(t *testing.T) {
	tests := map[string]wiretest.StreamCase{
		"empty body":          {Body: "", Kind: backend.KindBadResponse, Truncated: true},
		"ends after content":  {Body: wiretest.SSE("\n", `{"type":"content","content":"a"}`), Events: []backend.Event{backend.Delta{Text: "a"}}, Kind: backend.KindBadResponse, Truncated: true},
		"cut inside JSON":     {Body: "data: {\"type\":\"content\",\"content\":\"a\"}\n\ndata: {\"type\":\"done\",\"conv", Events: []backend.Event{backend.Delta{Text: "a"}}, Kind: backend.KindBadResponse, Truncated: true},
		"cut inside line end": {Body: "data: {\"type\":\"content\",\"content\":\"a\"}\n", Kind: backend.KindBadResponse, Truncated: true, Events: []backend.Event{backend.Delta{Text: "a"}}},
		"done without blank":  {Body: "data: {\"type\":\"done\",\"conversation_id\":\"c\"}\n", Events: []backend.Event{backend.Done{ConversationID: "c"}}, OK: true},
		"done without EOL":    {Body: "data: {\"type\":\"done\",\"conversation_id\":\"c\"}", Events: []backend.Event{backend.Done{ConversationID: "c"}}, OK: true},
		"error without blank": {Body: "data: {\"type\":\"error\",\"error\":\"content_filtered\"}", Kind: backend.KindContentFiltered},
		"garbage no newline":  {Body: "\x00\xff\xfe<<garbage>>", Kind: backend.KindBadResponse, Truncated: true},
		"garbage lines":       {Body: "hello world\n\nfoo\n\n", Kind: backend.KindBadResponse, Truncated: true},
		"data not JSON":       {Body: "data: not json\n\n", Kind: backend.KindBadResponse},
		"unknown types":       {Body: wiretest.SSE("\n", `{"type":"ping"}`, `{"no":"type"}`, `[DONE]`, `{"type":"done"}`), Events: []backend.Event{backend.Done{}}, OK: true},
		"html page":           {CType: "text/html; charset=utf-8", Body: "<!doctype html><title>App</title>", Kind: backend.KindBadResponse},
		"json error 200":      {CType: "application/json", Body: `{"detail":"bot inactive"}`, Kind: backend.KindBadResponse},
	}
	wiretest.CheckStreams(t, "text/event-stream", tests, func(t *testing.T, base string) ([]backend.Event, error) {
		return collect(t, newClient(t, Config{BaseURL: base}, nil).Ask(t.Context(), backend.Request{Question: "q", SessionID: "s"}))
	})
}

// TestAskCancel: cancelling the context ends the stream promptly and closes
// the connection (the server handler sees its request context end).
func TestAskCancel(t *testing.T) {
	h, done := wiretest.Hang(wiretest.SSE("\n", `{"type":"content","content":"a"}`), "text/event-stream")
	f := wiretest.NewRecorder(t, h)
	c := newClient(t, Config{BaseURL: f.Base}, nil)
	wiretest.CheckCancel(t, func(ctx context.Context) *backend.Stream {
		return c.Ask(ctx, backend.Request{Question: "q", SessionID: "s"})
	}, true, done)
}

func TestAskIdleTimeout(t *testing.T) {
	h, done := wiretest.Hang(wiretest.SSE("\n", `{"type":"content","content":"a"}`), "text/event-stream") // and then silence
	f := wiretest.NewRecorder(t, h)
	const idle = 100 * time.Millisecond
	c := newClient(t, Config{BaseURL: f.Base, IdleTimeout: idle}, nil)
	wiretest.CheckIdle(t, idle, func() ([]backend.Event, error) {
		return collect(t, c.Ask(t.Context(), backend.Request{Question: "q", SessionID: "s"}))
	}, []backend.Event{backend.Delta{Text: "a"}}, wire.ErrIdle, done)
}

func TestAskRetry(t *testing.T) {
	answer := wiretest.SSE("\n", `{"type":"content","content":"once"}`, `{"type":"done","conversation_id":"c"}`)
	t.Run("503 before the stream is retried", func(t *testing.T) {
		refuse := wiretest.RefuseFirst(http.StatusServiceUnavailable)
		f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if !refuse(w) {
				wiretest.EventStream(answer)(w, r, n)
			}
		})
		evs, err := collect(t, newClient(t, Config{BaseURL: f.Base}, nil).Ask(t.Context(), backend.Request{Question: "q", SessionID: "s"}))
		wiretest.CheckRetried(t, []backend.Event{backend.Delta{Text: "once"}, backend.Done{ConversationID: "c"}}, evs, err, f.Requests(), 2)
	})
	t.Run("broken stream is not retried", func(t *testing.T) {
		wiretest.CheckBrokenStreamNotRetried(t, func(base string) *backend.Stream {
			return newClient(t, Config{BaseURL: base}, nil).Ask(t.Context(), backend.Request{Question: "q", SessionID: "s"})
		}, "text/event-stream", wiretest.SSE("\n", `{"type":"content","content":"once"}`), []backend.Event{backend.Delta{Text: "once"}},
			func(s *backend.Stream) ([]backend.Event, error) { return collect(t, s) }, func(a, b []backend.Event) string { return cmp.Diff(a, b) })
	})
}

func TestNew(t *testing.T) {
	tests := map[string]wiretest.ConfigCase[Config]{
		"minimal":          {Config: Config{BotID: botID}},
		"full":             {Config: Config{BaseURL: "https://eu.example.com/", BotID: botID, IdleTimeout: time.Second, Origin: "https://www.example.com"}},
		"no bot":           {Config: Config{}, Err: "bot_id"},
		"bot with space":   {Config: Config{BotID: "a b"}, Err: "bot_id"},
		"bad scheme":       {Config: Config{BaseURL: "ftp://x", BotID: botID}, Err: "base_url"},
		"no host":          {Config: Config{BaseURL: "https://", BotID: botID}, Err: "base_url"},
		"query":            {Config: Config{BaseURL: "https://x/?k=" + testSecret, BotID: botID}, Err: "base_url"},
		"negative idle":    {Config: Config{BotID: botID, IdleTimeout: -time.Second}, Err: "idle_timeout"},
		"origin with path": {Config: Config{BotID: botID, Origin: "https://x/y"}, Err: "origin"},
		"origin no scheme": {Config: Config{BotID: botID, Origin: "www.example.com"}, Err: "origin"},
	}
	wiretest.CheckConfigs(t, tests, testSecret, func(c wiretest.ConfigCase[Config]) error {
		c.Config.APIKey = backend.NewSecret(testSecret)
		_, err := New(c.Config, backend.Deps{})
		return err
	})
}

func TestDefaults(t *testing.T) {
	c, err := New(Config{BotID: botID}, backend.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if c.endpoint != "https://app.chatbotiq.eu/v1/public/chat/stream" || c.conn.Idle != time.Minute {
		t.Errorf("endpoint %q, idle %v; want the public endpoint and 1m", c.endpoint, c.conn.Idle)
	}
}

func TestCheck(t *testing.T) {
	tests := map[string]wiretest.CheckCase{
		"200": {Status: 200},
		"404": {Status: 404},
		"403": {Status: 403},
		"502": {Status: 502, Err: true, Kind: backend.KindUnavailable},
	}
	want := wiretest.Request{Method: http.MethodGet, URI: "/prefix/"}
	wiretest.CheckChecks(t, tests, testSecret, want, func(t *testing.T, base string) error {
		return newClient(t, Config{BaseURL: base}, nil).Check(t.Context())
	})
}

// openDecoder opens the stream decoder over body, for the fuzz target and
// the benchmark.
func openDecoder(body io.ReadCloser) backend.Decoder { return newDecoder(body, nil) }

func FuzzDecoder(f *testing.F) {
	f.Add([]byte(readFile(f, "testdata/answer.sse")), []byte{3, 1, 16})
	f.Add([]byte(wiretest.SSE("\r\n", `{"type":"error","error":"content_filtered","message":"m"}`)), []byte{1})
	f.Add([]byte("data: {\"type\":\"done\",\"citations\":[{\"page_title\":1,\"source_url\":null}]}"), []byte{5})
	f.Add([]byte("data: {\"type\":\"content\",\"content\":{\"x\":[1,2]}}\n\ndata: [DONE]\n\n"), []byte{2, 7})
	f.Add([]byte("data: {\"type\":\"replace\"\n\n"), []byte{0, 1})
	check := wiretest.DecoderCheck{Decode: wiretest.Decode(openDecoder)}
	f.Fuzz(check.Run)
}
