package bridgestest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Golden runs a subtest for every Markdown file matching pattern
// (NAME.md): it renders the file's text with render and compares the
// result with the golden file NAME+ext beside it, failing with
// "fn(NAME.md) = got, want want". With update set (the test's -update
// flag) it first rewrites the golden file. check, when not nil, runs on
// every rendering too (a platform's own parser accepting it). Golden
// fails when pattern matches nothing.
func Golden(t *testing.T, pattern, ext string, update bool, fn string, render func(string) string, check func(t *testing.T, in, got string)) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs %s: %v", pattern, err)
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".md")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := render(string(src))
			golden := strings.TrimSuffix(in, ".md") + ext
			if update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s(%s) =\n%s\nwant\n%s", fn, in, got, want)
			}
			if check != nil {
				check(t, in, got)
			}
		})
	}
}
