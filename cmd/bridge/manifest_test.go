package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// slackMethods maps each slack-go method the Slack adapter may call to
// the Web API method it is and the bot scope that method needs ("" for
// none). A call the table does not know fails TestSlackManifest: add it
// here with its scope (https://docs.slack.dev/reference/methods) and to
// deploy/slack-manifest.yaml.
var slackMethods = map[string]struct{ method, scope string }{
	"AuthTestContext":                  {"auth.test", ""},
	"PostMessageContext":               {"chat.postMessage", "chat:write"},
	"UpdateMessageContext":             {"chat.update", "chat:write"},
	"DeleteMessageContext":             {"chat.delete", "chat:write"},
	"StartStreamContext":               {"chat.startStream", "chat:write"},
	"AppendStreamContext":              {"chat.appendStream", "chat:write"},
	"StopStreamContext":                {"chat.stopStream", "chat:write"},
	"SetAssistantThreadsStatusContext": {"assistant.threads.setStatus", "chat:write"},
	"AddReactionContext":               {"reactions.add", "reactions:write"},
	"GetUserInfoContext":               {"users.info", "users:read"},
	// conversations.replies needs the history scope of the channel's
	// type (channels:, groups:, im:, mpim:history), all four in the
	// manifest for the message events already.
	"GetConversationRepliesContext": {"conversations.replies", "channels:history"},
}

// slackEvents maps each slackevents type the adapter handles to the
// event subscriptions that deliver it and their scopes.
var slackEvents = map[string]map[string]string{
	"AppMentionEvent": {"app_mention": "app_mentions:read"},
	"MessageEvent": {
		"message.channels": "channels:history",
		"message.groups":   "groups:history",
		"message.im":       "im:history",
		"message.mpim":     "mpim:history",
	},
}

type slackManifest struct {
	Features struct {
		AppHome struct {
			MessagesTab         bool `yaml:"messages_tab_enabled"`
			MessagesTabReadOnly bool `yaml:"messages_tab_read_only_enabled"`
		} `yaml:"app_home"`
		BotUser struct {
			DisplayName string `yaml:"display_name"`
		} `yaml:"bot_user"`
		SlashCommands []struct {
			Command     string `yaml:"command"`
			Description string `yaml:"description"`
			UsageHint   string `yaml:"usage_hint"`
		} `yaml:"slash_commands"`
	} `yaml:"features"`
	OAuth struct {
		Scopes struct {
			Bot  []string `yaml:"bot"`
			User []string `yaml:"user"`
		} `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		Events struct {
			BotEvents []string `yaml:"bot_events"`
		} `yaml:"event_subscriptions"`
		SocketMode bool `yaml:"socket_mode_enabled"`
	} `yaml:"settings"`
}

// slackUses parses the Slack adapter's non-test sources and returns the
// slack-go client methods it calls (a.api.X(...)) and the slackevents
// types its type switches handle.
func slackUses(t *testing.T) (methods, events []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "bridges", "slack", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Slack adapter sources: %v", err)
	}
	fset := token.NewFileSet()
	seenM, seenE := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
					if recv, ok := sel.X.(*ast.SelectorExpr); ok && recv.Sel.Name == "api" && !seenM[sel.Sel.Name] {
						seenM[sel.Sel.Name] = true
						methods = append(methods, sel.Sel.Name)
					}
				}
			case *ast.TypeSwitchStmt:
				for _, st := range n.Body.List {
					for _, e := range st.(*ast.CaseClause).List {
						if star, ok := e.(*ast.StarExpr); ok {
							e = star.X
						}
						sel, ok := e.(*ast.SelectorExpr)
						if !ok {
							continue
						}
						if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "slackevents" && !seenE[sel.Sel.Name] {
							seenE[sel.Sel.Name] = true
							events = append(events, sel.Sel.Name)
						}
					}
				}
			}
			return true
		})
	}
	sort.Strings(methods)
	sort.Strings(events)
	return methods, events
}

// TestSlackManifest checks deploy/slack-manifest.yaml against the code:
// its bot scopes are exactly those the adapter's Web API calls and events
// need, its event subscriptions exactly those the adapter handles, its
// slash commands exactly bridges.Commands, and Socket Mode and DMs are on.
func TestSlackManifest(t *testing.T) {
	var m slackManifest
	dec := yaml.NewDecoder(strings.NewReader(repoFile(t, "deploy/slack-manifest.yaml")))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("slack-manifest.yaml: %v", err)
	}

	methods, events := slackUses(t)
	if len(methods) < 3 || len(events) == 0 {
		t.Fatalf("found methods %v and events %v in bridges/slack; the source scan is broken", methods, events)
	}
	wantScopes := map[string]bool{}
	for _, name := range methods {
		s, ok := slackMethods[name]
		if !ok {
			t.Errorf("bridges/slack calls %s, which slackMethods does not know: add its Web API method and scope", name)
			continue
		}
		if s.scope != "" {
			wantScopes[s.scope] = true
		}
	}
	var wantEvents []string
	for _, name := range events {
		subs, ok := slackEvents[name]
		if !ok {
			t.Errorf("bridges/slack handles slackevents.%s, which slackEvents does not know: add its subscriptions and scopes", name)
			continue
		}
		for ev, scope := range subs {
			wantEvents = append(wantEvents, ev)
			wantScopes[scope] = true
		}
	}
	if len(bridges.Commands) > 0 {
		wantScopes["commands"] = true
	}

	got := slices.Sorted(slices.Values(m.OAuth.Scopes.Bot))
	want := slices.Sorted(func(yield func(string) bool) {
		for s := range wantScopes {
			if !yield(s) {
				return
			}
		}
	})
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("manifest bot scopes differ from what bridges/slack needs (-want +got):\n%s", d)
	}
	if len(m.OAuth.Scopes.User) != 0 {
		t.Errorf("manifest asks for user scopes %v; the bridge uses none", m.OAuth.Scopes.User)
	}
	sort.Strings(wantEvents)
	if d := cmp.Diff(wantEvents, slices.Sorted(slices.Values(m.Settings.Events.BotEvents))); d != "" {
		t.Errorf("manifest bot events differ from what bridges/slack handles (-want +got):\n%s", d)
	}

	type command struct{ Name, Description, UsageHint string }
	var wantCmds, gotCmds []command
	for _, c := range bridges.Commands {
		hint := ""
		if c.Arg != "" {
			hint = "[" + c.Arg + "]"
		}
		wantCmds = append(wantCmds, command{"/" + c.Name, c.Help, hint})
	}
	for _, c := range m.Features.SlashCommands {
		gotCmds = append(gotCmds, command{c.Command, c.Description, c.UsageHint})
	}
	if d := cmp.Diff(wantCmds, gotCmds); d != "" {
		t.Errorf("manifest slash commands differ from bridges.Commands (-want +got):\n%s", d)
	}

	if !m.Settings.SocketMode {
		t.Error("manifest: socket_mode_enabled = false, want true (the guide's default set-up)")
	}
	if !m.Features.AppHome.MessagesTab || m.Features.AppHome.MessagesTabReadOnly {
		t.Error("manifest: direct messages with the bot are off (app_home messages tab)")
	}
	if m.Features.BotUser.DisplayName == "" {
		t.Error("manifest: no bot user")
	}
}

// TestGuidesListCommands checks that the set-up guides name every chat
// command the bridge has, and no slash command it does not have.
func TestGuidesListCommands(t *testing.T) {
	for _, guide := range []string{"slack.md", "discord.md", "telegram.md"} {
		text := repoFile(t, "docs/"+guide)
		for _, c := range bridges.Commands {
			if !strings.Contains(text, "`/"+c.Name) {
				t.Errorf("docs/%s does not mention `/%s`", guide, c.Name)
			}
		}
	}
}

// TestDeployFiles checks that the Dockerfile, the compose file and the
// systemd unit run the binary as chat-bridge (not bridge, which clashes
// with iproute2's /usr/sbin/bridge) and that the compose health check
// probes the bridge instead of printing its version.
func TestDeployFiles(t *testing.T) {
	const bin = "/usr/local/bin/chat-bridge"
	for _, f := range []string{"Dockerfile", "deploy/docker-compose.yml", "deploy/chat-bridge.service"} {
		text := repoFile(t, f)
		if !strings.Contains(text, bin) {
			t.Errorf("%s does not run %s", f, bin)
		}
		if strings.Contains(text, "/usr/local/bin/bridge") || strings.Contains(text, "-o /out/bridge") {
			t.Errorf("%s still installs the binary as bridge", f)
		}
		if strings.Contains(text, "install -g") || strings.Contains(text, "-g chat-bridge") {
			t.Errorf("%s gives files to a chat-bridge group, which DynamicUser does not have", f)
		}
	}
	compose := readCompose(t, "deploy/docker-compose.yml")
	got := compose.Services["chat-bridge"].Healthcheck.Test
	if want := []string{"CMD", bin, "healthcheck"}; !slices.Equal(got, want) {
		t.Errorf("compose healthcheck = %q, want %q", got, want)
	}
}

// composeFile is what the tests check of a docker-compose.yml.
type composeFile struct {
	Services map[string]struct {
		Command []string `yaml:"command"`
		Deploy  struct {
			Replicas int `yaml:"replicas"`
		} `yaml:"deploy"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

// readCompose decodes the compose file at path from the repository's root.
func readCompose(t *testing.T, path string) composeFile {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal([]byte(repoFile(t, path)), &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// guides are the set-up guides in docs/ these tests check.
var guides = []string{"telegram.md", "discord.md", "slack.md", "ids.md"}

// TestGuidesConfigParses decodes every TOML example in the set-up guides with the
// bridge's own config parser, which refuses unknown keys: a guide cannot
// name a key that does not exist. Variables are set to a placeholder, and
// a demo backend named "support" is added where the example has none.
func TestGuidesConfigParses(t *testing.T) {
	getenv := func(string) (string, bool) { return "placeholder", true }
	n := 0
	for _, g := range guides {
		blocks := strings.Split(repoFile(t, "docs/"+g), "```toml\n")
		for i, b := range blocks[1:] {
			src, _, ok := strings.Cut(b, "```")
			if !ok {
				t.Errorf("%s: TOML example %d is not closed", g, i+1)
				continue
			}
			if !strings.HasPrefix(src, "[backends.") && !strings.Contains(src, "\n[backends.") {
				src += "\n[backends.support]\nkind = \"demo\"\n"
			}
			n++
			if _, err := ParseConfig(g, src, getenv); err != nil {
				t.Errorf("%s: TOML example %d does not parse: %v\n%s", g, i+1, err, src)
			}
		}
	}
	if n < 5 {
		t.Errorf("found %d TOML examples in docs/, want the guides' examples", n)
	}
}

// TestDiscordPermissions checks the permission integers docs/discord.md
// gives against discordgo's constants for what the adapter does: view
// and send (also in threads), reply (read history), and optionally react
// (error_policy = "reaction") and start threads (reply_in_thread).
func TestDiscordPermissions(t *testing.T) {
	text := repoFile(t, "docs/discord.md")
	base := int64(discordgo.PermissionViewChannel | discordgo.PermissionSendMessages |
		discordgo.PermissionSendMessagesInThreads | discordgo.PermissionReadMessageHistory)
	react, threads := int64(discordgo.PermissionAddReactions), int64(discordgo.PermissionCreatePublicThreads)
	for name, want := range map[string]int64{
		"default":                       base,
		"`error_policy = \"reaction\"`": base | react,
		"`reply_in_thread = true`":      base | threads,
		"both":                          base | react | threads,
	} {
		row := fmt.Sprintf("| %s | %d |", name, want)
		if !strings.Contains(text, row) {
			t.Errorf("docs/discord.md has no row %q", row)
		}
	}
	if url := fmt.Sprintf("scope=bot+applications.commands&permissions=%d", base); !strings.Contains(text, url) {
		t.Errorf("docs/discord.md: the invite URL does not end in %q", url)
	}
}

// TestGuidesInlineKeys checks the settings the guides write inline, such
// as `respond = "all"` or `[log] content = true`: each must be accepted
// by the config parser in some table.
func TestGuidesInlineKeys(t *testing.T) {
	span := regexp.MustCompile("`(\\[[a-z]+\\] )?([a-z_]+) = ([^`]+)`")
	getenv := func(string) (string, bool) { return "placeholder", true }
	tables := []string{
		"[telegram.t]\ntoken = \"x\"", "[discord.d]\ntoken = \"x\"",
		"[slack.s]\nbot_token = \"x\"\napp_token = \"x\"",
		"[limits]", "[log]", "[http]", "[store]", "[bridge]",
	}
	n := 0
	for _, g := range guides {
		for _, m := range span.FindAllStringSubmatch(repoFile(t, "docs/"+g), -1) {
			n++
			candidates := tables
			if m[1] != "" {
				candidates = []string{strings.TrimSpace(m[1])}
			}
			ok := false
			for _, table := range candidates {
				src := "[backends.support]\nkind = \"demo\"\n" + table + "\n" + m[2] + " = " + m[3] + "\n"
				_, err := ParseConfig("inline", src, getenv)
				// Accepted: no error, or only that a key it needs (which
				// the guide's sentence does not show) is missing, as
				// `[store] kind = "redis"` needs url.
				if err == nil || strings.Contains(err.Error(), ": missing") && !strings.Contains(err.Error(), "."+m[2]+":") {
					ok = true
					break
				}
			}
			if !ok {
				t.Errorf("%s: %s is accepted in no table of the configuration", g, m[0])
			}
		}
	}
	if n < 5 {
		t.Errorf("found %d inline settings in docs/, want the guides' ones", n)
	}
}

// TestClusterDeployFiles: the cluster compose file runs three replicas
// behind the balancer on a Redis with the durability the bridge checks at
// start, and the balancer points at the replicas' listen port.
func TestClusterDeployFiles(t *testing.T) {
	compose := readCompose(t, "deploy/cluster/docker-compose.yml")
	redis := strings.Join(compose.Services["redis"].Command, " ")
	for _, want := range []string{"--appendonly yes", "--appendfsync always", "--maxmemory-policy noeviction"} {
		if !strings.Contains(redis, want) {
			t.Errorf("redis command %q lacks %s", redis, want)
		}
	}
	cb := compose.Services["chat-bridge"]
	if cb.Deploy.Replicas != 3 {
		t.Errorf("chat-bridge replicas = %d, want 3", cb.Deploy.Replicas)
	}
	if got := strings.Join(cb.Healthcheck.Test, " "); got != "CMD /usr/local/bin/chat-bridge healthcheck" {
		t.Errorf("chat-bridge healthcheck = %q", got)
	}
	if _, ok := compose.Services["nginx"]; !ok {
		t.Error("no nginx service in front of the replicas")
	}
	conf := repoFile(t, "deploy/cluster/nginx.conf")
	if !strings.Contains(conf, "server chat-bridge:9090") || !strings.Contains(conf, "proxy_buffering off") {
		t.Errorf("nginx.conf does not balance over chat-bridge:9090 with unbuffered web chat streams")
	}
}
