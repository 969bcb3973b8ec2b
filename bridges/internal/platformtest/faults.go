// Package platformtest holds what the platform fakes (telegramtest,
// slacktest) share: the per-method queue of injected faults. It imports
// the standard library only; "internal" confines it to bridges/...
package platformtest

// Faults is a per-method queue of injected faults of type F (a fake's
// scripted failure answer). The zero value is ready. It is not safe for
// concurrent use: the fake holds its own lock around every call.
type Faults[F any] struct {
	queued  map[string][]F
	forever map[string]F
}

// Add makes f answer the next n requests of method, after those queued
// before; n < 0 makes f answer every request of method once the queue is
// empty, until Clear.
func (q *Faults[F]) Add(method string, n int, f F) {
	if n < 0 {
		if q.forever == nil {
			q.forever = map[string]F{}
		}
		q.forever[method] = f
		return
	}
	if q.queued == nil {
		q.queued = map[string][]F{}
	}
	for range n {
		q.queued[method] = append(q.queued[method], f)
	}
}

// Clear removes every fault of method, queued or lasting.
func (q *Faults[F]) Clear(method string) {
	delete(q.queued, method)
	delete(q.forever, method)
}

// Next takes the fault that answers this request of method: the first
// queued one, else the lasting one; false when there is none.
func (q *Faults[F]) Next(method string) (F, bool) {
	if fs := q.queued[method]; len(fs) > 0 {
		q.queued[method] = fs[1:]
		return fs[0], true
	}
	f, ok := q.forever[method]
	return f, ok
}
