// Package demo is the built-in demo backend (kind "demo"): it needs no
// account and streams a canned, clearly labelled answer word by word, so a
// new operator can see chat-bridge work end to end. It continues
// conversations: the conversation ID it returns carries the turn number.
//
// Package demo imports backend, backend/internal/wire and the standard
// library.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/internal/wire"
)

// Config configures the demo backend.
type Config struct {
	// Pace is the delay between two words; zero means 40ms, negative
	// means no delay (tests).
	Pace time.Duration `toml:"pace"`
}

func (c Config) pace() time.Duration {
	switch {
	case c.Pace == 0:
		return 40 * time.Millisecond
	case c.Pace < 0:
		return 0
	}
	return c.Pace
}

// Client is the demo backend.
type Client struct{ cfg Config }

var (
	_ backend.Backend = (*Client)(nil)
	_ backend.Checker = (*Client)(nil)
)

// New returns the demo backend.
func New(cfg Config, _ backend.Deps) (*Client, error) { return &Client{cfg: cfg}, nil }

// Check implements backend.Checker; the demo backend is always available.
func (c *Client) Check(context.Context) error { return nil }

// Ask implements backend.Backend.
func (c *Client) Ask(ctx context.Context, req backend.Request) *backend.Stream {
	id, turn := parseConv(req.ConversationID)
	turn++
	words := strings.SplitAfter(answer(req.Question, turn), " ")
	return backend.NewStream(&decoder{
		ctx: ctx, pace: c.cfg.pace(), words: words,
		conv: "demo-" + id + "-" + strconv.Itoa(turn),
	})
}

// parseConv reads "demo-<id>-<turn>"; anything else starts a new one.
func parseConv(s string) (id string, turn int) {
	if rest, ok := strings.CutPrefix(s, "demo-"); ok {
		if i := strings.LastIndexByte(rest, '-'); i > 0 {
			if n, err := strconv.Atoi(rest[i+1:]); err == nil && n > 0 {
				return rest[:i], n
			}
		}
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]), 0
}

func answer(q string, turn int) string {
	q = strings.Join(strings.Fields(q), " ")
	if len([]rune(q)) > 120 {
		q = string([]rune(q)[:120]) + "…"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Demo backend** (turn %d of this conversation). ", turn)
	fmt.Fprintf(&b, "You asked: _%s_\n\n", q)
	if turn == 1 {
		b.WriteString("I am chat-bridge's built-in demo: no knowledge base is behind me, " +
			"so I can't really answer, but you can see how answers stream in and how the " +
			"conversation is kept. Ask me something else and I will count the turn.\n\n")
	} else {
		fmt.Fprintf(&b, "This is turn %d, so the bridge remembered our conversation "+
			"(it is stored in bbolt and survives a restart). `/reset` starts a new one.\n\n", turn)
	}
	b.WriteString("To connect a real chatbot, set in `config.toml`:\n" +
		"- `kind = \"chatofai\"`, `\"newoaks\"`, `\"chatbotiq\"` or `\"openai\"`\n" +
		"- `bot_id` and `api_key` from your chatbot's dashboard")
	return b.String()
}

type decoder struct {
	ctx   context.Context
	pace  time.Duration
	words []string
	conv  string
	done  bool
}

func (d *decoder) Next() (backend.Event, error) {
	if err := d.ctx.Err(); err != nil {
		return nil, err
	}
	if len(d.words) == 0 {
		if d.done {
			return nil, io.EOF
		}
		d.done = true
		return backend.Done{ConversationID: d.conv}, nil
	}
	if d.pace > 0 {
		if err := wire.Sleep(d.ctx, d.pace); err != nil {
			return nil, err
		}
	}
	w := d.words[0]
	d.words = d.words[1:]
	return backend.Delta{Text: w}, nil
}

func (d *decoder) Close() error { return nil }
