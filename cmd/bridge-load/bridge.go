package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Environment variables the generated config reads its secrets from.
const (
	envToken    = "BRIDGE_LOAD_TELEGRAM_TOKEN"
	envSlackBot = "BRIDGE_LOAD_SLACK_BOT_TOKEN"
	envSlackApp = "BRIDGE_LOAD_SLACK_APP_TOKEN"
	envDiscord  = "BRIDGE_LOAD_DISCORD_TOKEN"
	envAPIKey   = "BRIDGE_LOAD_BACKEND_KEY"
)

// buildBridge compiles ./cmd/bridge of the module the current directory
// belongs to into dir.
func buildBridge(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the chat-bridge module: run from the repository or pass --bridge")
	}
	bin := filepath.Join(dir, "bridge")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/bridge")
	cmd.Dir = filepath.Dir(mod)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/bridge: %w\n%s", err, b)
	}
	return bin, nil
}

// freePort returns a loopback port nobody listens on right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// replicaConf is what differs between the replicas' configs, and what
// cluster mode adds.
type replicaConf struct {
	listen string // [http] listen, host:port
	// Cluster mode: the replica's ID and the run's key prefix (the URL is
	// in envRedisURL); "" with bbolt.
	id, prefix string
	// hookURL is Telegram's webhook_url (the round-robin front), "" to
	// poll.
	hookURL string
}

// configText is the bridge configuration of one replica of a run.
func configText(o *Options, dir, fakeURL string, rc replicaConf) string {
	var b strings.Builder
	if rc.id != "" {
		fmt.Fprintf(&b, "[store]\nkind = \"redis\"\nurl = \"${%s}\"\nprefix = %q\n\n", envRedisURL, rc.prefix)
		fmt.Fprintf(&b, "[cluster]\nreplica_id = %q\n", rc.id)
		if o.LeaseTTL > 0 {
			fmt.Fprintf(&b, "lease_ttl = %q\n", o.LeaseTTL.String())
		}
		if o.Partitions > 0 {
			fmt.Fprintf(&b, "partitions = %d\n", o.Partitions)
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "[store]\npath = %q\n\n", filepath.Join(dir, "bridge.db"))
	}
	fmt.Fprintf(&b, "[http]\nlisten = %q\npprof = %t\n\n", rc.listen, o.Pprof != "" || o.Heap != "")
	fmt.Fprintf(&b, "[bridge]\nshutdown_grace = \"5s\"\n\n")
	fmt.Fprintf(&b, "[log]\nformat = \"text\"\nlevel = %q\n\n", o.LogLevel)
	fmt.Fprintf(&b, "[backends.load]\nkind = \"chatbotiq\"\nbase_url = %q\nbot_id = \"load\"\napi_key = \"${%s}\"\ncitations = false\nidle_timeout = \"120s\"\n\n", fakeURL+"/ciq", envAPIKey)
	switch o.Platform {
	case "slack":
		fmt.Fprintf(&b, "[slack.load]\nbot_token = \"${%s}\"\napp_token = \"${%s}\"\nbackend = \"load\"\napi_url = %q\nno_streaming = %t\n",
			envSlackBot, envSlackApp, fakeURL+"/slack/api/", !o.SlackStream)
	case "discord":
		fmt.Fprintf(&b, "[discord.load]\ntoken = \"${%s}\"\nbackend = \"load\"\napi_base_url = %q\nskip_commands = false\n", envDiscord, fakeURL+dcAPIPath)
		if o.shards() > 1 {
			fmt.Fprintf(&b, "shards = %d\n", o.shards())
		}
	default:
		fmt.Fprintf(&b, "[telegram.load]\ntoken = \"${%s}\"\nbackend = \"load\"\napi_endpoint = %q\nrespond = \"all\"\ndrafts = %t\n", envToken, fakeURL+"/tg/bot%s/%s", o.Drafts)
		if o.botRate() != botMax {
			fmt.Fprintf(&b, "bot_rate = %d\n", o.botRate())
		}
		if rc.hookURL != "" {
			fmt.Fprintf(&b, "webhook_url = %q\nwebhook_secret = \"${%s}\"\n", rc.hookURL, envHookSecret)
		}
	}
	if o.EditInterval > 0 {
		fmt.Fprintf(&b, "edit_interval = %q\n", o.EditInterval.String())
	}
	return b.String()
}

// bridgeProc is the bridge running as a subprocess.
type bridgeProc struct {
	cmd     *exec.Cmd
	id      string // replica ID; "" with bbolt
	listen  string // [http] listen
	metrics string // URL of /metrics
	logPath string
	exited  chan struct{}
	err     error
}

// startBridge starts the bridge with env (the platform's tokens) added to
// the environment.
func startBridge(bin, cfgPath, logPath string, rc replicaConf, env []string) (*bridgeProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Env = append(append(os.Environ(), env...), envAPIKey+"=load-key")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start bridge: %w", err)
	}
	p := &bridgeProc{cmd: cmd, id: rc.id, listen: rc.listen, metrics: "http://" + rc.listen + "/metrics", logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

// stop sends SIGTERM and waits up to grace, then kills.
func (p *bridgeProc) stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
		return p.err
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
		return errors.New("bridge did not stop within the grace period; killed")
	}
}

// logTail returns the last n lines of the bridge's log.
func (p *bridgeProc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	// The operator page's URL carries its admin token.
	return adminToken.ReplaceAllString(strings.Join(lines, "\n"), "${1}<redacted>")
}

var adminToken = regexp.MustCompile(`(token=)[^\s&"]+`)

// procSample is the bridge process's CPU time and peak RSS.
type procSample struct {
	CPU    time.Duration // utime + stime
	HWM    int64         // VmHWM, bytes
	RSS    int64         // VmRSS, bytes
	Ok     bool
	Reason string
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

func readProc(pid int) procSample {
	var s procSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		s.Reason = err.Error()
		return s
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line.
	st := string(b)
	i := strings.LastIndexByte(st, ')')
	f := strings.Fields(st[i+1:])
	if len(f) < 13 {
		s.Reason = "short /proc stat"
		return s
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	s.CPU = time.Duration(ut+stt) * time.Second / clockTicks
	sf, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		s.Reason = err.Error()
		return s
	}
	defer sf.Close()
	sc := bufio.NewScanner(sf)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fs[0], 10, 64)
		switch k {
		case "VmHWM":
			s.HWM = n * 1024
		case "VmRSS":
			s.RSS = n * 1024
		}
	}
	s.Ok = true
	return s
}

// metricsSample is what the load tool reads from the bridge's /metrics.
type metricsSample struct {
	Goroutines float64
	// StackInuse and HeapInuse are the Go runtime's (bytes): goroutine
	// stacks, and heap spans in use (live data plus garbage not yet
	// collected).
	StackInuse, HeapInuse float64
	StoreOps              float64 // sum of chatbridge_store_op_seconds_count
	RateLimit             float64 // sum of chatbridge_platform_rate_limited_total
	Answered              float64 // sum of chatbridge_messages_total{outcome="answered"}
	// Added is the cumulative histogram chatbridge_reply_added_latency_seconds:
	// upper bound (seconds) → count.
	Added map[float64]float64
}

var metricsClient = &http.Client{Timeout: 5 * time.Second}

func scrape(ctx context.Context, url string) (metricsSample, error) {
	var m metricsSample
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return m, err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return m, fmt.Errorf("metrics: status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		base, _, _ := strings.Cut(name, "{")
		if strings.Contains(name, "{") {
			// labels may hold spaces: the value is the last field
			i := strings.LastIndexByte(line, ' ')
			rest = line[i+1:]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			continue
		}
		switch base {
		case "go_goroutines":
			m.Goroutines = v
		case "go_memstats_stack_inuse_bytes":
			m.StackInuse = v
		case "go_memstats_heap_inuse_bytes":
			m.HeapInuse = v
		case "chatbridge_store_op_seconds_count":
			m.StoreOps += v
		case "chatbridge_platform_rate_limited_total":
			m.RateLimit += v
		case "chatbridge_messages_total":
			if strings.Contains(name, `outcome="answered"`) {
				m.Answered += v
			}
		case "chatbridge_reply_added_latency_seconds_bucket":
			if i := strings.Index(name, `le="`); i >= 0 {
				leS, _, _ := strings.Cut(name[i+4:], `"`)
				if le, err := strconv.ParseFloat(leS, 64); err == nil {
					if m.Added == nil {
						m.Added = map[float64]float64{}
					}
					m.Added[le] = v
				}
			}
		}
	}
	return m, sc.Err()
}

// add sums m into s: the replicas' figures together (goroutines, memory,
// counters, the histogram's buckets).
func (s *metricsSample) add(m metricsSample) {
	s.Goroutines += m.Goroutines
	s.StackInuse += m.StackInuse
	s.HeapInuse += m.HeapInuse
	s.StoreOps += m.StoreOps
	s.RateLimit += m.RateLimit
	s.Answered += m.Answered
	for le, v := range m.Added {
		if s.Added == nil {
			s.Added = map[float64]float64{}
		}
		s.Added[le] += v
	}
}

// scrapeAll scrapes every replica's /metrics (a zero sample where one
// does not answer).
func scrapeAll(ctx context.Context, procs []*bridgeProc) []metricsSample {
	out := make([]metricsSample, len(procs))
	for k, bp := range procs {
		out[k], _ = scrape(ctx, bp.metrics)
	}
	return out
}

// readProcs samples every process.
func readProcs(pids []int) []procSample {
	out := make([]procSample, len(pids))
	for k, pid := range pids {
		out[k] = readProc(pid)
	}
	return out
}
