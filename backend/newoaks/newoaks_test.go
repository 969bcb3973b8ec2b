package newoaks

import (
	"context"
	"errors"
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
	botID      = "3254a9d0424c4806b9ea3d0763ccf123"
	testSecret = "sk-never-shown-4711"
	sessionOK  = `{"Data":{"SessionID":123456},"Version":"1.0.0","Success":true,"Code":200,"Message":""}`
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

// openDecoder opens the stream decoder over body, for the fuzz target and
// the benchmark.
func openDecoder(body io.ReadCloser) backend.Decoder {
	return newDecoder(body, wire.DecoderOptions{ConversationID: "77"})
}

// fake is a NewOaks service: GetSession answers session, ClientAsk
// answers with ask; every request is recorded.
func fake(t *testing.T, session string, ask func(w http.ResponseWriter, r *http.Request)) *wiretest.Recorder {
	return wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch r.URL.Path {
		case sessionPath:
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			io.WriteString(w, session)
		case askPath:
			ask(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// body answers ClientAsk with s as an event stream.
func body(s string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, s)
	}
}

// askStored asks in the stored session 77 of a fake whose ClientAsk
// answers with s.
func askStored(t *testing.T, s string) ([]backend.Event, error) {
	t.Helper()
	f := fake(t, sessionOK, body(s))
	return collect(t, newClient(t, Config{BaseURL: f.Base}, nil).Ask(t.Context(), backend.Request{Question: "q", ConversationID: "77"}))
}

func deltas(texts ...string) []backend.Event {
	var evs []backend.Event
	for _, s := range texts {
		evs = append(evs, backend.Delta{Text: s})
	}
	return evs
}

var answerEvents = append(deltas("\n", "Hello", "! héllo", " 世界 😀", " How", ` can I "assist" you?`),
	backend.Done{ConversationID: "123456", Text: "\nHello! héllo 世界 😀 How can I \"assist\" you?"})

// TestAsk sends a new conversation's question: GetSession, then ClientAsk
// answered with the documented stream (its annotation lines included).
func TestAsk(t *testing.T) {
	f := fake(t, sessionOK, body(readFile(t, "testdata/seed.txt")))
	c := newClient(t, Config{BaseURL: f.Base}, nil)
	evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "hello <there>", SessionID: "s", User: "u"}))
	if err != nil {
		t.Fatalf("Ask() error = %v", err)
	}
	want := append(deltas("\n", "Hello", "!", " How", " can", " I", " assist", " you", "?"),
		backend.Done{ConversationID: "123456", Text: "\nHello! How can I assist you?"})
	wiretest.CheckEvents(t, want, evs)
	reqs := f.Requests()
	if len(reqs) != 2 {
		t.Fatalf("server got %d requests, want 2", len(reqs))
	}
	wants := []struct{ uri, body string }{
		{"/prefix/chat/Chatbot/GetSession", `{"serialNumber":"` + botID + `"}`},
		{"/prefix/chat/Chat/ClientAsk", `{"sessionID":123456,"content":"hello <there>","stream":true}`},
	}
	for i, w := range wants {
		r := reqs[i]
		if r.Method != http.MethodPost || r.URI != w.uri || r.Body != w.body {
			t.Errorf("request %d = %s %s %s\nwant          POST %s %s", i, r.Method, r.URI, r.Body, w.uri, w.body)
		}
		for k, want := range map[string]string{
			"Authorization": testSecret, // the raw key, no "Bearer"
			"Content-Type":  "application/json",
			"Accept":        "*/*",
			"User-Agent":    "chat-bridge",
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("request %d header %s = %q, want %q", i, k, got, want)
			}
		}
	}
}

// TestAskSplitEverywhere cuts the stream, in several framings, at every
// byte (and into single bytes); each piece reaches the client in its own
// reads. The events must not change.
func TestAskSplitEverywhere(t *testing.T) {
	lf := readFile(t, "testdata/answer.txt")
	lines := strings.SplitAfter(strings.TrimSuffix(lf, "\n"), "\n")
	var sse strings.Builder
	for _, l := range lines {
		sse.WriteString("data: " + strings.TrimSuffix(l, "\n") + "\r\n\r\n")
	}
	streams := wiretest.LineEndings(lf)
	streams["SSE data CRLF"] = sse.String() + "data: [DONE]\r\n\r\n"
	streams["no final EOL"] = strings.TrimSuffix(lf, "\n")
	streams["concatenated"] = strings.ReplaceAll(lf, "}\n{", "}{")
	streams["pretty printed"] = strings.ReplaceAll(strings.ReplaceAll(lf, `{"`, "{\n  \""), `"}`, "\"\n}")
	var pieces wiretest.Pieces
	f := fake(t, sessionOK, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		// The client stops reading at the final object: what follows it
		// ("[DONE]", a line end) may stay unread.
		if err := pieces.Write(w, r); err != nil && r.Context().Err() == nil {
			t.Errorf("WritePieces: %v", err)
		}
	})
	run := func(t *testing.T, name string, ps []string) {
		t.Helper()
		c := newClient(t, Config{BaseURL: f.Base}, pieces.Client(ps))
		// A continued conversation: no GetSession, whose body would count
		// into the gate.
		evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q", ConversationID: "123456"}))
		wiretest.CheckAnswer(t, name, answerEvents, evs, err)
	}
	for name, s := range streams {
		t.Run(name, func(t *testing.T) {
			for cut, ps := range wiretest.Cuts(s) {
				run(t, cut, ps)
			}
			run(t, "single bytes", wiretest.Bytes(s))
		})
	}
}

func TestAskContinuation(t *testing.T) {
	f := fake(t, sessionOK, body(`{"content":"hi"}`+"\n"+`{"QuestionID":1,"AnswerID":2,"Answer":"hi","TotalToken":3}`+"\n"))
	c := newClient(t, Config{BaseURL: f.Base}, nil)
	conv := ""
	for _, q := range []string{"one", "two"} {
		evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: q, ConversationID: conv}))
		want := []backend.Event{backend.Delta{Text: "hi"}, backend.Done{ConversationID: "123456", Text: "hi"}}
		if diff := cmp.Diff(want, evs); err != nil || diff != "" {
			t.Fatalf("Ask(%q) err %v, events mismatch (-want +got):\n%s", q, err, diff)
		}
		conv = evs[len(evs)-1].(backend.Done).ConversationID
	}
	var got []string
	for _, r := range f.Requests() {
		got = append(got, r.URI+" "+r.Body)
	}
	want := []string{
		`/prefix/chat/Chatbot/GetSession {"serialNumber":"` + botID + `"}`,
		`/prefix/chat/Chat/ClientAsk {"sessionID":123456,"content":"one","stream":true}`,
		`/prefix/chat/Chat/ClientAsk {"sessionID":123456,"content":"two","stream":true}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests mismatch (-want +got):\n%s", diff)
	}
}

// TestAskStoredIDNotASession: a stored conversation ID that is not a
// NewOaks session ID fails as expired without any request.
func TestAskStoredIDNotASession(t *testing.T) {
	f := fake(t, sessionOK, body(""))
	c := newClient(t, Config{BaseURL: f.Base}, nil)
	for _, id := range []string{"abc", "9628808a-dbb6-42c3-aba6-9fe5b772c724", "-5", "0", "12.5", " 12", "99999999999999999999999"} {
		evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q", ConversationID: id}))
		if len(evs) != 0 || backend.KindOf(err) != backend.KindConversationExpired || err == nil {
			t.Errorf("Ask(ConversationID %q) = %v, %v; want a conversation_expired error", id, evs, err)
		}
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("server got %d requests, want 0", n)
	}
}

func TestAskSessionErrors(t *testing.T) {
	tests := map[string]struct {
		status   int
		body     string
		wantKind backend.Kind
		wantCode string
		wantMsg  string
	}{
		"401":                {status: 401, body: `{"Data":null,"Version":"1.0.0","Success":false,"Code":401,"Message":"Unauthorized"}`, wantKind: backend.KindUnauthorized, wantCode: "401", wantMsg: "Unauthorized"},
		"403 plain":          {status: 403, body: "Forbidden", wantKind: backend.KindUnauthorized, wantMsg: "Forbidden"},
		"404":                {status: 404, body: "", wantKind: backend.KindNotFound, wantMsg: "Not Found"},
		"500":                {status: 500, body: `{"Success":false,"Code":500,"Message":"Internal error"}`, wantKind: backend.KindUnavailable, wantCode: "500", wantMsg: "Internal error"},
		"bad key":            {status: 200, body: `{"Data":null,"Version":"1.0.0","Success":false,"Code":401,"Message":"Invalid secret key"}`, wantKind: backend.KindUnauthorized, wantCode: "401", wantMsg: "Invalid secret key"},
		"bad key no code":    {status: 200, body: `{"Data":null,"Success":false,"Message":"Invalid secret key"}`, wantKind: backend.KindUnauthorized, wantMsg: "Invalid secret key"},
		"bot missing":        {status: 200, body: `{"Data":null,"Success":false,"Code":400,"Message":"Chatbot does not exist"}`, wantKind: backend.KindNotFound, wantCode: "400", wantMsg: "Chatbot does not exist"},
		"bad serial":         {status: 200, body: `{"Data":null,"Success":false,"Code":400,"Message":"Invalid serialNumber"}`, wantKind: backend.KindNotFound, wantCode: "400", wantMsg: "Invalid serialNumber"},
		"session msg fresh":  {status: 200, body: `{"Data":null,"Success":false,"Code":400,"Message":"Session creation invalid"}`, wantKind: backend.KindBadResponse, wantCode: "400", wantMsg: "Session creation invalid"},
		"echoed key":         {status: 200, body: `{"Success":false,"Code":401,"Message":"key ` + testSecret + ` revoked"}`, wantKind: backend.KindUnauthorized, wantCode: "401", wantMsg: "key [redacted] revoked"},
		"code only":          {status: 200, body: `{"Code":429,"Message":"Too many requests"}`, wantKind: backend.KindRateLimited, wantCode: "429", wantMsg: "Too many requests"},
		"no data":            {status: 200, body: `{"Data":null,"Success":true,"Code":200}`, wantKind: backend.KindBadResponse},
		"session not an int": {status: 200, body: `{"Data":{"SessionID":"abc"},"Success":true}`, wantKind: backend.KindBadResponse},
		"data not an object": {status: 200, body: `{"Data":[1],"Success":true}`, wantKind: backend.KindBadResponse},
		"html":               {status: 200, body: `<!doctype html><title>NewOaks</title>`, wantKind: backend.KindBadResponse},
		"not an envelope":    {status: 200, body: `{"hello":"world"}`, wantKind: backend.KindBadResponse},
		"empty":              {status: 200, body: ``, wantKind: backend.KindBadResponse},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			c := newClient(t, Config{BaseURL: f.Base}, nil)
			evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q"}))
			var be *backend.Error
			if len(evs) != 0 || !errors.As(err, &be) {
				t.Fatalf("Ask() = %v, %v; want no events and a *backend.Error", evs, err)
			}
			if be.Kind != tt.wantKind || (tt.wantMsg != "" && (be.Code != tt.wantCode || be.Message != tt.wantMsg)) {
				t.Errorf("error = {%v %q %q}, want {%v %q %q}", be.Kind, be.Code, be.Message, tt.wantKind, tt.wantCode, tt.wantMsg)
			}
			reqs := f.Requests()
			if len(reqs) != 1 || reqs[0].URI != "/prefix/chat/Chatbot/GetSession" {
				t.Errorf("requests = %+v, want only GetSession (no ClientAsk after a failed session)", reqs)
			}
		})
	}
	t.Run("string session ID", func(t *testing.T) {
		f := fake(t, `{"Data":{"SessionID":"42"},"Success":true}`, body(`{"Answer":"a"}`))
		c := newClient(t, Config{BaseURL: f.Base}, nil)
		evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q"}))
		if diff := cmp.Diff([]backend.Event{backend.Done{ConversationID: "42", Text: "a"}}, evs); err != nil || diff != "" {
			t.Errorf("Ask() err %v, events mismatch (-want +got):\n%s", err, diff)
		}
	})
}

// TestAskHTTPErrors: error answers to ClientAsk in a stored session.
func TestAskHTTPErrors(t *testing.T) {
	tests := wiretest.StatusErrors()
	for name, tt := range map[string]wiretest.HTTPError{
		"401":             {Status: 401, Body: `{"Data":null,"Success":false,"Code":401,"Message":"Unauthorized"}`, Kind: backend.KindUnauthorized, Code: "401", Msg: "Unauthorized"},
		"403":             {Status: 403, Body: `{"Success":false,"Code":403,"Message":"Forbidden"}`, Kind: backend.KindUnauthorized, Code: "403", Msg: "Forbidden"},
		"404":             {Status: 404, Body: "", Kind: backend.KindNotFound, Msg: "Not Found"},
		"429":             {Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: `{"Success":false,"Code":429,"Message":"Too many requests"}`, Kind: backend.KindRateLimited, Code: "429", Msg: "Too many requests", RetryAfter: 30 * time.Second},
		"500":             {Status: 500, Body: `{"Success":false,"Code":500,"Message":"Internal error"}`, Kind: backend.KindUnavailable, Code: "500", Msg: "Internal error"},
		"400 session":     {Status: 400, Body: `{"Success":false,"Code":400,"Message":"Session does not exist"}`, Kind: backend.KindConversationExpired, Code: "400", Msg: "Session does not exist"},
		"404 session":     {Status: 404, Body: `{"Success":false,"Code":404,"Message":"sessionID not found"}`, Kind: backend.KindConversationExpired, Code: "404", Msg: "sessionID not found"},
		"400 unknown":     {Status: 400, Body: `{"Success":false,"Code":400,"Message":"content is required"}`, Kind: backend.KindBadResponse, Code: "400", Msg: "content is required"},
		"400 sensitive":   {Status: 400, Body: `{"Success":false,"Code":400,"Message":"Sensitive content blocked"}`, Kind: backend.KindContentFiltered, Code: "400", Msg: "Sensitive content blocked"},
		"500 echoing key": {Status: 500, Body: `{"Message":"bad header ` + testSecret + `"}`, Kind: backend.KindUnavailable, Msg: "bad header [redacted]"},
	} {
		tests[name] = tt
	}
	wiretest.CheckHTTPErrors(t, tests, func(t *testing.T, tt wiretest.HTTPError) (*wiretest.Recorder, []backend.Event, error) {
		f := fake(t, sessionOK, func(w http.ResponseWriter, r *http.Request) { tt.Respond(w) })
		evs, err := collect(t, newClient(t, Config{BaseURL: f.Base}, nil).Ask(t.Context(), backend.Request{Question: "q", ConversationID: "77"}))
		return f, evs, err
	})
}

// streamCase is an answer to ClientAsk in a stored session and what the
// stream must yield: wantEvents, then no error when wantKind and wantMsg
// are unset and there are events; else an error of wantKind, with the
// service's code and message when wantMsg is set, or else wrapping
// backend.ErrTruncated exactly when wantTruncated.
type streamCase struct {
	body          string
	wantEvents    []backend.Event
	wantKind      backend.Kind
	wantCode      string
	wantMsg       string
	wantTruncated bool
}

func (tt streamCase) run(t *testing.T) {
	evs, err := askStored(t, tt.body)
	wiretest.CheckEvents(t, tt.wantEvents, evs)
	switch {
	case tt.wantKind == 0 && tt.wantMsg == "" && tt.wantEvents != nil:
		if err != nil {
			t.Errorf("Err() = %v, want nil", err)
		}
	case tt.wantMsg == "":
		wiretest.CheckEnd(t, err, false, tt.wantKind, tt.wantTruncated)
	default:
		wiretest.CheckError(t, err, tt.wantKind, tt.wantCode, tt.wantMsg)
	}
}

// TestAskEnvelopes: the {Data, Success, Code, Message} envelope before or
// instead of the stream, including the documented non-stream answer with
// its noAnswer flag.
func TestAskEnvelopes(t *testing.T) {
	tests := map[string]streamCase{
		"session expired": {
			body:     `{"Data":null,"Version":"1.0.0","Success":false,"Code":500,"Message":"The session has expired"}`,
			wantKind: backend.KindConversationExpired, wantCode: "500", wantMsg: "The session has expired",
		},
		"pretty printed": {
			body:     "{\r\n  \"Data\": null,\r\n  \"Version\": \"1.0.0\",\r\n  \"Success\": false,\r\n  \"Code\": 401,\r\n  \"Message\": \"Invalid key\"\r\n}\r\n",
			wantKind: backend.KindUnauthorized, wantCode: "401", wantMsg: "Invalid key",
		},
		"after deltas": {
			body:       `{"content":"par"}` + "\n" + `{"Success":false,"Code":400,"Message":"Insufficient credits"}` + "\n",
			wantEvents: deltas("par"),
			wantKind:   backend.KindUnavailable, wantCode: "400", wantMsg: "Insufficient credits",
		},
		"data prefixed": {
			body:     "data: " + `{"Success":"false","Code":"429","Message":"slow down"}` + "\n\n",
			wantKind: backend.KindRateLimited, wantCode: "429", wantMsg: "slow down",
		},
		"echoed key": {
			body:     `{"Success":false,"Code":400,"Message":"` + testSecret + `"}`,
			wantKind: backend.KindBadResponse, wantCode: "400", wantMsg: "[redacted]",
		},
		"no message": {
			body:     `{"Success":false}`,
			wantKind: backend.KindBadResponse, wantMsg: "request failed",
		},
		"non-stream answer": {
			body:       `{"Data":{"messageid":375561,"content":"Hello! How can I assist you today?","totalToken":4337,"noAnswer":false},"Version":"1.0.0","Success":true,"Code":200,"Message":""}`,
			wantEvents: []backend.Event{backend.Done{ConversationID: "77", Text: "Hello! How can I assist you today?"}},
		},
		"non-stream no answer with text": {
			body: `{"Data":{"messageid":1,"content":"Sorry, I don't know.","totalToken":9,"noAnswer":true},"Success":true,"Code":200,"Message":""}`,
			wantEvents: []backend.Event{
				backend.Notice{Code: "no_answer", Message: "the chatbot found no answer in its knowledge base"},
				backend.Done{ConversationID: "77", Text: "Sorry, I don't know."},
			},
		},
		"non-stream no answer": {
			body:     `{"Data":{"messageid":1,"content":"","noAnswer":true},"Success":true,"Code":200}`,
			wantKind: backend.KindNoAnswer,
		},
		"final no answer": {
			body:     `{"QuestionID":1,"AnswerID":2,"Answer":"","TotalToken":3,"noAnswer":true}`,
			wantKind: backend.KindNoAnswer,
		},
		"success envelope ignored": {
			body:       `{"Success":true,"Code":200,"Data":null}` + "\n" + `{"content":"a"}` + "\n" + `{"Answer":"a"}`,
			wantEvents: []backend.Event{backend.Delta{Text: "a"}, backend.Done{ConversationID: "77", Text: "a"}},
		},
	}
	for name, tt := range tests {
		t.Run(name, tt.run)
	}
}

// TestAskFraming: tolerated variations of the line framing.
func TestAskFraming(t *testing.T) {
	final := `{"QuestionID":1,"AnswerID":2,"Answer":"ab","TotalToken":3}`
	done := backend.Done{ConversationID: "77", Text: "ab"}
	tests := map[string]struct {
		body string
		want []backend.Event
	}{
		"SSE data lines":        {"data: {\"content\":\"a\"}\n\ndata:{\"content\":\"b\"}\n\ndata: " + final + "\n\ndata: [DONE]\n\n", append(deltas("a", "b"), done)},
		"SSE fields, comments":  {": ping\nevent: message\nid: 1\nretry: 100\n// note\n{\"content\":\"a\"}\n\n\n{\"content\":\"b\"}\n" + final, append(deltas("a", "b"), done)},
		"several on one line":   {`{"content":"a"}{"content":"b"} ` + final, append(deltas("a", "b"), done)},
		"whitespace around":     {" \t{\"content\":\"a\"} \r\n\t{\"content\":\"b\"}\r\n" + final + "\r\n", append(deltas("a", "b"), done)},
		"empty content skipped": {`{"content":""}` + "\n" + `{"content":null}` + "\n" + `{"content":"ab"}` + "\n" + final, append(deltas("ab"), done)},
		"unknown objects":       {`{"type":"ping"}` + "\n" + `[1,2]` + "\n" + `"str"` + "\n" + `42` + "\n" + `{"QuestionID":1}` + "\n" + final, []backend.Event{done}},
		"odd types":             {`{"content":5}` + "\n" + `{"content":true}` + "\n" + `{"Answer":7,"AnswerID":"x"}`, []backend.Event{backend.Delta{Text: "5"}, backend.Delta{Text: "true"}, backend.Done{ConversationID: "77", Text: "7"}}},
		"answer without ids":    {`{"content":"a"}` + "\n" + `{"Answer":"A!"}`, []backend.Event{backend.Delta{Text: "a"}, backend.Done{ConversationID: "77", Text: "A!"}}},
		"final without answer":  {`{"content":"a"}` + "\n" + `{"QuestionID":1,"AnswerID":2}`, []backend.Event{backend.Delta{Text: "a"}, backend.Done{ConversationID: "77"}}},
		"DONE without final":    {"data: {\"content\":\"a\"}\n\ndata: [DONE]\n\n", []backend.Event{backend.Delta{Text: "a"}, backend.Done{ConversationID: "77"}}},
		"text after final":      {final + "\n" + `{"content":"late"}` + "\ngarbage", []backend.Event{done}},
		"unicode escapes":       {`{"content":"\u00e9\ud83d\ude00"}` + "\n" + `{"Answer":"\u00e9\ud83d\ude00"}`, []backend.Event{backend.Delta{Text: "é😀"}, backend.Done{ConversationID: "77", Text: "é😀"}}},
		"invalid UTF-8 in JSON": {"{\"content\":\"a\xffb\"}\n{\"Answer\":\"a\xffb\"}", []backend.Event{backend.Delta{Text: "a\uFFFDb"}, backend.Done{ConversationID: "77", Text: "a\uFFFDb"}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			evs, err := askStored(t, tt.body)
			if diff := cmp.Diff(tt.want, evs); err != nil || diff != "" {
				t.Errorf("Ask() err %v, events mismatch (-want +got):\n%s", err, diff)
			}
		})
	}
}

func TestAskBadStreams(t *testing.T) {
	tests := map[string]streamCase{
		"empty body":          {body: "", wantKind: backend.KindBadResponse, wantTruncated: true},
		"blank lines":         {body: "\n\r\n\n", wantKind: backend.KindBadResponse, wantTruncated: true},
		"deltas, no final":    {body: `{"content":"a"}` + "\n", wantEvents: deltas("a"), wantKind: backend.KindBadResponse, wantTruncated: true},
		"cut inside final":    {body: `{"content":"a"}` + "\n" + `{"QuestionID":1,"Answ`, wantEvents: deltas("a"), wantKind: backend.KindBadResponse, wantTruncated: true},
		"cut, then DONE":      {body: `{"content":"a"}` + "\n" + `{"QuestionID":1,` + "\n[DONE]\n", wantEvents: deltas("a"), wantKind: backend.KindBadResponse, wantTruncated: true},
		"garbage":             {body: "\x00\xff\xfe<<garbage>>\n", wantKind: backend.KindBadResponse},
		"plain text":          {body: "Hello there\n", wantKind: backend.KindBadResponse},
		"html":                {body: "<!doctype html>\n<html><title>x</title></html>", wantKind: backend.KindBadResponse},
		"garbage after delta": {body: `{"content":"a"}` + "\n" + `{"content":"b"} junk` + "\n", wantEvents: deltas("a", "b"), wantKind: backend.KindBadResponse},
		"echoed key garbage":  {body: "Authorization: " + testSecret + "\n", wantKind: backend.KindBadResponse},
	}
	for name, tt := range tests {
		t.Run(name, tt.run)
	}
}

// TestAskLineTooLong: a line without end is not buffered without bound.
func TestAskLineTooLong(t *testing.T) {
	f := fake(t, sessionOK, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"content":"`)
		chunk := strings.Repeat("x", 64<<10)
		for i := 0; i < maxLine/len(chunk)+2; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	})
	c := newClient(t, Config{BaseURL: f.Base}, nil)
	_, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q", ConversationID: "77"}))
	if backend.KindOf(err) != backend.KindBadResponse || !errors.Is(err, errLineTooLong) {
		t.Errorf("Err() = %v, want bad_response, line too long", err)
	}
}

func TestAskDropped(t *testing.T) {
	f := fake(t, sessionOK, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"content":"partial"}`+"\n")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	c := newClient(t, Config{BaseURL: f.Base}, nil)
	evs, err := collect(t, c.Ask(t.Context(), backend.Request{Question: "q", ConversationID: "77"}))
	wiretest.CheckEvents(t, deltas("partial"), evs)
	if err == nil {
		t.Error("Err() = nil, want an error")
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("server got %d requests, want 1 (a started answer is never retried)", n)
	}
}

func TestAskRetryBeforeStream(t *testing.T) {
	refuse := wiretest.RefuseFirst(http.StatusServiceUnavailable)
	f := fake(t, sessionOK, func(w http.ResponseWriter, r *http.Request) {
		if !refuse(w) {
			io.WriteString(w, `{"Answer":"once"}`)
		}
	})
	evs, err := collect(t, newClient(t, Config{BaseURL: f.Base}, nil).Ask(t.Context(), backend.Request{Question: "q"}))
	// GetSession, then ClientAsk twice.
	wiretest.CheckRetried(t, []backend.Event{backend.Done{ConversationID: "123456", Text: "once"}}, evs, err, f.Requests(), 3)
}

// TestAskCancel: cancelling the context ends the stream promptly and closes
// the connection (the server handler sees its request context end), both
// while creating the session and while streaming.
func TestAskCancel(t *testing.T) {
	for phase, first := range map[string]string{"session": "", "stream": `{"content":"a"}` + "\n"} {
		t.Run(phase, func(t *testing.T) {
			hang, done := wiretest.Hang(first, "")
			f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if phase == "stream" && r.URL.Path == sessionPath {
					io.WriteString(w, sessionOK)
					return
				}
				hang(w, r, n)
			})
			c := newClient(t, Config{BaseURL: f.Base}, nil)
			wiretest.CheckCancel(t, func(ctx context.Context) *backend.Stream {
				return c.Ask(ctx, backend.Request{Question: "q"})
			}, phase == "stream", done)
		})
	}
}

func TestAskIdleTimeout(t *testing.T) {
	for phase, first := range map[string]string{"session": `{"Data":`, "stream": `{"content":"a"}` + "\n"} {
		t.Run(phase, func(t *testing.T) {
			hang, done := wiretest.Hang(first, "") // and then silence
			f := wiretest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if phase == "stream" && r.URL.Path == sessionPath {
					io.WriteString(w, sessionOK)
					return
				}
				hang(w, r, n)
			})
			const idle = 100 * time.Millisecond
			c := newClient(t, Config{BaseURL: f.Base, IdleTimeout: idle}, nil)
			var want []backend.Event
			if phase == "stream" {
				want = deltas("a")
			}
			wiretest.CheckIdle(t, idle, func() ([]backend.Event, error) {
				return collect(t, c.Ask(t.Context(), backend.Request{Question: "q"}))
			}, want, wire.ErrIdle, done)
		})
	}
}

func TestNew(t *testing.T) {
	tests := map[string]wiretest.ConfigCase[Config]{
		"minimal":        {Config: Config{BotID: botID}},
		"eu":             {Config: Config{BaseURL: "https://euapi.hottask.com/", BotID: botID, IdleTimeout: time.Second}},
		"no bot":         {Config: Config{}, Err: "bot_id"},
		"bot with space": {Config: Config{BotID: "a b"}, Err: "bot_id"},
		"no key":         {Config: Config{BotID: botID}, NoKey: true, Err: "api_key"},
		"key with LF":    {Config: Config{BotID: botID, APIKey: backend.NewSecret("a\nb")}, Err: "api_key"},
		"bad scheme":     {Config: Config{BaseURL: "ftp://x", BotID: botID}, Err: "base_url"},
		"no host":        {Config: Config{BaseURL: "https://", BotID: botID}, Err: "base_url"},
		"query":          {Config: Config{BaseURL: "https://x/?k=" + testSecret, BotID: botID}, Err: "base_url"},
		"negative idle":  {Config: Config{BotID: botID, IdleTimeout: -time.Second}, Err: "idle_timeout"},
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
	c, err := New(Config{BotID: botID, APIKey: backend.NewSecret(testSecret)}, backend.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if c.conn.Base != "https://usapi.hottask.com" || c.conn.Idle != time.Minute {
		t.Errorf("base %q, idle %v; want https://usapi.hottask.com and 1m", c.conn.Base, c.conn.Idle)
	}
}

func TestCheck(t *testing.T) {
	models := `{"Data":[{"Name":"gpt-4o-mini"}],"Version":"1.0.0","Success":true,"Code":200,"Message":""}`
	tests := map[string]wiretest.CheckCase{
		"ok":         {Status: 200, Body: models},
		"401":        {Status: 401, Err: true, Kind: backend.KindUnauthorized},
		"bad key":    {Status: 200, Body: `{"Data":null,"Success":false,"Code":401,"Message":"Unauthorized"}`, Err: true, Kind: backend.KindUnauthorized},
		"wrong host": {Status: 404, Body: "404 page not found", Err: true, Kind: backend.KindNotFound},
		"html":       {Status: 200, Body: "<!doctype html>", Err: true, Kind: backend.KindBadResponse},
		"502":        {Status: 502, Err: true, Kind: backend.KindUnavailable},
		"echoed key": {Status: 200, Body: `{"Success":false,"Code":401,"Message":"` + testSecret + `"}`, Err: true, Kind: backend.KindUnauthorized},
	}
	want := wiretest.Request{Method: http.MethodGet, URI: "/prefix/chat/Chatbot/ModelList", Header: http.Header{"Authorization": {testSecret}}}
	wiretest.CheckChecks(t, tests, testSecret, want, func(t *testing.T, base string) error {
		return newClient(t, Config{BaseURL: base}, nil).Check(t.Context())
	})
}

// TestAskLive: each line's delta reaches the caller while the service is
// still sending, whatever the line end, not at the end of the body.
func TestAskLive(t *testing.T) {
	for name, first := range map[string]string{
		"LF":        `{"content":"first"}` + "\n",
		"CR":        `{"content":"first"}` + "\r",
		"CRLF":      `{"content":"first"}` + "\r\n",
		"SSE":       "data: {\"content\":\"first\"}\n\n",
		"two lines": "{\n\"content\":\"first\"}\n",
	} {
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			f := fake(t, sessionOK, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, first)
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				io.WriteString(w, `{"Answer":"first!"}`+"\n")
			})
			c := newClient(t, Config{BaseURL: f.Base}, nil)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			s := c.Ask(ctx, backend.Request{Question: "q", ConversationID: "77"})
			defer s.Close()
			if !s.Next() || s.Current() != (backend.Delta{Text: "first"}) {
				t.Fatalf("first event = %v, err %v; want Delta first before the body ends", s.Current(), s.Err())
			}
			close(release)
			if !s.Next() || s.Current().(backend.Done).Text != "first!" {
				t.Fatalf("second event = %v, err %v; want Done", s.Current(), s.Err())
			}
		})
	}
}
