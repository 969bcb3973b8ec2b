package telegramtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFront: deliveries go to the replicas in turn, with their path,
// body and secret header; a replica answering 503 is passed over for the
// next one; with none answering 2xx the front answers 502.
func TestFront(t *testing.T) {
	var mu sync.Mutex
	var got []string
	replica := func(name string, status *int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			st := *status
			if st == http.StatusOK {
				got = append(got, name+" "+r.URL.Path+" "+string(b)+" "+r.Header.Get("X-Telegram-Bot-Api-Secret-Token"))
			}
			mu.Unlock()
			w.WriteHeader(st)
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	okA, okB := http.StatusOK, http.StatusOK
	f := NewFront([]string{replica("a", &okA), replica("b", &okB)}, time.Second)
	front := httptest.NewServer(f)
	t.Cleanup(front.Close)
	post := func(body string) int {
		req, _ := http.NewRequest(http.MethodPost, front.URL+"/tg/hook", strings.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// deliver posts bodies, each answered 200, then checks the counts.
	deliver := func(why string, want []int, bodies ...string) {
		t.Helper()
		for _, b := range bodies {
			if st := post(b); st != http.StatusOK {
				t.Fatalf("%s: delivery %s: status %d", why, b, st)
			}
		}
		if s := f.Served(); !slices.Equal(s, want) {
			t.Errorf("%s: served %v, want %v", why, s, want)
		}
	}
	deliver("both up: in turn", []int{2, 2}, "u1", "u2", "u3", "u4")
	mu.Lock()
	okB = http.StatusServiceUnavailable
	mu.Unlock()
	deliver("b answering 503: a takes its turn", []int{4, 2}, "u5", "u6")
	mu.Lock()
	okA = http.StatusServiceUnavailable
	mu.Unlock()
	if st := post("u7"); st != http.StatusBadGateway {
		t.Errorf("no replica up: status %d, want 502", st)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, g := range got {
		if !strings.Contains(g, " /tg/hook u") || !strings.HasSuffix(g, " s3") {
			t.Errorf("delivery seen as %q, want the path, body and secret header kept", g)
		}
	}
	if len(got) != 6 {
		t.Errorf("%d deliveries reached a replica, want 6: %q", len(got), got)
	}
}
