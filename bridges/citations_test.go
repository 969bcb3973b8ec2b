package bridges

import (
	"testing"

	"github.com/chat-bridge/chat-bridge/backend"
)

func TestCitationText(t *testing.T) {
	a := backend.Citation{Title: "Getting started", URL: "https://d.example/start"}
	b := backend.Citation{Title: "Embedding", URL: "https://d.example/embed"}
	tests := map[string]struct {
		lang string
		in   []backend.Citation
		max  int
		want string
	}{
		"none":         {in: nil, want: ""},
		"one inline":   {in: []backend.Citation{a}, want: "\n\n**Sources:** [Getting started](https://d.example/start)"},
		"numbered":     {in: []backend.Citation{a, b}, want: "\n\n**Sources:**\n1. [Getting started](https://d.example/start)\n2. [Embedding](https://d.example/embed)"},
		"same URL":     {in: []backend.Citation{a, {Title: "Start (part 2)", URL: a.URL}, b}, want: "\n\n**Sources:**\n1. [Getting started](https://d.example/start)\n2. [Embedding](https://d.example/embed)"},
		"title only":   {in: []backend.Citation{{Title: "Price list 2026"}, a}, want: "\n\n**Sources:**\n1. Price list 2026\n2. [Getting started](https://d.example/start)"},
		"same title":   {in: []backend.Citation{{Title: "FAQ"}, {Title: " faq "}, {Title: "FAQ", URL: "https://d.example/faq"}}, want: "\n\n**Sources:**\n1. FAQ\n2. [FAQ](https://d.example/faq)"},
		"URL only":     {in: []backend.Citation{{URL: "https://d.example/x"}}, want: "\n\n**Sources:** [https://d.example/x](https://d.example/x)"},
		"empty":        {in: []backend.Citation{{}, {Title: "  "}}, want: ""},
		"brackets":     {in: []backend.Citation{{Title: "[Draft] plan", URL: "https://d.example/p"}}, want: "\n\n**Sources:** [(Draft) plan](https://d.example/p)"},
		"max":          {in: []backend.Citation{a, b, {Title: "Third"}}, max: 2, want: "\n\n**Sources:**\n1. [Getting started](https://d.example/start)\n2. [Embedding](https://d.example/embed)"},
		"default five": {in: []backend.Citation{{Title: "1"}, {Title: "2"}, {Title: "3"}, {Title: "4"}, {Title: "5"}, {Title: "6"}}, want: "\n\n**Sources:**\n1. 1\n2. 2\n3. 3\n4. 4\n5. 5"},
		"German":       {lang: "de", in: []backend.Citation{a}, want: "\n\n**Quellen:** [Getting started](https://d.example/start)"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			lang := tt.lang
			if lang == "" {
				lang = "en"
			}
			if got := citationText(lang, tt.in, tt.max); got != tt.want {
				t.Errorf("citationText(%v, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}
