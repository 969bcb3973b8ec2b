package wiretest

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chat-bridge/chat-bridge/backend"
)

// ConfigCase is one configuration a client's New must accept or reject.
type ConfigCase[C any] struct {
	Config C
	// NoKey leaves api_key unset where the test would otherwise set one.
	NoKey bool
	// Err is a substring of the error, naming the failing key; "" means
	// the configuration is valid.
	Err string
}

// CheckConfigs runs each case as a subtest through newFn (the client's
// New, given the case): the error must be nil for a valid configuration,
// else name the key, and it must never show secret.
func CheckConfigs[C any](t *testing.T, cases map[string]ConfigCase[C], secret string, newFn func(c ConfigCase[C]) error) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := newFn(c)
			switch {
			case c.Err == "" && err != nil:
				t.Errorf("New() error = %v, want nil", err)
			case c.Err != "" && (err == nil || !strings.Contains(err.Error(), c.Err)):
				t.Errorf("New() error = %v, want one naming %q", err, c.Err)
			case err != nil && strings.Contains(err.Error(), secret):
				t.Errorf("New() error leaks the secret: %v", err)
			}
		})
	}
}

// CheckCase is one answer to a client's Check request and the outcome
// wanted.
type CheckCase struct {
	Status int
	Body   string
	// Err says Check must fail, with an error of Kind.
	Err  bool
	Kind backend.Kind
}

// CheckChecks runs each case as a subtest: a Recorder answers with it,
// check runs the client's Check against the Recorder's base URL, and the
// result must be as the case wants, with no secret in the error; the one
// request Check sent must have want's method, URI and headers. Last,
// "unreachable": Check against a port nothing listens on must fail with
// KindUnavailable.
func CheckChecks(t *testing.T, cases map[string]CheckCase, secret string, want Request, check func(t *testing.T, base string) error) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rec := NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
				HTTPError{Status: c.Status, Body: c.Body}.Respond(w)
			})
			err := check(t, rec.Base)
			if (err != nil) != c.Err || (err != nil && backend.KindOf(err) != c.Kind) {
				t.Errorf("Check() = %v, want error %v of kind %v", err, c.Err, c.Kind)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("Check() error leaks the secret: %v", err)
			}
			reqs := rec.Requests()
			ok := len(reqs) == 1 && reqs[0].Method == want.Method && reqs[0].URI == want.URI
			for k := range want.Header {
				ok = ok && reqs[0].Header.Get(k) == want.Header.Get(k)
			}
			if !ok {
				t.Errorf("requests = %+v, want one %s %s with the wanted %v headers", reqs, want.Method, want.URI, slices.Sorted(maps.Keys(want.Header)))
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		if err := check(t, "http://127.0.0.1:1/x"); backend.KindOf(err) != backend.KindUnavailable || err == nil {
			t.Errorf("Check() = %v, want unavailable", err)
		}
	})
}
