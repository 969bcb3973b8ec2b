package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// The REST side: every call goes through the adapter's one session, a.s,
// whose client rewrites discordgo's URLs to the instance's api_base_url
// (discordgo's Endpoint variables are package globals; they stay
// untouched), books the request on the shared budgets (budgets.go) and
// records what a 429 said (errors.go).

// transport rewrites discordgo's REST URLs to the configured base, books
// each request on the budgets before it leaves, and records what a 429
// said, for the call that made it.
type transport struct {
	base http.RoundTripper
	from *url.URL // discordgo's API prefix
	to   *url.URL // nil = no rewrite
	// book, when set, books a request of the API (path relative to its
	// prefix) and returns the function to call with its answer.
	book func(req *http.Request, path string) (func(*http.Response), error)
}

func newTransport(apiBase string, hc *http.Client) (*transport, error) {
	t := &transport{base: http.DefaultTransport}
	if hc != nil && hc.Transport != nil {
		t.base = hc.Transport
	}
	from, err := url.Parse(discordgo.EndpointAPI) // read, never written
	if err != nil {
		return nil, err
	}
	t.from = from
	if apiBase == "" {
		return t, nil
	}
	to, err := url.Parse(apiBase)
	if err != nil {
		return nil, err
	}
	if to.Scheme != "http" && to.Scheme != "https" || to.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", apiBase)
	}
	if !strings.HasSuffix(to.Path, "/") {
		to.Path += "/"
	}
	to.RawPath = ""
	t.to = to
	return t, nil
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	api := req.URL.Host == t.from.Host && req.URL.Scheme == t.from.Scheme && strings.HasPrefix(req.URL.Path, t.from.Path)
	path := strings.TrimPrefix(req.URL.Path, t.from.Path)
	if t.to != nil && api {
		r := req.Clone(req.Context())
		u := *req.URL
		u.Scheme, u.Host, u.RawPath = t.to.Scheme, t.to.Host, ""
		u.Path = t.to.Path + path
		r.URL, r.Host = &u, ""
		req = r
	}
	answered := func(*http.Response) {}
	if api && t.book != nil {
		var err error
		if answered, err = t.book(req, path); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
	}
	resp, err := t.base.RoundTrip(req)
	answered(resp)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		if rec := recorderFrom(req.Context()); rec != nil {
			resp.Body = rec.record(resp)
		}
	}
	return resp, err
}

// registerCommands overwrites the application's global slash commands.
// A failure is logged: mentions and DMs still work without them.
func (a *Adapter) registerCommands(ctx context.Context) bool {
	b := a.botUser()
	if b.AppID == "" {
		return false
	}
	if _, err := a.s.ApplicationCommandBulkOverwrite(b.AppID, "", slashCommands(), a.opts(ctx)...); err != nil {
		err = fmt.Errorf("register slash commands: %w", redact(err))
		a.log.Error("register slash commands", "err", err)
		a.setLastError(err)
		return false
	}
	return true
}

// opts are the request options of every REST call: bounded by ctx, and
// never retried by discordgo on a 429.
func (a *Adapter) opts(ctx context.Context) []discordgo.RequestOption {
	return []discordgo.RequestOption{discordgo.WithContext(ctx), discordgo.WithRetryOnRatelimit(false)}
}

func contains(list []string, id string) bool { return slices.Contains(list, id) }

// Check implements bridges.Checker: the bot user, its guild count, and
// whether the message content intent is enabled for the application.
func (a *Adapter) Check(ctx context.Context) (string, error) {
	cctx, rec := withRecorder(ctx)
	u, err := a.s.User("@me", a.opts(cctx)...)
	if err != nil {
		return "", wrapErr("get bot user", err, rec)
	}
	cctx, rec = withRecorder(ctx)
	guilds, err := a.s.UserGuilds(200, "", "", false, a.opts(cctx)...)
	if err != nil {
		return "", wrapErr("list guilds", err, rec)
	}
	count := fmt.Sprint(len(guilds))
	if len(guilds) == 200 {
		count = "200+"
	}
	cctx, rec = withRecorder(ctx)
	body, err := a.s.RequestWithBucketID("GET", discordgo.EndpointApplication("@me"), nil,
		discordgo.EndpointApplication(""), a.opts(cctx)...)
	if err != nil {
		return "", wrapErr("get application", err, rec)
	}
	var app struct {
		Flags int64 `json:"flags"`
	}
	if err := json.Unmarshal(body, &app); err != nil {
		return "", fmt.Errorf("get application: %w", err)
	}
	intent := "enabled"
	if app.Flags&(appFlagGatewayMessageContent|appFlagGatewayMessageContentLimited) == 0 {
		intent = "NOT enabled (the bot can't read messages that don't mention it; enable it in the Developer Portal → Bot → Privileged Gateway Intents)"
	}
	return fmt.Sprintf("bot %s (%s) in %s guild(s); message content intent: %s", u.Username, u.ID, count, intent), nil
}

// Application flags saying the message content intent is on.
const (
	appFlagGatewayMessageContent        = 1 << 18
	appFlagGatewayMessageContentLimited = 1 << 19
)
