package bridges

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

var (
	verbRE    = regexp.MustCompile(`%[a-z]`)
	commandRE = regexp.MustCompile(`/[a-z]+`)
)

// marks are the Markdown and layout marks a translation keeps as many of
// as the English text has.
var marks = []string{"_", "**", "\n", "•", "⚠️", "…"}

// TestCatalogComplete: every notice exists in every language, non-empty,
// with the English text's format verbs (count and order), Markdown marks,
// /commands and surrounding whitespace, and no language has an entry
// English lacks.
func TestCatalogComplete(t *testing.T) {
	if len(catalog) != len(Languages) {
		t.Errorf("catalog has %d languages, want the %d of Languages", len(catalog), len(Languages))
	}
	for _, lang := range Languages {
		t.Run(lang, func(t *testing.T) {
			texts, ok := catalog[lang]
			if !ok {
				t.Fatalf("no catalog for %s", lang)
			}
			for n := range texts {
				if _, ok := english[n]; !ok {
					t.Errorf("notice %d has a %s text but no English one", n, lang)
				}
			}
			for n, en := range english {
				tr, ok := texts[n]
				if !ok || strings.TrimSpace(tr) == "" {
					t.Errorf("notice %d (%q) missing in %s", n, en, lang)
					continue
				}
				if got, want := verbRE.FindAllString(tr, -1), verbRE.FindAllString(en, -1); !slices.Equal(got, want) {
					t.Errorf("%s %q: verbs %v, want %v as in %q", lang, tr, got, want, en)
				}
				if got, want := commandRE.FindAllString(tr, -1), commandRE.FindAllString(en, -1); !slices.Equal(got, want) {
					t.Errorf("%s %q: commands %v, want %v as in %q", lang, tr, got, want, en)
				}
				for _, mk := range marks {
					if got, want := strings.Count(tr, mk), strings.Count(en, mk); got != want {
						t.Errorf("%s %q: %d × %q, want %d as in %q", lang, tr, got, mk, want, en)
					}
				}
				if lead(tr) != lead(en) || trail(tr) != trail(en) {
					t.Errorf("%s %q: surrounding whitespace differs from %q", lang, tr, en)
				}
				if strings.HasPrefix(en, "_") != strings.HasPrefix(tr, "_") || strings.HasSuffix(strings.TrimSpace(en), "_") != strings.HasSuffix(strings.TrimSpace(tr), "_") {
					t.Errorf("%s %q: italics do not wrap the text as in %q", lang, tr, en)
				}
			}
		})
	}
}

func lead(s string) string  { return s[:len(s)-len(strings.TrimLeftFunc(s, unicode.IsSpace))] }
func trail(s string) string { return s[len(strings.TrimRightFunc(s, unicode.IsSpace)):] }

// TestCommandHelpEveryLanguage: every command has a description in every
// language, and /help lists every command in it.
func TestCommandHelpEveryLanguage(t *testing.T) {
	for _, lang := range Languages {
		help := HelpTextIn(lang)
		for _, c := range Commands {
			d := c.HelpIn(lang)
			if d == "" || (lang != "en" && d == c.Help) {
				t.Errorf("%s.HelpIn(%s) = %q, want a translation", c.Name, lang, d)
			}
			if !strings.Contains(help, "/"+c.Name) {
				t.Errorf("HelpTextIn(%s) lacks /%s:\n%s", lang, c.Name, help)
			}
			if c.Arg != "" && c.ArgHelpIn(lang) == "" {
				t.Errorf("%s.ArgHelpIn(%s) is empty", c.Name, lang)
			}
		}
	}
	if got := (Command{Name: CmdAsk, Help: "custom"}).HelpIn("de"); got != "custom" {
		t.Errorf("a changed Help = %q in German, want it kept", got)
	}
}
