package main

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/chat-bridge/chat-bridge"

// allowedDeps returns whether package pkg (a path relative to the module)
// may import our package dep, per DESIGN.md's import rules.
func allowedDeps(pkg, dep string) bool {
	switch {
	case strings.HasPrefix(pkg, "cmd/"):
		return true // the composition root knows everything
	case pkg == "backend":
		return false
	case strings.HasPrefix(pkg, "backend/internal/"):
		return dep == "backend" || strings.HasPrefix(dep, "backend/internal/")
	case strings.HasPrefix(pkg, "backend/"):
		return dep == "backend" || strings.HasPrefix(dep, "backend/internal/")
	case pkg == "store":
		return dep == "backend"
	case strings.HasPrefix(pkg, "store/"): // store/redis, storetest, redistest
		return dep == "backend" || dep == "store" || strings.HasPrefix(dep, "store/")
	case pkg == "bridges":
		return dep == "backend" || dep == "store"
	case pkg == "bridges/bridgestest":
		return dep == "bridges" || dep == "backend" || dep == "store"
	case pkg == "bridges/internal/platformtest": // the fakes' shared pieces
		return false
	case isFake(pkg): // bridges/<p>/<p>test models the platform, not the bridge
		return dep == "bridges/internal/platformtest"
	case strings.HasPrefix(pkg, "bridges/"): // an adapter
		return dep == "bridges"
	}
	return false
}

// isFake reports whether pkg is a platform's fake, bridges/<p>/<p>test.
func isFake(pkg string) bool {
	p, ok := strings.CutPrefix(pkg, "bridges/")
	name, fake, _ := strings.Cut(p, "/")
	return ok && fake == name+"test"
}

// thirdParty lists, per package of ours, the third-party modules (import
// path prefixes) its non-test files may import, derived from what each
// imports today: an adapter its own platform SDK (and the Markdown
// parser or websocket library it renders or fakes with), the store its
// database client, the rest the standard library only. Only cmd/...
// may import anything, Prometheus included: the core reports through
// bridges.Metrics. A package missing here may import no third party.
var thirdParty = map[string][]string{
	"bridges/telegram":              {"github.com/go-telegram-bot-api/telegram-bot-api/v5", "github.com/yuin/goldmark", "golang.org/x/"},
	"bridges/discord":               {"github.com/bwmarrin/discordgo", "github.com/gorilla/websocket", "golang.org/x/"},
	"bridges/slack":                 {"github.com/slack-go/slack", "github.com/yuin/goldmark", "golang.org/x/"},
	"bridges/web":                   {"golang.org/x/"},
	"bridges/telegram/telegramtest": {"github.com/gorilla/websocket"},
	"bridges/discord/discordtest":   {"github.com/gorilla/websocket"},
	"bridges/slack/slacktest":       {"github.com/gorilla/websocket"},
	"store":                         {"go.etcd.io/bbolt"},
	"store/redis":                   {"github.com/redis/go-redis/"},
	"store/redis/redistest":         {"github.com/redis/go-redis/"}, // Count, a hook for tests
	// Test-helper packages (imported by _test.go files only) compare with
	// go-cmp, as the tests themselves do.
	"backend/internal/wiretest": {"github.com/google/go-cmp/"},
	"store/storetest":           {"github.com/google/go-cmp/"},
	// The browser tests' Chromium (the web chat's and the operator
	// page's).
	"internal/browsertest": {"github.com/chromedp/"},
}

// allowedThirdParty returns whether package pkg (a path relative to the
// module) may import the third-party package imp.
func allowedThirdParty(pkg, imp string) bool {
	if strings.HasPrefix(pkg, "cmd/") {
		return true
	}
	for _, prefix := range thirdParty[pkg] {
		if imp == prefix || strings.HasPrefix(imp, strings.TrimSuffix(prefix, "/")+"/") {
			return true
		}
	}
	return false
}

// isThirdParty reports whether imp is neither the standard library nor
// ours: its first path element has a dot.
func isThirdParty(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return strings.Contains(first, ".") && !strings.HasPrefix(imp, module+"/") && imp != module
}

// TestImportRules enforces DESIGN.md's import rules on every package's
// non-test files, as Go's own go/build/deps_test.go does.
func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		checked++
		for _, imp := range p.Imports {
			if isThirdParty(imp) {
				if !allowedThirdParty(rel, imp) {
					t.Errorf("%s imports %s: third-party import not allowed by DESIGN.md's import rules", rel, imp)
				}
				continue
			}
			dep, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if !allowedDeps(rel, dep) {
				t.Errorf("%s imports %s: not allowed by DESIGN.md's import rules", rel, dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 5 {
		t.Fatalf("checked %d packages, want the whole module", checked)
	}
}

func TestImportRulesTable(t *testing.T) {
	tests := []struct {
		pkg, dep string
		want     bool
	}{
		{"bridges/telegram", "bridges", true},
		{"bridges/telegram", "bridges/discord", false},
		{"bridges/telegram", "backend/chatbotiq", false},
		{"bridges/telegram", "store", false},
		{"bridges", "backend", true},
		{"bridges", "bridges/slack", false},
		{"backend/chatbotiq", "backend/internal/sse", true},
		{"backend/chatbotiq", "bridges", false},
		{"store", "backend", true},
		{"store", "bridges", false},
		{"store/redis", "store", true},
		{"store/redis", "bridges", false},
		{"store/storetest", "backend", true},
		{"backend", "store", false},
		{"cmd/bridge", "bridges/slack", true},
		{"bridges/telegram/telegramtest", "bridges/internal/platformtest", true},
		{"bridges/slack/slacktest", "bridges", false},
		{"bridges/telegram", "bridges/internal/platformtest", false},
		{"bridges/internal/platformtest", "bridges", false},
	}
	for _, tt := range tests {
		if got := allowedDeps(tt.pkg, tt.dep); got != tt.want {
			t.Errorf("allowedDeps(%q, %q) = %v, want %v", tt.pkg, tt.dep, got, tt.want)
		}
	}
}

func TestThirdPartyRulesTable(t *testing.T) {
	tests := []struct {
		pkg, imp string
		want     bool
	}{
		{"bridges", "github.com/prometheus/client_golang/prometheus", false},
		{"bridges/telegram", "github.com/prometheus/client_golang/prometheus", false},
		{"bridges/telegram", "github.com/go-telegram-bot-api/telegram-bot-api/v5", true},
		{"bridges/telegram", "github.com/yuin/goldmark/ast", true},
		{"bridges/telegram", "github.com/bwmarrin/discordgo", false},
		{"bridges/discord", "github.com/bwmarrin/discordgo", true},
		{"bridges/discord", "github.com/slack-go/slack", false},
		{"bridges/slack", "github.com/slack-go/slack/socketmode", true},
		{"bridges/slack", "github.com/slack-go/slackfake", false},
		{"bridges/bridgestest", "github.com/google/go-cmp/cmp", false},
		{"backend/openai", "github.com/sashabaranov/go-openai", false},
		{"store", "go.etcd.io/bbolt/errors", true},
		{"cmd/bridge", "github.com/prometheus/client_golang/prometheus", true},
		{"internal/browsertest", "github.com/chromedp/chromedp", true},
		{"bridges/web", "github.com/chromedp/chromedp", false},
	}
	for _, tt := range tests {
		if got := allowedThirdParty(tt.pkg, tt.imp); got != tt.want {
			t.Errorf("allowedThirdParty(%q, %q) = %v, want %v", tt.pkg, tt.imp, got, tt.want)
		}
	}
	for imp, want := range map[string]bool{"fmt": false, "net/http": false, module + "/bridges": false, "go.etcd.io/bbolt": true, "golang.org/x/term": true} {
		if got := isThirdParty(imp); got != want {
			t.Errorf("isThirdParty(%q) = %v, want %v", imp, got, want)
		}
	}
}
