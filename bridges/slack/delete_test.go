package slack

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
)

// TestDelete: Delete removes the bot's own message with chat.delete (the
// core deletes a message an answer no longer needs, and one a replica
// posted after it lost the conversation); deleting it again is
// message_deleted, which the core takes as done.
func TestDelete(t *testing.T) {
	f, a := newFakeAdapter(t)
	ctx := context.Background()
	m := &bridges.Message{ChatID: "C1", ThreadID: "1700000000.000100"}
	keep, err := a.Send(ctx, m, bridges.Out{Text: "kept", Final: true})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := a.Send(ctx, m, bridges.Out{Text: "stale partial"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, gone); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if got := f.Visible("C1", ""); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("visible after Delete = %q, want only the kept message", got)
	}
	if !slices.ContainsFunc(f.Requests("chat.delete"), func(c slacktest.Call) bool {
		return c.Form.Get("ts") == gone.ID && c.Form.Get("channel") == "C1"
	}) {
		t.Errorf("no chat.delete of %s in C1 reached the fake", gone.ID)
	}
	err = a.Delete(ctx, gone)
	if pe, ok := errors.AsType[*bridges.PermanentError](err); !ok || pe.Reason != bridges.ReasonMessageDeleted {
		t.Errorf("Delete of a deleted message = %v, want PermanentError message_deleted", err)
	}
	if keep.ID == gone.ID {
		t.Errorf("two posts got one ts %s", keep.ID)
	}
}
