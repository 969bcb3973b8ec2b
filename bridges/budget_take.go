package bridges

import (
	"context"
	"time"
)

// Budgets returns the relay's budget state: the shared one once
// ShareBudgets was called (cluster mode: the deployment's), else the
// relay's own, in memory. Adapters get it as Deps.Budgets and book the
// requests the core does not make for them (lookups) on it, with Take, on
// the same budgets as the replies. It follows a later ShareBudgets.
func (r *Relay) Budgets() BudgetState { return localBudgets{r.budgets} }

// Take books one request on bs for an adapter's own use (a request the
// core does not make for it, such as a lookup), urgently like a first
// text: it takes the first free slot in every budget, sleeps until then,
// and waits, keeping its slot, while a budget is paused or a rolling
// window full. It returns the function to call with the instant the
// request's answer came back, or ctx's error if ctx ends first (the slot
// stays booked, and nothing left).
func Take(ctx context.Context, st BudgetState, bs []Budget) (done func(time.Time), err error) {
	if len(bs) == 0 {
		return func(time.Time) {}, ctx.Err()
	}
	t, _ := st.Book(time.Now(), bs, -1)
	for {
		if err := sleepUntil(ctx, t); err != nil {
			return nil, err
		}
		done, retry, ok := st.Depart(time.Now(), bs)
		if ok {
			return done, nil
		}
		t = retry
	}
}
