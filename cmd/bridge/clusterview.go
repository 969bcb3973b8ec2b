package main

// The deployment view: every live replica, the partitions and leader roles
// (Discord shards, the Telegram poller, one-time jobs) each holds with its
// lease's time left, and the partitions and roles nobody holds. It is read
// from Redis (one script: store/redis ReadLeases), so any replica shows
// the same picture; /readyz (cluster.deployment) and the operator page
// (/admin/api/status, cluster) show it. It is computed on request and
// kept for viewFresh, off the hot path.

import (
	"context"
	"sort"
	"sync"
	"time"
)

// viewFresh is how long a read view is served again.
const viewFresh = time.Second

// viewTimeout bounds one read of the view: /readyz waits for it.
const viewTimeout = time.Second

type (
	// deploymentView is the deployment as Redis has it, at At.
	deploymentView struct {
		At         time.Time `json:"at"`
		Replica    string    `json:"replica"` // the replica that read it
		Partitions int       `json:"partitions"`
		LeaseTTLMS int64     `json:"lease_ttl_ms"`
		// Replicas are the live replicas and any replica still holding a
		// lease without being live (it stopped announcing itself: killed
		// or frozen, its leases run out), sorted by ID.
		Replicas []replicaView `json:"replicas"`
		// UnownedPartitions are held by nobody (a takeover under way);
		// UnownedRoles too (a one-time job whose replica left is not
		// taken again).
		UnownedPartitions []unownedView `json:"unowned_partitions"`
		UnownedRoles      []unownedView `json:"unowned_roles"`
		// Error says why the view could not be read; the rest is empty.
		Error string `json:"error,omitempty"`
	}
	replicaView struct {
		ID   string `json:"id"`
		Self bool   `json:"self,omitempty"`
		Live bool   `json:"live"`
		// ListedForMS is how long the replica stays listed as live
		// without announcing itself again (it does every tick).
		ListedForMS int64       `json:"listed_for_ms"`
		Partitions  []leaseView `json:"partitions"`
		Roles       []leaseView `json:"roles"`
	}
	// leaseView is one held lease: a partition's (Partition) or a role's
	// (Role, e.g. "discord/main/shard/1").
	leaseView struct {
		Partition *int   `json:"partition,omitempty"`
		Role      string `json:"role,omitempty"`
		Token     int64  `json:"token"`
		// LeftMS is the time to expiry without a renewal; RenewedAgoMS
		// the lease's age since it was acquired or last renewed (lease
		// TTL minus the time left).
		LeftMS       int64 `json:"left_ms"`
		RenewedAgoMS int64 `json:"renewed_ago_ms"`
	}
	unownedView struct {
		Partition *int   `json:"partition,omitempty"`
		Role      string `json:"role,omitempty"`
		// ForMS is how long nobody has held it, since the first view
		// that found it free (so at least that long).
		ForMS int64 `json:"unowned_for_ms"`
		// LastToken is the latest token given; 0 means never held.
		LastToken int64 `json:"last_token"`
	}
)

// viewCache keeps the last view for viewFresh and the leader roles this
// replica was asked about: every replica runs the same instances, which
// ask for every role they have (Discord every shard, every second), so
// these are the deployment's roles, shards counted by the platform's
// recommendation included.
type viewCache struct {
	mu   sync.Mutex // held while reading: concurrent requests share one read
	last *deploymentView
	read time.Time
	now  func() time.Time // nil: time.Now

	rolesMu sync.Mutex
	roles   map[string]bool
}

func (vc *viewCache) clock() time.Time {
	if vc.now != nil {
		return vc.now()
	}
	return time.Now()
}

// noteRole remembers role for the view.
func (vc *viewCache) noteRole(role string) {
	vc.rolesMu.Lock()
	defer vc.rolesMu.Unlock()
	if !vc.roles[role] {
		if vc.roles == nil {
			vc.roles = map[string]bool{}
		}
		vc.roles[role] = true
	}
}

// deployment returns the deployment view, read at most viewFresh ago.
func (c *redisCluster) deployment() deploymentView {
	vc := &c.view
	vc.mu.Lock()
	defer vc.mu.Unlock()
	now := vc.clock()
	if vc.last != nil && now.Sub(vc.read) < viewFresh {
		return *vc.last
	}
	v := c.readDeployment()
	vc.last, vc.read = &v, now
	return v
}

// roleNames returns the roles asked about or held, sorted.
func (c *redisCluster) roleNames() []string {
	set := map[string]bool{}
	c.view.rolesMu.Lock()
	for r := range c.view.roles {
		set[r] = true
	}
	c.view.rolesMu.Unlock()
	c.mu.Lock()
	for r := range c.jobs {
		set[r] = true
	}
	c.mu.Unlock()
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// readDeployment reads the view from Redis.
func (c *redisCluster) readDeployment() deploymentView {
	v := deploymentView{Replica: c.id, LeaseTTLMS: c.ttl.Milliseconds(), Replicas: []replicaView{},
		UnownedPartitions: []unownedView{}, UnownedRoles: []unownedView{}}
	if c.q == nil {
		v.At, v.Error = time.Now(), "the partition queue is not open yet"
		return v
	}
	n := c.q.Partitions()
	v.Partitions = n
	roles := c.roleNames()
	names := make([]string, 0, n+len(roles))
	for p := range n {
		names = append(names, c.q.LeaseName(p))
	}
	for _, r := range roles {
		names = append(names, "job/"+r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), viewTimeout)
	defer cancel()
	lv, err := c.db.ReadLeases(ctx, names)
	if err != nil {
		v.At, v.Error = time.Now(), err.Error()
		return v
	}
	v.At = lv.At
	byID := map[string]*replicaView{}
	replica := func(id string) *replicaView {
		r := byID[id]
		if r == nil {
			r = &replicaView{ID: id, Self: id == c.id, Partitions: []leaseView{}, Roles: []leaseView{}}
			byID[id] = r
		}
		return r
	}
	for _, m := range lv.Replicas {
		r := replica(m.ID)
		r.Live, r.ListedForMS = true, m.Left.Milliseconds()
	}
	for i, st := range lv.Leases {
		var part *int
		role := ""
		if i < n {
			p := i
			part = &p
		} else {
			role = roles[i-n]
		}
		if !st.Held() {
			u := unownedView{Partition: part, Role: role, ForMS: st.FreeFor.Milliseconds(), LastToken: st.Epoch}
			if part != nil {
				v.UnownedPartitions = append(v.UnownedPartitions, u)
			} else {
				v.UnownedRoles = append(v.UnownedRoles, u)
			}
			continue
		}
		l := leaseView{Partition: part, Role: role, Token: st.Token, LeftMS: st.Left.Milliseconds(),
			RenewedAgoMS: max(0, (c.ttl - st.Left).Milliseconds())}
		r := replica(st.Holder)
		if part != nil {
			r.Partitions = append(r.Partitions, l)
		} else {
			r.Roles = append(r.Roles, l)
		}
	}
	for _, r := range byID {
		v.Replicas = append(v.Replicas, *r)
	}
	sort.Slice(v.Replicas, func(i, j int) bool { return v.Replicas[i].ID < v.Replicas[j].ID })
	return v
}
