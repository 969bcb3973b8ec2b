package telegram

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/telegram/telegramtest"
)

const testToken = telegramtest.DefaultToken

// in is a message a user writes, for the fake to deliver.
type in = telegramtest.In

// newFake returns a fake Bot API closed at the end of the test.
func newFake(t testing.TB, o telegramtest.Options) *telegramtest.Server {
	t.Helper()
	f := telegramtest.NewServer(o)
	t.Cleanup(f.Close)
	return f
}

// botUser is the fake's bot as the library's type.
func botUser(f *telegramtest.Server) tgbotapi.User {
	b := f.Bot()
	return tgbotapi.User{ID: b.ID, IsBot: b.IsBot, FirstName: b.FirstName, UserName: b.UserName, CanReadAllGroupMessages: b.CanReadAllGroupMessages}
}

// mention returns text with a mention entity of the bot at its start.
func mention(username, rest string) (string, []telegramtest.Entity) {
	s := "@" + username
	return s + " " + rest, []telegramtest.Entity{{Type: "mention", Offset: 0, Length: len(utf16.Encode([]rune(s)))}}
}

// command returns text with a bot_command entity at its start.
func command(cmd, rest string) (string, []telegramtest.Entity) {
	t := cmd
	if rest != "" {
		t += " " + rest
	}
	return t, []telegramtest.Entity{{Type: "bot_command", Offset: 0, Length: len(utf16.Encode([]rune(cmd)))}}
}

func backendSecret(s string) bridges.Secret { return backend.NewSecret(s) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// postUpdate posts update to the webhook at url as Telegram does, with
// secret in the X-Telegram-Bot-Api-Secret-Token header (none if empty),
// and returns the HTTP status the bridge answered.
func postUpdate(t testing.TB, url, secret string, update map[string]any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(mustJSON(t, update)))
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }
