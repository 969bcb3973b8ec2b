package wire

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wiretest"
)

const testSecret = "sk-test-SECRET-123"

// roundTripFunc lets a test answer requests without a network, so the retry
// waits can run on synctest's fake clock.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type reply struct {
	status int
	header map[string]string
	body   string
	err    error // transport error instead of a response
}

func scripted(replies []reply, calls *atomic.Int32) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		i := int(calls.Add(1)) - 1
		if i >= len(replies) {
			i = len(replies) - 1
		}
		rp := replies[i]
		if rp.err != nil {
			return nil, rp.err
		}
		h := http.Header{}
		for k, v := range rp.header {
			h.Set(k, v)
		}
		return &http.Response{StatusCode: rp.status, Header: h, Body: io.NopCloser(strings.NewReader(rp.body)), Request: r}, nil
	})}
}

func buildGet(u string) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	}
}

func TestDoRetry(t *testing.T) {
	connRefused := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	tests := map[string]struct {
		replies   []reply
		policy    Policy
		wantCalls int32
		wantKind  backend.Kind // checked when wantErr
		wantErr   bool
		wantRA    time.Duration
		minWait   time.Duration // fake time Do must have waited at least
		maxWait   time.Duration
	}{
		"ok first try":        {replies: []reply{{status: 200, body: "ok"}}, wantCalls: 1, maxWait: 0},
		"503 then ok":         {replies: []reply{{status: 503}, {status: 200}}, wantCalls: 2, minWait: 100 * time.Millisecond, maxWait: 200 * time.Millisecond},
		"502 504 then ok":     {replies: []reply{{status: 502}, {status: 504}, {status: 200}}, wantCalls: 3, minWait: 300 * time.Millisecond, maxWait: 600 * time.Millisecond},
		"conn error then ok":  {replies: []reply{{err: connRefused}, {status: 200}}, wantCalls: 2, maxWait: 200 * time.Millisecond},
		"429 retry-after 2s":  {replies: []reply{{status: 429, header: map[string]string{"Retry-After": "2"}}, {status: 200}}, wantCalls: 2, minWait: 2 * time.Second, maxWait: 2 * time.Second},
		"429 retry-after big": {replies: []reply{{status: 429, header: map[string]string{"Retry-After": "120"}, body: `{"message":"slow down"}`}}, wantCalls: 1, wantErr: true, wantKind: backend.KindRateLimited, wantRA: 120 * time.Second},
		"503 three times":     {replies: []reply{{status: 503}}, wantCalls: 3, wantErr: true, wantKind: backend.KindUnavailable, maxWait: 3 * time.Second},
		"attempts 1":          {replies: []reply{{status: 503}}, policy: Policy{Attempts: 1}, wantCalls: 1, wantErr: true, wantKind: backend.KindUnavailable},
		"500 not retried":     {replies: []reply{{status: 500}}, wantCalls: 1, wantErr: true, wantKind: backend.KindUnavailable},
		"400 not retried":     {replies: []reply{{status: 400, body: "bad"}}, wantCalls: 1, wantErr: true, wantKind: backend.KindBadResponse},
		"401 not retried":     {replies: []reply{{status: 401}}, wantCalls: 1, wantErr: true, wantKind: backend.KindUnauthorized},
		"404 not retried":     {replies: []reply{{status: 404}}, wantCalls: 1, wantErr: true, wantKind: backend.KindNotFound},
		"conn error always":   {replies: []reply{{err: connRefused}}, wantCalls: 3, wantErr: true, wantKind: backend.KindUnavailable},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int32
				start := time.Now()
				resp, err := Do(t.Context(), scripted(tt.replies, &calls), buildGet("http://x.invalid/p?key="+testSecret), tt.policy)
				waited := time.Since(start)
				if got := calls.Load(); got != tt.wantCalls {
					t.Errorf("calls = %d, want %d", got, tt.wantCalls)
				}
				if waited < tt.minWait || (tt.maxWait > 0 && waited > tt.maxWait) || (tt.maxWait == 0 && !tt.wantErr && waited != 0) {
					t.Errorf("Do waited %v, want within [%v, %v]", waited, tt.minWait, tt.maxWait)
				}
				if !tt.wantErr {
					if err != nil {
						t.Fatalf("Do() error = %v, want nil", err)
					}
					resp.Body.Close()
					return
				}
				var be *backend.Error
				if !errors.As(err, &be) {
					t.Fatalf("Do() error = %v (%T), want *backend.Error", err, err)
				}
				if be.Kind != tt.wantKind {
					t.Errorf("Kind = %v, want %v (err %v)", be.Kind, tt.wantKind, err)
				}
				if be.RetryAfter != tt.wantRA {
					t.Errorf("RetryAfter = %v, want %v", be.RetryAfter, tt.wantRA)
				}
				if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "key=") {
					t.Errorf("error leaks the query: %v", err)
				}
			})
		})
	}
}

func TestDoCancelDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := Do(ctx, scripted([]reply{{status: 429, header: map[string]string{"Retry-After": "3"}}}, &calls), buildGet("http://x.invalid/"), Policy{})
		if backend.KindOf(err) != backend.KindRateLimited {
			t.Errorf("Do() error = %v, want rate_limited", err)
		}
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Errorf("Do returned after %v, want 50ms (at cancel)", d)
		}
		if calls.Load() != 1 {
			t.Errorf("calls = %d, want 1", calls.Load())
		}
	})
}

func TestDoBuildError(t *testing.T) {
	var calls atomic.Int32
	_, err := Do(t.Context(), scripted([]reply{{status: 200}}, &calls), func(ctx context.Context) (*http.Request, error) {
		return nil, errors.New("bad url with " + testSecret)
	}, Policy{Secret: backend.NewSecret(testSecret)})
	if backend.KindOf(err) != backend.KindBadResponse || calls.Load() != 0 {
		t.Errorf("Do() = %v after %d calls, want bad_response after 0", err, calls.Load())
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error leaks the secret: %v", err)
	}
}

// TestDoStatusScrubbed: a server echoing the key into its error message
// does not get it into our error.
func TestDoStatusScrubbed(t *testing.T) {
	var calls atomic.Int32
	_, err := Do(t.Context(), scripted([]reply{{status: 401, body: `{"error":{"message":"Incorrect API key provided: ` + testSecret + `","code":"invalid_api_key"}}`}}, &calls), buildGet("http://x.invalid/"), Policy{Secret: backend.NewSecret(testSecret)})
	var be *backend.Error
	if !errors.As(err, &be) || be.Kind != backend.KindUnauthorized || be.Code != "invalid_api_key" {
		t.Fatalf("Do() = %#v, want unauthorized invalid_api_key", err)
	}
	if strings.Contains(err.Error(), testSecret) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error = %q, want the key replaced by [redacted]", err)
	}
}

// server starts a loopback server under a path prefix.
func server(t *testing.T, h http.HandlerFunc) string { return wiretest.Server(t, h) + "/" }

func TestIdleBody(t *testing.T) {
	handlerDone := make(chan struct{})
	u := server(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // silent until the client gives up
	})
	const idle = 100 * time.Millisecond
	resp, err := Do(t.Context(), http.DefaultClient, buildGet(u), Policy{Idle: idle})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	b, err := io.ReadAll(resp.Body)
	elapsed := time.Since(start)
	if string(b) != "first" {
		t.Errorf("body = %q, want %q", b, "first")
	}
	if !errors.Is(err, ErrIdle) || backend.KindOf(err) != backend.KindUnavailable {
		t.Errorf("ReadAll error = %v, want unavailable wrapping ErrIdle", err)
	}
	if want := "backend silent for 0.1s"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want it to say %q", err, want)
	}
	if elapsed < idle || elapsed > 5*time.Second {
		t.Errorf("idle timeout after %v, want about %v", elapsed, idle)
	}
	select {
	case <-handlerDone:
	case <-time.After(5 * time.Second):
		t.Error("server handler still running: connection not closed")
	}
}

// TestIdleSlowConsumer: time spent between Reads is not silence.
func TestIdleSlowConsumer(t *testing.T) {
	u := server(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "all of it")
	})
	const idle = 50 * time.Millisecond
	resp, err := Do(t.Context(), http.DefaultClient, buildGet(u), Policy{Idle: idle})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.Sleep(3 * idle) // the consumer is busy; the data waits in the connection
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "all of it" {
		t.Errorf("ReadAll = %q, %v; want %q, nil", b, err, "all of it")
	}
}

func TestIdleBeforeHeaders(t *testing.T) {
	u := server(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	var calls atomic.Int32
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	_, err := Do(t.Context(), client, buildGet(u), Policy{Idle: 50 * time.Millisecond})
	if !errors.Is(err, ErrIdle) || backend.KindOf(err) != backend.KindUnavailable {
		t.Errorf("Do() error = %v, want unavailable wrapping ErrIdle", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d, want 1 (an idle request is never retried)", calls.Load())
	}
}

func TestCancelClosesConnection(t *testing.T) {
	h, handlerDone := wiretest.Hang("x", "")
	u := wiretest.NewRecorder(t, h).Base
	ctx, cancel := context.WithCancel(t.Context())
	resp, err := Do(ctx, http.DefaultClient, buildGet(u), Policy{Idle: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("ReadAll error = %v, want context.Canceled", err)
	}
	if errors.Is(err, ErrIdle) {
		t.Errorf("ReadAll error = %v, a cancel is not an idle timeout", err)
	}
	wiretest.WaitClosed(t, handlerDone)
}

func TestConnErrorRedacted(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/prefix/x?api_key=" + testSecret
	srv.Close() // nothing listens any more
	_, err := Do(t.Context(), http.DefaultClient, buildGet(u), Policy{Attempts: 1})
	if backend.KindOf(err) != backend.KindUnavailable {
		t.Errorf("Do() error = %v, want unavailable", err)
	}
	if err == nil || strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "api_key") {
		t.Errorf("error = %v, want no query string", err)
	}
}

// ctxBody is a response body that delivers chunks at scripted fake times and
// ends its Read when the request context ends, as net/http's transport does.
type ctxBody struct {
	ctx    context.Context
	chunks chan string
}

func (b *ctxBody) Read(p []byte) (int, error) {
	select {
	case s, ok := <-b.chunks:
		if !ok {
			return 0, io.EOF
		}
		return copy(p, s), nil
	case <-b.ctx.Done():
		return 0, context.Cause(b.ctx)
	}
}

func (b *ctxBody) Close() error { return nil }

// TestIdleFakeClock: the watchdog measures silence inside a Read, exactly.
func TestIdleFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		chunks := make(chan string)
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: &ctxBody{r.Context(), chunks}, Request: r}, nil
		})}
		go func() {
			time.Sleep(59 * time.Second) // just inside the limit
			chunks <- "a"
			time.Sleep(59 * time.Second)
			chunks <- "b"
			// then silence
		}()
		start := time.Now()
		resp, err := Do(t.Context(), client, buildGet("http://x.invalid/"), Policy{Idle: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if string(b) != "ab" {
			t.Errorf("body = %q, want %q", b, "ab")
		}
		if !errors.Is(err, ErrIdle) || !strings.Contains(err.Error(), "backend silent for 60s") {
			t.Errorf("ReadAll error = %v, want idle timeout saying 60s", err)
		}
		if d := time.Since(start); d != 59*time.Second+59*time.Second+time.Minute {
			t.Errorf("failed after %v, want 2m58s", d)
		}
	})
}

func TestIdle(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{0: DefaultIdle, -time.Second: DefaultIdle, 5 * time.Second: 5 * time.Second} {
		if got := Idle(in); got != want {
			t.Errorf("Idle(%v) = %v, want %v", in, got, want)
		}
	}
	if err := CheckIdle(-time.Second); err == nil || err.Error() != "idle_timeout -1s: must not be negative" {
		t.Errorf("CheckIdle(-1s) = %v, want the negative idle_timeout refused", err)
	}
	if err := CheckIdle(0); err != nil {
		t.Errorf("CheckIdle(0) = %v, want nil", err)
	}
}
