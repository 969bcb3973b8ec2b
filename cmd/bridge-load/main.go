// Command bridge-load measures what the bridge adds to a platform's own
// limits. It runs the real bridge binary (`bridge run --config FILE`) as a
// subprocess against two loopback fakes it serves itself: a platform
// (--platform: a Telegram Bot API, a Slack Web API with Socket Mode, or a
// Discord REST API with its gateway) that enforces the platform's rate
// limits (429 with retry-after), and a ChatbotIQ streaming backend that
// answers at a fixed token rate. It drives
// N concurrent conversations and reports the bridge-added latency, the
// final-text delay, budget use, 429s, CPU, peak RSS, goroutines, store
// operations and whether every final text is exact. With --store redis
// and --replicas N it runs N replicas of a cluster on one redis-server
// (its own, or --redis-url) and adds Redis's commands per answer and each
// replica's share. See docs/performance.md.
//
// Everything is on 127.0.0.1; every loop is bounded by --timeout.
//
// Package main imports the standard library, the platforms' fakes
// (telegramtest, slacktest, discordtest) and go-redis (INFO commandstats,
// cleaning up after a run on --redis-url), never the bridge's own
// packages: it talks to the bridge over the wire, as the real platforms
// and backends do.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
)

// Options are the command-line flags.
type Options struct {
	Platform     string        // telegram, slack or discord
	SlackStream  bool          // slack: allow chat.startStream (no_streaming = false)
	N            int           // concurrent conversations (chats; groups with --group)
	Group        bool          // groups instead of private chats
	PerGroup     int           // Telegram groups: users asking at once in each group
	Rounds       int           // questions per conversation, one after another
	AnswerChars  int           // length of each answer
	ChunksPerSec float64       // backend token rate per answer
	Ramp         time.Duration // conversations start evenly over this time
	Drafts       bool          // drafts = true in the generated config
	DraftCost    bool          // the fake counts drafts on the bot-wide window
	EditInterval time.Duration // edit_interval in the config; 0 = adapter default
	Timeout      time.Duration // bound of the whole run
	Bridge       string        // bridge binary; "" = go build ./cmd/bridge
	JSON         bool
	Plot         string
	LogLevel     string
	Keep         bool   // keep the temp dir (config, store, bridge log)
	BotRate      int    // Telegram's bot-wide limit per second (30; paid broadcasts up to 1000)
	Pprof        string // write a 10 s CPU profile of the bridge, taken after the ramp, to this file
	Heap         string // write a heap profile of the bridge, taken at the most live goroutines, to this file
	// Cluster mode.
	Replicas   int           // bridge processes (replicas); > 1 needs Store "redis"
	Store      string        // bbolt or redis
	RedisURL   string        // redis: an existing server instead of one the tool starts
	LeaseTTL   time.Duration // [cluster] lease_ttl; 0 = the default
	Partitions int           // [cluster] partitions; 0 = the default
}

// fetchTo saves the body of a GET of url to path.
func fetchTo(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// perGroup is how many users ask at once in each conversation's chat.
func (o *Options) perGroup() int { return max(1, o.PerGroup) }

// askers is how many questions are asked at once: the load tool's
// conversations (one per user; several users share a group).
func (o *Options) askers() int { return o.N * o.perGroup() }

// botRate is the bot-wide limit the fake enforces.
func (o *Options) botRate() int {
	if o.BotRate <= 0 {
		return botMax
	}
	return o.BotRate
}

// The Telegram adapter's pacing (bridges/telegram defaultTiming): the
// per-reply interval the window-open test uses when edit_interval is unset.
const (
	adapterPrivateEdit = 1100 * time.Millisecond
	adapterGroupEdit   = 3100 * time.Millisecond
	adapterDraftEdit   = 400 * time.Millisecond
)

func (o *Options) editInterval() time.Duration {
	switch {
	case o.EditInterval > 0:
		return o.EditInterval
	case o.Platform == "slack" && o.SlackStream && o.Group:
		return slackAdapterStr
	case o.Platform == "slack":
		return slackAdapterEdt
	case o.Platform == "discord":
		return dcAdapterEdit
	case o.Group:
		return adapterGroupEdit
	default:
		return adapterPrivateEdit
	}
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o, os.Stderr)
	if res != nil {
		if o.JSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			enc.Encode(res)
		} else {
			res.writeTable(os.Stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bridge-load:", err)
		os.Exit(1)
	}
	if !res.Exact() {
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (*Options, error) {
	o := &Options{}
	fs := flag.NewFlagSet("bridge-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Platform, "platform", "telegram", "the platform to fake: telegram, slack or discord")
	fs.BoolVar(&o.SlackStream, "slack-streaming", false, "slack: no_streaming = false (threads stream with chat.startStream/appendStream)")
	fs.IntVar(&o.N, "n", 100, "concurrent conversations")
	fs.BoolVar(&o.Group, "group", false, "conversations in groups (Telegram: 20 msg/min each), Slack channels (app_mention, answered in a thread) or Discord guild channels (mention) instead of private chats/DMs")
	fs.IntVar(&o.PerGroup, "per-group", 1, "telegram --group: questions asked at once in each group, by as many users (one conversation per group: answered in order)")
	fs.IntVar(&o.Rounds, "rounds", 1, "questions per conversation, asked one after another")
	fs.IntVar(&o.AnswerChars, "answer-chars", 1600, "characters per answer (plain words, ~4.5-character tokens)")
	fs.Float64Var(&o.ChunksPerSec, "chunks-per-sec", 40, "backend tokens per second per answer")
	fs.DurationVar(&o.Ramp, "ramp", time.Second, "start the conversations evenly over this time")
	fs.BoolVar(&o.Drafts, "drafts", true, "drafts = true in the generated config (private chats stream with sendMessageDraft)")
	fs.BoolVar(&o.DraftCost, "draft-cost", false, "the fake counts sendMessageDraft on the bot-wide 30/s window")
	fs.StringVar(&o.Pprof, "pprof", "", "write a 10 s CPU profile of the bridge under load to this file (then: go tool pprof -top FILE)")
	fs.StringVar(&o.Heap, "heap", "", "write a heap profile of the bridge, taken when the most goroutines were live (all answers streaming), to this file (then: go tool pprof -sample_index=inuse_space -top FILE), and the goroutines then to FILE.goroutines.txt")
	fs.IntVar(&o.BotRate, "bot-rate", 30, "Telegram's bot-wide limit, messages/s: the fake enforces it and the config's bot_rate is set to it when not 30 (paid broadcasts allow up to 1000)")
	fs.DurationVar(&o.EditInterval, "edit-interval", 0, "edit_interval in the generated config (0 = the adapter's default)")
	fs.DurationVar(&o.Timeout, "timeout", 15*time.Minute, "give up after this long (the whole run, including the build)")
	fs.StringVar(&o.Bridge, "bridge", "", "bridge binary to run (default: go build ./cmd/bridge into a temp dir)")
	fs.BoolVar(&o.JSON, "json", false, "print the result as JSON")
	fs.StringVar(&o.Plot, "plot", "", "write an SVG timeline of conversation 0 to this file")
	fs.StringVar(&o.LogLevel, "log-level", "warn", "the bridge's [log] level")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temp dir with the config, store and bridge log")
	fs.IntVar(&o.Replicas, "replicas", 1, "bridge processes (cluster replicas on one Redis; more than 1 needs --store redis)")
	fs.StringVar(&o.Store, "store", "bbolt", "the bridge's [store] kind: bbolt or redis (the tool starts a redis-server from PATH unless --redis-url)")
	fs.StringVar(&o.RedisURL, "redis-url", "", "--store redis: use this server (redis://… or unix://…) instead of starting one; the run's keys are deleted after it")
	fs.DurationVar(&o.LeaseTTL, "lease-ttl", 0, "--store redis: [cluster] lease_ttl (0 = the default, 15s)")
	fs.IntVar(&o.Partitions, "partitions", 0, "--store redis: [cluster] partitions (0 = the default, 64)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case o.Platform != "telegram" && o.Platform != "slack" && o.Platform != "discord":
		return nil, usage(fs, "-platform must be telegram, slack or discord")
	case o.N < 1 || o.N > 100_000:
		return nil, usage(fs, "-n must be 1..100000")
	case o.Rounds < 1 || o.Rounds > 1000:
		return nil, usage(fs, "-rounds must be 1..1000")
	case o.AnswerChars < 1 || o.AnswerChars > 100_000:
		return nil, usage(fs, "-answer-chars must be 1..100000")
	case o.ChunksPerSec <= 0 || o.ChunksPerSec > 10_000:
		return nil, usage(fs, "-chunks-per-sec must be in (0, 10000]")
	case o.BotRate < 1 || o.BotRate > 1000:
		return nil, usage(fs, "-bot-rate must be 1..1000")
	case o.PerGroup < 1 || o.PerGroup > 100:
		return nil, usage(fs, "-per-group must be 1..100")
	case o.PerGroup > 1 && (!o.Group || o.Platform != "telegram"):
		return nil, usage(fs, "-per-group needs -group on telegram")
	case o.Timeout <= 0 || o.Ramp < 0:
		return nil, usage(fs, "-timeout must be positive and -ramp not negative")
	case o.Store != "bbolt" && o.Store != "redis":
		return nil, usage(fs, "-store must be bbolt or redis")
	case o.Replicas < 1 || o.Replicas > 16:
		return nil, usage(fs, "-replicas must be 1..16")
	case o.Replicas > 1 && o.Store != "redis":
		return nil, usage(fs, "-replicas above 1 needs -store redis (replicas share their conversations, queue and budgets in Redis; bbolt is one process's file)")
	case o.Store != "redis" && (o.RedisURL != "" || o.LeaseTTL != 0 || o.Partitions != 0):
		return nil, usage(fs, "-redis-url, -lease-ttl and -partitions need -store redis")
	case o.LeaseTTL != 0 && (o.LeaseTTL < time.Second || o.LeaseTTL > 5*time.Minute):
		return nil, usage(fs, "-lease-ttl must be 1s..5m")
	case o.Partitions < 0 || o.Partitions > 100:
		return nil, usage(fs, "-partitions must be 1..100")
	}
	if o.Group || o.Platform != "telegram" {
		o.Drafts = false // drafts exist in Telegram's private chats only
	}
	return o, nil
}

func usage(fs *flag.FlagSet, msg string) error {
	fmt.Fprintln(fs.Output(), "bridge-load:", msg)
	return errors.New(msg)
}

// replicas is the number of bridge processes.
func (o *Options) replicas() int { return max(1, o.Replicas) }

// redis reports whether the bridges run on Redis (cluster mode).
func (o *Options) redis() bool { return o.Store == "redis" }

// shards is Discord's gateway shard count: one per replica, so that the
// replicas share the gateway (each leases shards; the fake sends a
// guild's events to its shard and DMs to shard 0).
func (o *Options) shards() int {
	if o.Platform == "discord" && o.replicas() > 1 {
		return o.replicas()
	}
	return 1
}

// run does one load run and returns its result.
func run(ctx context.Context, o *Options, logw io.Writer) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "bridge-load-")
	if err != nil {
		return nil, err
	}
	if o.Keep {
		fmt.Fprintln(logw, "bridge-load: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := o.Bridge
	if bin == "" {
		fmt.Fprintln(logw, "bridge-load: building ./cmd/bridge")
		if bin, err = buildBridge(ctx, dir); err != nil {
			return nil, err
		}
	}

	var activity atomic.Int64
	activity.Store(time.Now().UnixNano())
	var (
		p   fakePlatform
		env []string
	)
	mux := http.NewServeMux()
	switch o.Platform {
	case "slack":
		sf := newSlackFake(o.N, o.Group, o.SlackStream, &activity)
		defer sf.close()
		p, env = sf, []string{envSlackBot + "=" + slackBotToken, envSlackApp + "=" + slackAppToken}
		mux.Handle("/slack/", sf)
	case "discord":
		df := newDiscordFake(o.N, o.Group, o.shards(), &activity)
		defer df.close()
		p, env = df, []string{envDiscord + "=" + dcToken}
		mux.Handle("/dc/", df)
	default:
		const token = "123456:load-test-TOKEN_x"
		tg := newTGFake(token, o.N, o.perGroup(), o.Group, o.Drafts, o.DraftCost, o.editInterval(), adapterDraftEdit)
		tg.botMax = o.botRate()
		tg.activity = &activity
		tg.webhook = o.webhook()
		p, env = tg, []string{envToken + "=" + token}
		mux.Handle("/tg/", tg)
	}
	ciq := &ciqFake{p: p, every: time.Duration(float64(time.Second) / o.ChunksPerSec), activity: &activity}
	mux.Handle("/ciq/", ciq)
	fakeURL, closeFake, err := serve(mux)
	if err != nil {
		return nil, err
	}
	defer closeFake()

	// The store: bbolt in dir, or Redis — a redis-server started here
	// unless --redis-url names one.
	var (
		prefix string
		rsrv   *redisServer
		rstats *redisStats
	)
	if o.redis() {
		redisURL := o.RedisURL
		prefix = fmt.Sprintf("bridge-load-%d", time.Now().UnixNano())
		if redisURL == "" {
			if rsrv, err = startRedis(ctx, filepath.Join(dir, "redis")); err != nil {
				return nil, err
			}
			defer rsrv.stop()
			redisURL, prefix = rsrv.url, "load"
		}
		if rstats, err = newRedisStats(redisURL); err != nil {
			return nil, err
		}
		defer rstats.close()
		if rsrv == nil {
			// After the replicas stopped (deferred later, so run earlier).
			defer func() {
				if err := rstats.forget(context.Background(), prefix); err != nil {
					fmt.Fprintf(logw, "bridge-load: deleting the run's keys (%s:*): %v\n", prefix, err)
				}
			}()
		}
		env = append(env, envRedisURL+"="+redisURL)
	}

	// The replicas, and Telegram's webhook front when there are several.
	n := o.replicas()
	confs := make([]replicaConf, n)
	for k := range confs {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		confs[k] = replicaConf{listen: fmt.Sprintf("127.0.0.1:%d", port), prefix: prefix}
		if o.redis() {
			confs[k].id = fmt.Sprintf("r%d", k)
		}
	}
	var front *telegramtest.Front
	if o.webhook() {
		targets := make([]string, n)
		for k, c := range confs {
			targets[k] = c.listen
		}
		front = telegramtest.NewFront(targets, 5*time.Second)
		frontURL, closeFront, err := serve(front)
		if err != nil {
			return nil, err
		}
		defer closeFront()
		for k := range confs {
			confs[k].hookURL = frontURL + hookPath
		}
		env = append(env, envHookSecret+"="+hookSecret)
	}
	procs := make([]*bridgeProc, 0, n)
	stopAll := func(grace time.Duration) {
		var wg sync.WaitGroup
		for _, bp := range procs {
			wg.Go(func() {
				if err := bp.stop(grace); err != nil && grace > 10*time.Second {
					fmt.Fprintf(logw, "bridge-load: bridge %s stop: %v\n", bp.id, err)
				}
			})
		}
		wg.Wait()
	}
	defer func() { stopAll(10 * time.Second) }() // no-op once stopped
	for _, rc := range confs {
		name := "bridge"
		if n > 1 {
			name = "bridge-" + rc.id
		}
		cfgPath := filepath.Join(dir, name+".toml")
		if err := os.WriteFile(cfgPath, []byte(configText(o, dir, fakeURL, rc)), 0o600); err != nil {
			return nil, err
		}
		bp, err := startBridge(bin, cfgPath, filepath.Join(dir, name+".log"), rc, env)
		if err != nil {
			return nil, err
		}
		procs = append(procs, bp)
	}
	exited := make(chan struct{}) // closed when any replica exits
	var exitOnce sync.Once
	for _, bp := range procs {
		go func() {
			<-bp.exited
			exitOnce.Do(func() { close(exited) })
		}()
	}
	if err := waitReady(ctx, o, p, procs); err != nil {
		return nil, fmt.Errorf("%w%s", err, logTails(procs, 20))
	}
	pids := make([]int, len(procs))
	for k, bp := range procs {
		pids[k] = bp.cmd.Process.Pid
	}
	base := readProcs(pids)
	m0 := scrapeAll(ctx, procs)
	var redisBase procSample
	var calls0 map[string]int64
	if rstats != nil {
		if calls0, err = rstats.calls(ctx); err != nil {
			return nil, err
		}
		if rsrv != nil {
			redisBase = readProc(rsrv.pid())
		}
	}
	pprofAt := fmt.Sprintf("http://%s/debug/pprof/", procs[0].listen) // replica 0's
	if o.Pprof != "" {
		go func() {
			// After the ramp, while the answers stream.
			select {
			case <-time.After(o.Ramp + time.Second):
			case <-ctx.Done():
				return
			}
			if err := fetchTo(ctx, pprofAt+"profile?seconds=10", o.Pprof); err != nil {
				fmt.Fprintf(logw, "bridge-load: profile: %v\n", err)
			}
		}()
	}

	// Scrape goroutines while the load runs (summed over the replicas).
	var (
		smu     sync.Mutex
		maxGor  float64
		atPeak  metricsSample // the scrape with the most goroutines
		repGor  = make([]float64, len(procs))
		scrapeW sync.WaitGroup
	)
	sctx, scancel := context.WithCancel(ctx)
	scrapeW.Add(1)
	go func() {
		defer scrapeW.Done()
		tk := time.NewTicker(500 * time.Millisecond)
		defer tk.Stop()
		for {
			var sum metricsSample
			ok := true
			for k, bp := range procs {
				m, err := scrape(sctx, bp.metrics)
				if err != nil {
					ok = false
					break
				}
				sum.add(m)
				smu.Lock()
				repGor[k] = max(repGor[k], m.Goroutines)
				smu.Unlock()
			}
			if ok {
				smu.Lock()
				peak := sum.Goroutines > maxGor
				maxGor = max(maxGor, sum.Goroutines)
				if peak {
					atPeak = sum
				}
				smu.Unlock()
				if peak && o.Heap != "" {
					// The live heap with the most conversations live so
					// far; a later peak overwrites it.
					if err := fetchTo(sctx, pprofAt+"heap", o.Heap); err != nil && sctx.Err() == nil {
						fmt.Fprintf(logw, "bridge-load: heap profile: %v\n", err)
					}
					// And what the goroutines are, counted by stack.
					if err := fetchTo(sctx, pprofAt+"goroutine?debug=1", o.Heap+".goroutines.txt"); err != nil && sctx.Err() == nil {
						fmt.Fprintf(logw, "bridge-load: goroutine profile: %v\n", err)
					}
				}
			}
			select {
			case <-sctx.Done():
				return
			case <-tk.C:
			}
		}
	}()

	// The run stops when nothing happened for stallAfter with answers
	// missing: a wrong final text never completes on Slack and Discord.
	lctx, lcancel := context.WithCancelCause(ctx)
	defer lcancel(nil)
	go func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case now := <-tk.C:
				if now.Sub(time.Unix(0, activity.Load())) > stallAfter {
					lcancel(errStalled)
					return
				}
			}
		}
	}()

	start := time.Now()
	askers := o.askers()
	reps := make([][]*replyRec, askers)
	var wg sync.WaitGroup
	for i := range askers {
		c := p.conv(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if o.Ramp > 0 {
				t := time.NewTimer(time.Duration(int64(o.Ramp) * int64(i) / int64(askers)))
				select {
				case <-t.C:
				case <-lctx.Done():
					t.Stop()
					return
				}
			}
			for r := range o.Rounds {
				rep := newReply(i, r, o.AnswerChars)
				rep.byText = o.Platform != "telegram"
				rep.asked = time.Now()
				c.mu.Lock()
				reps[i] = append(reps[i], rep)
				c.mu.Unlock()
				activity.Store(time.Now().UnixNano())
				p.ask(i, rep)
				select {
				case <-rep.done:
				case <-lctx.Done():
					return
				case <-exited:
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	end := readProcs(pids)
	m1 := scrapeAll(context.Background(), procs)
	var rres *RedisResult
	if rstats != nil {
		calls1, err := rstats.calls(context.Background())
		if err != nil {
			fmt.Fprintf(logw, "bridge-load: %v\n", err)
		}
		rres = redisResult(calls0, calls1)
		if rsrv != nil {
			if e := readProc(rsrv.pid()); redisBase.Ok && e.Ok {
				rres.CPUSeconds = (e.CPU - redisBase.CPU).Seconds()
				rres.PeakRSSMB = float64(e.HWM) / (1 << 20)
			}
		}
	}
	scancel()
	scrapeW.Wait()
	// A replica counts an answer once its final text landed and the turn
	// is stored: the last ones may trail the fake's view by a moment.
	answered := make([]float64, len(procs))
	for deadline := time.Now().Add(3 * time.Second); ; {
		total := 0.0
		for k, m := range scrapeAll(context.Background(), procs) {
			answered[k] = m.Answered - m0[k].Answered
			total += answered[k]
		}
		if !o.redis() || int(total) >= o.askers()*o.Rounds || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	var runErr error
	select {
	case <-exited:
		for _, bp := range procs {
			select {
			case <-bp.exited:
				runErr = fmt.Errorf("bridge %s exited during the run: %v%s", bp.id, bp.err, logTails([]*bridgeProc{bp}, 20))
			default:
			}
		}
	default:
	}
	if ctx.Err() != nil && runErr == nil {
		runErr = fmt.Errorf("timed out after %s (--timeout) with answers missing", o.Timeout)
	} else if errors.Is(context.Cause(lctx), errStalled) && runErr == nil {
		runErr = fmt.Errorf("no platform request and no backend chunk for %s with answers missing (a wrong final text?)", stallAfter)
	}
	stopAll(30 * time.Second)

	// Freeze the records: take every chat's lock once.
	var all []*replyRec
	for i := range askers {
		c := p.conv(i)
		c.mu.Lock()
		all = append(all, reps[i]...)
		c.mu.Unlock()
	}
	res := analyse(o, all, p, start, elapsed)
	var sum0, sum1 metricsSample
	for k := range procs {
		sum0.add(m0[k])
		sum1.add(m1[k])
	}
	smu.Lock()
	maxGor = max(maxGor, sum1.Goroutines)
	res.Process = processResult(base, end, sum0, sum1, maxGor, elapsed, res.Answers.Complete)
	res.Process.PeakStackMB, res.Process.PeakHeapMB = atPeak.StackInuse/(1<<20), atPeak.HeapInuse/(1<<20)
	if o.redis() {
		var hooks []int
		if front != nil {
			hooks = front.Served()
		}
		for k, bp := range procs {
			r := ReplicaResult{ID: bp.id, Answered: answered[k], MaxGoroutines: max(repGor[k], m1[k].Goroutines)}
			if base[k].Ok && end[k].Ok {
				r.CPUSeconds = (end[k].CPU - base[k].CPU).Seconds()
				r.PeakRSSMB = float64(end[k].HWM) / (1 << 20)
			}
			if hooks != nil {
				r.Webhooks = hooks[k]
			}
			res.Replicas = append(res.Replicas, r)
		}
	}
	smu.Unlock()
	if rres != nil {
		rres.perAnswer(res.Answers.Complete)
		res.Redis = rres
	}
	res.InBridge = bucketDist(sum0.Added, sum1.Added)
	res.checkTargets()
	if o.Plot != "" && len(reps) > 0 && len(reps[0]) > 0 {
		if err := writePlot(o.Plot, reps[0][0], o); err != nil && runErr == nil {
			runErr = fmt.Errorf("plot: %w", err)
		}
	}
	return res, runErr
}

// serve serves h on a free loopback port; it returns the base URL and
// the server's close.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// stallAfter is how long a run may see no platform request and no
// backend chunk before it stops with answers missing.
const stallAfter = 90 * time.Second

var errStalled = errors.New("stalled")

// readyWithin bounds the wait for the replicas to be ready.
const readyWithin = 90 * time.Second

// waitReady waits until the replicas are connected to the fake platform
// and serve /metrics, and, in cluster mode, until every one is ready
// (/readyz) and the partitions are spread over them (before that one
// replica would answer, and budget, everything).
func waitReady(ctx context.Context, o *Options, p fakePlatform, procs []*bridgeProc) error {
	ctx, cancel := context.WithTimeout(ctx, readyWithin)
	defer cancel()
	waiting := "the bridge to connect to the fake platform"
	for {
		if ok, why := isReady(ctx, o, p, procs); ok {
			return nil
		} else {
			waiting = why
		}
		for _, bp := range procs {
			select {
			case <-bp.exited:
				return fmt.Errorf("bridge %s exited at start: %v", bp.id, bp.err)
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still waiting for %s after %s", waiting, readyWithin)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// isReady reports whether the run may start, or what it waits for.
func isReady(ctx context.Context, o *Options, p fakePlatform, procs []*bridgeProc) (bool, string) {
	if !p.ready(len(procs)) {
		return false, "the bridge to connect to the fake platform"
	}
	sts := make([]clusterStatus, len(procs))
	for k, bp := range procs {
		if _, err := scrape(ctx, bp.metrics); err != nil {
			return false, "the bridge's /metrics to answer"
		}
		if !o.redis() {
			continue
		}
		ok, st, err := readyz(ctx, bp.listen)
		if err != nil || !ok {
			return false, "replica " + bp.id + " to be ready (/readyz)"
		}
		sts[k] = st
	}
	if o.redis() && !spread(sts, o.partitions()) {
		var held []string
		for k, st := range sts {
			held = append(held, fmt.Sprintf("%s: %d", procs[k].id, len(st.Partitions)))
		}
		return false, fmt.Sprintf("the %d partitions to be spread over the replicas (held %s)", o.partitions(), strings.Join(held, ", "))
	}
	return true, ""
}

// logTails is the end of each replica's log, for an error.
func logTails(procs []*bridgeProc, n int) string {
	var b strings.Builder
	for _, bp := range procs {
		name := "bridge"
		if bp.id != "" {
			name += " " + bp.id
		}
		fmt.Fprintf(&b, "\n%s log:\n%s", name, bp.logTail(n))
	}
	return b.String()
}

// Exact reports whether every answer completed with its exact text and no
// 429 was answered.
func (r *Result) Exact() bool {
	return r.Answers.Complete == r.Answers.Asked && r.Answers.Exact == r.Answers.Asked && r.Platform.TooMany == 0
}
