package bridges_test

import (
	"strings"
	"testing"
	"testing/synctest"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
)

// TestHelpListsEveryCommand: /help is made from the command table the
// menus are made from, so it names every command with its description.
func TestHelpListsEveryCommand(t *testing.T) {
	for _, c := range bridges.Commands {
		if !strings.Contains(bridges.HelpText, "/"+c.Name) {
			t.Errorf("HelpText lacks /%s:\n%s", c.Name, bridges.HelpText)
		}
		if !strings.Contains(strings.ToLower(bridges.HelpText), strings.ToLower(c.Help)) {
			t.Errorf("HelpText lacks %q:\n%s", c.Help, bridges.HelpText)
		}
	}
	if !strings.Contains(bridges.HelpText, "/reset or /new — ") {
		t.Errorf("commands sharing a description should share a line:\n%s", bridges.HelpText)
	}
}

func TestLanguageOf(t *testing.T) {
	for in, want := range map[string]string{
		"": "en", "de": "de", "de-AT": "de", "en-GB": "en", "pt-BR": "pt", "pt_PT": "pt", "ja": "jp", "jp": "jp",
		"zh-CN": "zh-Hans", "zh-SG": "zh-Hans", "zh-Hans": "zh-Hans", "zh-hans": "zh-Hans", "zh": "zh-Hans",
		"zh-TW": "zh-Hant", "zh-HK": "zh-Hant", "zh-Hant": "zh-Hant", "zh-Hant-TW": "zh-Hant",
		"uk": "uk", "ko-KR": "ko", "tlh": "en", "de-DE,de;q=0.9,en;q=0.8": "de", "xx,fr;q=0.5": "fr",
	} {
		if got := bridges.LanguageOf(in); got != want {
			t.Errorf("LanguageOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// telegramMsg is a private Telegram message as the adapter reports it: a
// bot_command entity for a command, the user's language_code as Locale.
func telegramMsg(text, locale string) bridges.Message {
	m := bridges.Message{
		Key:    bridges.Key{Platform: "telegram", Instance: "main", Chat: "42"},
		ChatID: "42", ID: "t-" + text, UserID: "42", Text: text, Private: true, Locale: locale,
	}
	if name, _, ok := bridges.ParseCommand(text); ok {
		m.Command, m.Directed = name, true
	}
	return m
}

// TestNoticesInTheUsersLanguage: a Telegram user with language_code "de"
// gets German notices; other locales map to their language, an unknown
// one to English, and [bridge] language forces one for everybody.
func TestNoticesInTheUsersLanguage(t *testing.T) {
	tests := map[string]struct {
		locale, forced, text string
		fail                 bool
		want                 string
	}{
		"de reset":              {locale: "de", text: "/reset", want: "Neue Unterhaltung begonnen."},
		"de help":               {locale: "de", text: "/help", want: "/reset oder /new — Hier eine neue Unterhaltung beginnen"},
		"de empty ask":          {locale: "de", text: "/ask", want: "Stelle deine Frage nach dem Befehl"},
		"de backend failure":    {locale: "de", text: "hallo", fail: true, want: "⚠️ Der Assistent ist gerade nicht erreichbar."},
		"pt-BR help":            {locale: "pt-BR", text: "/help", want: "/ask <pergunta> — fazer uma pergunta ao bot"},
		"ja nothing to stop":    {locale: "ja", text: "/stop", want: "現在、回答中のものはありません。"},
		"zh-TW reset":           {locale: "zh-TW", text: "/reset", want: "已開始新的對話。"},
		"unknown is English":    {locale: "tlh", text: "/reset", want: "Started a new conversation."},
		"forced French":         {locale: "de", forced: "fr", text: "/reset", want: "Nouvelle conversation commencée."},
		"auto is the user's":    {locale: "uk", forced: "auto", text: "/reset", want: "Розпочато нову розмову."},
		"unknown command in ar": {locale: "ar", text: "/frob", want: "أمر غير معروف /frob. جرّب /help."},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				steps := answer("ok")
				if tt.fail {
					steps = []bridgestest.Step{{Err: &backend.Error{Kind: backend.KindUnavailable, Message: "down"}}}
				}
				be := &bridgestest.Backend{Steps: steps}
				p := bridgestest.NewPlatform(testLimits)
				p.Lim.MaxLen = 1000
				h := bindHarness(t, bridges.Config{Language: tt.forced}, p, p, bridges.Route{Backend: be})
				h.send(telegramMsg(tt.text, tt.locale))
				h.settle()
				if got := h.p.Visible(); !strings.Contains(got, tt.want) {
					t.Errorf("reply = %q, want it to contain %q", got, tt.want)
				}
			})
		})
	}
}
