package chatofai

import (
	"context"
	"encoding/json"
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
	botID      = "bot-7f3a"
	testSecret = "sk-never-shown-4711"
	convUID    = "9628808a-dbb6-42c3-aba6-9fe5b772c724"
	answerText = "héllo 世界 😀\n\nOpen the **Playground** → click *Embed*; ünïcode ✓ 🙂🙂 done."
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

// merge joins consecutive Deltas: how the text is cut into deltas depends
// on the reads, the joined text must not.
var merge = wiretest.MergeDeltas

var readFile = wiretest.ReadFile

// openDecoder opens the stream decoder over body, for the fuzz target and
// the benchmark.
func openDecoder(body io.ReadCloser) backend.Decoder {
	return newDecoder(body, wire.DecoderOptions{ConversationID: "prev"})
}

var answerEvents = []backend.Event{
	backend.Notice{Code: "system_message", Message: "Your plan renews tomorrow."},
	backend.Delta{Text: answerText},
	backend.Done{
		ConversationID: convUID,
		Citations: []backend.Citation{
			{Title: "Getting Started", URL: "https://docs.example.com/start"},
			{Title: "Embedding", URL: "https://docs.example.com/embed"},
			{URL: "https://docs.example.com/faq"},
		},
	},
}

// stream answers every request with body.
func stream(body string) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, body)
	}
}

func TestAsk(t *testing.T) {
	f := wiretest.NewRecorder(t, stream(readFile(t, "testdata/answer.txt")))
	c := newClient(t, Config{BaseURL: f.Base, Language: "zh-Hans"}, nil)
	evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "How do I <embed>?", SessionID: "s1", User: "u1"}))
	if err != nil {
		t.Fatalf("Ask() error = %v", err)
	}
	wiretest.CheckEvents(t, answerEvents, merge(evs))
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.URI != "/prefix/api/v1/backend/chatbot/"+botID+"/chat" {
		t.Errorf("request = %s %s, want POST /prefix/api/v1/backend/chatbot/%s/chat", r.Method, r.URI, botID)
	}
	wantBody := `{"q":"How do I <embed>?","language":"zh-Hans","stream":true}`
	if r.Body != wantBody {
		t.Errorf("body = %s\nwant   %s", r.Body, wantBody)
	}
	for k, want := range map[string]string{
		"Authorization": "Bearer " + testSecret,
		"Content-Type":  "application/json",
		"Accept":        "*/*",
		"User-Agent":    "chat-bridge",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

// TestAskDocumentedExample feeds the stream exactly as the API page shows
// it.
func TestAskDocumentedExample(t *testing.T) {
	body := `{"answer": "", "question": "Ut minim ex", "related_docs": [], "conversation_uid": "9628808a-dbb6-42c3-aba6-9fe5b772c724", "is_qa_mode": true, "system_message": ""}` +
		"\n645130146e8d07b175fd8b1d5682d520answer"
	f := wiretest.NewRecorder(t, stream(body))
	c := newClient(t, Config{BaseURL: f.Base}, nil)
	evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "Ut minim ex"}))
	want := []backend.Event{backend.Delta{Text: "answer"}, backend.Done{ConversationID: convUID}}
	if diff := cmp.Diff(want, merge(evs)); err != nil || diff != "" {
		t.Errorf("Ask() err %v, events mismatch (-want +got):\n%s", err, diff)
	}
	if got, want := f.Requests()[0].Body, `{"q":"Ut minim ex","stream":true}`; got != want {
		t.Errorf("body = %s, want %s (no language unless configured)", got, want)
	}
}

// TestAskSplitEverywhere cuts the stream at every byte (and into single
// bytes); each piece reaches the client in its own reads. The separator and
// multi-byte characters straddle reads; the events must not change.
func TestAskSplitEverywhere(t *testing.T) {
	s := readFile(t, "testdata/answer.txt")
	sep := strings.Index(s, separator)
	var pieces wiretest.Pieces
	f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if err := pieces.Write(w, r); err != nil {
			t.Errorf("WritePieces: %v", err)
		}
	})
	run := func(t *testing.T, name string, ps []string) {
		t.Helper()
		c := newClient(t, Config{BaseURL: f.Base}, pieces.Client(ps))
		evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q"}))
		wiretest.CheckAnswer(t, name, answerEvents, merge(evs), err)
	}
	t.Run("one cut", func(t *testing.T) {
		for cut, ps := range wiretest.Cuts(s) {
			run(t, cut, ps)
		}
	})
	t.Run("two cuts around the separator", func(t *testing.T) {
		for i := sep - 2; i <= sep+len(separator)+2; i++ {
			for j := i + 1; j <= sep+len(separator)+6; j++ {
				run(t, "cuts at "+itoa(i)+","+itoa(j), wiretest.Cut(s, i, j))
			}
		}
	})
	t.Run("single bytes", func(t *testing.T) {
		run(t, "single bytes", wiretest.Bytes(s))
	})
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestAskContinuation(t *testing.T) {
	f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 0:
			io.WriteString(w, `{"answer":"","conversation_uid":"conv-1"}`+separator+"first")
		case 1:
			io.WriteString(w, `{"answer":"","conversation_uid":"conv-1"}`+separator+"second")
		default: // a header that names no conversation keeps the request's
			io.WriteString(w, `{"answer":""}`+separator+"third")
		}
	})
	c := newClient(t, Config{BaseURL: f.Base}, nil)
	var got []backend.Event
	conv := ""
	for _, q := range []string{"one", "two", "three"} {
		evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: q, ConversationID: conv}))
		if err != nil || len(evs) == 0 {
			t.Fatalf("Ask(%q) = %v, %v", q, evs, err)
		}
		conv = evs[len(evs)-1].(backend.Done).ConversationID
		got = append(got, merge(evs)...)
	}
	want := []backend.Event{
		backend.Delta{Text: "first"}, backend.Done{ConversationID: "conv-1"},
		backend.Delta{Text: "second"}, backend.Done{ConversationID: "conv-1"},
		backend.Delta{Text: "third"}, backend.Done{ConversationID: "conv-1"},
	}
	wiretest.CheckEvents(t, want, got)
	var bodies []string
	for _, r := range f.Requests() {
		bodies = append(bodies, r.Body)
	}
	wantBodies := []string{
		`{"q":"one","stream":true}`,
		`{"q":"two","conversation_uid":"conv-1","stream":true}`,
		`{"q":"three","conversation_uid":"conv-1","stream":true}`,
	}
	if diff := cmp.Diff(wantBodies, bodies); diff != "" {
		t.Errorf("request bodies mismatch (-want +got):\n%s", diff)
	}
}

func TestAskBotIDEscaped(t *testing.T) {
	f := wiretest.NewRecorder(t, stream(separator+"ok"))
	c := newClient(t, Config{BaseURL: f.Base + "/api/v1/backend/", BotID: "team/bot?x#y"}, nil)
	if _, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q"})); err != nil {
		t.Fatalf("Ask() error = %v", err)
	}
	if got, want := f.Requests()[0].URI, "/prefix/api/v1/backend/chatbot/team%2Fbot%3Fx%23y/chat"; got != want {
		t.Errorf("URI = %s, want %s", got, want)
	}
}

func TestAskHTTPErrors(t *testing.T) {
	tests := wiretest.StatusErrors()
	for name, tt := range map[string]wiretest.HTTPError{
		"401":                    {Status: 401, Body: `{"code":401,"message":"Authentication failed"}`, Kind: backend.KindUnauthorized, Code: "401", Msg: "Authentication failed"},
		"403":                    {Status: 403, Body: `{"code":403,"msg":"You do not have permission to access this interface."}`, Kind: backend.KindUnauthorized, Code: "403", Msg: "You do not have permission to access this interface."},
		"404 bot":                {Status: 404, Body: `{"code":404,"msg":"Chatbot not found"}`, Kind: backend.KindNotFound, Code: "404", Msg: "Chatbot not found"},
		"404 plain":              {Status: 404, Header: map[string]string{"Content-Type": "text/plain"}, Body: "404 page not found\n", Kind: backend.KindNotFound, Msg: "404 page not found"},
		"404 conversation":       {Status: 404, Body: `{"code":404,"msg":"Conversation not found"}`, Continuing: true, Kind: backend.KindConversationExpired, Code: "404", Msg: "Conversation not found"},
		"400 conversation":       {Status: 400, Body: `{"code":10003,"msg":"Invalid conversation_uid"}`, Continuing: true, Kind: backend.KindConversationExpired, Code: "10003", Msg: "Invalid conversation_uid"},
		"400 conversation fresh": {Status: 400, Body: `{"code":10003,"msg":"Invalid conversation_uid"}`, Kind: backend.KindBadResponse, Code: "10003", Msg: "Invalid conversation_uid"},
		"400 subscription":       {Status: 400, Body: `{"code":10010,"msg":"A paid subscription is required"}`, Kind: backend.KindUnauthorized, Code: "10010", Msg: "A paid subscription is required"},
		"429":                    {Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: `{"code":429,"msg":"Too many requests"}`, Kind: backend.KindRateLimited, Code: "429", Msg: "Too many requests", RetryAfter: 30 * time.Second},
		"500":                    {Status: 500, Body: `{"code":500,"msg":"There is an internal server error"}`, Kind: backend.KindUnavailable, Code: "500", Msg: "There is an internal server error"},
		"echoed key":             {Status: 401, Body: `{"code":401,"msg":"bad key ` + testSecret + `"}`, Kind: backend.KindUnauthorized, Code: "401", Msg: "bad key [redacted]"},
	} {
		tests[name] = tt
	}
	wiretest.CheckHTTPErrors(t, tests, func(t *testing.T, tt wiretest.HTTPError) (*wiretest.Recorder, []backend.Event, error) {
		f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) { tt.Respond(w) })
		req := backend.Request{Question: "q"}
		if tt.Continuing {
			req.ConversationID = "old-conv"
		}
		evs, err := collect(t, newClient(t, Config{BaseURL: f.Base}, nil).Ask(t.Context(), req))
		return f, evs, err
	})
}

// TestAskEnvelope: a 200 body without the separator is the documented
// envelope, an error when code != 0.
func TestAskEnvelope(t *testing.T) {
	tests := map[string]struct {
		body       string
		continuing bool
		wantEvents []backend.Event
		wantKind   backend.Kind
		wantCode   string
		wantMsg    string
	}{
		"invalid key":       {body: `{"code":1001,"msg":"Invalid API key","data":null,"request_id":"r-1"}`, wantKind: backend.KindUnauthorized, wantCode: "1001", wantMsg: "Invalid API key (request_id r-1)"},
		"message field":     {body: `{"code": 40001, "message": "Chatbot does not exist"}`, wantKind: backend.KindNotFound, wantCode: "40001", wantMsg: "Chatbot does not exist"},
		"conversation gone": {body: `{"code":40004,"msg":"Conversation not found"}`, continuing: true, wantKind: backend.KindConversationExpired, wantCode: "40004", wantMsg: "Conversation not found"},
		"rate":              {body: `{"code":42900,"msg":"Rate limit exceeded"}`, wantKind: backend.KindRateLimited, wantCode: "42900", wantMsg: "Rate limit exceeded"},
		"credits":           {body: `{"code":50010,"msg":"Insufficient credits"}`, wantKind: backend.KindUnavailable, wantCode: "50010", wantMsg: "Insufficient credits"},
		"sensitive":         {body: `{"code":3,"msg":"The question contains sensitive words"}`, wantKind: backend.KindContentFiltered, wantCode: "3", wantMsg: "The question contains sensitive words"},
		"http-like code":    {body: `{"code":"503","msg":"x"}`, wantKind: backend.KindUnavailable, wantCode: "503", wantMsg: "x"},
		"unknown code":      {body: `{"code":-1,"msg":"Something odd"}`, wantKind: backend.KindBadResponse, wantCode: "-1", wantMsg: "Something odd"},
		"echoed key":        {body: `{"code":1,"msg":"key ` + testSecret + ` unknown"}`, wantKind: backend.KindBadResponse, wantCode: "1", wantMsg: "key [redacted] unknown"},
		"non-stream answer": {
			body: `{"code": 0, "data": {"answer": "answer", "conversation_uid": "f05f1800-a728-4e23-adb8-69abd55b5dcb", "is_qa_mode": true, "question": "Ut minim ex", "system_message": "note"}, "msg": "Success.", "request_id": "25a40914-d8d9-4b0f-a92d-b8844bfc9852"}`,
			wantEvents: []backend.Event{
				backend.Notice{Code: "system_message", Message: "note"},
				backend.Done{ConversationID: "f05f1800-a728-4e23-adb8-69abd55b5dcb", Text: "answer"},
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tt.body)
			})
			c := newClient(t, Config{BaseURL: f.Base}, nil)
			req := backend.Request{Question: "q"}
			if tt.continuing {
				req.ConversationID = "old-conv"
			}
			evs, err := collect(t, c.Ask(t.Context(), req))
			wiretest.CheckEvents(t, tt.wantEvents, evs)
			if tt.wantEvents != nil {
				if err != nil {
					t.Errorf("Err() = %v, want nil", err)
				}
				return
			}
			wiretest.CheckError(t, err, tt.wantKind, tt.wantCode, tt.wantMsg)
		})
	}
}

func TestAskBadStreams(t *testing.T) {
	hdr := `{"answer":"","conversation_uid":"c"}` + "\n"
	tests := map[string]wiretest.StreamCase{
		"empty body":           {Body: "", Kind: backend.KindBadResponse, Truncated: true},
		"blank body":           {Body: " \r\n", Kind: backend.KindBadResponse, Truncated: true},
		"header cut":           {Body: `{"answer":"","conversation_`, Kind: backend.KindBadResponse, Truncated: true},
		"separator cut":        {Body: hdr + separator[:20], Kind: backend.KindBadResponse, Truncated: true},
		"header without sep":   {Body: hdr, Kind: backend.KindBadResponse, Truncated: true},
		"garbage":              {Body: "\x00\xff\xfe<<garbage>>", Kind: backend.KindBadResponse},
		"html page":            {Body: "<!doctype html><title>chatof.ai</title>", Kind: backend.KindBadResponse},
		"json not envelope":    {Body: `[1,2,3]`, Kind: backend.KindBadResponse},
		"envelope no data":     {Body: `{"code":0,"msg":"Success."}`, Kind: backend.KindBadResponse},
		"header not JSON":      {Body: "oops" + separator + "text", Kind: backend.KindBadResponse},
		"header error":         {Body: `{"code":500,"msg":"model failed"}` + separator, Kind: backend.KindUnavailable},
		"empty header":         {Body: separator + "text", Events: []backend.Event{backend.Delta{Text: "text"}, backend.Done{}}, OK: true},
		"empty answer":         {Body: hdr + separator, Events: []backend.Event{backend.Done{ConversationID: "c"}}, OK: true},
		"answer in header":     {Body: `{"answer":"pre","conversation_uid":"c"}` + separator, Events: []backend.Event{backend.Done{ConversationID: "c", Text: "pre"}}, OK: true},
		"second separator":     {Body: hdr + separator + "a" + separator, Events: []backend.Event{backend.Delta{Text: "a" + separator}, backend.Done{ConversationID: "c"}}, OK: true},
		"invalid UTF-8":        {Body: hdr + separator + "a\xffb\xe4\xb8c", Events: []backend.Event{backend.Delta{Text: "a\uFFFDb\uFFFD\uFFFDc"}, backend.Done{ConversationID: "c"}}, OK: true},
		"rune cut at the end":  {Body: hdr + separator + "a\xf0\x9f\x98", Events: []backend.Event{backend.Delta{Text: "a\uFFFD\uFFFD\uFFFD"}, backend.Done{ConversationID: "c"}}, OK: true},
		"odd header types":     {Body: `{"answer":null,"conversation_uid":42,"related_docs":{"x":1},"system_message":["a"]}` + separator + "t", Events: []backend.Event{backend.Notice{Code: "system_message", Message: `["a"]`}, backend.Delta{Text: "t"}, backend.Done{ConversationID: "42"}}, OK: true},
		"enveloped header":     {Body: `{"code":0,"data":{"conversation_uid":"c2"}}` + separator + "t", Events: []backend.Event{backend.Delta{Text: "t"}, backend.Done{ConversationID: "c2"}}, OK: true},
		"header echoes secret": {Body: "token " + testSecret + separator, Kind: backend.KindBadResponse},
	}
	wiretest.CheckStreams(t, "text/plain; charset=utf-8", tests, func(t *testing.T, base string) ([]backend.Event, error) {
		evs, err := collect(t, newClient(t, Config{BaseURL: base}, nil).Ask(t.Context(), backend.Request{Question: "q"}))
		return merge(evs), err
	})
}

// TestAskHeaderTooLarge: a body that never sends the separator is not
// buffered without bound.
func TestAskHeaderTooLarge(t *testing.T) {
	f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		chunk := strings.Repeat("x", 64<<10)
		for i := 0; i < maxHeader/len(chunk)+2; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	})
	c := newClient(t, Config{BaseURL: f.Base}, nil)
	_, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q"}))
	if backend.KindOf(err) != backend.KindBadResponse || err == nil {
		t.Errorf("Err() = %v, want bad_response", err)
	}
}

// TestAskDropped: the protocol has no terminator, so only a clean end of
// the body is a complete answer; a connection dropped mid-answer is an
// error, not a Done.
func TestAskDropped(t *testing.T) {
	f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		io.WriteString(w, `{"conversation_uid":"c"}`+separator+"partial")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	c := newClient(t, Config{BaseURL: f.Base}, nil)
	evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q"}))
	wiretest.CheckEvents(t, []backend.Event{backend.Delta{Text: "partial"}}, merge(evs))
	if backend.KindOf(err) != backend.KindUnavailable || err == nil {
		t.Errorf("Err() = %v, want unavailable", err)
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("server got %d requests, want 1 (a started answer is never retried)", n)
	}
}

// TestAskCancel: cancelling the context ends the stream promptly and closes
// the connection (the server handler sees its request context end).
func TestAskCancel(t *testing.T) {
	for phase, first := range map[string]string{
		"in header": `{"conversation_uid":"c",`,
		"in text":   `{"conversation_uid":"c"}` + separator + "a",
	} {
		t.Run(phase, func(t *testing.T) {
			h, done := wiretest.Hang(first, "")
			f := wiretest.NewRecorder(t, h)
			c := newClient(t, Config{BaseURL: f.Base}, nil)
			wiretest.CheckCancel(t, func(ctx context.Context) *backend.Stream {
				return c.Ask(ctx, backend.Request{Question: "q"})
			}, phase == "in text", done)
		})
	}
}

func TestAskIdleTimeout(t *testing.T) {
	for name, first := range map[string]string{
		"before headers": "",
		"in header":      `{"conversation_uid":"c"`,
		"in text":        `{"conversation_uid":"c"}` + separator + "a",
	} {
		t.Run(name, func(t *testing.T) {
			h, done := wiretest.Hang(first, "") // and then silence
			f := wiretest.NewRecorder(t, h)
			const idle = 100 * time.Millisecond
			c := newClient(t, Config{BaseURL: f.Base, IdleTimeout: idle}, nil)
			var want []backend.Event
			if name == "in text" {
				want = []backend.Event{backend.Delta{Text: "a"}}
			}
			wiretest.CheckIdle(t, idle, func() ([]backend.Event, error) {
				return collect(t, c.Ask(t.Context(), backend.Request{Question: "q"}))
			}, want, wire.ErrIdle, done)
		})
	}
}

func TestAskRetryBeforeStream(t *testing.T) {
	refuse := wiretest.RefuseFirst(http.StatusBadGateway)
	f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if !refuse(w) {
			io.WriteString(w, `{"conversation_uid":"c"}`+separator+"once")
		}
	})
	evs, err := collect(t, newClient(t, Config{BaseURL: f.Base}, nil).Ask(t.Context(), backend.Request{Question: "q"}))
	wiretest.CheckRetried(t, []backend.Event{backend.Delta{Text: "once"}, backend.Done{ConversationID: "c"}}, merge(evs), err, f.Requests(), 2)
}

func TestNew(t *testing.T) {
	tests := map[string]wiretest.ConfigCase[Config]{
		"minimal":         {Config: Config{BotID: botID}},
		"full":            {Config: Config{BaseURL: "https://eu.example.com/", BotID: botID, Language: "en", IdleTimeout: time.Second}},
		"no bot":          {Config: Config{}, Err: "bot_id"},
		"bot with space":  {Config: Config{BotID: "a b"}, Err: "bot_id"},
		"no key":          {Config: Config{BotID: botID}, NoKey: true, Err: "api_key"},
		"bad scheme":      {Config: Config{BaseURL: "ftp://x", BotID: botID}, Err: "base_url"},
		"no host":         {Config: Config{BaseURL: "https://", BotID: botID}, Err: "base_url"},
		"query":           {Config: Config{BaseURL: "https://x/?k=" + testSecret, BotID: botID}, Err: "base_url"},
		"language space":  {Config: Config{BotID: botID, Language: "zh Hans"}, Err: "language"},
		"negative idle":   {Config: Config{BotID: botID, IdleTimeout: -time.Second}, Err: "idle_timeout"},
		"key with spaces": {Config: Config{BotID: botID, APIKey: backend.NewSecret("a b")}, Err: "api_key"},
	}
	wiretest.CheckConfigs(t, tests, testSecret, func(c wiretest.ConfigCase[Config]) error {
		if !c.NoKey && !c.Config.APIKey.IsSet() {
			c.Config.APIKey = backend.NewSecret(testSecret)
		}
		_, err := New(c.Config, backend.Deps{})
		return err
	})
}

func TestDefaults(t *testing.T) {
	tests := map[string]struct {
		cfg          Config
		wantEndpoint string
	}{
		"default":        {Config{BotID: "b1"}, "https://chatof.ai/api/v1/backend/chatbot/b1/chat"},
		"escaped":        {Config{BotID: "a/b"}, "https://chatof.ai/api/v1/backend/chatbot/a%2Fb/chat"},
		"api root":       {Config{BaseURL: "https://x.example/api/v1/backend/", BotID: "b1"}, "https://x.example/api/v1/backend/chatbot/b1/chat"},
		"proxy prefix":   {Config{BaseURL: "http://127.0.0.1:8080/chatofai", BotID: "b1"}, "http://127.0.0.1:8080/chatofai/api/v1/backend/chatbot/b1/chat"},
		"trailing slash": {Config{BaseURL: "https://chatof.ai/", BotID: "b1"}, "https://chatof.ai/api/v1/backend/chatbot/b1/chat"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tt.cfg.APIKey = backend.NewSecret(testSecret)
			c, err := New(tt.cfg, backend.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			if c.endpoint != tt.wantEndpoint || c.conn.Idle != time.Minute {
				t.Errorf("endpoint %q, idle %v; want %q and 1m", c.endpoint, c.conn.Idle, tt.wantEndpoint)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := map[string]wiretest.CheckCase{
		"200":              {Status: 200, Body: `{"code":0,"msg":"Success."}`},
		"200 not JSON":     {Status: 200, Body: `<html>`},
		"404":              {Status: 404},
		"405":              {Status: 405},
		"401":              {Status: 401, Body: `{"code":401,"msg":"Authentication failed"}`, Err: true, Kind: backend.KindUnauthorized},
		"403":              {Status: 403, Err: true, Kind: backend.KindUnauthorized},
		"200 envelope 401": {Status: 200, Body: `{"code":401,"msg":"Authentication failed"}`, Err: true, Kind: backend.KindUnauthorized},
		"200 envelope odd": {Status: 200, Body: `{"code":7,"msg":"whatever"}`},
		"502":              {Status: 502, Err: true, Kind: backend.KindUnavailable},
		"429":              {Status: 429, Err: true, Kind: backend.KindRateLimited},
	}
	want := wiretest.Request{Method: http.MethodGet, URI: "/prefix/api/v1/backend", Header: http.Header{"Authorization": {"Bearer " + testSecret}}}
	wiretest.CheckChecks(t, tests, testSecret, want, func(t *testing.T, base string) error {
		return newClient(t, Config{BaseURL: base}, nil).Check(t.Context())
	})
}

func TestCitations(t *testing.T) {
	tests := map[string]struct {
		raw  string
		want []backend.Citation
	}{
		"absent":        {"", nil},
		"empty":         {`[]`, nil},
		"not an array":  {`{"title":"x"}`, nil},
		"title and url": {`[{"title":"T","url":"https://a.example/t"}]`, []backend.Citation{{Title: "T", URL: "https://a.example/t"}}},
		"other names":   {`[{"Name":"N","Link":"https://a.example/n"},{"doc_name":"D","source_url":"https://a.example/d"}]`, []backend.Citation{{Title: "N", URL: "https://a.example/n"}, {Title: "D", URL: "https://a.example/d"}}},
		"source url":    {`[{"source":"https://a.example/s"}]`, []backend.Citation{{URL: "https://a.example/s"}}},
		"source file":   {`[{"source":"handbook.pdf","content":"..."}]`, []backend.Citation{{Title: "handbook.pdf"}}},
		"langchain":     {`[{"page_content":"...","metadata":{"source":"https://a.example/l","title":"L"}}]`, []backend.Citation{{Title: "L", URL: "https://a.example/l"}}},
		"strings":       {`["https://a.example/u","Plain title"," "]`, []backend.Citation{{URL: "https://a.example/u"}, {Title: "Plain title"}}},
		"url not URL":   {`[{"title":"T","url":"javascript:alert(1)"}]`, []backend.Citation{{Title: "T"}}},
		"junk":          {`[1,null,true,[],{"score":0.9},{"title":5}]`, nil},
		"repeats":       {`[{"title":"T"},{"title":" T "},{"title":"T","url":"https://a.example"}]`, []backend.Citation{{Title: "T"}, {Title: "T", URL: "https://a.example"}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := citations(json.RawMessage(tt.raw))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("citations(%s) mismatch (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

// TestAskLive: text reaches the caller while the service is still sending
// (the protocol has no terminator, so a decoder that waited for the end of
// the body would pass every other test).
func TestAskLive(t *testing.T) {
	for name, first := range map[string]string{
		"after separator":  `{"conversation_uid":"c"}` + separator + "first",
		"split rune":       `{"conversation_uid":"c"}` + separator + "first\xe4\xb8",
		"header then text": `{"conversation_uid":"c"}` + separator,
	} {
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
				io.WriteString(w, first)
				w.(http.Flusher).Flush()
				if name == "header then text" {
					io.WriteString(w, "first")
					w.(http.Flusher).Flush()
				}
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				if name == "split rune" {
					io.WriteString(w, "\x96")
				}
				io.WriteString(w, " second")
			})
			c := newClient(t, Config{BaseURL: f.Base}, nil)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			s := c.Ask(ctx, backend.Request{Question: "q"})
			defer s.Close()
			if !s.Next() || s.Current() != (backend.Delta{Text: "first"}) {
				t.Fatalf("first event = %v, err %v; want Delta first before the body ends", s.Current(), s.Err())
			}
			close(release)
			var a backend.Answer
			a.Add(backend.Delta{Text: "first"})
			for s.Next() {
				a.Add(s.Current())
			}
			want := "first second"
			if name == "split rune" {
				want = "first世 second"
			}
			if s.Err() != nil || a.Done == nil || a.Text() != want {
				t.Errorf("answer %q, done %v, err %v; want %q", a.Text(), a.Done, s.Err(), want)
			}
		})
	}
}
