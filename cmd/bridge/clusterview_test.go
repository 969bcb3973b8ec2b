package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chat-bridge/chat-bridge/bridges/bridgestest"
	"github.com/chat-bridge/chat-bridge/internal/browsertest"
	redisstore "github.com/chat-bridge/chat-bridge/store/redis"
	"github.com/chat-bridge/chat-bridge/store/redis/redistest"
)

// announce keeps replica id listed as live (as a replica that holds no
// partition yet does) until the test ends: the others count it in their
// share, so they leave its share of the partitions unowned.
func announce(t *testing.T, url, prefix, id string, ttl time.Duration) *redisstore.DB {
	t.Helper()
	db, err := redisstore.Open(redisstore.Config{URL: url, Prefix: prefix}, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Members(t.Context(), id, ttl); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(ttl / 5):
			}
			_, _ = db.Members(ctx, id, ttl)
		}
	}()
	t.Cleanup(func() { cancel(); <-done; db.Close() })
	return db
}

// viewLeases returns who holds each partition and role in v, and the
// partitions' tokens; a partition or role listed twice is an error.
func viewLeases(t *testing.T, v deploymentView) (parts map[int]string, tokens map[int]int64, roles map[string]string) {
	t.Helper()
	parts, tokens, roles = map[int]string{}, map[int]int64{}, map[string]string{}
	for _, r := range v.Replicas {
		for _, l := range r.Partitions {
			if l.Partition == nil {
				t.Fatalf("replica %s: a partition lease without its number: %+v", r.ID, l)
			}
			if h, dup := parts[*l.Partition]; dup {
				t.Errorf("partition %d listed under %s and %s", *l.Partition, h, r.ID)
			}
			parts[*l.Partition], tokens[*l.Partition] = r.ID, l.Token
		}
		for _, l := range r.Roles {
			if h, dup := roles[l.Role]; dup {
				t.Errorf("role %s listed under %s and %s", l.Role, h, r.ID)
			}
			roles[l.Role] = r.ID
		}
	}
	for _, u := range v.UnownedPartitions {
		if h, held := parts[*u.Partition]; held {
			t.Errorf("partition %d listed as unowned and under %s", *u.Partition, h)
		}
	}
	return parts, tokens, roles
}

func replicaIDs(v deploymentView) []string {
	var ids []string
	for _, r := range v.Replicas {
		ids = append(ids, r.ID)
	}
	return ids
}

func unownedRole(v deploymentView, role string) (unownedView, bool) {
	for _, u := range v.UnownedRoles {
		if u.Role == role {
			return u, true
		}
	}
	return unownedView{}, false
}

// TestClusterDeploymentView: three replicas, each showing the same
// deployment: every replica with the partitions it holds (as it holds
// them itself, with their tokens), all partitions once, every leader role
// once under its holder. A replica killed (no release) loses its
// partitions to the others with larger tokens, its role shows unowned
// until another takes it, and it leaves the view.
func TestClusterDeploymentView(t *testing.T) {
	be := &bridgestest.Backend{Script: answerScript}
	const ttl = 3 * time.Second
	e := newClusterEnv(t, ttl, 12, be, be.Requests)
	for i := range 3 {
		e.start(fmt.Sprintf("r%d", i))
	}
	// Each replica asks for every role, as the adapters of one config
	// do; the first to ask holds it.
	lead := map[string]int{"telegram/main/poller": 0, "discord/main/shard/0": 1, "discord/main/shard/1": 2, "discord/main/commands": 2}
	roles := slices.Sorted(maps.Keys(lead))
	for _, role := range roles {
		if !e.reps[lead[role]].cl.leaderFunc()(role) {
			t.Fatalf("r%d did not get the free role %s", lead[role], role)
		}
		for i, r := range e.reps {
			if i != lead[role] && r.cl.leaderFunc()(role) {
				t.Errorf("%s got the role %s held by r%d", r.id, role, lead[role])
			}
		}
	}
	// Spread, as the view and the replicas themselves see it.
	bridgestest.WaitFor(t, "the partitions spread over the 3 replicas", 10*time.Second, func() bool {
		v := e.reps[0].cl.readDeployment()
		if len(v.Replicas) != len(e.reps) {
			return false
		}
		held := 0
		for i, r := range v.Replicas { // sorted: r0, r1, r2
			// Balanced (the rebalancing has stopped moving leases), and
			// the view agrees with what each replica holds.
			own := e.reps[i].cl.status().Partitions
			if r.ID != e.reps[i].id || len(own) != e.parts/len(e.reps) || len(own) != len(r.Partitions) {
				return false
			}
			for k, l := range r.Partitions {
				if *l.Partition != own[k].Partition || l.Token != own[k].Token {
					return false
				}
			}
			held += len(r.Partitions)
		}
		return held == e.parts
	})

	var first map[int]string
	var firstTokens map[int]int64
	for i, me := range e.reps {
		v := me.cl.readDeployment()
		if v.Error != "" {
			t.Fatalf("%s: view error %s", me.id, v.Error)
		}
		if v.Replica != me.id || v.Partitions != e.parts || v.LeaseTTLMS != ttl.Milliseconds() {
			t.Errorf("%s: view by %s of %d partitions, ttl %dms; want by %s, %d, %v", me.id, v.Replica, v.Partitions, v.LeaseTTLMS, me.id, e.parts, ttl)
		}
		if ids := replicaIDs(v); !slices.Equal(ids, []string{"r0", "r1", "r2"}) {
			t.Fatalf("%s: replicas %v, want r0 r1 r2", me.id, ids)
		}
		parts, tokens, roleHolders := viewLeases(t, v)
		for j, rv := range v.Replicas {
			if !rv.Live || rv.ListedForMS <= 0 || rv.ListedForMS > ttl.Milliseconds() || rv.Self != (j == i) {
				t.Errorf("%s: replica %+v, want live, listed for at most the ttl, self only for itself", me.id, rv)
			}
			own := map[int]int64{}
			for _, ps := range e.reps[j].cl.status().Partitions {
				own[ps.Partition] = ps.Token
			}
			got := map[int]int64{}
			for _, l := range rv.Partitions {
				got[*l.Partition] = l.Token
				if l.LeftMS <= 0 || l.LeftMS > ttl.Milliseconds() || l.RenewedAgoMS < 0 || l.RenewedAgoMS >= ttl.Milliseconds() {
					t.Errorf("%s: %s's partition %d: %dms left, renewed %dms ago; want within the ttl %v", me.id, rv.ID, *l.Partition, l.LeftMS, l.RenewedAgoMS, ttl)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(own) {
				t.Errorf("%s: the view has %s holding %v, it holds %v (partition: token)", me.id, rv.ID, got, own)
			}
		}
		if len(parts) != e.parts || len(v.UnownedPartitions) != 0 {
			t.Errorf("%s: %d partitions held, %v unowned; want all %d held", me.id, len(parts), v.UnownedPartitions, e.parts)
		}
		for role, r := range lead {
			if roleHolders[role] != fmt.Sprintf("r%d", r) {
				t.Errorf("%s: role %s under %q, want r%d", me.id, role, roleHolders[role], r)
			}
		}
		if len(roleHolders) != len(lead) || len(v.UnownedRoles) != 0 {
			t.Errorf("%s: roles %v, unowned %v; want exactly %v", me.id, roleHolders, v.UnownedRoles, lead)
		}
		if first == nil {
			first, firstTokens = parts, tokens
		} else if fmt.Sprint(parts) != fmt.Sprint(first) {
			t.Errorf("%s sees the partitions held as %v, r0 sees %v", me.id, parts, first)
		}
	}

	// r1 is killed: no release, its leases run out.
	victim := e.reps[1]
	old := map[int]int64{}
	for p, h := range first {
		if h == victim.id {
			old[p] = firstTokens[p]
		}
	}
	victim.cl.Abort()
	var last deploymentView
	bridgestest.WaitFor(t, "r1's partitions held by r0 and r2, r1 out of the view", 3*ttl+5*time.Second, func() bool {
		v := e.reps[0].cl.readDeployment()
		if v.Error != "" {
			return false
		}
		last = v
		parts, tokens, _ := viewLeases(t, v)
		if n := len(parts) + len(v.UnownedPartitions); n != e.parts {
			t.Errorf("the view has %d partitions held and %d unowned, want %d in all", len(parts), len(v.UnownedPartitions), e.parts)
		}
		for p, tok := range old {
			if h, held := parts[p]; held && h != victim.id && tokens[p] <= tok {
				t.Errorf("partition %d moved to %s with token %d, want above r1's %d", p, h, tokens[p], tok)
			}
		}
		return len(parts) == e.parts && slices.Equal(replicaIDs(v), []string{"r0", "r2"})
	})
	u, ok := unownedRole(last, "discord/main/shard/0")
	if !ok || u.LastToken == 0 || u.ForMS < 0 {
		t.Errorf("r1's role after the kill: %+v, %v; want unowned, with its last token", u, ok)
	}
	if !e.reps[2].cl.leaderFunc()("discord/main/shard/0") {
		t.Fatal("r2 did not get r1's free role")
	}
	v := e.reps[0].cl.readDeployment()
	if _, _, rh := viewLeases(t, v); rh["discord/main/shard/0"] != "r2" || len(v.UnownedRoles) != 0 {
		t.Errorf("after r2 took r1's role: roles %v, unowned %v", rh, v.UnownedRoles)
	}

	// Cached: the same view within viewFresh, a new one after it.
	clk := time.Now()
	r0 := e.reps[0].cl
	r0.view.now = func() time.Time { return clk }
	v1 := r0.deployment()
	r0.view.noteRole("test/extra/job")
	clk = clk.Add(viewFresh - 100*time.Millisecond)
	if v2 := r0.deployment(); !v2.At.Equal(v1.At) {
		t.Errorf("a view read again %v later (at %v, first at %v), want the cached one", viewFresh-100*time.Millisecond, v2.At, v1.At)
	} else if _, ok := unownedRole(v2, "test/extra/job"); ok {
		t.Error("the cached view has a role noted after it was read")
	}
	clk = clk.Add(200 * time.Millisecond)
	if u, ok := unownedRole(r0.deployment(), "test/extra/job"); !ok || u.LastToken != 0 {
		t.Errorf("after viewFresh: role %+v, %v; want a new view with the never-held role", u, ok)
	}
}

// TestReadyzDeployment: /readyz keeps this replica's partitions and adds
// the deployment: a replica that announces itself but holds nothing (yet)
// leaves its share unowned, and the view says for how long.
func TestReadyzDeployment(t *testing.T) {
	be := &bridgestest.Backend{Script: answerScript}
	const ttl = 2 * time.Second
	e := newClusterEnv(t, ttl, 8, be, be.Requests)
	announce(t, e.url, "c", "ghost", ttl)
	r0 := e.start("r0")
	bridgestest.WaitFor(t, "r0 holding its share, 4", 10*time.Second, func() bool { return len(r0.cl.status().Partitions) == 4 })
	clk := time.Now()
	r0.cl.view.now = func() time.Time { return clk }
	h := readyHandler(r0.cl.db, nil, r0.cl.statusFunc())
	get := func() clusterStatus {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		var res struct {
			Cluster clusterStatus `json:"cluster"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != 200 {
			t.Fatalf("/readyz = %d %s (%v)", rec.Code, rec.Body, err)
		}
		if !strings.Contains(rec.Body.String(), `"deployment": {`) || !strings.Contains(rec.Body.String(), `"partitions": [`) {
			t.Errorf("/readyz = %s, want cluster.partitions and cluster.deployment", rec.Body)
		}
		return res.Cluster
	}
	st := get()
	d := st.Deployment
	if st.Replica != "r0" || len(st.Partitions) != 4 || d == nil {
		t.Fatalf("/readyz cluster = %+v, want r0's 4 partitions and the deployment", st)
	}
	if ids := replicaIDs(*d); !slices.Equal(ids, []string{"ghost", "r0"}) || !d.Replicas[0].Live || len(d.Replicas[0].Partitions) != 0 {
		t.Fatalf("deployment replicas = %+v, want ghost (live, nothing held) and r0", d.Replicas)
	}
	parts, tokens, _ := viewLeases(t, *d)
	for _, ps := range st.Partitions {
		if parts[ps.Partition] != "r0" || tokens[ps.Partition] != ps.Token {
			t.Errorf("r0's partition %d (token %d): the deployment has it under %q with token %d", ps.Partition, ps.Token, parts[ps.Partition], tokens[ps.Partition])
		}
	}
	var all []int
	for p := range parts {
		all = append(all, p)
	}
	firstFor := map[int]int64{}
	for _, u := range d.UnownedPartitions {
		all = append(all, *u.Partition)
		firstFor[*u.Partition] = u.ForMS
	}
	sort.Ints(all)
	if len(d.UnownedPartitions) != 4 || fmt.Sprint(all) != "[0 1 2 3 4 5 6 7]" {
		t.Fatalf("held %v and unowned %+v, want 4 and 4 making up 0-7", parts, d.UnownedPartitions)
	}

	// Within viewFresh the same view; after it, the unowned ones are
	// unowned for longer, by the time that passed at least.
	if again := get(); !again.Deployment.At.Equal(d.At) {
		t.Errorf("/readyz read the view again at once (%v, then %v), want it cached", d.At, again.Deployment.At)
	}
	time.Sleep(300 * time.Millisecond)
	clk = clk.Add(viewFresh)
	d2 := get().Deployment
	for _, u := range d2.UnownedPartitions {
		if was, ok := firstFor[*u.Partition]; !ok || u.ForMS < was+250 {
			t.Errorf("partition %d unowned for %dms, 300ms after %dms (%v)", *u.Partition, u.ForMS, was, ok)
		}
	}
}

// TestDeploymentViewUnreachable: with Redis gone the view says why,
// within viewTimeout, without the password.
func TestDeploymentViewUnreachable(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{TCP: true, Password: "pw-view-secret"})
	be := &bridgestest.Backend{Script: answerScript}
	e := newClusterEnvOn(t, srv.URL, 2*time.Second, 4, be, be.Requests)
	r0 := e.start("r0")
	if v := r0.cl.readDeployment(); v.Error != "" || (len(v.Replicas) == 0 && len(v.UnownedPartitions) == 0) {
		t.Fatalf("view with Redis up = %+v", v)
	}
	srv.Stop()
	start := time.Now()
	v := r0.cl.readDeployment()
	took := time.Since(start)
	if v.Error == "" || !strings.Contains(v.Error, "read leases") || strings.Contains(v.Error, "pw-view-secret") {
		t.Errorf("view with Redis stopped: error %q, want one naming the read, without the password", v.Error)
	}
	if len(v.Replicas) != 0 || took > viewTimeout+time.Second {
		t.Errorf("view with Redis stopped: %d replicas after %v, want none within %v", len(v.Replicas), took, viewTimeout)
	}
}

// webReplicaSrc is the config of replica id of a deployment on the Redis
// at url under prefix (2 s leases, partitions) with the demo backend and
// one web chat, listening on any free port; http is the rest of the
// [http] table, demo the rest of [backends.demo].
func webReplicaSrc(url, prefix, id string, partitions int, http, demo string) string {
	return `[store]
kind = "redis"
url = "` + url + `"
prefix = "` + prefix + `"
[cluster]
replica_id = "` + id + `"
lease_ttl = "2s"
partitions = ` + strconv.Itoa(partitions) + `
[http]
listen = "127.0.0.1:0"
` + http + `[backends.demo]
kind = "demo"
` + demo + `[web.local]
title = "Local"
`
}

// TestOperatorPageClusterInBrowser: in cluster mode the operator page's
// Cluster section shows each replica with its partitions and roles and
// the unowned partitions highlighted, all as text; the JSON API has the
// same view.
func TestOperatorPageClusterInBrowser(t *testing.T) {
	url := redistest.Start(t)
	const ghost = `<b>ghost</b>` // markup in a replica ID stays text
	gdb := announce(t, url, "ops", ghost, 2*time.Second)
	if _, err := gdb.Acquire(t.Context(), "job/discord/main/shard/1", ghost, time.Minute); err != nil {
		t.Fatal(err)
	}
	ta := startAppSrc(t, webReplicaSrc(url, "ops", "app", 8, `admin_token = "tok"`+"\n", ""))
	lead := ta.a.cluster.leaderFunc()
	if !lead("telegram/main/poller") {
		t.Fatal("the app did not get a free role")
	}
	if lead("discord/main/shard/1") {
		t.Fatal("the app got the ghost's role")
	}

	var st adminStatus
	bridgestest.WaitFor(t, "the app holding its share, 4", 10*time.Second, func() bool {
		adminGet(t, ta.base+"/admin/api/status", "tok", &st)
		return st.Cluster != nil && len(st.Cluster.UnownedPartitions) == 4 && len(st.Cluster.Replicas) == 2 && len(st.Cluster.Replicas[1].Partitions) == 4
	})
	c := st.Cluster
	if c.Replicas[0].ID != ghost || c.Replicas[1].ID != "app" || !c.Replicas[1].Self || len(c.Replicas[0].Roles) != 1 || c.Replicas[0].Roles[0].Role != "discord/main/shard/1" ||
		len(c.Replicas[1].Roles) != 1 || c.Replicas[1].Roles[0].Role != "telegram/main/poller" {
		t.Errorf("API cluster replicas = %+v, want the ghost with shard 1, the app with the poller and 4 partitions", c.Replicas)
	}

	ctx := browsertest.Chromium(t, 1200, 900)
	if err := chromedp.Do(ctx, chromedp.Navigate(ta.base+"/admin/?token=tok")); err != nil {
		t.Fatal(err)
	}
	app, unowned := `#replicas tr[data-replica="app"]`, `#unowned tr.bad[data-partition]`
	browsertest.Poll[bool](t, ctx, "the Cluster section with the app's 4 partitions and 4 unowned",
		`!document.getElementById('cluster').hidden && document.querySelectorAll('`+app+` .lease[data-partition]').length === 4 && document.querySelectorAll('`+unowned+`').length === 4`)
	browsertest.Screenshot(t, ctx, "operator-page-cluster")

	parts := browsertest.Eval[[]string](t, ctx, `[...document.querySelectorAll('`+app+` .lease[data-partition]'), ...document.querySelectorAll('`+unowned+`')].map(e => e.dataset.partition).sort()`)
	if fmt.Sprint(parts) != "[0 1 2 3 4 5 6 7]" {
		t.Errorf("the app's and the unowned partitions on the page = %v, want 0-7 once each", parts)
	}
	var apiHeld []string
	for _, l := range c.Replicas[1].Partitions {
		apiHeld = append(apiHeld, strconv.Itoa(*l.Partition))
	}
	pageHeld := browsertest.Eval[[]string](t, ctx, `[...document.querySelectorAll('`+app+` .lease[data-partition]')].map(e => e.dataset.partition)`)
	if fmt.Sprint(pageHeld) != fmt.Sprint(apiHeld) {
		t.Errorf("the page shows the app holding %v, the API %v", pageHeld, apiHeld)
	}
	if role := browsertest.Eval[string](t, ctx, `document.querySelector('`+app+` .lease[data-role]')?.dataset.role || ''`); role != "telegram/main/poller" {
		t.Errorf("the app's role on the page = %q, want telegram/main/poller", role)
	}
	ghostRow := `document.querySelector('#replicas tr[data-replica="` + ghost + `"]')`
	if got := browsertest.Eval[string](t, ctx, ghostRow+`?.querySelector('.id')?.textContent || ''`); got != ghost {
		t.Errorf("the ghost's row shows %q, want its ID as text %q", got, ghost)
	}
	if n := browsertest.Eval[int](t, ctx, `document.querySelectorAll('#cluster b').length`); n != 0 {
		t.Errorf("a replica ID's markup became %d elements, want text", n)
	}
	if role := browsertest.Eval[string](t, ctx, ghostRow+`?.querySelector('.lease[data-role]')?.dataset.role || ''`); role != "discord/main/shard/1" {
		t.Errorf("the ghost's role on the page = %q, want discord/main/shard/1", role)
	}
	if bg := browsertest.Eval[string](t, ctx, `getComputedStyle(document.querySelector('`+unowned+` td')).backgroundColor`); bg != "rgb(253, 236, 234)" {
		t.Errorf("an unowned partition's background = %q, want the highlight", bg)
	}
	if s := browsertest.Eval[string](t, ctx, `document.getElementById('cluster-summary').textContent`); !strings.HasPrefix(s, "2 live replicas, 8 partitions, 4 unowned") {
		t.Errorf("cluster summary = %q", s)
	}
}

// TestClusterSharedAdminToken: two replicas with no admin_token on one
// Redis generate one token between them — the first one's — so the
// operator page behind a load balancer accepts the token whichever
// replica answers; another deployment (prefix) has its own.
func TestClusterSharedAdminToken(t *testing.T) {
	url := redistest.Start(t)
	src := func(prefix, id string) string { return webReplicaSrc(url, prefix, id, 4, "", "") }
	a, b := startAppSrc(t, src("tok", "a")), startAppSrc(t, src("tok", "b"))
	other := startAppSrc(t, src("tok-other", "c"))
	ta, tb, tc := a.a.admin.token.Reveal(), b.a.admin.token.Reveal(), other.a.admin.token.Reveal()
	if ta == "" || ta != tb {
		t.Fatalf("replica tokens differ: %d and %d characters, equal %v; want one generated token for the deployment", len(ta), len(tb), ta == tb)
	}
	if tc == ta {
		t.Error("another deployment (prefix) got the same token")
	}
	for _, r := range []*testApp{a, b} {
		if code, _ := r.request(t, "GET", "/admin/api/status", map[string]string{"Authorization": "Bearer " + ta}, ""); code != 200 {
			t.Errorf("replica %s refused the deployment's token: %d", r.a.cfg.Cluster.ReplicaID, code)
		}
	}
	if code, _ := b.request(t, "GET", "/admin/api/status", map[string]string{"Authorization": "Bearer " + tc}, ""); code != 401 && code != 403 {
		t.Errorf("replica b accepted another deployment's token: %d", code)
	}
}

// TestClusterWebChatAnsweredWhereAsked: in cluster mode a web chat's
// questions are answered by the replica the browser talks to, not by
// the partition's owner (which could not reach the browser's event
// stream): eight browsers on replica b of two each get their answer,
// though about half their conversations' partitions are a's, and the
// conversations are in the shared store.
func TestClusterWebChatAnsweredWhereAsked(t *testing.T) {
	url := redistest.Start(t)
	src := func(id string) string {
		return webReplicaSrc(url, "web", id, 8, `admin_token = "tok"`+"\n", `pace = "-1ns"`+"\n")
	}
	a, b := startAppSrc(t, src("a")), startAppSrc(t, src("b"))
	bridgestest.WaitFor(t, "the partitions spread over both replicas", 10*time.Second, func() bool {
		return len(a.a.cluster.status().Partitions) > 0 && len(b.a.cluster.status().Partitions) > 0 &&
			len(a.a.cluster.status().Partitions)+len(b.a.cluster.status().Partitions) == 8
	})
	const browsers = 8
	var clients []*webClient
	for range browsers {
		clients = append(clients, newWebClient(t, b.base+"/web/local/"))
	}
	for i, c := range clients {
		c.ask(fmt.Sprintf("question %d", i))
	}
	for i, c := range clients {
		if answer := c.final(20 * time.Second); !strings.Contains(answer, fmt.Sprintf("You asked: _question %d_", i)) {
			t.Errorf("browser %d: final answer %q, want the demo's answer to its question", i, answer)
		}
	}
	entries, err := a.a.db.List()
	if err != nil || len(entries) != browsers {
		t.Errorf("replica a lists %d conversations (%v), want the %d web chats in the shared store", len(entries), err, browsers)
	}
}
