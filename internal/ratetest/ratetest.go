// Package ratetest holds what the tests of rate budgets share: counting
// requests the way a platform counts them. It imports the standard
// library only, and only _test.go files import it.
package ratetest

import (
	"slices"
	"time"
)

// MostInWindow returns the most instants of ts within any window (a-w, a]
// ending at an instant a of ts, as a platform counts requests when it
// answers a. ts is not changed.
func MostInWindow(ts []time.Time, w time.Duration) int {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	most := 0
	for i := range ts {
		n := 0
		for j := i; j >= 0 && ts[j].After(ts[i].Add(-w)); j-- {
			n++
		}
		most = max(most, n)
	}
	return most
}
