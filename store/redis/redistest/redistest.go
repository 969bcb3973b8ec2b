// Package redistest starts real redis-server processes for tests: one
// server per call, on a unix socket in a fresh temporary directory, stopped
// (and its directory removed) when the test ends.
//
// When the redis-server binary is missing, Start skips the test with a
// loud message; under CI=true (or CHATBRIDGE_REQUIRE_REDIS=1) it fails the
// test instead, so a CI run can never pass by skipping. On Debian:
// apt-get install -y redis-server.
//
// It imports only the standard library and go-redis (count.go), so any
// package's tests may use it.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Options configures one server.
type Options struct {
	// Password, when set, is required of clients (requirepass).
	Password string
	// TCP also listens on a free loopback port; URL then uses it, and the
	// server keeps its unix socket.
	TCP bool
	// Args are extra redis-server arguments, e.g. "--appendonly", "yes".
	// They come after the defaults, so they override them.
	Args []string
}

// Server is one running redis-server.
type Server struct {
	// URL is the client URL: unix:///dir/redis.sock, or
	// redis://[:password@]127.0.0.1:port/0 with Options.TCP.
	URL string
	// Socket is the unix socket's path.
	Socket string
	// Addr is the loopback address with Options.TCP, else empty.
	Addr string
	// Dir is the server's working directory (AOF files, log).
	Dir string

	t    testing.TB
	opt  Options
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a server with the defaults (no persistence: --save ""
// --appendonly no) and returns its unix-socket URL.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t, Options{}).URL
}

// StartServer starts a server with opt; it stops when the test ends.
func StartServer(t testing.TB, opt Options) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redistest: redis-server not found in PATH; install it (Debian: apt-get install -y redis-server) to run the Redis tests"
		if Required() {
			t.Fatal(msg + " (required here: CI or CHATBRIDGE_REQUIRE_REDIS is set)")
		}
		t.Skip("SKIPPED: " + msg)
	}
	// A short directory: a unix socket path is limited to about 100 bytes,
	// and t.TempDir's names grow with the test's name.
	dir, err := os.MkdirTemp("", "redistest")
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{Socket: filepath.Join(dir, "redis.sock"), Dir: dir, t: t, opt: opt}
	if opt.TCP {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("redistest: pick a port: %v", err)
		}
		s.Addr = ln.Addr().String()
		ln.Close()
	}
	s.URL = "unix://" + s.Socket
	if opt.TCP {
		user := ""
		if opt.Password != "" {
			user = ":" + opt.Password + "@"
		}
		s.URL = "redis://" + user + s.Addr + "/0"
	}
	s.start(bin)
	t.Cleanup(s.Stop)
	return s
}

// Required reports whether a missing redis-server must fail the tests
// instead of skipping them: when CI or CHATBRIDGE_REQUIRE_REDIS is set to
// anything but "", "0" or "false" (CI=true, CI=yes, ...).
func Required() bool {
	on := func(name string) bool {
		v := strings.ToLower(strings.TrimSpace(os.Getenv(name)))
		return v != "" && v != "0" && v != "false"
	}
	return on("CI") || on("CHATBRIDGE_REQUIRE_REDIS")
}

func (s *Server) start(bin string) {
	s.t.Helper()
	port := "0"
	if s.Addr != "" {
		_, port, _ = net.SplitHostPort(s.Addr)
	}
	args := []string{
		"--port", port, "--bind", "127.0.0.1",
		"--unixsocket", s.Socket, "--unixsocketperm", "700",
		"--dir", s.Dir, "--logfile", filepath.Join(s.Dir, "redis.log"),
		"--save", "", "--appendonly", "no", "--daemonize", "no",
	}
	if s.opt.Password != "" {
		args = append(args, "--requirepass", s.opt.Password)
	}
	args = append(args, s.opt.Args...)
	s.cmd = exec.Command(bin, args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if s.ping() == nil {
			return
		}
		select {
		case <-s.done:
			s.t.Fatalf("redistest: redis-server exited at start: %s", s.log())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("redistest: redis-server not answering PING after 15s: %s", s.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ping sends PING on the unix socket (authenticating when needed).
func (s *Server) ping() error {
	c, err := net.DialTimeout("unix", s.Socket, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(c)
	if s.opt.Password != "" {
		fmt.Fprintf(c, "AUTH %s\r\n", s.opt.Password)
		if _, err := r.ReadString('\n'); err != nil {
			return err
		}
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING: %q", strings.TrimSpace(line))
	}
	return nil
}

func (s *Server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	return strings.TrimSpace(string(b))
}

// Stop kills the server (SIGKILL: nothing is flushed beyond what its
// persistence settings already wrote) and waits for it. Stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Kill()
	<-s.done
}

// Restart kills the server and starts it again on the same socket, port
// and directory (so with --appendonly yes it reloads its AOF).
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	os.Remove(s.Socket)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	s.start(bin)
}
