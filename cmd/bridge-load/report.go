package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is one run's figures; --json prints it.
type Result struct {
	Config  RunConfig    `json:"config"`
	Answers AnswerResult `json:"answers"`
	// InBridge is the bridge's own measure of the delay it adds (its
	// chatbridge_reply_added_latency_seconds histogram): from a chunk
	// reaching the bridge while the reply's edit window is open to the
	// request carrying it leaving. Quantiles are histogram bucket bounds.
	InBridge BucketDist `json:"bridge_added_latency_in_bridge"`
	Latency  Dist       `json:"bridge_added_latency"`
	// FirstText is from the question going to the bridge to the platform
	// accepting the reply's first request with text (a draft or the first
	// message), for every reply that showed any.
	FirstText Dist        `json:"first_text"`
	Final     FinalResult `json:"final_delay"`
	// LastFinal is from the start of the run to the last final text
	// landing: in groups answered in order, when the last asker has its
	// answer.
	LastFinal float64        `json:"last_final_ms"`
	Budget    BudgetResult   `json:"budget"`
	Platform  PlatformResult `json:"platform"`
	Process   ProcessResult  `json:"process"`
	// Cluster mode (--store redis): each replica's share, and Redis's
	// commands over the load.
	Replicas []ReplicaResult `json:"replicas,omitempty"`
	Redis    *RedisResult    `json:"redis,omitempty"`
	Targets  []Target        `json:"targets"`
}

// ReplicaResult is one replica's part of a cluster run.
type ReplicaResult struct {
	ID string `json:"id"`
	// Answered is the delta of its chatbridge_messages_total{outcome=
	// "answered"}: the answers its partitions' conversations got.
	Answered      float64 `json:"answered"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	PeakRSSMB     float64 `json:"peak_rss_mb"`
	MaxGoroutines float64 `json:"max_goroutines"`
	// Webhooks is how many Telegram webhook deliveries the front gave it.
	Webhooks int `json:"webhooks,omitempty"`
}

// RedisResult is the Redis commands from the start of the load to its
// last answer (INFO commandstats, every client: the replicas and the
// tool's two INFO calls), per complete answer.
type RedisResult struct {
	Commands  int64          `json:"commands"`
	PerAnswer float64        `json:"commands_per_answer"`
	Top       []CommandCount `json:"by_command"`
	// The redis-server the tool started (0 with --redis-url): CPU over
	// the load and peak RSS.
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	CPUPer1000 float64 `json:"cpu_seconds_per_1000_answers,omitempty"`
	PeakRSSMB  float64 `json:"peak_rss_mb,omitempty"`
}

// CommandCount is one Redis command's calls.
type CommandCount struct {
	Name      string  `json:"name"`
	Calls     int64   `json:"calls"`
	PerAnswer float64 `json:"per_answer"`
}

// RunConfig echoes the run's parameters.
type RunConfig struct {
	Platform      string  `json:"platform"`
	SlackStream   bool    `json:"slack_streaming,omitempty"`
	Conversations int     `json:"conversations"`
	Group         bool    `json:"group"`
	PerGroup      int     `json:"per_group,omitempty"`
	Rounds        int     `json:"rounds"`
	AnswerChars   int     `json:"answer_chars"`
	ChunksPerSec  float64 `json:"chunks_per_sec"`
	Drafts        bool    `json:"drafts"`
	DraftCost     bool    `json:"draft_cost"`
	EditInterval  string  `json:"edit_interval"`
	Elapsed       string  `json:"elapsed"`
	Store         string  `json:"store"`
	Replicas      int     `json:"replicas"`
	Partitions    int     `json:"partitions,omitempty"`
	Receive       string  `json:"receive,omitempty"` // Telegram: polling or webhook (behind the round-robin front)
}

// AnswerResult counts answers.
type AnswerResult struct {
	Asked    int `json:"asked"`
	Complete int `json:"complete"`
	Exact    int `json:"exact"`
	// Wrong holds up to 3 conversations whose final text differs.
	Wrong []string `json:"wrong,omitempty"`
}

// Dist is a distribution of durations, in milliseconds.
type Dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// FinalResult is the final delay and its bound.
type FinalResult struct {
	Dist
	EditInterval float64 `json:"edit_interval_ms"`
	// OverInterval is p99 minus the edit interval.
	OverInterval float64 `json:"p99_over_edit_interval_ms"`
}

// BudgetResult is the use of the platform's budget during the answers.
type BudgetResult struct {
	// Per reply: requests during the answer / the most the rules allow.
	Min      float64 `json:"min"`
	P10      float64 `json:"p10"`
	Median   float64 `json:"median"`
	AtLeast  float64 `json:"share_at_least_90pct"`
	Requests float64 `json:"requests_per_reply"`
	// Shared budget (Telegram: bot-wide 30/s; Slack: the workspace's
	// chat.update 50/min; Discord: global 50/s): the requests it counts
	// per second from the first chunk of the run to the last byte of the
	// last answer, and that against its limit.
	Shared    string  `json:"shared_budget"`
	SharedMax float64 `json:"shared_limit_per_sec"`
	BotRate   float64 `json:"bot_requests_per_sec"`
	BotUse    float64 `json:"bot_use"`
	// AllRate and AllUse count every request the replies made, drafts
	// included where the shared budget does not count them (Telegram's
	// sendMessageDraft): what the bridge asked of the platform.
	AllRate    float64 `json:"all_requests_per_sec"`
	AllUse     float64 `json:"all_use"`
	PerReplyPS float64 `json:"per_reply_limit_per_sec"`
}

// PlatformResult counts what the fake platform answered.
type PlatformResult struct {
	TooMany     int64            `json:"429s"`
	NotModified int64            `json:"not_modified"`
	BadRequests int64            `json:"bad_requests"`
	Methods     map[string]int64 `json:"methods"`
	// Discord: the 429s of the global limit (the rest are per channel).
	TooManyGlobal int64 `json:"429s_global,omitempty"`
	// Slack: Socket Mode envelopes sent and acknowledged.
	Envelopes int `json:"envelopes,omitempty"`
	Acked     int `json:"acked,omitempty"`
}

// ProcessResult is the bridge processes' resource use: CPU and
// goroutines summed over the replicas, peak RSS the largest replica's.
type ProcessResult struct {
	CPUSeconds    float64 `json:"cpu_seconds"`
	CPUPer1000    float64 `json:"cpu_seconds_per_1000_answers"`
	PeakRSSMB     float64 `json:"peak_rss_mb"`
	MaxGoroutines float64 `json:"max_goroutines"`
	// At the scrape with the most goroutines: the Go runtime's goroutine
	// stacks and heap in use, MB.
	PeakStackMB    float64 `json:"stack_inuse_mb_at_max_goroutines"`
	PeakHeapMB     float64 `json:"heap_inuse_mb_at_max_goroutines"`
	StoreOpsPerSec float64 `json:"store_ops_per_sec"`
	BridgeLimited  float64 `json:"bridge_rate_limited"`
}

// Target is one target of docs/performance.md, checked.
type Target struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func dist(ds []time.Duration) Dist {
	if len(ds) == 0 {
		return Dist{}
	}
	slices.Sort(ds)
	return Dist{N: len(ds), P50: ms(pct(ds, 50)), P95: ms(pct(ds, 95)), P99: ms(pct(ds, 99)), Max: ms(ds[len(ds)-1])}
}

// pct is the nearest-rank percentile of sorted values.
func pct[T any](sorted []T, p float64) T {
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func analyse(o *Options, reps []*replyRec, p fakePlatform, start time.Time, elapsed time.Duration) *Result {
	res := &Result{Config: RunConfig{
		Platform: o.Platform, SlackStream: o.SlackStream, Conversations: o.N, Group: o.Group, Rounds: o.Rounds, AnswerChars: o.AnswerChars,
		ChunksPerSec: o.ChunksPerSec, Drafts: o.Drafts, DraftCost: o.DraftCost,
		EditInterval: o.editInterval().String(), Elapsed: elapsed.Round(time.Millisecond).String(),
		Store: cmp.Or(o.Store, "bbolt"), Replicas: o.replicas(),
	}}
	if o.redis() {
		res.Config.Partitions = o.partitions()
	}
	if o.Platform == "telegram" {
		res.Config.Receive = "polling"
		if o.webhook() {
			res.Config.Receive = "webhook"
		}
	}
	if o.perGroup() > 1 {
		res.Config.PerGroup = o.perGroup()
	}
	res.Answers.Asked = o.askers() * o.Rounds
	var lat, fin, first []time.Duration
	for _, r := range reps {
		lat = append(lat, r.latency...)
		if len(r.reqs) > 0 && !r.asked.IsZero() {
			first = append(first, r.reqs[0].At.Sub(r.asked))
		}
		if !r.complete {
			if len(res.Answers.Wrong) < 3 {
				res.Answers.Wrong = append(res.Answers.Wrong, fmt.Sprintf("conversation %d.%d incomplete (backend done: %t): showing %q, want %q", r.conv, r.round, r.finished, clip(r.final), clip(r.answer)))
			}
			continue
		}
		res.Answers.Complete++
		if r.correct {
			res.Answers.Exact++
		} else if len(res.Answers.Wrong) < 3 {
			res.Answers.Wrong = append(res.Answers.Wrong, fmt.Sprintf("conversation %d.%d: got %q, want %q", r.conv, r.round, clip(r.final), clip(r.answer)))
		}
		fin = append(fin, r.finalAt.Sub(r.lastByte))
		res.LastFinal = max(res.LastFinal, ms(r.finalAt.Sub(start)))
	}
	res.Latency = dist(lat)
	res.FirstText = dist(first)
	res.Final.Dist = dist(fin)
	res.Final.EditInterval = ms(o.editInterval())
	res.Final.OverInterval = res.Final.P99 - res.Final.EditInterval
	res.Budget = budget(p.model(), reps)
	res.Platform = p.result()
	return res
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// budget computes each reply's use of the budget during its answer (from
// its first chunk leaving the backend to its last byte): the requests the
// platform received for it in that window, against the most the rules
// allow: max(1, min(PerReply·D, shared share)), where the shared share is
// the integral over the window of the shared limit divided by the number
// of answers streaming at that instant. Only the model's counted methods
// count.
func budget(bm budgetModel, reps []*replyRec) BudgetResult {
	type ev struct {
		t     time.Time
		start bool
		i     int
	}
	var evs []ev
	for i, r := range reps {
		if len(r.depart) == 0 || !r.finished {
			continue
		}
		evs = append(evs, ev{r.depart[0], true, i}, ev{r.lastByte, false, i})
	}
	if len(evs) == 0 {
		return BudgetResult{}
	}
	sort.Slice(evs, func(a, b int) bool {
		if !evs[a].t.Equal(evs[b].t) {
			return evs[a].t.Before(evs[b].t)
		}
		return evs[a].start && !evs[b].start
	})
	startF := map[int]float64{}
	share := map[int]float64{}
	var f float64
	active := 0
	prev := evs[0].t
	for _, e := range evs {
		if active > 0 {
			f += bm.Shared * e.t.Sub(prev).Seconds() / float64(active)
		}
		prev = e.t
		if e.start {
			startF[e.i] = f
			active++
		} else {
			share[e.i] = f - startF[e.i]
			active--
		}
	}
	rate := bm.PerReply
	// A reply's own use counts its drafts too: they are what it streams
	// with (PerReply is then the draft pace), even where the shared
	// budget does not count them.
	perReply := func(m string) bool { return bm.Counted(m) || m == "sendMessageDraft" }
	var uses []float64
	var reqs, counted float64
	var first, last time.Time
	for i, sh := range share {
		r := reps[i]
		from, to := r.depart[0], r.lastByte
		if first.IsZero() || from.Before(first) {
			first = from
		}
		if to.After(last) {
			last = to
		}
		n := 0
		for _, q := range r.reqs {
			if perReply(q.Method) && !q.At.Before(from) && !q.At.After(to) {
				n++
			}
		}
		allow := max(1, min(rate*to.Sub(from).Seconds(), sh))
		uses = append(uses, float64(n)/allow)
		reqs += float64(len(r.reqs))
	}
	slices.Sort(uses)
	b := BudgetResult{Min: uses[0], P10: pct(uses, 10), Median: pct(uses, 50), Requests: reqs / float64(len(uses)),
		Shared: bm.SharedName, SharedMax: bm.Shared, PerReplyPS: bm.PerReply}
	ok := 0
	for _, u := range uses {
		if u >= 0.9 {
			ok++
		}
	}
	b.AtLeast = float64(ok) / float64(len(uses))
	var all float64
	for i := range share {
		for _, q := range reps[i].reqs {
			if q.At.Before(first) || q.At.After(last) {
				continue
			}
			all++
			if bm.Counted(q.Method) {
				counted++
			}
		}
	}
	if span := last.Sub(first).Seconds(); span > 0 {
		b.BotRate = counted / span
		b.BotUse = b.BotRate / bm.Shared
		b.AllRate = all / span
		b.AllUse = b.AllRate / bm.Shared
	}
	return b
}

// processResult sums the replicas' CPU (from base to end) and takes the
// largest peak RSS; m0 and m1 are their metrics summed.
func processResult(base, end []procSample, m0, m1 metricsSample, maxGor float64, elapsed time.Duration, answers int) ProcessResult {
	p := ProcessResult{MaxGoroutines: maxGor, BridgeLimited: m1.RateLimit - m0.RateLimit}
	ok := len(base) > 0
	for k := range base {
		if !base[k].Ok || !end[k].Ok {
			ok = false
			continue
		}
		p.CPUSeconds += (end[k].CPU - base[k].CPU).Seconds()
		p.PeakRSSMB = max(p.PeakRSSMB, float64(end[k].HWM)/(1<<20))
	}
	if !ok {
		p.CPUSeconds, p.PeakRSSMB = 0, 0
	} else if answers > 0 {
		p.CPUPer1000 = p.CPUSeconds / float64(answers) * 1000
	}
	if s := elapsed.Seconds(); s > 0 {
		p.StoreOpsPerSec = (m1.StoreOps - m0.StoreOps) / s
	}
	return p
}

// checkTargets evaluates the targets of docs/performance.md that apply to
// the run's size.
// BucketDist is a latency distribution read from a Prometheus histogram:
// each quantile is the upper bound of the bucket it falls in.
type BucketDist struct {
	N      float64 `json:"n"`
	P50Max float64 `json:"p50_at_most_ms"`
	P95Max float64 `json:"p95_at_most_ms"`
	P99Max float64 `json:"p99_at_most_ms"`
}

// bucketDist computes quantile bounds from the difference of two
// cumulative histograms.
func bucketDist(before, after map[float64]float64) BucketDist {
	les := make([]float64, 0, len(after))
	for le := range after {
		les = append(les, le)
	}
	sort.Float64s(les)
	var d BucketDist
	if len(les) == 0 {
		return d
	}
	d.N = after[les[len(les)-1]] - before[les[len(les)-1]]
	if d.N <= 0 {
		return d
	}
	q := func(p float64) float64 {
		for _, le := range les {
			if after[le]-before[le] >= p*d.N {
				return le * 1000
			}
		}
		return les[len(les)-1] * 1000
	}
	d.P50Max, d.P95Max, d.P99Max = q(0.5), q(0.95), q(0.99)
	return d
}

func (r *Result) checkTargets() {
	r.Targets = nil
	add := func(name, want, got string, met bool) {
		r.Targets = append(r.Targets, Target{name, want, got, met})
	}
	add("final texts exact", fmt.Sprintf("%d/%d", r.Answers.Asked, r.Answers.Asked),
		fmt.Sprintf("%d/%d", r.Answers.Exact, r.Answers.Asked), r.Answers.Exact == r.Answers.Asked)
	add("429s", "0", fmt.Sprint(r.Platform.TooMany), r.Platform.TooMany == 0)
	if r.Platform.Envelopes > 0 {
		add("socket mode envelopes acknowledged", fmt.Sprint(r.Platform.Envelopes), fmt.Sprint(r.Platform.Acked), r.Platform.Acked == r.Platform.Envelopes)
	}
	add("bridge-added latency p99 (in bridge)", "≤ 5 ms", fmt.Sprintf("≤ %g ms (n=%.0f)", r.InBridge.P99Max, r.InBridge.N), r.InBridge.N > 0 && r.InBridge.P99Max <= 5)
	add("final delay p99", fmt.Sprintf("≤ %.0f ms", r.Final.EditInterval+50), fmt.Sprintf("%.0f ms", r.Final.P99), r.Final.N > 0 && r.Final.P99 <= r.Final.EditInterval+50)
	add("budget use, every answer", "≥ 90 %", fmt.Sprintf("min %.0f %%, %.0f %% of answers ≥ 90 %%", 100*r.Budget.Min, 100*r.Budget.AtLeast), r.Budget.Min >= 0.9)
	add("peak RSS", "≤ 400 MB", fmt.Sprintf("%.0f MB", r.Process.PeakRSSMB), r.Process.PeakRSSMB > 0 && r.Process.PeakRSSMB <= 400)
}

func (r *Result) writeTable(w io.Writer) {
	r.checkTargets()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	c := r.Config
	modes := map[string][2]string{
		"telegram": {"private chats", "groups"}, "slack": {"DMs", "channel threads"}, "discord": {"DMs", "guild channels"},
	}[c.Platform]
	mode := modes[0]
	if c.Group {
		mode = modes[1]
	}
	extra := fmt.Sprintf("drafts=%t", c.Drafts)
	if c.Platform == "slack" {
		extra = fmt.Sprintf("streaming=%t", c.SlackStream)
	} else if c.Platform == "discord" {
		extra = "edits"
	}
	if c.PerGroup > 1 {
		mode += fmt.Sprintf(", %d questions at once in each", c.PerGroup)
	}
	fmt.Fprintf(tw, "run\t%s: %d conversations (%s) × %d, %d chars at %.0f chunks/s, %s, edit interval %s, %s\n",
		c.Platform, c.Conversations, mode, c.Rounds, c.AnswerChars, c.ChunksPerSec, extra, c.EditInterval, c.Elapsed)
	store := cmp.Or(c.Store, "bbolt")
	if c.Store == "redis" {
		store = fmt.Sprintf("redis, %d replica(s), %d partitions", c.Replicas, c.Partitions)
	}
	if c.Receive != "" {
		store += ", telegram " + c.Receive
	}
	fmt.Fprintf(tw, "store\t%s\n", store)
	fmt.Fprintf(tw, "answers\t%d asked, %d complete, %d exact\n", r.Answers.Asked, r.Answers.Complete, r.Answers.Exact)
	for _, s := range r.Answers.Wrong {
		fmt.Fprintf(tw, "  wrong\t%s\n", s)
	}
	fmt.Fprintf(tw, "bridge-added latency\tin the bridge: p50 ≤ %g ms\tp95 ≤ %g ms\tp99 ≤ %g ms\t(n=%.0f, histogram bounds)\n", r.InBridge.P50Max, r.InBridge.P95Max, r.InBridge.P99Max, r.InBridge.N)
	fmt.Fprintf(tw, "  end to end\tp50 %.2f ms\tp99 %.2f ms\tmax %.2f ms\t(n=%d; backend write → platform, incl. both transports)\n", r.Latency.P50, r.Latency.P99, r.Latency.Max, r.Latency.N)
	fmt.Fprintf(tw, "first text\tp50 %.1f ms\tp99 %.1f ms\tmax %.1f ms\t(n=%d; question → first draft or message)\n", r.FirstText.P50, r.FirstText.P99, r.FirstText.Max, r.FirstText.N)
	fmt.Fprintf(tw, "final delay\tp50 %.1f ms\tp95 %.1f ms\tp99 %.1f ms\t(max %.1f ms; backend done → final text; edit interval %.0f ms; p99 − interval = %+.0f ms)\n", r.Final.P50, r.Final.P95, r.Final.P99, r.Final.Max, r.Final.EditInterval, r.Final.OverInterval)
	fmt.Fprintf(tw, "last final\t%.1f s\t\t\t(start of the run → the last final text)\n", r.LastFinal/1000)
	fmt.Fprintf(tw, "budget use per answer\tmin %.0f %%\tp10 %.0f %%\tmedian %.0f %%\t(%.0f %% of answers ≥ 90 %%; %.1f requests/answer)\n", 100*r.Budget.Min, 100*r.Budget.P10, 100*r.Budget.Median, 100*r.Budget.AtLeast, r.Budget.Requests)
	fmt.Fprintf(tw, "%s budget\t%.2f counted requests/s\t%.0f %% of its %.3g/s\t(all requests, drafts included: %.2f/s, %.0f %%)\n", r.Budget.Shared, r.Budget.BotRate, 100*r.Budget.BotUse, r.Budget.SharedMax, r.Budget.AllRate, 100*r.Budget.AllUse)
	fmt.Fprintf(tw, "platform\t429s %d\tnot modified %d\tbad requests %d\t%v\n", r.Platform.TooMany, r.Platform.NotModified, r.Platform.BadRequests, r.Platform.Methods)
	if r.Platform.TooManyGlobal > 0 {
		fmt.Fprintf(tw, "  of the 429s\t%d global\t%d per channel\n", r.Platform.TooManyGlobal, r.Platform.TooMany-r.Platform.TooManyGlobal)
	}
	if r.Platform.Envelopes > 0 {
		fmt.Fprintf(tw, "socket mode\t%d envelopes\t%d acknowledged\n", r.Platform.Envelopes, r.Platform.Acked)
	}
	p := r.Process
	fmt.Fprintf(tw, "bridge process\tCPU %.2f s (%.2f s per 1000 answers)\tpeak RSS %.0f MB\tgoroutines ≤ %.0f\tstore %.0f ops/s\n", p.CPUSeconds, p.CPUPer1000, p.PeakRSSMB, p.MaxGoroutines, p.StoreOpsPerSec)
	fmt.Fprintf(tw, "  at most goroutines\tstacks %.0f MB\theap in use %.0f MB\t\t\n", p.PeakStackMB, p.PeakHeapMB)
	if len(r.Replicas) > 1 {
		fmt.Fprintf(tw, "  (CPU and goroutines summed over the %d replicas, peak RSS the largest)\n", len(r.Replicas))
	}
	for _, rp := range r.Replicas {
		hooks := ""
		if rp.Webhooks > 0 {
			hooks = fmt.Sprintf("\t%d webhook deliveries", rp.Webhooks)
		}
		fmt.Fprintf(tw, "  replica %s\t%.0f answered\tCPU %.2f s\tpeak RSS %.0f MB\tgoroutines ≤ %.0f%s\n", rp.ID, rp.Answered, rp.CPUSeconds, rp.PeakRSSMB, rp.MaxGoroutines, hooks)
	}
	if rd := r.Redis; rd != nil {
		var top []string
		for i, cc := range rd.Top {
			if i == 8 {
				top = append(top, "…")
				break
			}
			top = append(top, fmt.Sprintf("%s %.2f", cc.Name, cc.PerAnswer))
		}
		fmt.Fprintf(tw, "redis\t%.1f commands per answer\t(%d over the load)\t%s\n", rd.PerAnswer, rd.Commands, strings.Join(top, ", "))
		if rd.CPUSeconds > 0 {
			fmt.Fprintf(tw, "  redis-server\tCPU %.2f s (%.2f s per 1000 answers)\tpeak RSS %.0f MB\n", rd.CPUSeconds, rd.CPUPer1000, rd.PeakRSSMB)
		}
	}
	fmt.Fprintln(tw, "\ntarget\twant\tgot\t")
	for _, t := range r.Targets {
		v := "MISSED"
		if t.Met {
			v = "met"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Want, t.Got, v)
	}
	tw.Flush()
}
