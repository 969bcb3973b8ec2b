package wire

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chat-bridge/chat-bridge/backend"
)

func TestStatusError(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := map[string]struct {
		status   int
		header   map[string]string
		body     string
		wantKind backend.Kind
		wantCode string
		wantMsg  string
		wantRA   time.Duration
	}{
		"401 openai":      {401, nil, `{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}`, backend.KindUnauthorized, "invalid_api_key", "Incorrect API key", 0},
		"403 detail":      {403, nil, `{"detail":"Bot is not public"}`, backend.KindUnauthorized, "", "Bot is not public", 0},
		"404 text":        {404, nil, "  no such bot \n", backend.KindNotFound, "", "no such bot", 0},
		"404 empty":       {404, nil, "", backend.KindNotFound, "", "Not Found", 0},
		"429 seconds":     {429, map[string]string{"Retry-After": "7"}, `{"msg":"too many"}`, backend.KindRateLimited, "", "too many", 7 * time.Second},
		"429 date":        {429, map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT", "Date": "Wed, 21 Oct 2015 07:28:00 GMT"}, "", backend.KindRateLimited, "", "Too Many Requests", 30 * time.Second},
		"429 past date":   {429, map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:27:00 GMT", "Date": "Wed, 21 Oct 2015 07:28:00 GMT"}, "", backend.KindRateLimited, "", "Too Many Requests", 0},
		"429 garbage":     {429, map[string]string{"Retry-After": "soon"}, "", backend.KindRateLimited, "", "Too Many Requests", 0},
		"503 retry-after": {503, map[string]string{"Retry-After": "1"}, `{"error":"overloaded"}`, backend.KindUnavailable, "", "overloaded", time.Second},
		"500 chatofai":    {500, nil, `{"code": 1001, "msg": "internal"}`, backend.KindUnavailable, "1001", "internal", 0},
		"400 newoaks":     {400, nil, `{"Data":null,"Success":false,"Code":40001,"Message":"bad session"}`, backend.KindBadResponse, "40001", "bad session", 0},
		"422 fastapi":     {422, nil, `{"detail":[{"loc":["body","bot_id"],"msg":"field required"}]}`, backend.KindBadResponse, "", "field required", 0},
		"400 json no msg": {400, nil, `{"ok":false}`, backend.KindBadResponse, "", `{"ok":false}`, 0},
		"418 html":        {418, nil, "<html>\n<body>teapot</body></html>", backend.KindBadResponse, "", "<html> <body>teapot</body></html>", 0},
		"400 long":        {400, nil, long, backend.KindBadResponse, "", strings.Repeat("é", 100) + "…", 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			e := StatusError(&http.Response{StatusCode: tt.status, Header: h, Body: io.NopCloser(strings.NewReader(tt.body))})
			if e.Kind != tt.wantKind || e.Code != tt.wantCode || e.Message != tt.wantMsg || e.RetryAfter != tt.wantRA || e.Status != tt.status {
				t.Errorf("StatusError() = {%v %d %q %q %v}, want {%v %d %q %q %v}",
					e.Kind, e.Status, e.Code, e.Message, e.RetryAfter, tt.wantKind, tt.status, tt.wantCode, tt.wantMsg, tt.wantRA)
			}
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
