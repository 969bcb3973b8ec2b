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
	case strings.HasPrefix(pkg, "bridges/"): // an adapter
		return dep == "bridges"
	}
	return false
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
	}
	for _, tt := range tests {
		if got := allowedDeps(tt.pkg, tt.dep); got != tt.want {
			t.Errorf("allowedDeps(%q, %q) = %v, want %v", tt.pkg, tt.dep, got, tt.want)
		}
	}
}
