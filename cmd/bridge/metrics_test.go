package main

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// These tests moved here from bridges/policy_test.go with the Prometheus
// implementation of bridges.Metrics.

var metricsLimits = bridges.Limits{MaxLen: 100, Unit: bridges.Runes, EditInterval: time.Second}

func metricsMsg(chat, text string) bridges.Message {
	return bridges.Message{
		Key:    bridges.Key{Platform: "fake", Instance: "t", Chat: chat},
		ChatID: chat, ID: "q-" + text, UserID: "u1", Text: text, Private: true,
	}
}

func TestMetricsMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		met := newRelayMetrics(reg)
		st := bridgestest.NewStore()
		r, _ := bridges.NewRelay(bridges.Config{Store: st, Metrics: met})
		p := bridgestest.NewPlatform(metricsLimits)
		h := r.Bind(p, bridges.Route{BackendName: "fake", Backend: &bridgestest.Backend{Steps: bridgestest.Answer("hello", 3, 100*time.Millisecond, "conv-1")}})
		_ = h.Handle(context.Background(), metricsMsg("c", "hi"))
		ign := metricsMsg("g1", "chatter")
		ign.Private, ign.Mentioned, ign.UserID = false, false, "u"
		_ = h.Handle(context.Background(), ign)
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := testutil.CollectAndCount(reg, "chatbridge_messages_total"); n < 3 {
			t.Errorf("message series = %d, want received, answered and ignored", n)
		}
		if n := testutil.CollectAndCount(reg, "chatbridge_answer_seconds"); n != 1 {
			t.Errorf("answer histogram series = %d", n)
		}
	})
}

// TestAddedLatencyMetric: the delay the bridge adds is measured only from
// text arriving in an open window, so waiting for the edit interval or a
// budget does not count, and the bridge itself adds nothing (in a synctest
// bubble, no time passes while it computes).
func TestAddedLatencyMetric(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		r, _ := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore(), Metrics: newRelayMetrics(reg)})
		lim := metricsLimits
		lim.Budgets = []bridges.Budget{{Key: "chat", Every: 2 * time.Second}}
		p := bridgestest.NewPlatform(lim)
		const longAnswer = "The quick brown fox jumps over the lazy dog while the cat watches from the warm windowsill."
		h := r.Bind(p, bridges.Route{Backend: &bridgestest.Backend{Steps: bridgestest.Answer(longAnswer, 3, 300*time.Millisecond, "c")}})
		_ = h.Handle(context.Background(), metricsMsg("c", "hi"))
		time.Sleep(time.Minute)
		synctest.Wait()
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != "chatbridge_reply_added_latency_seconds" {
				continue
			}
			hist := mf.GetMetric()[0].GetHistogram()
			if hist.GetSampleCount() < 2 {
				t.Errorf("samples = %d, want the first send and edits after the interval", hist.GetSampleCount())
			}
			if hist.GetSampleSum() != 0 {
				t.Errorf("added latency sum = %gs, want 0 (interval and budget waits excluded)", hist.GetSampleSum())
			}
			return
		}
		t.Fatal("no chatbridge_reply_added_latency_seconds")
	})
}
