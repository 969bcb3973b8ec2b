package bridges

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chat-bridge/chat-bridge/backend"
)

// Thread context: a conversation that starts inside an existing thread
// (a Slack or Discord thread, a reply chain, a forum topic) begins with
// the thread's earlier messages, which the bot has not seen. On the
// conversation's first question only, the turn asks the platform's
// ThreadReader for up to Route.ThreadContext of them, keeps at most
// threadMaxChars characters (the oldest dropped first), and sends them
// with the question: as history turns to a backend that keeps no memory
// of its own (backend.HistoryKeeper: the bot's messages as the
// assistant's), otherwise as a short preface ahead of the question.
// Later questions rely on the backend's memory (or the stored history).

// threadMaxChars bounds the thread's text sent with a question.
const threadMaxChars = 4000

// readThread fetches the thread context of a new conversation's first
// question, when there is one to fetch. A failure is logged and the
// question goes without it.
func (t *turn) readThread() {
	n := t.b.rt.ThreadContext
	tr, ok := t.b.p.(ThreadReader)
	if !ok || n <= 0 || !t.isNew || !t.m.InThread {
		return
	}
	ctx, cancel := context.WithTimeout(t.r.hard, 10*time.Second)
	defer cancel()
	msgs, err := tr.ThreadHistory(ctx, t.m, n)
	if err != nil {
		t.log.Warn("thread context: cannot read the thread; asking without it", "err", err)
		return
	}
	t.thread = boundThread(msgs, n, threadMaxChars)
	t.log.Debug("thread context", "messages", len(t.thread))
	if t.r.cfg.LogContent {
		t.log.Debug("thread context text", "text", threadLines(t.thread))
	}
}

// boundThread keeps the last max messages with text, and of those the
// newest that fit in chars characters together; a single message longer
// than that is cut.
func boundThread(msgs []ThreadMessage, max, chars int) []ThreadMessage {
	var kept []ThreadMessage
	for _, m := range msgs {
		m.Text = strings.TrimSpace(m.Text)
		if m.Text != "" {
			kept = append(kept, m)
		}
	}
	if len(kept) > max {
		kept = kept[len(kept)-max:]
	}
	total, start := 0, len(kept)
	for start > 0 {
		n := utf8.RuneCountInString(kept[start-1].Text)
		if total+n > chars {
			break
		}
		total += n
		start--
	}
	if start == len(kept) && start > 0 && chars > 1 { // the newest alone is too long: cut it
		r := []rune(kept[start-1].Text)
		kept[start-1].Text = string(r[:chars-1]) + "…"
		start--
	}
	return kept[start:]
}

// label is how a thread message's author is shown to the backend.
func (m ThreadMessage) label() string {
	switch {
	case m.FromBot:
		return "assistant"
	case strings.TrimSpace(m.Author) != "":
		return strings.NewReplacer("[", "(", "]", ")", "\n", " ").Replace(strings.TrimSpace(m.Author))
	}
	return "user"
}

func threadLines(msgs []ThreadMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("[" + m.label() + "] " + m.Text + "\n")
	}
	return b.String()
}

// threadPreface puts the thread ahead of the question, for backends that
// take one question string.
func threadPreface(msgs []ThreadMessage, question string) string {
	return "Earlier messages in this thread:\n" + threadLines(msgs) + "\nQuestion: " + question
}

// threadTurns turns the thread into history turns: the users' messages
// (labelled with their authors) as questions, the bot's as answers.
func threadTurns(msgs []ThreadMessage) []backend.Turn {
	var out []backend.Turn
	for _, m := range msgs {
		if m.FromBot {
			if len(out) == 0 {
				out = append(out, backend.Turn{})
			}
			last := &out[len(out)-1]
			last.Answer = join(last.Answer, m.Text)
			continue
		}
		if len(out) == 0 || out[len(out)-1].Answer != "" {
			out = append(out, backend.Turn{})
		}
		last := &out[len(out)-1]
		last.Question = join(last.Question, "["+m.label()+"] "+m.Text)
	}
	return out
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n" + b
}
