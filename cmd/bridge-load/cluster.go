package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster mode (--store redis, --replicas N): the tool runs N `bridge
// run` processes on one redis-server, each its own config with the same
// [store] and a distinct [cluster] replica_id. This file starts the
// redis-server (unless --redis-url), waits for the cluster to be ready
// and reads Redis's command counts; Telegram's webhook is fronted by
// telegramtest.Front (round robin).

// Environment variables of the cluster configs.
const (
	envRedisURL   = "BRIDGE_LOAD_REDIS_URL"
	envHookSecret = "BRIDGE_LOAD_WEBHOOK_SECRET"
	hookSecret    = "load-shared_webhook-secret"
	hookPath      = "/tg/hook"
	// defaultPartitions is [cluster] partitions' default (config.toml.example).
	defaultPartitions = 64
)

// partitions is the cluster's partition count.
func (o *Options) partitions() int {
	if o.Partitions > 0 {
		return o.Partitions
	}
	return defaultPartitions
}

// webhook reports whether Telegram runs in webhook mode behind the
// round-robin front: with more than one replica (one leased replica would
// poll otherwise, and the load would enter through it alone).
func (o *Options) webhook() bool { return o.Platform == "telegram" && o.Replicas > 1 }

// redisServer is the redis-server the tool started for a run.
type redisServer struct {
	url  string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts redis-server from PATH on a free loopback port, in
// dir, with AOF on (appendfsync everysec) and maxmemory-policy
// noeviction, and waits until it answers PING.
func startRedis(ctx context.Context, dir string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("--store redis: redis-server not found in PATH (Debian: apt-get install -y redis-server), or pass --redis-url")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &redisServer{url: fmt.Sprintf("redis://127.0.0.1:%d/0", port), dir: dir, done: make(chan struct{})}
	s.cmd = exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"), "--daemonize", "no", "--save", "",
		"--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction")
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := c.Ping(ctx).Err(); err == nil {
			return s, nil
		}
		select {
		case <-s.done:
			b, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			return nil, fmt.Errorf("redis-server exited at start: %s", lastLines(string(b), 5))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("redis-server did not answer PING within 15s")
		}
	}
}

func (s *redisServer) pid() int { return s.cmd.Process.Pid }

// stop ends the server (SIGTERM, then SIGKILL after 5 s).
func (s *redisServer) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// redisStats reads the server's INFO commandstats: calls by command.
type redisStats struct{ c *redis.Client }

func newRedisStats(url string) (*redisStats, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("--redis-url is not a redis:// or unix:// URL") // the URL may hold a password: not quoted
	}
	return &redisStats{c: redis.NewClient(opt)}, nil
}

func (r *redisStats) close() { r.c.Close() }

func (r *redisStats) calls(ctx context.Context) (map[string]int64, error) {
	out, err := r.c.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("INFO commandstats: %w", err)
	}
	calls := map[string]int64{}
	for _, line := range strings.Split(out, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
		calls[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return calls, nil
}

// forget deletes the run's keys (prefix:*) from a server the tool did not
// start, so runs on a shared server leave nothing behind.
func (r *redisStats) forget(ctx context.Context, prefix string) error {
	iter := r.c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		if keys = append(keys, iter.Val()); len(keys) == 500 {
			if err := r.c.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
			keys = keys[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) > 0 {
		return r.c.Unlink(ctx, keys...).Err()
	}
	return nil
}

// redisResult is the Redis commands between two INFO commandstats.
func redisResult(before, after map[string]int64) *RedisResult {
	res := &RedisResult{}
	for name, n := range after {
		if n -= before[name]; n > 0 {
			res.Top = append(res.Top, CommandCount{Name: name, Calls: n})
			res.Commands += n
		}
	}
	slices.SortFunc(res.Top, func(a, b CommandCount) int {
		if a.Calls != b.Calls {
			return int(b.Calls - a.Calls)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return res
}

// perAnswer divides the counts (and Redis's CPU) by the answers.
func (r *RedisResult) perAnswer(answers int) {
	if answers <= 0 {
		return
	}
	r.PerAnswer = float64(r.Commands) / float64(answers)
	r.CPUPer1000 = r.CPUSeconds / float64(answers) * 1000
	for i := range r.Top {
		r.Top[i].PerAnswer = float64(r.Top[i].Calls) / float64(answers)
	}
}

// clusterStatus is the cluster part of a replica's /readyz.
type clusterStatus struct {
	Replica    string   `json:"replica"`
	Replicas   []string `json:"replicas"`
	Partitions []struct {
		Partition int `json:"partition"`
	} `json:"partitions"`
}

var readyClient = &http.Client{Timeout: 2 * time.Second}

// readyz reports whether a replica's /readyz answers 200, with its
// cluster status.
func readyz(ctx context.Context, listen string) (bool, clusterStatus, error) {
	var st struct {
		Cluster clusterStatus `json:"cluster"`
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+listen+"/readyz", nil)
	if err != nil {
		return false, st.Cluster, err
	}
	resp, err := readyClient.Do(req)
	if err != nil {
		return false, st.Cluster, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return resp.StatusCode == http.StatusOK, st.Cluster, err
}

// spread reports whether the partitions are spread over the replicas as
// the cluster settles them: every one is held, each replica sees all the
// others, holds some and at most its share (the partitions over the
// replicas, rounded up).
func spread(sts []clusterStatus, partitions int) bool {
	share := (partitions + len(sts) - 1) / len(sts)
	total := 0
	for _, st := range sts {
		if h := len(st.Partitions); len(st.Replicas) != len(sts) || h == 0 || h > share {
			return false
		}
		total += len(st.Partitions)
	}
	return total == partitions
}
