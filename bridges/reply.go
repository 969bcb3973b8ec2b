package bridges

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// reply is one live reply: it shows the answer as it streams, as one or
// more platform messages, and writes the final text exactly once.
//
// The producer (the relay reading the backend stream) calls update with
// the whole text so far and finish with the final text. A single writer
// goroutine (run) sends. It holds only the latest text, never a queue of
// stale edits; it makes at most one request at a time, each no sooner than
// the edit interval after the previous one and within every shared budget
// of the conversation's scope; it skips edits whose text is unchanged; on
// a *RateLimitError it pauses the scope for RetryAfter and then sends the
// latest text; on a *FormatError it resends that message as plain text.
type reply struct {
	p        Platform
	m        *Message
	lim      Limits
	interval time.Duration
	budgets  *limiter
	log      *slog.Logger

	mu      sync.Mutex
	text    string
	final   bool
	updates int
	wake    chan struct{}
	done    chan struct{}
	// dirtyAt is when the text first changed since the last request, and
	// nextOpen when the reply's window opens again (the edit interval, a
	// budget slot or a retry-after pause is over). A request leaving later
	// than both adds that delay of the bridge's own.
	dirtyAt  time.Time
	nextOpen time.Time
	// observe, when set, receives that delay for every request.
	observe func(time.Duration)

	// Owned by run.
	sent        []sentPart
	plain       map[int]bool
	native      NativeStream
	nativeLim   Limits // native.Limits(), asked once
	nativeTried bool
	lastReq     time.Time
	notBefore   time.Time
	requests    int
	limited     int

	// The outcome, set by run and read after wait: landed is true when
	// the final text is shown in full; failure is why it is not (a
	// *PermanentError or the last passing error), nil when run was only
	// cut short by its context.
	landed  bool
	failure error
	// onPosted, when set, hears of the messages the reply holds each
	// time a new one is posted (or one is removed), part 0 first, so the
	// inbox can keep them for a resume after a restart. Called from run.
	onPosted       func(parts []Sent)
	nativeRecorded bool

	// Question order in a conversation whose answers are pipelined (the
	// next question is asked while the previous reply is still paced
	// out): after is the previous reply of the conversation, nil when
	// none is unsettled. This reply's first message (or draft) waits for
	// after's messages to exist (postsDone), and its later messages and
	// any final text for after to settle (settled), so that on the
	// platform every message of an answer comes after the messages of
	// the answer before and its final lands after that one's final;
	// meanwhile it makes no intermediate edit either (gate).
	after     *reply
	postsDone chan struct{} // closed once all messages of the final text exist
	postsOnce sync.Once
	settled   chan struct{} // closed by the turn once the final text landed or was given up

	// valid, when set, is asked before every platform request: false
	// means this replica lost the conversation (cluster mode) and the
	// reply stops writing.
	valid func() bool
}

type sentPart struct {
	s      Sent
	text   string
	final  bool
	native bool // part 0 shown by the native stream, not yet a message
	gone   bool // someone deleted the message: post its text anew
}

type opKind int

const (
	opSend opKind = iota
	opEdit
	opRemove
	opNativeUpdate
	opNativeFinish
	opRepost // post a part again whose message was deleted
)

type op struct {
	kind  opKind
	part  int
	text  string
	final bool
}

func newReply(p Platform, m *Message, lim Limits, interval time.Duration, budgets *limiter, log *slog.Logger) *reply {
	if interval <= 0 {
		interval = lim.EditInterval
	}
	if lim.MaxLen <= 0 {
		lim.MaxLen = 2000
	}
	return &reply{
		p: p, m: m, lim: lim, interval: interval, budgets: budgets, log: log,
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		plain: map[int]bool{},

		postsDone: make(chan struct{}),
		settled:   make(chan struct{}),
	}
}

// closePosts tells the next reply of the conversation that it may post.
func (r *reply) closePosts() { r.postsOnce.Do(func() { close(r.postsDone) }) }

// inOrder waits until o may go in question order (see reply.after): a
// first message or draft once the previous reply's messages all exist,
// any other request once the previous reply settled. It reports false
// when ctx ended.
func (r *reply) inOrder(ctx context.Context, o op) bool {
	gate := r.gate(o)
	if gate == nil || r.orderOpen(o) {
		return true
	}
	select {
	case <-r.after.settled:
		r.after = nil
	case <-gate:
	case <-ctx.Done():
		return false
	}
	return true
}

// orderOpen reports, without waiting, whether o may go in question order.
func (r *reply) orderOpen(o op) bool {
	gate := r.gate(o)
	if gate == nil {
		return true
	}
	select {
	case <-r.after.settled:
		r.after = nil // settled: nothing more to wait for
		return true
	case <-gate:
		return true
	default:
		return false
	}
}

// gate is what o waits for in question order, nil when nothing. Until
// the previous reply settled, this one makes one request only, its first
// message or draft: its intermediate edits wait too, so that where the
// chat's budget is the bottleneck the previous answer's final text gets
// it first.
func (r *reply) gate(o op) <-chan struct{} {
	prev := r.after
	switch {
	case prev == nil:
		return nil
	case len(r.sent) == 0 && o.part == 0 && !o.final && (o.kind == opSend || o.kind == opNativeUpdate):
		return prev.postsDone
	}
	return prev.settled
}

// allPosted reports whether every message of the final text exists (none
// is a native preview or a deleted one to post anew).
func (r *reply) allPosted(text string) bool {
	if len(r.sent) < len(splitRendered(text, r.lim)) {
		return false
	}
	for _, sp := range r.sent {
		if sp.native || sp.gone {
			return false
		}
	}
	return true
}

// update sets the text shown so far. It never blocks.
func (r *reply) update(text string) {
	r.mu.Lock()
	if r.final || text == r.text {
		r.mu.Unlock()
		return
	}
	r.text = text
	r.updates++
	if r.dirtyAt.IsZero() {
		r.dirtyAt = time.Now()
	}
	r.mu.Unlock()
	r.signal()
}

// sending marks a request leaving and reports the delay the bridge added:
// since the text changed or the window opened, whichever was later.
func (r *reply) sending() {
	r.mu.Lock()
	start := r.dirtyAt
	if r.nextOpen.After(start) {
		start = r.nextOpen
	}
	r.dirtyAt = time.Time{}
	r.nextOpen = time.Now().Add(time.Hour) // closed while the request is in flight
	r.mu.Unlock()
	if r.observe != nil {
		r.observe(max(0, time.Since(start)))
	}
}

// sentAt reopens the window at t.
func (r *reply) sentAt(t time.Time) {
	r.mu.Lock()
	r.nextOpen = t
	r.mu.Unlock()
}

// waitingUntil tells the window stays closed until t for a shared budget
// or a retry-after pause: that wait is the platform's limit, not a delay
// of the bridge's.
func (r *reply) waitingUntil(t time.Time) {
	r.mu.Lock()
	if t.After(r.nextOpen) {
		r.nextOpen = t
	}
	r.mu.Unlock()
}

// finish sets the final text. Later updates are ignored.
func (r *reply) finish(text string) {
	r.mu.Lock()
	if !r.final {
		r.text, r.final = text, true
	}
	r.mu.Unlock()
	r.signal()
}

func (r *reply) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *reply) snapshot() (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.text, r.final
}

// run is the writer. It returns when the final text is written, or when
// ctx ends (the caller finishes under a fresh context if it must).
func (r *reply) run(ctx context.Context) {
	defer close(r.done)
	if n := len(r.lim.Budgets); n > 0 && r.lim.SendBudgets != nil {
		defer r.budgets.join(r.lim.Budgets[n-1].Key)()
	}
	failures := 0
	for {
		text, final := r.snapshot()
		if final && r.allPosted(text) {
			r.closePosts()
		}
		o, ok := r.next(text, final)
		if !ok {
			if final {
				r.landed = true
				return
			}
			select {
			case <-r.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		if r.after != nil {
			if !r.inOrder(ctx, o) {
				return
			}
			if o2, ok2 := r.next(r.snapshot()); !ok2 || o2 != o {
				continue // the text moved on meanwhile: pick again
			}
		}
		if o.kind == opSend && o.part == 0 && !final && !r.nativeTried {
			r.openNative(ctx)
			if o, ok = r.next(text, final); !ok {
				continue
			}
		}
		booked, _ := r.limitsFor(o)
		if err := r.pace(ctx, o); errors.Is(err, errRetry) {
			continue
		} else if err != nil {
			return
		}
		departed, ok := r.depart(ctx, booked.Budgets, &o)
		if !ok {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		// The edit interval runs from one request's start to the next's:
		// a slow platform answer does not stretch the pace further.
		r.lastReq = time.Now()
		r.sending()
		err := r.do(ctx, o)
		departed(time.Now())
		_, interval := r.limitsFor(o)
		reopen := r.lastReq.Add(interval)
		if now := time.Now(); now.After(reopen) {
			reopen = now
		}
		r.sentAt(reopen)
		r.requests++
		if err == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		var rl *RateLimitError
		var fe *FormatError
		var pe *PermanentError
		switch {
		case errors.Is(err, ErrFenced):
			// Cluster mode: the conversation's new owner answers.
			r.log.Info("cluster: this replica lost the conversation; the reply stops writing", "op", o.kind, "part", o.part)
			r.failure = err
			return
		case errors.As(err, &rl):
			r.limited++
			r.rateLimited(o, rl)
		case errors.As(err, &fe) && !r.plain[o.part]:
			r.log.Debug("formatting rejected, sending plain text", "part", o.part, "err", err)
			r.plain[o.part] = true
		case o.kind == opNativeUpdate || o.kind == opNativeFinish:
			r.log.Info("native streaming failed, falling back to messages", "err", err)
			r.dropNative()
		case errors.As(err, &pe) && pe.Reason == ReasonMessageDeleted && o.kind == opEdit:
			r.log.Info("a message of the reply is gone; posting its text anew", "part", o.part, "err", err)
			r.sent[o.part].gone = true
		case errors.As(err, &pe) && pe.Reason == ReasonMessageDeleted && o.kind == opRemove:
			r.sent = r.sent[:o.part] // already gone: what removing wanted
			r.posted()
		case errors.As(err, &pe):
			r.log.Error("the platform refuses the reply for good", "reason", pe.Reason, "op", o.kind, "part", o.part, "err", err)
			r.failure = err
			return
		default:
			failures++
			r.log.Warn("reply request failed", "op", o.kind, "part", o.part, "attempt", failures, "err", err)
			if failures < 3 {
				r.notBefore = time.Now().Add(time.Duration(failures) * time.Second)
				continue
			}
			failures = 0
			if !r.plain[o.part] && (o.kind == opSend || o.kind == opEdit) {
				// Last resort before giving up: the same text, unformatted.
				r.log.Warn("platform keeps refusing the message; trying it as plain text", "part", o.part)
				r.plain[o.part] = true
				continue
			}
			if !r.giveUp(o, err) {
				return
			}
		}
	}
}

// next returns the next request that brings the visible messages closer to
// text, lowest part first, or false when they show it already.
func (r *reply) next(text string, final bool) (op, bool) {
	parts := splitRendered(text, r.lim)
	for i, want := range parts {
		wantFinal := final || i < len(parts)-1
		if i >= len(r.sent) {
			if i == 0 && r.native != nil {
				if wantFinal {
					return op{kind: opNativeFinish, part: 0, text: want, final: true}, true
				}
				return op{kind: opNativeUpdate, part: 0, text: want}, true
			}
			return op{kind: opSend, part: i, text: want, final: wantFinal}, true
		}
		sp := r.sent[i]
		if sp.native {
			if wantFinal {
				return op{kind: opNativeFinish, part: 0, text: want, final: true}, true
			}
			if sp.text != want {
				return op{kind: opNativeUpdate, part: 0, text: want}, true
			}
			continue
		}
		if sp.gone {
			return op{kind: opRepost, part: i, text: want, final: wantFinal}, true
		}
		if sp.text != want || (sp.final != wantFinal && r.lim.StreamPlain) {
			return op{kind: opEdit, part: i, text: want, final: wantFinal}, true
		}
	}
	if len(r.sent) > len(parts) && final {
		return op{kind: opRemove, part: len(r.sent) - 1}, true
	}
	return op{}, false
}

func (r *reply) openNative(ctx context.Context) {
	r.nativeTried = true
	st, ok := r.p.(Streamer)
	if !ok {
		return
	}
	ns, err := st.OpenStream(ctx, r.m)
	if err != nil {
		if !errors.Is(err, ErrNoStream) {
			r.log.Info("native streaming unavailable", "err", err)
		}
		return
	}
	r.native, r.nativeLim = ns, ns.Limits()
}

func (r *reply) dropNative() {
	ns := r.native
	r.native = nil
	if len(r.sent) == 0 || !r.sent[0].native {
		return
	}
	if s, ok := ns.Message(); ok {
		// Continue the visible message with edits; its text is unknown, so
		// the next edit rewrites it whole.
		r.sent[0] = sentPart{s: s, text: "\x00"}
		return
	}
	r.sent = r.sent[:0]
}

func (r *reply) limitsFor(o op) (Limits, time.Duration) {
	if o.kind == opSend && r.lim.SendBudgets != nil {
		lim := r.lim
		lim.Budgets = lim.SendBudgets
		return lim, r.interval
	}
	if r.native == nil {
		return r.lim, r.interval
	}
	switch o.kind {
	case opNativeUpdate:
		return r.nativeLim, r.nativeLim.EditInterval
	case opNativeFinish:
		// The final message follows the last draft at the draft pace; it
		// is a real message, so it draws from the platform's budgets.
		return r.lim, r.nativeLim.EditInterval
	}
	return r.lim, r.interval
}

// depart takes the newest text for the request booked on booked and
// checks, just before it leaves, that it may: the slot was booked, but a
// late wake-up must neither bunch requests past a platform's window nor
// run into a pause begun since, so the limiter counts what actually left.
// While a window is full or a budget paused it waits, keeping its slot.
// It returns the function to call when the request is done, or false when
// run must pick its request again (nothing to send, a request of other
// budgets, or ctx done).
func (r *reply) depart(ctx context.Context, booked []Budget, o *op) (func(time.Time), bool) {
	for {
		// Coalesce: send whatever is newest now.
		text, final := r.snapshot()
		var ok bool
		if *o, ok = r.next(text, final); !ok {
			return nil, false
		}
		lim, _ := r.limitsFor(*o)
		if !r.orderOpen(*o) {
			// The newest text is final (or a new message) while the
			// previous reply of the conversation has not settled.
			return nil, false
		}
		if !sameBudgets(booked, lim.Budgets) {
			// The newest text is another kind of request (a draft that
			// became the final message): book it on its own budgets.
			return nil, false
		}
		done, retry, ok := r.budgets.depart(time.Now(), lim.Budgets)
		if ok {
			return done, true
		}
		r.waitingUntil(retry)
		if sleepUntil(ctx, retry) != nil {
			return nil, false
		}
	}
}

// sameBudgets reports whether a and b name the same budgets.
func sameBudgets(a, b []Budget) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key {
			return false
		}
	}
	return true
}

// finalGap is the most a final text waits after the reply's previous
// request for the edit interval; the budgets still apply.
const finalGap = time.Second

// errRetry tells run to pick its next request again (the text changed or
// the slot was too far away).
var errRetry = errors.New("pick the request again")

// pace waits until o may be sent: the edit interval after the previous
// request, any retry-after pause, and a booked slot in every budget.
// First messages and final texts book the first free slot however far it
// is; an intermediate edit books one only within an edit interval, and
// otherwise waits (or wakes for newer text) and returns errRetry, so that
// in a crowded scope live edits never delay other replies' final texts.
func (r *reply) pace(ctx context.Context, o op) error {
	lim, interval := r.limitsFor(o)
	at := time.Now()
	if !r.lastReq.IsZero() {
		gap := interval
		if o.final {
			// The edit interval paces the live edits; the platform's
			// limits are the budgets. A final text, due once, follows the
			// previous request sooner.
			gap = min(gap, finalGap)
		}
		if t := r.lastReq.Add(gap); t.After(at) {
			at = t
		}
	}
	if r.notBefore.After(at) {
		at = r.notBefore
		r.waitingUntil(at)
	}
	if o.final {
		if err := sleepUntil(ctx, at); err != nil {
			return err
		}
	} else if err := r.sleepUnlessFinal(ctx, at); err != nil {
		// A final text arriving meanwhile is sent sooner (finalGap).
		return err
	}
	// First texts (the first message or draft of the reply) and finals
	// book urgently, ahead of other replies' intermediate edits.
	horizon := time.Duration(-1)
	if !o.final && len(r.sent) > 0 {
		horizon = max(interval, 100*time.Millisecond)
	}
	if o.kind == opSend && !o.final && r.lim.SendBudgets != nil && len(r.lim.Budgets) > 0 {
		// Posts and edits have separate limits. A message posted now
		// shows more only when an edit slot comes; when the edit budget
		// is booked far ahead, or shared by so many live replies that
		// each would see an edit less than every few seconds, post later
		// instead, with more (or all) of the text.
		eb := r.lim.Budgets[len(r.lim.Budgets)-1]
		far := 2 * max(interval, 2*time.Second)
		t := r.budgets.peek(time.Now(), r.lim.Budgets)
		if time.Until(t) > far || time.Duration(r.budgets.sharing(eb.Key))*eb.Every > far {
			d := min(max(time.Until(t), time.Second), 5*time.Second)
			r.waitingUntil(time.Now().Add(d))
			return r.waitForFinal(ctx, d)
		}
	}
	t, ok := r.budgets.book(time.Now(), lim.Budgets, horizon)
	if ok {
		if time.Until(t) > 0 {
			r.waitingUntil(t)
		}
		if o.kind == opNativeUpdate {
			// A final text is a message, not a draft: it books on the
			// message budgets at once rather than waiting for this slot.
			return r.sleepUnlessFinal(ctx, t)
		}
		return sleepUntil(ctx, t)
	}
	r.waitingUntil(t)
	// The scope is busy: come back when a slot may be near (t), or
	// sooner when the text becomes final.
	return r.waitForFinal(ctx, min(time.Until(t), horizon))
}

// waitForFinal waits up to d, or until the text becomes final, and
// returns errRetry so that run picks its next request again.
func (r *reply) waitForFinal(ctx context.Context, d time.Duration) error {
	return r.waitUnlessFinal(ctx, max(d, 10*time.Millisecond), errRetry)
}

// sleepUnlessFinal sleeps until t, or returns errRetry as soon as the
// text is final.
func (r *reply) sleepUnlessFinal(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	return r.waitUnlessFinal(ctx, d, nil)
}

// waitUnlessFinal waits d and returns timeout, or returns errRetry as
// soon as the text is final (newer text that is not final rides along
// with whatever request goes next), or ctx's error.
func (r *reply) waitUnlessFinal(ctx context.Context, d time.Duration, timeout error) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.wake:
			if _, final := r.snapshot(); final {
				return errRetry
			}
		case <-tm.C:
			return timeout
		}
	}
}

// sleepUntil waits until t; it returns ctx.Err() when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) error {
	if !Sleep(ctx, time.Until(t)) {
		return ctx.Err()
	}
	return nil
}

// Sleep waits d (no time at all when d <= 0) and reports whether ctx is
// still live: false means ctx ended first. Adapters use it for their
// reconnect backoff.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (r *reply) out(o op) Out {
	return Out{Text: o.text, Final: o.final, Plain: r.plain[o.part], Part: o.part}
}

func (r *reply) do(ctx context.Context, o op) error {
	if r.valid != nil && !r.valid() {
		return &PermanentError{Reason: "fenced", Err: ErrFenced}
	}
	switch o.kind {
	case opSend, opRepost:
		s, err := r.p.Send(ctx, r.m, r.out(o))
		if err != nil {
			return err
		}
		if err := r.stillOwned(ctx, o, s); err != nil {
			return err
		}
		part := sentPart{s: s, text: o.text, final: o.final}
		if o.kind == opSend {
			r.sent = append(r.sent, part)
		} else {
			r.sent[o.part] = part
		}
		r.posted()
	case opEdit:
		if err := r.p.Edit(ctx, r.sent[o.part].s, r.out(o)); err != nil {
			return err
		}
		r.sent[o.part].text, r.sent[o.part].final = o.text, o.final
	case opRemove:
		s := r.sent[o.part].s
		if d, ok := r.p.(Deleter); ok {
			if err := d.Delete(ctx, s); err != nil {
				return err
			}
		} else if err := r.p.Edit(ctx, s, Out{Text: "…", Final: true, Plain: true, Part: o.part}); err != nil {
			return err
		}
		r.sent = r.sent[:o.part]
		r.posted()
	case opNativeUpdate:
		if err := r.native.Update(ctx, o.text); err != nil {
			return err
		}
		if s, ok := r.native.Message(); ok && !r.nativeRecorded {
			// The stream's first update made its message (Slack's
			// chat.startStream).
			if err := r.stillOwned(ctx, o, s); err != nil {
				return err
			}
		}
		if len(r.sent) == 0 {
			r.sent = append(r.sent, sentPart{})
		}
		r.sent[0] = sentPart{text: o.text, native: true}
		if _, ok := r.native.Message(); ok && !r.nativeRecorded {
			r.nativeRecorded = true
			r.posted()
		}
	case opNativeFinish:
		had := r.nativeRecorded // the stream's message exists and was reported
		s, err := r.native.Finish(ctx, r.out(o))
		if err != nil {
			return err
		}
		if !had {
			// Finish posted the message (Telegram's drafts): a new one.
			// A message the stream made before is the new owner's to
			// continue, and stays.
			if err := r.stillOwned(ctx, o, s); err != nil {
				return err
			}
		}
		sp := sentPart{s: s, text: o.text, final: true}
		if len(r.sent) == 0 {
			r.sent = append(r.sent, sp)
		} else {
			r.sent[0] = sp
		}
		r.native = nil
		r.posted()
	}
	return nil
}

// stillOwned is the fence's second check, after a request that posted a
// new message (s) returned: a replica frozen between the check before the
// request and the request itself (failure window W2) finds its claim gone
// when it wakes, and by then the conversation's new owner has posted the
// answer itself, knowing nothing of s. The request could not be fenced
// once it left, but its result can be taken back: s is deleted, so that a
// reader sees at most a brief flash and the chat shows the answer once.
// It reports the fence's error then (s is neither kept nor checkpointed),
// nil while the claim is valid.
func (r *reply) stillOwned(ctx context.Context, o op, s Sent) error {
	if r.valid == nil || r.valid() {
		return nil
	}
	r.unpost(ctx, o.part, s)
	return &PermanentError{Reason: "fenced", Err: ErrFenced}
}

// unpostAttempts bounds the tries to delete a message posted after the
// claim was lost.
const unpostAttempts = 3

// unpost deletes the message s, posted for part after this replica lost
// the conversation. The delete is no message: it waits for a slot of the
// platform-wide budget (the last of Limits.Budgets) only, not the chat's,
// which the new owner is using.
func (r *reply) unpost(ctx context.Context, part int, s Sent) {
	d, ok := r.p.(Deleter)
	if !ok {
		r.log.Warn("cluster: lost the conversation while posting a message of the reply; the platform cannot delete it, so it stays next to the new owner's answer",
			"part", part)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var bs []Budget
	if n := len(r.lim.Budgets); n > 0 {
		bs = r.lim.Budgets[n-1:]
	}
	var err error
	for attempt := 1; attempt <= unpostAttempts; attempt++ {
		var done func(time.Time)
		if done, err = Take(ctx, localBudgets{r.budgets}, bs); err != nil {
			break
		}
		err = d.Delete(ctx, s)
		done(time.Now())
		var pe *PermanentError
		var rl *RateLimitError
		switch {
		case err == nil:
			r.log.Warn("cluster: lost the conversation while posting a message of the reply; deleted it, the new owner answers",
				"part", part)
			return
		case errors.As(err, &pe) && pe.Reason == ReasonMessageDeleted:
			return // gone already
		case errors.As(err, &pe):
			attempt = unpostAttempts // refused for good
		case errors.As(err, &rl):
			if rl.RetryAfter > 0 && sleepUntil(ctx, time.Now().Add(rl.RetryAfter)) != nil {
				attempt = unpostAttempts
			}
		}
	}
	r.log.Error("cluster: lost the conversation while posting a message of the reply, and cannot delete it; it stays next to the new owner's answer",
		"part", part, "err", err)
}

// posted tells onPosted which messages the reply holds now: every part
// posted so far, stopping at a native preview that is no message yet.
func (r *reply) posted() {
	if r.onPosted == nil {
		return
	}
	parts := make([]Sent, 0, len(r.sent))
	for _, sp := range r.sent {
		if sp.native {
			if r.native == nil {
				break
			}
			s, ok := r.native.Message()
			if !ok {
				break
			}
			parts = append(parts, s)
			continue
		}
		parts = append(parts, sp.s)
	}
	r.onPosted(parts)
}

// resume makes the reply continue in messages a previous run posted for
// the same answer (part 0 first): their text is unknown, so the first
// request for each rewrites it whole, and a new message is posted only
// for a part that has none. Call it before run.
func (r *reply) resume(parts []Sent) {
	for _, s := range parts {
		r.sent = append(r.sent, sentPart{s: s, text: "\x00"})
	}
	if len(parts) > 0 {
		r.nativeTried = true
	}
}

// rearm prepares a reply whose final text did not land for another run,
// which continues in the messages already posted. Call it after wait and
// before the next run.
func (r *reply) rearm() {
	r.done = make(chan struct{})
	r.landed, r.failure = false, nil
	r.notBefore = time.Time{}
}

// outcome reports, after wait, whether the final text landed and, when
// not, why.
func (r *reply) outcome() (landed bool, failure error) { return r.landed, r.failure }

// rateLimited pauses the scope the 429 applies to and this reply.
func (r *reply) rateLimited(o op, rl *RateLimitError) {
	wait := rl.RetryAfter
	if wait <= 0 {
		wait = time.Second
	}
	until := time.Now().Add(wait)
	r.notBefore = until
	lim, _ := r.limitsFor(o)
	if n := len(lim.Budgets); n > 0 {
		b := lim.Budgets[0]
		if rl.Global {
			b = lim.Budgets[n-1]
		}
		r.budgets.pause(b, until)
	}
	r.log.Debug("platform rate limit, waiting", "retry_after", wait, "global", rl.Global)
}

// giveUp abandons a request that failed repeatedly with err. An
// intermediate edit is skipped (a later text replaces it); a final text
// or a new message is not: the reply ends with err as its failure, so
// that the relay retries it later. It reports whether the reply can go
// on.
func (r *reply) giveUp(o op, err error) bool {
	switch {
	case o.kind == opEdit && !o.final:
		r.log.Warn("giving up on an intermediate edit", "part", o.part, "err", err)
		r.sent[o.part].text, r.sent[o.part].final = o.text, o.final
		return true
	case o.kind == opRemove:
		r.sent = r.sent[:o.part]
		r.posted()
		return true
	default:
		r.log.Error("giving up on the reply for now: the platform refuses it", "op", o.kind, "part", o.part, "err", err)
		r.failure = err
		return false
	}
}

// wait blocks until run has returned.
func (r *reply) wait() { <-r.done }

// stats returns the number of text updates received, platform requests
// made and 429s seen. Call it only after wait.
func (r *reply) stats() (updates, requests, limited int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.updates, r.requests, r.limited
}
