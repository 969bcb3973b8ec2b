package bridges

import (
	"context"
	"errors"
)

// Relay turns incoming messages into backend questions and live replies.
type Relay struct {
	cfg Config
}

// NewRelay returns a relay; it starts no goroutine until messages arrive.
func NewRelay(cfg Config) (*Relay, error) {
	if cfg.Store == nil {
		return nil, errors.New("relay: no store")
	}
	return &Relay{cfg: cfg}, nil
}

// Bind returns the Handler an adapter's Run gets: messages it accepts are
// answered on p through rt.
func (r *Relay) Bind(p Platform, rt Route) Handler {
	panic("not implemented yet")
}

// Shutdown stops accepting messages and waits for live replies to finish
// until ctx ends; then it finalises the remaining replies with their
// partial text and an "interrupted" note.
func (r *Relay) Shutdown(ctx context.Context) error {
	return nil
}
