package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// ClusterConfig is the [cluster] table, used with [store] kind = "redis".
type ClusterConfig struct {
	// ReplicaID names this replica in leases and /readyz; default the
	// host name and a random suffix.
	ReplicaID string
	// LeaseTTL is how long a dead replica's partitions stay unowned:
	// another replica takes them over within it (default 15s).
	LeaseTTL time.Duration
	// Partitions is the number of queue partitions, the same on every
	// replica (default 64, recorded in Redis).
	Partitions int
}

type clusterKeys struct {
	ReplicaID  string   `toml:"replica_id"`
	LeaseTTL   duration `toml:"lease_ttl"`
	Partitions int      `toml:"partitions"`
}

var replicaIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// decodeCluster validates [cluster] and, in cluster mode, what cluster
// mode requires of the instances (a shared Telegram webhook secret).
func (c *Config) decodeCluster(md toml.MetaData, text string, k clusterKeys, telegram map[string]toml.Primitive) []error {
	var errs []error
	if c.StoreKind != "redis" {
		return nil // [cluster] applies with kind = "redis" only (like url and prefix)
	}
	c.Cluster = ClusterConfig{ReplicaID: k.ReplicaID, LeaseTTL: time.Duration(k.LeaseTTL), Partitions: k.Partitions}
	if c.Cluster.ReplicaID == "" {
		c.Cluster.ReplicaID = defaultReplicaID()
	} else if !replicaIDRe.MatchString(c.Cluster.ReplicaID) {
		errs = append(errs, keyError(text, "cluster.replica_id", fmt.Sprintf("must be 1-64 of A-Z a-z 0-9 . _ -, not %q", c.Cluster.ReplicaID)))
	}
	switch {
	case !md.IsDefined("cluster", "lease_ttl"):
		c.Cluster.LeaseTTL = 15 * time.Second
	case c.Cluster.LeaseTTL < time.Second || c.Cluster.LeaseTTL > 5*time.Minute:
		errs = append(errs, keyError(text, "cluster.lease_ttl", fmt.Sprintf("must be 1s to 5m, not %s", c.Cluster.LeaseTTL)))
	}
	switch {
	case !md.IsDefined("cluster", "partitions"):
		c.Cluster.Partitions = 64
	case c.Cluster.Partitions < 1 || c.Cluster.Partitions > 100:
		errs = append(errs, keyError(text, "cluster.partitions", fmt.Sprintf("must be 1 to 100, not %d", c.Cluster.Partitions)))
	}
	for _, name := range sortedKeys(telegram) {
		var tk struct {
			WebhookURL    string `toml:"webhook_url"`
			WebhookSecret string `toml:"webhook_secret"`
		}
		if md.PrimitiveDecode(telegram[name], &tk) != nil {
			continue // reported with the instance
		}
		key := "telegram." + name
		// Without webhook_url one leased replica polls (telegram/NAME/poller).
		if tk.WebhookURL != "" && tk.WebhookSecret == "" {
			errs = append(errs, keyError(text, key+".webhook_secret", `missing: in cluster mode ([store] kind = "redis") every replica behind the load balancer must check the same secret; set webhook_secret (1-256 of A-Z a-z 0-9 _ -)`))
		}
	}
	return errs
}

func defaultReplicaID() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, host)
	if len(host) > 48 {
		host = host[:48]
	}
	if host == "" {
		host = "replica"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}
