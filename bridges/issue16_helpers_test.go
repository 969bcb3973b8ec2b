package bridges_test

import (
	"testing"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// bindHarness is newHarness for a platform with optional abilities (p,
// whose recording Platform is rec) and a relay configured by cfg (its
// Store, when nil, the harness's).
func bindHarness(t *testing.T, cfg bridges.Config, p bridges.Platform, rec *bridgestest.Platform, rt bridges.Route) *harness {
	t.Helper()
	st := bridgestest.NewStore()
	if cfg.Store == nil {
		cfg.Store = st
	}
	r, err := bridges.NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rt.BackendName == "" {
		rt.BackendName = "fake"
	}
	return &harness{t: t, relay: r, p: rec, store: st, h: r.Bind(p, rt)}
}
