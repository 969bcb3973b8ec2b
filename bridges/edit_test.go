package bridges_test

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

func edited(m bridges.Message, text string) bridges.Message {
	m.Text, m.Edited = text, true
	return m
}

// TestEditWhileStreamingRestarts: an edit of the question whose answer
// still streams cancels that stream and answers the new text in the same
// reply; an edit after the answer landed is left alone.
func TestEditWhileStreamingRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Script: func(req backend.Request) []bridgestest.Step {
			if req.Question == "old question" {
				return bridgestest.Answer("the answer to the old question, slowly", 3, 100*time.Millisecond, "c")
			}
			return answer("new answer")
		}}
		lim := testLimits
		lim.MaxLen = 500
		h := newHarness(t, lim, be, bridges.Route{})
		m := msg("c1", "old question")
		h.send(m)
		time.Sleep(350 * time.Millisecond) // the old answer has begun to show
		synctest.Wait()
		if h.p.Sends() != 1 {
			t.Fatalf("sends before the edit = %d, want the reply begun", h.p.Sends())
		}
		h.send(edited(m, "new question"))
		h.settle()
		if got, want := questions(be), []string{"old question", "new question"}; !slices.Equal(got, want) {
			t.Errorf("questions = %q, want %q", got, want)
		}
		if got := h.p.Messages(); h.p.Sends() != 1 || len(got) != 1 || got[0] != "new answer" {
			t.Errorf("messages = %q after %d sends, want one reply edited to %q", got, h.p.Sends(), "new answer")
		}
		if rec := h.store.Records()[m.Key.String()]; rec.Turns != 1 {
			t.Errorf("stored turns = %d, want 1 (the restarted answer is one turn)", rec.Turns)
		}

		h.send(edited(m, "even newer question"))
		h.settle()
		if got := questions(be); len(got) != 2 {
			t.Errorf("an edit after the answer landed asked again: %q", got)
		}
		if got := h.p.Messages(); len(got) != 1 || got[0] != "new answer" {
			t.Errorf("messages = %q, want the landed answer left alone", got)
		}
	})
}

// TestEditOfQueuedQuestion: an edit of a question still waiting its turn
// replaces its text.
func TestEditOfQueuedQuestion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Steps: answer("ok")}
		h := newHarness(t, testLimits, be, bridges.Route{})
		first, second := msg("c1", "first"), msg("c1", "second")
		h.send(first)
		h.send(second)
		h.send(edited(second, "second, corrected"))
		h.settle()
		if got, want := questions(be), []string{"first", "second, corrected"}; !slices.Equal(got, want) {
			t.Errorf("questions = %q, want %q", got, want)
		}
	})
}

// TestNonTextGetsTextOnlyNotice: a picture without text gets a short
// localized "I can read text only", at most once a minute per chat; an
// empty text that is no picture is ignored as before, and a picture in a
// group that does not address the bot gets nothing.
func TestNonTextGetsTextOnlyNotice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := &bridgestest.Backend{Steps: answer("ok")}
		h := newHarness(t, testLimits, be, bridges.Route{})
		photo := msg("c1", "")
		photo.NonText = true
		// settle would let an hour pass: these waits keep to seconds.
		brief := func() {
			time.Sleep(5 * time.Second)
			synctest.Wait()
		}
		h.send(photo)
		brief()
		const want = "I can read text only. Please write your question as a message."
		if got := h.p.Messages(); len(got) != 1 || got[0] != want {
			t.Fatalf("messages = %q, want %q", got, want)
		}
		h.send(photo)
		h.send(msg("c1", "")) // empty, no picture
		group := groupMsg("u2", "")
		group.NonText, group.Mentioned = true, false
		h.send(group)
		brief()
		if n := len(h.p.Messages()); n != 1 {
			t.Errorf("messages = %q, want still one (once a minute; empty and unaddressed ignored)", h.p.Messages())
		}
		time.Sleep(time.Minute)
		photo.Locale = "it"
		h.send(photo)
		brief()
		if got := h.p.Messages(); len(got) != 2 || !strings.HasPrefix(got[1], "Posso leggere solo testo.") {
			t.Errorf("messages = %q, want the Italian notice a minute later", got)
		}
		if n := len(be.Requests()); n != 0 {
			t.Errorf("backend asked %d times for pictures", n)
		}
	})
}
