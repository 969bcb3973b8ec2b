package telegram

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/bridges"
)

func backendSecret(s string) bridges.Secret { return backend.NewSecret(s) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }
