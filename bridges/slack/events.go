package slack

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// maxBody bounds an Events API request body.
const maxBody = 1 << 20

// readVerified reads the request body and checks Slack's v0 signature
// (HMAC-SHA256 with the signing secret, timestamp within 5 minutes,
// constant-time compare). It answers the request itself and returns ok
// false when the request must not be processed.
func (a *Adapter) readVerified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, "bad request", http.StatusBadRequest)
		return nil, false
	}
	sv, err := slackapi.NewSecretsVerifier(r.Header, a.cfg.SigningSecret.Reveal())
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		a.log.Warn("slack request rejected", "path", r.URL.Path, "err", err)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// serveEvents is the Events API endpoint, /slack/NAME/events. It answers
// url_verification with the challenge and every event as soon as the
// message is queued (Slack wants 2xx within 3 s); retries of an event it
// already took are dropped by event_id.
func (a *Adapter) serveEvents(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readVerified(w, r)
	if !ok {
		return
	}
	var outer struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if outer.Type == slackevents.URLVerification {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, outer.Challenge)
		return
	}
	self, h, ctx, running := a.state()
	if !running {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if outer.Type != slackevents.CallbackEvent {
		w.WriteHeader(http.StatusOK)
		return
	}
	ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
	if err != nil {
		// Not for us (an event type slack-go does not know); a retry
		// would not help.
		a.log.Debug("slack event not parsed", "err", err)
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := a.receiveEvent(ctx, h, self, ev); err != nil {
		http.Error(w, "not accepted", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// serveCommands receives slash commands, /slack/NAME/commands: "/reset"
// (or "/yourapp reset") resets the channel's top-level conversation (in a
// DM, the DM's); "/ask question" asks.
func (a *Adapter) serveCommands(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readVerified(w, r)
	if !ok {
		return
	}
	self, h, ctx, running := a.state()
	if !running {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	cmd := slackapi.SlashCommand{
		TeamID: form.Get("team_id"), ChannelID: form.Get("channel_id"), UserID: form.Get("user_id"),
		UserName: form.Get("user_name"), Command: form.Get("command"), Text: form.Get("text"),
	}
	if err := a.receive(ctx, h, self, "", fromCommand(cmd)); err != nil {
		a.log.Warn("slack command not accepted", "err", err)
		http.Error(w, "not accepted", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}
