package wiretest

import (
	"errors"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
)

// HTTPError is one error answer of a service and the *backend.Error it
// must become.
type HTTPError struct {
	// Status, Header and Body are the answer.
	Status int
	Header map[string]string
	Body   string
	// Continuing asks with a stored conversation (client tests only).
	Continuing bool
	// Kind, Code, Msg and RetryAfter are the error wanted; its Status
	// must be Status.
	Kind       backend.Kind
	Code       string
	Msg        string
	RetryAfter time.Duration
}

var statusErrors = map[string]HTTPError{
	"401 openai":  {Status: 401, Body: `{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}`, Kind: backend.KindUnauthorized, Code: "invalid_api_key", Msg: "Incorrect API key"},
	"403 detail":  {Status: 403, Body: `{"detail":"Bot is not public"}`, Kind: backend.KindUnauthorized, Msg: "Bot is not public"},
	"404 text":    {Status: 404, Body: "  no such bot \n", Kind: backend.KindNotFound, Msg: "no such bot"},
	"404 empty":   {Status: 404, Kind: backend.KindNotFound, Msg: "Not Found"},
	"429 seconds": {Status: 429, Header: map[string]string{"Retry-After": "7"}, Body: `{"msg":"too many"}`, Kind: backend.KindRateLimited, Msg: "too many", RetryAfter: 7 * time.Second},
	"429 date": {Status: 429, Header: map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT", "Date": "Wed, 21 Oct 2015 07:28:00 GMT"},
		Kind: backend.KindRateLimited, Msg: "Too Many Requests", RetryAfter: 30 * time.Second},
	"500 chatofai":    {Status: 500, Body: `{"code": 1001, "msg": "internal"}`, Kind: backend.KindUnavailable, Code: "1001", Msg: "internal"},
	"500 text":        {Status: 500, Body: "Internal Server Error", Kind: backend.KindUnavailable, Msg: "Internal Server Error"},
	"400 newoaks":     {Status: 400, Body: `{"Data":null,"Success":false,"Code":40001,"Message":"bad session"}`, Kind: backend.KindBadResponse, Code: "40001", Msg: "bad session"},
	"422 fastapi":     {Status: 422, Body: `{"detail":[{"loc":["body","bot_id"],"msg":"field required"}]}`, Kind: backend.KindBadResponse, Msg: "field required"},
	"400 json no msg": {Status: 400, Body: `{"ok":false}`, Kind: backend.KindBadResponse, Msg: `{"ok":false}`},
	"418 html":        {Status: 418, Body: "<html>\n<body>teapot</body></html>", Kind: backend.KindBadResponse, Msg: "<html> <body>teapot</body></html>"},
	"400 long":        {Status: 400, Body: strings.Repeat("é", 300), Kind: backend.KindBadResponse, Msg: strings.Repeat("é", 100) + "…"},
}

// StatusErrors returns, in a new map a test may add its own rows to, the
// error answers every client classifies alike, as wire.StatusError does:
// by status, with the message and code of the common JSON shapes or the
// body's text. None of them is retried.
func StatusErrors() map[string]HTTPError { return maps.Clone(statusErrors) }

// Respond writes the answer.
func (c HTTPError) Respond(w http.ResponseWriter) {
	for k, v := range c.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(c.Status)
	io.WriteString(w, c.Body)
}

// Check fails t unless e is the error the case wants.
func (c HTTPError) Check(t testing.TB, e *backend.Error) {
	t.Helper()
	if e.Kind != c.Kind || e.Status != c.Status || e.Code != c.Code || e.Message != c.Msg || e.RetryAfter != c.RetryAfter {
		t.Errorf("error = {%v %d %q %q %v}, want {%v %d %q %q %v}", e.Kind, e.Status, e.Code, e.Message, e.RetryAfter, c.Kind, c.Status, c.Code, c.Msg, c.RetryAfter)
	}
}

// CheckHTTPErrors runs each case as a subtest: ask starts the client's
// fake answering the question with c.Respond and asks once. The stream
// must end without an event, with the case's error, after one request (an
// error status is not retried).
func CheckHTTPErrors(t *testing.T, cases map[string]HTTPError, ask func(t *testing.T, c HTTPError) (*Recorder, []backend.Event, error)) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rec, evs, err := ask(t, c)
			var be *backend.Error
			if len(evs) != 0 || !errors.As(err, &be) {
				t.Fatalf("Ask() = %v, %v; want no events and a *backend.Error", evs, err)
			}
			c.Check(t, be)
			if n := len(rec.Requests()); n != 1 {
				t.Errorf("server got %d requests, want 1 (not retried)", n)
			}
		})
	}
}
