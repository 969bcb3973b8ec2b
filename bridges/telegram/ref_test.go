package telegram

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// TestRefCodecRoundTrip: what the adapter keeps in Message.Ref survives
// EncodeRef/DecodeRef (the inbox across a restart); a message as the
// inbox keeps it (its JSON, the ref through the codec) still has its
// replied-to message for ThreadHistory and streams under the same
// draft_id as before.
func TestRefCodecRoundTrip(t *testing.T) {
	h := newHarness(t, nil, nil)
	refs := []*msgRef{
		{Reply: &repliedMsg{ID: 7, Author: "Ann", Text: "the question before", Date: 1700000000}},
		{Reply: &repliedMsg{ID: 8, FromBot: true, Text: "an answer"}},
		{},
	}
	for _, r := range refs {
		data, err := h.a.EncodeRef(r)
		if err != nil {
			t.Fatalf("EncodeRef(%+v): %v", r, err)
		}
		back, err := h.a.DecodeRef(data)
		if err != nil {
			t.Fatalf("DecodeRef(%s): %v", data, err)
		}
		if diff := cmp.Diff(r, back); diff != "" {
			t.Errorf("round trip of %s (-want +got):\n%s", data, diff)
		}
	}
	if _, err := h.a.EncodeRef("not mine"); err == nil {
		t.Errorf("EncodeRef of a foreign ref = nil error")
	}
	if _, err := h.a.DecodeRef([]byte("{")); err == nil {
		t.Errorf("DecodeRef of garbage = nil error")
	}

	rec := &bridgestest.Recorder{}
	stop := run(t, h.a, rec)
	defer stop()
	first := h.f.Queue(in{Chat: 55, Name: "Ann", Text: "an earlier remark"})
	h.f.Queue(in{Chat: 55, Text: "what about it?", ReplyTo: first})
	bridgestest.WaitFor(t, "the reply", 5*time.Second, func() bool { return len(rec.Got()) == 2 })
	m := rec.Got()[1]
	data, err := h.a.EncodeRef(m.Ref)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(m) // as the inbox keeps it
	if err != nil {
		t.Fatal(err)
	}
	var back bridges.Message
	if err := json.Unmarshal(payload, &back); err != nil {
		t.Fatal(err)
	}
	if back.Ref, err = h.a.DecodeRef(data); err != nil {
		t.Fatal(err)
	}
	hist, err := h.a.ThreadHistory(context.Background(), &back, 20)
	if err != nil || len(hist) != 1 || hist[0].Text != "an earlier remark" || hist[0].Author != "Ann" || hist[0].FromBot {
		t.Errorf("ThreadHistory after the round trip = %+v, %v; want Ann's earlier remark", hist, err)
	}
	for _, mm := range []*bridges.Message{&m, &back} {
		ns, err := h.a.OpenStream(context.Background(), mm)
		if err != nil {
			t.Fatal(err)
		}
		if err := ns.Update(context.Background(), "partial"); err != nil {
			t.Fatal(err)
		}
	}
	d := h.f.Drafts(55)
	if len(d) != 2 || d[0].DraftID != m.ID || d[1].DraftID != m.ID {
		t.Errorf("drafts = %+v, want both under draft_id %s (the question's ID)", d, m.ID)
	}
}

// TestLastError: a refused poll is the instance's last error, with the
// method and status and without the token, and its time; the same error
// again keeps the time it first happened.
func TestLastError(t *testing.T) {
	h := newHarness(t, nil, nil)
	if msg, _ := h.a.LastError(); msg != "" {
		t.Errorf("LastError() before any = %q", msg)
	}
	before := time.Now()
	h.f.Fail("getUpdates", -1, 502, "Bad Gateway: upstream /bot"+testToken, 0)
	stop := run(t, h.a, &bridgestest.Recorder{})
	defer stop()
	bridgestest.WaitFor(t, "the last error", 5*time.Second, func() bool { msg, _ := h.a.LastError(); return msg != "" })
	msg, since := h.a.LastError()
	if !strings.Contains(msg, "getUpdates: http 502: Bad Gateway") || strings.Contains(msg, testToken) {
		t.Errorf("LastError() = %q, want getUpdates' status and description, no token", msg)
	}
	if since.Before(before) || since.After(time.Now()) {
		t.Errorf("LastError() since %v, want after %v", since, before)
	}
	n := h.f.Stats().Methods["getUpdates"]
	bridgestest.WaitFor(t, "another refused poll", 10*time.Second, func() bool { return h.f.Stats().Methods["getUpdates"] > n })
	if _, again := h.a.LastError(); !again.Equal(since) {
		t.Errorf("the same error again moved since from %v to %v", since, again)
	}
}
