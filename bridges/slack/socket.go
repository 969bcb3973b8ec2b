package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// slogOutput adapts the adapter's logger to slack-go's Output logger.
type slogOutput struct{ log *slog.Logger }

func (l slogOutput) Output(_ int, s string) error {
	l.log.Debug("slack-go", "msg", s)
	return nil
}

// runSocket receives events over Socket Mode until ctx ends. slack-go
// fetches the WebSocket URL with apps.connections.open (the app token) and
// reconnects by itself on `disconnect`, ping timeouts and errors; it gives
// up only on a refused token. A connection error that will not pass (the
// app token lacks connections:write, or is no app token) would have it
// retry forever: runSocket ends there too, and Run returns the error.
// Each envelope is acknowledged after the handler queued its message.
func (a *Adapter) runSocket(ctx context.Context, h bridges.Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sm := socketmode.New(a.api, socketmode.OptionLog(slogOutput{a.log}))
	errc := make(chan error, 1)
	go func() { errc <- sm.RunContext(ctx) }()
	for {
		select {
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("socket mode: %w", apiError(err))
		case evt := <-sm.Events:
			if err := a.socketEvent(ctx, sm, h, evt); err != nil {
				cancel()
				<-errc // the client's goroutine ends with ctx
				return fmt.Errorf("socket mode: %w", err)
			}
		}
	}
}

// socketEvent handles one event of the Socket Mode client; it returns an
// error only when the connection cannot succeed.
func (a *Adapter) socketEvent(ctx context.Context, sm *socketmode.Client, h bridges.Handler, evt socketmode.Event) error {
	self, _, _, _ := a.state()
	switch evt.Type {
	case socketmode.EventTypeEventsAPI:
		ev, _ := evt.Data.(slackevents.EventsAPIEvent)
		if err := a.receiveEvent(ctx, h, self, ev); err != nil {
			return nil // not acknowledged: Slack delivers it again
		}
		a.ack(ctx, sm, evt.Request)
	case socketmode.EventTypeSlashCommand:
		cmd, _ := evt.Data.(slackapi.SlashCommand)
		if err := a.receive(ctx, h, self, "", fromCommand(cmd)); err != nil {
			a.log.Warn("slack command not accepted", "err", err)
			return nil
		}
		a.ack(ctx, sm, evt.Request)
	case socketmode.EventTypeInteractive:
		a.ack(ctx, sm, evt.Request)
	case socketmode.EventTypeErrorBadMessage:
		// An envelope slack-go could not parse (an event type it does
		// not know): acknowledge it so Slack does not resend it.
		if bad, ok := evt.Data.(*socketmode.ErrorBadMessage); ok {
			var env struct {
				EnvelopeID string `json:"envelope_id"`
			}
			if json.Unmarshal(bad.Message, &env) == nil && env.EnvelopeID != "" {
				a.ack(ctx, sm, &socketmode.Request{EnvelopeID: env.EnvelopeID})
			}
			a.log.Debug("slack socket mode bad message", "err", bad.Cause)
		}
	case socketmode.EventTypeConnecting:
		a.connected.Store(false)
		a.log.Debug("slack socket mode connecting")
	case socketmode.EventTypeConnected:
		a.connected.Store(true)
		a.log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		a.connected.Store(false)
		if ce, ok := evt.Data.(*slackapi.ConnectionErrorEvent); ok {
			a.noteErr(fmt.Errorf("apps.connections.open: %w", ce.ErrorObj))
			if lasting(ce.ErrorObj) {
				return fmt.Errorf("apps.connections.open: %w", ce.ErrorObj)
			}
			a.log.Warn("slack socket mode connection failed", "attempt", ce.Attempt, "backoff", ce.Backoff, "err", ce.ErrorObj)
		}
	case socketmode.EventTypeInvalidAuth:
		a.noteErr(errors.New("socket mode: app token refused"))
		a.log.Error("slack socket mode: app token refused")
	case socketmode.EventTypeIncomingError:
		if ie, ok := evt.Data.(*slackapi.IncomingEventError); ok {
			a.log.Debug("slack socket mode read error", "err", ie.ErrorObj)
		}
	}
	return nil
}

func (a *Adapter) ack(ctx context.Context, sm *socketmode.Client, req *socketmode.Request) {
	if req == nil || req.EnvelopeID == "" {
		return
	}
	if err := sm.AckCtx(ctx, req.EnvelopeID, nil); err != nil {
		a.log.Warn("slack ack", "envelope_id", req.EnvelopeID, "err", err)
	}
}
