package slack

import (
	"net/http"
	"net/http/httptest"
	"testing"

	slackapi "github.com/slack-go/slack"

	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/bridges/slack/slacktest"
)

// The fake's workspace, as the tests name it.
const (
	botToken = slacktest.DefaultBotToken
	appToken = slacktest.DefaultAppToken
	botUser  = slacktest.DefaultBotUser
	botID    = slacktest.DefaultBotID
	teamID   = slacktest.DefaultTeamID
)

// newFake starts a fake Slack for the test.
func newFake(t testing.TB, o slacktest.Options) *slacktest.Server {
	t.Helper()
	f := slacktest.NewServer(o)
	t.Cleanup(f.Close)
	return f
}

// newFakeAdapter starts a fake Slack for the test and returns it with a
// "running" adapter (newTestAdapter) that calls its Web API.
func newFakeAdapter(t testing.TB) (*slacktest.Server, *Adapter) {
	t.Helper()
	f := newFake(t, slacktest.Options{})
	return f, newTestAdapter(t, Config{APIURL: f.APIURL()}, &bridgestest.Recorder{}, nil)
}

// envelope delivers an events_api envelope over Socket Mode and returns
// its ID.
func (e *env) envelope(eventID string, retry int, ev map[string]any) string {
	e.t.Helper()
	id, err := e.fake.Envelope(eventID, retry, ev)
	if err != nil {
		e.t.Fatalf("envelope %s: %v", eventID, err)
	}
	return id
}

func slackCommand(cmd, text, channel string) slackapi.SlashCommand {
	return slackapi.SlashCommand{Command: cmd, Text: text, ChannelID: channel, UserID: "U1", TeamID: teamID}
}

// newHTTP serves mux as the bridge's [http] listen and returns its URL.
func newHTTP(t testing.TB, mux http.Handler) string {
	t.Helper()
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s.URL
}
