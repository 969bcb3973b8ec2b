package bridges

import "time"

// Metrics receives the core's measurements. The core reports through this
// interface only and imports no metrics library; cmd/bridge implements it
// with Prometheus. Methods are called concurrently, from the relay's and
// the live replies' goroutines, and must not block.
type Metrics interface {
	// Message counts one message outcome (received, ignored, refused,
	// answered, failed) with its reason ("" when there is none).
	Message(k Key, backend, outcome, reason string)
	// FirstText observes the time from asking the backend to its first
	// answer text.
	FirstText(backend string, d time.Duration)
	// Answer observes the time from a question to its final text landing.
	Answer(backend string, d time.Duration)
	// Reply reports one finished live reply: text updates it received,
	// platform requests it made and 429s it waited out.
	Reply(k Key, updates, requests, rateLimited int)
	// AddedLatency observes a delay the bridge itself added before a
	// reply request (see reply.sending).
	AddedLatency(d time.Duration)
	// LiveReplies and InboxDepth move the gauges of replies streaming now
	// and of accepted messages not yet fully answered.
	LiveReplies(delta int)
	InboxDepth(delta int)
	// StoreOp observes one conversation store operation ("get", "put",
	// "forget").
	StoreOp(op string, d time.Duration)
	// StoreError counts a failed durable write or read that loses or
	// risks something: "get", "put", "forget", "inbox_add", "inbox_done",
	// "inbox_read", "quota_read", "quota_write". Each is also logged.
	StoreError(op string)
}

// NopMetrics records nothing; it is the relay's Metrics when
// Config.Metrics is nil.
type NopMetrics struct{}

var _ Metrics = NopMetrics{}

func (NopMetrics) Message(Key, string, string, string) {}
func (NopMetrics) FirstText(string, time.Duration)     {}
func (NopMetrics) Answer(string, time.Duration)        {}
func (NopMetrics) Reply(Key, int, int, int)            {}
func (NopMetrics) AddedLatency(time.Duration)          {}
func (NopMetrics) LiveReplies(int)                     {}
func (NopMetrics) InboxDepth(int)                      {}
func (NopMetrics) StoreOp(string, time.Duration)       {}
func (NopMetrics) StoreError(string)                   {}
