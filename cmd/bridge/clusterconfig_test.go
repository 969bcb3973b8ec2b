package main

import (
	"strings"
	"testing"
	"time"
)

// TestClusterConfig: [cluster] defaults in cluster mode, bad values name
// their key, and Telegram needs a webhook with a shared secret.
func TestClusterConfig(t *testing.T) {
	base := "[store]\nkind = \"redis\"\nurl = \"redis://127.0.0.1:1/0\"\n[backends.a]\nkind = \"demo\"\n"
	cfg, err := ParseConfig("x", base, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.Cluster
	if cc.LeaseTTL != 15*time.Second || cc.Partitions != 64 || !replicaIDRe.MatchString(cc.ReplicaID) {
		t.Errorf("defaults = %+v, want lease_ttl 15s, partitions 64, a generated replica_id", cc)
	}
	cfg, err = ParseConfig("x", base+"[cluster]\nreplica_id = \"r-1\"\nlease_ttl = \"5s\"\npartitions = 8\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cc := cfg.Cluster; cc.ReplicaID != "r-1" || cc.LeaseTTL != 5*time.Second || cc.Partitions != 8 {
		t.Errorf("cluster = %+v", cc)
	}
	tg := "[telegram.main]\ntoken = \"1:x\"\nbackend = \"a\"\n"
	for src, want := range map[string]string{
		base + "[cluster]\nreplica_id = \"a:b\"\n":                 "cluster.replica_id",
		base + "[cluster]\nlease_ttl = \"100ms\"\n":                "cluster.lease_ttl",
		base + "[cluster]\npartitions = 0\n":                       "cluster.partitions",
		base + "[cluster]\npartitions = 101\n":                     "cluster.partitions",
		base + tg + "webhook_url = \"https://bot.example/hook\"\n": "telegram.main.webhook_secret",
		base + "[cluster]\nreplcia_id = \"x\"\n":                   "cluster.replcia_id",
	} {
		_, err := ParseConfig("x", src, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one naming %s", src, err, want)
		}
	}
	if _, err := ParseConfig("x", base+tg+"webhook_url = \"https://bot.example/hook\"\nwebhook_secret = \"s_1\"\n", nil); err != nil {
		t.Errorf("telegram with webhook and secret in cluster mode: %v", err)
	}
	// Long polling in cluster mode: one leased replica polls.
	if _, err := ParseConfig("x", base+tg, nil); err != nil {
		t.Errorf("telegram polling in cluster mode: %v", err)
	}
	// With bbolt, [cluster] is not used and Telegram may poll.
	if _, err := ParseConfig("x", "[backends.a]\nkind = \"demo\"\n"+tg+"[cluster]\npartitions = 8\n", nil); err != nil {
		t.Errorf("bbolt with [cluster]: %v", err)
	}
}
