package redis

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

func TestCheckServer(t *testing.T) {
	tests := map[string]struct {
		args     []string
		set      map[string]string // CONFIG SET before Open
		wantErr  string            // empty: opens
		warnings []string          // substrings, one per warning, in order
	}{
		"durable": {
			args: []string{"--appendonly", "yes", "--appendfsync", "always"},
		},
		"everysec": {
			args: []string{"--appendonly", "yes", "--appendfsync", "everysec"},
		},
		"aof off": {
			warnings: []string{`appendonly is "no"`},
		},
		"fsync no": {
			args:     []string{"--appendonly", "yes", "--appendfsync", "no"},
			warnings: []string{`appendfsync is "no"`},
		},
		"evicts lru": {
			args:    []string{"--appendonly", "yes"},
			set:     map[string]string{"maxmemory-policy": "allkeys-lru"},
			wantErr: `maxmemory-policy is "allkeys-lru"`,
		},
		"evicts volatile": {
			set:     map[string]string{"maxmemory-policy": "volatile-ttl"},
			wantErr: `maxmemory-policy is "volatile-ttl"`,
		},
		"config disabled": {
			args:     []string{"--rename-command", "CONFIG", ""},
			warnings: []string{"cannot read the server's settings"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := redistest.StartServer(t, redistest.Options{Args: tt.args})
			if len(tt.set) > 0 {
				admin := openTest(t, srv.URL, Config{Prefix: "admin"}, Options{})
				for k, v := range tt.set {
					if err := admin.Client().ConfigSet(t.Context(), k, v).Err(); err != nil {
						t.Fatalf("CONFIG SET %s %s = %v", k, v, err)
					}
				}
			}
			db, err := Open(Config{URL: srv.URL}, Options{})
			if tt.wantErr != "" {
				if err == nil {
					db.Close()
					t.Fatalf("Open = nil, want an error containing %q", tt.wantErr)
				}
				var ev *EvictionError
				if !errors.As(err, &ev) {
					t.Errorf("Open = %v, want an *EvictionError", err)
				}
				for _, want := range []string{tt.wantErr, "maxmemory-policy noeviction", srv.URL} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("Open = %q, want it to contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Open = %v, want nil", err)
			}
			defer db.Close()
			got := db.Warnings()
			if len(got) != len(tt.warnings) {
				t.Fatalf("Warnings() = %q, want %d matching %q", got, len(tt.warnings), tt.warnings)
			}
			for i, w := range tt.warnings {
				if !strings.Contains(got[i], w) {
					t.Errorf("Warnings()[%d] = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestPasswordNeverShown: the password is used (a wrong one is refused,
// the right one works) and appears in no error and no description.
func TestPasswordNeverShown(t *testing.T) {
	const pass = "s3cret-Pa55"
	srv := redistest.StartServer(t, redistest.Options{Password: pass, TCP: true})
	if !strings.Contains(srv.URL, ":"+pass+"@") {
		t.Fatalf("server URL %q does not carry the password", srv.URL)
	}
	db, err := Open(Config{URL: srv.URL}, Options{})
	if err != nil {
		t.Fatalf("Open(right password) = %v", err)
	}
	defer db.Close()
	if strings.Contains(db.Where(), pass) || !strings.Contains(db.Where(), srv.Addr) {
		t.Errorf("Where() = %q, want the address without the password", db.Where())
	}

	wrong := strings.Replace(srv.URL, pass, "wr0ng-"+pass, 1)
	tests := map[string]string{
		"wrong password": wrong,
		"no password":    "redis://" + srv.Addr + "/0",
		"unreachable":    "redis://:" + pass + "@127.0.0.1:1/0",
		"bad db":         "redis://:" + pass + "@" + srv.Addr + "/notanumber",
		"bad port":       "redis://:" + pass + "@127.0.0.1:port/0",
		"bad scheme":     "http://:" + pass + "@" + srv.Addr + "/0",
		"bad escape":     "redis://:" + pass + "%zz@" + srv.Addr + "/0",
		"unknown option": "redis://:" + pass + "@" + srv.Addr + "/0?bogus=" + pass,
		"bad option":     "redis://:" + pass + "@" + srv.Addr + "/0?dial_timeout=" + pass,
	}
	for name, u := range tests {
		t.Run(name, func(t *testing.T) {
			db, err := Open(Config{URL: u}, Options{Timeout: 2 * time.Second})
			if err == nil {
				db.Close()
				t.Fatalf("Open(%s) = nil, want an error", name)
			}
			if strings.Contains(err.Error(), pass) {
				t.Errorf("Open error shows the password: %q", err)
			}
			if !strings.Contains(err.Error(), "open redis store") {
				t.Errorf("Open error = %q, want it to say what failed", err)
			}
		})
	}
	if got := Redact(srv.URL); strings.Contains(got, pass) || !strings.Contains(got, "xxxxx") {
		t.Errorf("Redact(%q) = %q", srv.URL, got)
	}
	if _, err := Open(Config{}, Options{}); err == nil || !strings.Contains(err.Error(), "url is empty") {
		t.Errorf("Open(no url) = %v, want an error naming the url", err)
	}
}

// TestUnixSocketDB: unix:// URLs select the database with ?db=.
func TestUnixSocketDB(t *testing.T) {
	url := redistest.Start(t)
	db0 := openTest(t, url, Config{Prefix: "p"}, Options{})
	db3 := openTest(t, url+"?db=3", Config{Prefix: "p"}, Options{})
	if err := db3.KV("x").Put("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db0.KV("x").Get("k"); ok {
		t.Error("db 0 sees db 3's value")
	}
	if n := db3.Client().Options().DB; n != 3 {
		t.Errorf("unix URL ?db=3 selected db %d", n)
	}
}
