package slacktest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Callback wraps an inner event as Slack's event_callback payload.
func (s *Server) Callback(eventID string, ev map[string]any) map[string]any {
	return Callback(s.opts.TeamID, eventID, ev)
}

// Callback wraps an inner event as Slack's event_callback payload of
// workspace team.
func Callback(team, eventID string, ev map[string]any) map[string]any {
	return map[string]any{
		"token": "verification-token", "team_id": team, "api_app_id": DefaultAppID, "type": "event_callback",
		"event_id": eventID, "event_time": 1800000000, "event": ev,
	}
}

// MentionEvent is an app_mention event: user wrote text (which should hold
// "<@BOTUSER>") in channel at ts, in thread (empty: top level).
func MentionEvent(channel, user, text, ts, thread string) map[string]any {
	ev := map[string]any{"type": "app_mention", "channel": channel, "user": user, "text": text,
		"ts": ts, "event_ts": ts}
	if thread != "" {
		ev["thread_ts"] = thread
	}
	return ev
}

// MessageEvent is a message event; channelType is "im" (a DM), "channel",
// "group" or "mpim".
func MessageEvent(channelType, channel, user, text, ts, thread string) map[string]any {
	ev := map[string]any{"type": "message", "channel": channel, "user": user, "text": text,
		"ts": ts, "event_ts": ts, "channel_type": channelType}
	if thread != "" {
		ev["thread_ts"] = thread
	}
	return ev
}

// Sign sets Slack's v0 request signature on h: X-Slack-Request-Timestamp
// ts and X-Slack-Signature v0=hex(HMAC-SHA256(secret,
// "v0:<timestamp>:<body>")).
func Sign(h http.Header, body []byte, ts time.Time, secret string) {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	h.Set("X-Slack-Request-Timestamp", stamp)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
}

// Delivery is how a request to the bridge's HTTP endpoint is made.
type Delivery struct {
	// Client sends the request; nil means http.DefaultClient.
	Client *http.Client
	// Secret signs the request (the app's signing secret).
	Secret string
	// At is the signature's timestamp; zero means now.
	At time.Time
	// Header is added to the request (X-Slack-Retry-Num, …).
	Header http.Header
}

// Post sends body to url as Slack does, signed, with contentType. The
// caller closes the response body.
func (d Delivery) Post(url, contentType string, body []byte) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range d.Header {
		req.Header[k] = v
	}
	at := d.At
	if at.IsZero() {
		at = time.Now()
	}
	Sign(req.Header, body, at, d.Secret)
	req.Header.Set("Content-Type", contentType)
	c := d.Client
	if c == nil {
		c = http.DefaultClient
	}
	return c.Do(req)
}

// Event delivers an Events API event_callback with inner event ev to the
// bridge's events endpoint (…/slack/NAME/events) and returns the status.
func (s *Server) Event(d Delivery, endpoint, eventID string, ev map[string]any) (int, error) {
	body, err := json.Marshal(s.Callback(eventID, ev))
	if err != nil {
		return 0, err
	}
	return status(d.Post(endpoint, "application/json", body))
}

// URLVerification sends Slack's url_verification request and returns
// the status and the body of the answer (the challenge, when right).
func (s *Server) URLVerification(d Delivery, endpoint, challenge string) (int, string, error) {
	body, _ := json.Marshal(map[string]any{"token": "verification-token", "challenge": challenge, "type": "url_verification"})
	resp, err := d.Post(endpoint, "application/json", body)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), nil
}

// SlashCommandHTTP delivers a slash command to the bridge's commands
// endpoint (…/slack/NAME/commands) as Slack's form post.
func (s *Server) SlashCommandHTTP(d Delivery, endpoint string, c Command) (int, error) {
	form := url.Values{}
	for k, v := range s.commandFields(c) {
		form.Set(k, v)
	}
	return status(d.Post(endpoint, "application/x-www-form-urlencoded", []byte(form.Encode())))
}

func status(resp *http.Response, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Mentioning returns text with the bot's mention before it, as Slack
// writes it in app_mention events ("<@UBOT> text").
func (s *Server) Mentioning(text string) string {
	return strings.TrimSpace("<@" + s.opts.BotUser + "> " + text)
}
