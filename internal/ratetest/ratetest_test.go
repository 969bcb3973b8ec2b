package ratetest

import (
	"testing"
	"time"
)

func TestMostInWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms ...int) []time.Time {
		var ts []time.Time
		for _, m := range ms {
			ts = append(ts, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return ts
	}
	tests := map[string]struct {
		ts   []time.Time
		w    time.Duration
		want int
	}{
		"none":                 {nil, time.Second, 0},
		"one":                  {at(5), time.Second, 1},
		"all within":           {at(0, 10, 20), time.Second, 3},
		"window open at start": {at(0, 1000), time.Second, 1},
		"just inside":          {at(0, 999), time.Second, 2},
		"unsorted":             {at(2500, 0, 2000, 100, 2900), time.Second, 3},
		"same instant":         {at(7, 7, 7), time.Millisecond, 3},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			before := append([]time.Time(nil), tt.ts...)
			if got := MostInWindow(tt.ts, tt.w); got != tt.want {
				t.Errorf("MostInWindow(%v, %v) = %d, want %d", tt.ts, tt.w, got, tt.want)
			}
			for i := range before {
				if !tt.ts[i].Equal(before[i]) {
					t.Fatalf("MostInWindow reordered its argument")
				}
			}
		})
	}
}
