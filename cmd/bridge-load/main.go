// Command bridge-load measures what the bridge adds to a platform's own
// limits. It runs the real bridge binary (`bridge run --config FILE`) as a
// subprocess against two loopback fakes it serves itself: a platform
// (--platform: a Telegram Bot API, a Slack Web API with Socket Mode, or a
// Discord REST API with its gateway) that enforces the platform's rate
// limits (429 with retry-after), and a ChatbotIQ streaming backend that
// answers at a fixed token rate. It drives
// N concurrent conversations and reports the bridge-added latency, the
// final-text delay, budget use, 429s, CPU, peak RSS, goroutines, store
// operations and whether every final text is exact. See docs/performance.md.
//
// Everything is on 127.0.0.1; every loop is bounded by --timeout.
//
// Package main imports only the standard library and gorilla/websocket
// (Slack's Socket Mode, Discord's gateway): it talks to the bridge over
// the wire, as the real platforms and backends do.
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
	"sync"
	"sync/atomic"
	"syscall"
	"time"
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
		df := newDiscordFake(o.N, o.Group, &activity)
		defer df.close()
		p, env = df, []string{envDiscord + "=" + dcToken}
		mux.Handle("/dc/", df)
	default:
		const token = "123456:load-test-TOKEN_x"
		tg := newTGFake(token, o.N, o.perGroup(), o.Group, o.Drafts, o.DraftCost, o.editInterval(), adapterDraftEdit)
		tg.botMax = o.botRate()
		tg.activity = &activity
		p, env = tg, []string{envToken + "=" + token}
		mux.Handle("/tg/", tg)
	}
	ciq := &ciqFake{p: p, every: time.Duration(float64(time.Second) / o.ChunksPerSec), activity: &activity}
	mux.Handle("/ciq/", ciq)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	fakeURL := "http://" + ln.Addr().String()

	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "bridge.toml")
	if err := os.WriteFile(cfgPath, []byte(configText(o, dir, fakeURL, port)), 0o600); err != nil {
		return nil, err
	}
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	bp, err := startBridge(bin, cfgPath, filepath.Join(dir, "bridge.log"), metricsURL, env)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			bp.stop(10 * time.Second)
		}
	}()
	if err := waitReady(ctx, p, bp); err != nil {
		return nil, fmt.Errorf("%w\nbridge log:\n%s", err, bp.logTail(20))
	}
	pid := bp.cmd.Process.Pid
	base := readProc(pid)
	m0, _ := scrape(ctx, metricsURL)
	if o.Pprof != "" {
		go func() {
			// After the ramp, while the answers stream.
			select {
			case <-time.After(o.Ramp + time.Second):
			case <-ctx.Done():
				return
			}
			url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=10", port)
			if err := fetchTo(ctx, url, o.Pprof); err != nil {
				fmt.Fprintf(logw, "bridge-load: profile: %v\n", err)
			}
		}()
	}

	// Scrape goroutines while the load runs.
	var (
		smu     sync.Mutex
		maxGor  float64
		atPeak  metricsSample // the scrape with the most goroutines
		scrapeW sync.WaitGroup
	)
	sctx, scancel := context.WithCancel(ctx)
	scrapeW.Add(1)
	go func() {
		defer scrapeW.Done()
		tk := time.NewTicker(500 * time.Millisecond)
		defer tk.Stop()
		for {
			if m, err := scrape(sctx, metricsURL); err == nil {
				smu.Lock()
				peak := m.Goroutines > maxGor
				maxGor = max(maxGor, m.Goroutines)
				if peak {
					atPeak = m
				}
				smu.Unlock()
				if peak && o.Heap != "" {
					// The live heap with the most conversations live so
					// far; a later peak overwrites it.
					url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap", port)
					if err := fetchTo(sctx, url, o.Heap); err != nil && sctx.Err() == nil {
						fmt.Fprintf(logw, "bridge-load: heap profile: %v\n", err)
					}
					// And what the goroutines are, counted by stack.
					url = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/goroutine?debug=1", port)
					if err := fetchTo(sctx, url, o.Heap+".goroutines.txt"); err != nil && sctx.Err() == nil {
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
				case <-bp.exited:
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	end := readProc(pid)
	m1, _ := scrape(context.Background(), metricsURL)
	scancel()
	scrapeW.Wait()
	smu.Lock()
	maxGor = max(maxGor, m1.Goroutines)
	smu.Unlock()

	var runErr error
	select {
	case <-bp.exited:
		runErr = fmt.Errorf("the bridge exited during the run: %v\nbridge log:\n%s", bp.err, bp.logTail(20))
	default:
	}
	if ctx.Err() != nil && runErr == nil {
		runErr = fmt.Errorf("timed out after %s (--timeout) with answers missing", o.Timeout)
	} else if errors.Is(context.Cause(lctx), errStalled) && runErr == nil {
		runErr = fmt.Errorf("no platform request and no backend chunk for %s with answers missing (a wrong final text?)", stallAfter)
	}
	stopped = true
	if err := bp.stop(30 * time.Second); err != nil {
		fmt.Fprintln(logw, "bridge-load: bridge stop:", err)
	}

	// Freeze the records: take every chat's lock once.
	var all []*replyRec
	for i := range askers {
		c := p.conv(i)
		c.mu.Lock()
		all = append(all, reps[i]...)
		c.mu.Unlock()
	}
	res := analyse(o, all, p, start, elapsed)
	res.Process = processResult(base, end, m0, m1, maxGor, elapsed, res.Answers.Complete)
	res.Process.PeakStackMB, res.Process.PeakHeapMB = atPeak.StackInuse/(1<<20), atPeak.HeapInuse/(1<<20)
	res.InBridge = bucketDist(m0.Added, m1.Added)
	res.checkTargets()
	if o.Plot != "" && len(reps) > 0 && len(reps[0]) > 0 {
		if err := writePlot(o.Plot, reps[0][0], o); err != nil && runErr == nil {
			runErr = fmt.Errorf("plot: %w", err)
		}
	}
	return res, runErr
}

// stallAfter is how long a run may see no platform request and no
// backend chunk before it stops with answers missing.
const stallAfter = 90 * time.Second

var errStalled = errors.New("stalled")

// waitReady waits until the bridge is connected to the fake platform and
// serves /metrics.
func waitReady(ctx context.Context, p fakePlatform, bp *bridgeProc) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	select {
	case <-p.ready():
	case <-bp.exited:
		return fmt.Errorf("the bridge exited at start: %v", bp.err)
	case <-ctx.Done():
		return errors.New("the bridge did not connect to the fake platform within 60s")
	}
	for {
		if _, err := scrape(ctx, bp.metrics); err == nil {
			return nil
		}
		select {
		case <-bp.exited:
			return fmt.Errorf("the bridge exited at start: %v", bp.err)
		case <-ctx.Done():
			return errors.New("the bridge's /metrics did not answer within 60s")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Exact reports whether every answer completed with its exact text and no
// 429 was answered.
func (r *Result) Exact() bool {
	return r.Answers.Complete == r.Answers.Asked && r.Answers.Exact == r.Answers.Asked && r.Platform.TooMany == 0
}
