package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// Marshal encodes v as compact JSON without HTML escaping, for request
// bodies.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// BaseURL returns the configured base URL without trailing slashes, or
// def when none is configured, and checks that it is an http(s) URL
// without query, fragment or user info. The error names the base_url key
// and never shows a secret that may be in the URL.
func BaseURL(configured, def string) (string, error) {
	base := def
	if configured != "" {
		base = strings.TrimRight(configured, "/")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("base_url %q: want an http(s) URL without query or user info", RedactURL(configured))
	}
	return base, nil
}

// CheckOrigin checks the config value v of key, sent as an Origin header:
// empty, or an http(s) scheme://host[:port] without path or query. The
// error names key.
func CheckOrigin(key, v string) error {
	if v == "" {
		return nil
	}
	o, err := url.Parse(v)
	if err != nil || (o.Scheme != "http" && o.Scheme != "https") || o.Host == "" || (o.Path != "" && o.Path != "/") || o.RawQuery != "" {
		return fmt.Errorf("%s %q: want scheme://host[:port]", key, v)
	}
	return nil
}
