package redistest

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB whose Fatal and Skip end only the goroutine
// that calls them, recording why.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Fatal(args ...any) { r.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Fatalf(f string, args ...any) {
	r.fatal = fmt.Sprintf(f, args...)
	runtime.Goexit()
}
func (r *recorder) Skip(args ...any) { r.skip = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Skipf(f string, args ...any) {
	r.skip = fmt.Sprintf(f, args...)
	runtime.Goexit()
}

// TestMissingServer: without redis-server, tests skip loudly, except
// under CI or CHATBRIDGE_REQUIRE_REDIS, where they fail.
func TestMissingServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no redis-server in it
	tests := map[string]struct {
		ci, require string
		wantFail    bool
	}{
		"local":           {wantFail: false},
		"CI=true":         {ci: "true", wantFail: true},
		"CI=false":        {ci: "false", wantFail: false},
		"required":        {require: "1", wantFail: true},
		"CI and required": {ci: "1", require: "true", wantFail: true},
		"CI=yes":          {ci: "yes", wantFail: true},
		"CI=0":            {ci: "0", wantFail: false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			t.Setenv("CHATBRIDGE_REQUIRE_REDIS", tt.require)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() { defer close(done); StartServer(r, Options{}) }()
			<-done
			if tt.wantFail && (r.fatal == "" || r.skip != "") {
				t.Errorf("fatal %q, skip %q: want a failure", r.fatal, r.skip)
			}
			if !tt.wantFail && (r.skip == "" || r.fatal != "") {
				t.Errorf("fatal %q, skip %q: want a skip", r.fatal, r.skip)
			}
			if msg := r.fatal + r.skip; !strings.Contains(msg, "apt-get install -y redis-server") {
				t.Errorf("message %q, want it to say how to install redis-server", msg)
			}
		})
	}
}

// TestStartStop: a server answers on its URL's socket or port, and is
// gone after Stop.
func TestStartStop(t *testing.T) {
	s := StartServer(t, Options{TCP: true, Password: "pw"})
	if !strings.HasPrefix(s.URL, "redis://:pw@127.0.0.1:") || !strings.HasSuffix(s.URL, "/0") {
		t.Errorf("URL = %q", s.URL)
	}
	if got := roundTrip(t, "tcp", s.Addr, "AUTH pw\r\nPING\r\n", 2); got != "+OK\r\n+PONG\r\n" {
		t.Errorf("AUTH + PING over TCP = %q", got)
	}
	if got := roundTrip(t, "unix", s.Socket, "PING\r\n", 1); !strings.HasPrefix(got, "-NOAUTH") {
		t.Errorf("PING without AUTH = %q, want NOAUTH (the password is required)", got)
	}
	s.Stop()
	if c, err := net.DialTimeout("unix", s.Socket, time.Second); err == nil {
		c.Close()
		t.Error("the socket still accepts after Stop")
	}
	s.Stop() // twice is fine
	if u := Start(t); !strings.HasPrefix(u, "unix:///") {
		t.Errorf("Start = %q, want a unix:// URL", u)
	}
}

func roundTrip(t *testing.T, network, addr, send string, lines int) string {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(send)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var b strings.Builder
	for range lines {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		b.WriteString(l)
	}
	return b.String()
}
