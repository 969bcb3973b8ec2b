package redis

import (
	"context"
	"errors"
	"fmt"
)

// SharedSecret returns the deployment's value of the secret name: the
// first replica to ask stores candidate (SET NX, no expiry) and every
// replica gets that one back, so a value each replica would otherwise
// generate for itself (the operator page's token) is the same on all of
// them. Key: P:secret:<name>.
func (db *DB) SharedSecret(ctx context.Context, name, candidate string) (string, error) {
	if candidate == "" {
		return "", errors.New("shared secret: empty candidate")
	}
	key := db.key("secret:" + name)
	if err := db.rdb.SetNX(ctx, key, candidate, 0).Err(); err != nil {
		return "", fmt.Errorf("shared secret %s: %w", name, db.clean(err))
	}
	v, err := db.rdb.Get(ctx, key).Result()
	if err != nil {
		return "", fmt.Errorf("shared secret %s: %w", name, db.clean(err))
	}
	return v, nil
}
