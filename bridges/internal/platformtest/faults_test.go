package platformtest

import (
	"slices"
	"testing"
)

func TestFaults(t *testing.T) {
	var q Faults[string]
	if f, ok := q.Next("m"); ok {
		t.Fatalf("Next(m) on the zero value = %q, true, want none", f)
	}
	q.Add("m", 2, "a")
	q.Add("m", 1, "b")
	q.Add("m", 0, "never")
	q.Add("other", 1, "o")
	var got []string
	for {
		f, ok := q.Next("m")
		if !ok {
			break
		}
		got = append(got, f)
	}
	if want := []string{"a", "a", "b"}; !slices.Equal(got, want) {
		t.Errorf("Next(m) answered %q, want %q", got, want)
	}
	if f, ok := q.Next("other"); !ok || f != "o" {
		t.Errorf("Next(other) = %q, %v, want o, true", f, ok)
	}

	q.Add("m", 1, "first")
	q.Add("m", -1, "always")
	for i, want := range []string{"first", "always", "always"} {
		if f, ok := q.Next("m"); !ok || f != want {
			t.Errorf("Next(m) #%d = %q, %v, want %q, true", i, f, ok, want)
		}
	}
	q.Add("m", 1, "queued")
	q.Clear("m")
	if f, ok := q.Next("m"); ok {
		t.Errorf("Next(m) after Clear = %q, true, want none", f)
	}
}
