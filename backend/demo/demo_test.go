package demo

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
)

func ask(t *testing.T, c *Client, conv string) (string, string) {
	t.Helper()
	s := c.Ask(context.Background(), backend.Request{Question: "What are your hours?", ConversationID: conv})
	defer s.Close()
	var a backend.Answer
	deltas := 0
	for s.Next() {
		if _, ok := s.Current().(backend.Delta); ok {
			deltas++
		}
		a.Add(s.Current())
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if deltas < 10 {
		t.Errorf("deltas = %d, want the answer streamed word by word", deltas)
	}
	return a.Text(), a.Done.ConversationID
}

func TestDemoContinuesConversation(t *testing.T) {
	c, _ := New(Config{Pace: -1}, backend.Deps{})
	text1, conv1 := ask(t, c, "")
	if !strings.Contains(text1, "Demo backend") || !strings.Contains(text1, "turn 1") {
		t.Errorf("first answer = %q, want a labelled turn 1", text1)
	}
	text2, conv2 := ask(t, c, conv1)
	if !strings.Contains(text2, "turn 2") {
		t.Errorf("second answer = %q, want turn 2", text2)
	}
	if conv1 == conv2 || !strings.HasPrefix(conv2, strings.TrimSuffix(conv1, "1")) {
		t.Errorf("conversation IDs %q then %q, want the same conversation, next turn", conv1, conv2)
	}
}

func TestDemoPacingAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := New(Config{}, backend.Deps{})
		ctx, cancel := context.WithCancel(context.Background())
		s := c.Ask(ctx, backend.Request{Question: "hi"})
		start := time.Now()
		if !s.Next() {
			t.Fatal(s.Err())
		}
		if d := time.Since(start); d != 40*time.Millisecond {
			t.Errorf("first word after %s, want 40ms", d)
		}
		cancel()
		if s.Next() {
			t.Error("Next after cancel = true")
		}
		if s.Err() == nil {
			t.Error("Err after cancel = nil")
		}
	})
}
