package console

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// TestAdmissionTable runs the same-decision table through the console's
// own input path: each case's text is typed into Run and the message it
// hands the handler goes to the core's Admit. The console is always a
// private chat, so the group cases do not apply.
func TestAdmissionTable(t *testing.T) {
	var skip []string
	for _, c := range bridgestest.AdmissionCases {
		if !c.Private {
			skip = append(skip, c.Name)
		}
	}
	bridgestest.CheckAdmission(t, func(t *testing.T, c bridgestest.AdmissionCase) (bridges.Message, bool) {
		a, err := New(Config{Backend: "demo", In: strings.NewReader(c.Text + "\n"), Out: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		var got []bridges.Message
		h := bridges.HandlerFunc(func(_ context.Context, m bridges.Message) error {
			got = append(got, m)
			a.Completed(&m)
			return nil
		})
		if err := a.Run(context.Background(), h); err != nil {
			t.Fatalf("Run = %v", err)
		}
		if len(got) != 1 {
			t.Fatalf("Run handed %d messages for %q, want 1", len(got), c.Text)
		}
		if got[0].Key != Key("demo") {
			t.Errorf("key = %v, want %v", got[0].Key, Key("demo"))
		}
		return got[0], true
	}, skip...)
}

// console starts a console adapter on a terminal emulator, bound to a
// relay with a scripted backend; the returned input is what the user
// types (see screen.typeLine) and wait returns Run's result.
func startConsole(t *testing.T, b *bridgestest.Backend, s *screen) (in *io.PipeWriter, a *Adapter, wait func() error) {
	t.Helper()
	inR, inW := io.Pipe()
	a, err := New(Config{Backend: "scripted", In: inR, Out: s, Terminal: true, Echo: true, WidthFunc: s.Width})
	if err != nil {
		t.Fatal(err)
	}
	relay, err := bridges.NewRelay(bridges.Config{Store: bridgestest.NewStore()})
	if err != nil {
		t.Fatal(err)
	}
	h := relay.Bind(a, bridges.Route{BackendName: "scripted", Backend: b, Respond: "all"})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx, h) }()
	var once sync.Once
	var runErr error
	wait = func() error {
		once.Do(func() {
			inW.Close()
			runErr = <-errc
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			if err := relay.Shutdown(sctx); err != nil {
				t.Errorf("relay.Shutdown = %v", err)
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		cancel()
		inR.Close()
		wait()
	})
	return inW, a, wait
}

// TestStopMidAnswer types /stop while an answer streams: the console reads
// it at once, the answer ends marked stopped, the backend's remaining text
// never shows, and the screen holds the exchange once.
func TestStopMidAnswer(t *testing.T) {
	b := &bridgestest.Backend{Steps: []bridgestest.Step{
		{Event: backend.Delta{Text: "The first part of the answer"}},
		// Ended only by /stop cancelling the request.
		{Wait: time.Hour, Event: backend.Delta{Text: " that never comes"}},
		{Event: backend.Done{}},
	}}
	s := newScreen(80)
	in, _, wait := startConsole(t, b, s)
	s.waitFor(t, ">") // the prompt
	s.typeLine(t, in, "what are your hours?")
	s.waitFor(t, "The first part of the answer")
	s.typeLine(t, in, "/stop")
	s.waitFor(t, "Stopped.")
	s.waitFor(t, "\n>") // the next prompt
	if err := wait(); err != nil {
		t.Fatalf("Run = %v, want nil at the end of the input", err)
	}
	want := "> what are your hours?\n" +
		"The first part of the answer … _(stopped)_\n\n" +
		"Stopped.\n\n" +
		">"
	if got := s.String(); got != want {
		t.Errorf("screen =\n%s\nwant\n%s", got, want)
	}
	if n := len(b.Requests()); n != 1 {
		t.Errorf("backend got %d requests, want 1 (/stop is no question)", n)
	}
}

// TestTypeAheadWaits: a line typed while an answer streams is handed on
// only once that answer is complete, while /stop is handed on at once.
func TestTypeAheadWaits(t *testing.T) {
	inR, inW := io.Pipe()
	a, err := New(Config{Backend: "demo", In: inR, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var texts []string
	handled := make(chan bridges.Message, 8)
	h := bridges.HandlerFunc(func(_ context.Context, m bridges.Message) error {
		mu.Lock()
		texts = append(texts, m.Text)
		mu.Unlock()
		handled <- m
		return nil
	})
	errc := make(chan error, 1)
	go func() { errc <- a.Run(context.Background(), h) }()
	write := func(s string) {
		if _, err := io.WriteString(inW, s); err != nil {
			t.Fatal(err)
		}
	}
	write("one\n")
	one := <-handled
	// The reader takes lines in order: once /stop is handed on, "two" was
	// read before it and is held back.
	write("two\n/stop\n")
	stop := <-handled
	if stop.Text != "/stop" {
		t.Fatalf("handled %q while the first answer streams, want /stop", stop.Text)
	}
	a.Completed(&stop)
	a.Completed(&one)
	two := <-handled
	if two.Text != "two" {
		t.Errorf("handled %q after the first answer, want two", two.Text)
	}
	a.Completed(&two)
	inW.Close()
	if err := <-errc; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got := strings.Join(texts, "|"); got != "one|/stop|two" {
		t.Errorf("handled %s, want one|/stop|two", got)
	}
}

// TestLogWriterKeepsLogsOutOfRedraw writes log lines (to the same screen,
// as stderr would on a terminal) while an answer is drawn and at the
// prompt: each lands above the answer or the prompt, and the answer is
// still shown once, whole.
func TestLogWriterKeepsLogsOutOfRedraw(t *testing.T) {
	s := newScreen(30)
	a, err := New(Config{Backend: "demo", In: strings.NewReader(""), Out: s, Terminal: true, WidthFunc: s.Width})
	if err != nil {
		t.Fatal(err)
	}
	log := a.LogWriter(s)
	ctx := context.Background()
	m := message("demo", "q1", "question", time.Now())
	sent, err := a.Send(ctx, &m, bridges.Out{Text: "An answer long enough to wrap on a narrow terminal"})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(log, "level=INFO msg=\"first log line\"\n")
	if err := a.Edit(ctx, sent, bridges.Out{Text: "An answer long enough to wrap on a narrow terminal, and more."}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(log, "level=INFO msg=\"second\"\n")
	a.Completed(&m)
	a.prompt()
	io.WriteString(log, "level=WARN msg=\"at the prompt\"\n")
	// What a fresh terminal shows for the log lines, then the answer
	// and the prompt, written one after the other.
	fresh := newScreen(30)
	io.WriteString(fresh, "level=INFO msg=\"first log line\"\r\n"+
		"level=INFO msg=\"second\"\r\n"+
		"An answer long enough to wrap on a narrow terminal, and more.\r\n\r\n"+
		"level=WARN msg=\"at the prompt\"\r\n"+
		"> ")
	want := fresh.String()
	if got := s.String(); got != want {
		t.Errorf("screen =\n%s\nwant\n%s", got, want)
	}
}
