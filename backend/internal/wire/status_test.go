package wire

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wiretest"
)

// TestStatusError runs the table every client shares (wiretest) and the
// answers a client retries, whose Retry-After only Do and StatusError see.
func TestStatusError(t *testing.T) {
	tests := wiretest.StatusErrors()
	tests["429 past date"] = wiretest.HTTPError{Status: 429, Header: map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:27:00 GMT", "Date": "Wed, 21 Oct 2015 07:28:00 GMT"}, Kind: backend.KindRateLimited, Msg: "Too Many Requests"}
	tests["429 garbage"] = wiretest.HTTPError{Status: 429, Header: map[string]string{"Retry-After": "soon"}, Kind: backend.KindRateLimited, Msg: "Too Many Requests"}
	tests["503 retry-after"] = wiretest.HTTPError{Status: 503, Header: map[string]string{"Retry-After": "1"}, Body: `{"error":"overloaded"}`, Kind: backend.KindUnavailable, Msg: "overloaded", RetryAfter: time.Second}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.Respond(rec)
			tt.Check(t, StatusError(rec.Result()))
		})
	}
}

func TestStatusErrorReadsAtMost64KiB(t *testing.T) {
	r := &countingReader{r: strings.NewReader(strings.Repeat("x", 1<<20))}
	StatusError(&http.Response{StatusCode: 500, Header: http.Header{}, Body: io.NopCloser(r)})
	if r.n > maxErrorBody {
		t.Errorf("read %d bytes, want at most %d", r.n, maxErrorBody)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestRedactURL(t *testing.T) {
	tests := map[string]string{
		"https://api.example.com/v1/chat?key=abc#frag": "https://api.example.com/v1/chat",
		"https://user:pw@example.com/p":                "https://example.com/p",
		"http://127.0.0.1:8080/prefix/":                "http://127.0.0.1:8080/prefix/",
		"::bad url?key=abc":                            "::bad url",
	}
	for in, want := range tests {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScrub(t *testing.T) {
	s := backend.NewSecret("k3y")
	if got := Scrub("bad key k3y and k3y", s); got != "bad key [redacted] and [redacted]" {
		t.Errorf("Scrub = %q", got)
	}
	if got := Scrub("k3y", backend.Secret{}); got != "k3y" {
		t.Errorf("Scrub with no secret = %q, want unchanged", got)
	}
}

func FuzzStatusError(f *testing.F) {
	f.Add(429, "7", `{"error":{"message":"m","code":3}}`)
	f.Add(400, "Wed, 21 Oct 2015 07:28:30 GMT", `{"detail":[{"msg":"x"}]}`)
	f.Add(503, "-1", "\xff\xfe garbage")
	f.Add(404, "1e9", `[[[[[[["deep"]]]]]]]`)
	f.Add(401, "NaN", `{"message":{"message":{"message":{"message":{"message":{"message":"x"}}}}}}`)
	f.Fuzz(func(t *testing.T, status int, retryAfter, body string) {
		if status < 100 || status > 999 {
			return
		}
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		e := StatusError(&http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))})
		if e.RetryAfter < 0 || e.RetryAfter > 24*time.Hour+time.Minute {
			t.Errorf("RetryAfter = %v out of range", e.RetryAfter)
		}
		if !utf8.ValidString(e.Message) || len(e.Message) > maxMessage+len("…") {
			t.Errorf("Message %q: invalid UTF-8 or too long", e.Message)
		}
		if e.Message == "" && http.StatusText(status) != "" {
			t.Error("empty Message for a known status")
		}
	})
}
