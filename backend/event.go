package backend

import "strings"

// Event is one item of an answer stream. The set is closed: Delta, Replace,
// Status, Notice and Done. Consume it with a type switch.
type Event interface{ isEvent() }

// Delta appends Text to the answer.
type Delta struct{ Text string }

// Replace replaces the whole answer so far with Text (the backend
// post-filtered it).
type Replace struct{ Text string }

// Status reports progress before or while the answer is generated, such as
// "retrieving" or "generating".
type Status struct{ Stage string }

// Notice is a non-fatal message from the backend for the user or operator.
type Notice struct {
	Code    string
	Message string
}

// Done ends a successful answer. It is always the last event.
type Done struct {
	// ConversationID continues this conversation on the next Request.
	ConversationID string
	// Text, when not empty, is the authoritative final answer and replaces
	// whatever the deltas built.
	Text string
	// Citations are the knowledge-base sources of the answer, if any.
	Citations []Citation
}

// Citation is one source of an answer.
type Citation struct {
	Title string
	URL   string
}

func (Delta) isEvent()   {}
func (Replace) isEvent() {}
func (Status) isEvent()  {}
func (Notice) isEvent()  {}
func (Done) isEvent()    {}

// Answer accumulates stream events into the answer text.
// The zero value is an empty answer.
type Answer struct {
	b strings.Builder
	// Done is the terminal event once it has been added.
	Done *Done
	// Notices are the notices seen, in order.
	Notices []Notice
}

// Add folds ev into the answer.
func (a *Answer) Add(ev Event) {
	switch ev := ev.(type) {
	case Delta:
		a.b.WriteString(ev.Text)
	case Replace:
		a.b.Reset()
		a.b.WriteString(ev.Text)
	case Notice:
		a.Notices = append(a.Notices, ev)
	case Done:
		if ev.Text != "" {
			a.b.Reset()
			a.b.WriteString(ev.Text)
		}
		d := ev
		a.Done = &d
	}
}

// Text returns the answer so far.
func (a *Answer) Text() string { return a.b.String() }
