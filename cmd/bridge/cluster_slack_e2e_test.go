package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// TestClusterSlackSocketMode: three real replicas on one redis-server,
// each with its own Socket Mode connection. Every mention is delivered as
// Slack does, an app_mention and its message copy, here on two different
// replicas' connections; a replica is killed with SIGKILL while answers
// stream. Every question gets exactly one answer (the shared dedupe and
// the cluster's accept hold across replicas), none posted twice.
func TestClusterSlackSocketMode(t *testing.T) {
	url := redistest.Start(t)
	sl := slacktest.NewServer(slacktest.Options{})
	t.Cleanup(sl.Close)
	llm := newFakeLLM(t, 15*time.Millisecond)
	reps := newReplicas(t, 3, 1)
	startReplicas(t, reps, func(r *clusterReplica) string {
		return clusterReplicaConfig(t, url, "sl", r.id, llm, r.listen, slackSocketTable(sl))
	})
	waitFor(t, "three Socket Mode connections", 30*time.Second, func() bool { return sl.Connections() == 3 })
	waitReady(t, reps, 20*time.Second)

	type question struct{ channel, ts, q string }
	var asked []question
	n := 0
	askAll := func(round int) {
		for c := 1; c <= 8; c++ {
			n++
			ch := fmt.Sprintf("C%d", c)
			q := fmt.Sprintf("s%d-q%d", c, round)
			ts := sl.NewTS()
			text := sl.Mentioning(q)
			if _, err := sl.EnvelopeOn(n, fmt.Sprintf("EvM%d", n), 0, slacktest.MentionEvent(ch, "U1", text, ts, "")); err != nil {
				t.Fatal(err)
			}
			if _, err := sl.EnvelopeOn(n+1, fmt.Sprintf("EvC%d", n), 0, slacktest.MessageEvent("channel", ch, "U1", text, ts, "")); err != nil {
				t.Fatal(err)
			}
			asked = append(asked, question{ch, ts, q})
		}
	}
	answered := func() bool {
		for _, a := range asked {
			v := sl.Visible(a.channel, a.ts)
			if len(v) < 1 || v[0] != answerFor(a.q) {
				return false
			}
		}
		return true
	}
	askAll(1)
	waitFor(t, "round 1 answered", 30*time.Second, answered)
	askAll(2)
	waitFor(t, "round 2 accepted and streaming", 10*time.Second, func() bool { return llm.requestCount() >= 16 })
	reps[1].kill(t)
	waitFor(t, "the killed replica's connection gone", 10*time.Second, func() bool { return sl.Connections() == 2 })
	askAll(3)
	waitFor(t, "every round answered", 35*time.Second, answered)
	time.Sleep(500 * time.Millisecond) // room for a wrongly doubled post to show
	for _, a := range asked {
		if v := sl.Visible(a.channel, a.ts); len(v) != 1 || v[0] != answerFor(a.q) {
			t.Errorf("%s in %s: the bot shows %q, want exactly one answer", a.q, a.channel, v)
		}
	}
}
