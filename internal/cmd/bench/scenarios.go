package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxid/wxid/internal/benchkit"
	"github.com/wxid/wxid/users"
)

// seeded is a logged-in user: what the me comparison needs.
type seeded struct {
	skey    string
	userID  string
	unionID string
}

const loginQuery = `mutation($c:String!){login(input:{code:$c}){skey expiresAt isNewUser openId unionId user{id unionId openIds{appId openId}}}}`

func loginBody(code string) []byte {
	b, _ := json.Marshal(map[string]any{"query": loginQuery, "variables": map[string]string{"c": code}})
	return b
}

// seed logs n users in through wxid.
func (e *env) seed(ctx context.Context, n int) ([]seeded, error) {
	out := make([]seeded, n)
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		mu   sync.Mutex
		fail error
	)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				s, err := e.login(ctx, fmt.Sprintf("seed-%d", i))
				if err != nil {
					mu.Lock()
					fail = err
					mu.Unlock()
					return
				}
				out[i] = s
			}
		}()
	}
	wg.Wait()
	return out, fail
}

func (e *env) login(ctx context.Context, user string) (seeded, error) {
	code, err := e.stub.Login(appID, user)
	if err != nil {
		return seeded{}, err
	}
	b, err := post(ctx, e.client, e.wxidURL+"/graphql", "", loginBody(code))
	if err != nil {
		return seeded{}, err
	}
	var resp struct {
		Data struct {
			Login struct {
				Skey    string
				UnionID string
				User    struct{ ID string }
			}
		}
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return seeded{}, err
	}
	l := resp.Data.Login
	return seeded{skey: l.Skey, userID: l.User.ID, unionID: l.UnionID}, nil
}

// startFloor starts this binary as the floor server over the same data.
func (e *env) startFloor(ctx context.Context, users []seeded) error {
	f, err := os.CreateTemp("", "wxid-bench-seed-*.txt")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	for _, u := range users {
		fmt.Fprintf(f, "%s %s %s\n", u.skey, u.userID, u.unionID)
	}
	if err := f.Close(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	addr := benchkit.FreeAddr()
	e.floorURL = "http://" + addr
	e.floor = exec.CommandContext(ctx, filepath.Clean(self), "-floor",
		"-addr", addr, "-dsn", e.dsn, "-memcached", e.mcAddr, "-seed", f.Name())
	e.floor.Stdout, e.floor.Stderr = os.Stderr, os.Stderr
	if err := e.floor.Start(); err != nil {
		return fmt.Errorf("starting the floor: %w", err)
	}
	if err := benchkit.WaitReady(ctx, e.client, e.floorURL+"/readyz"); err != nil {
		return fmt.Errorf("the floor did not become ready: %w", err)
	}
	return nil
}

const meQuery = `{"query":"{ me { id unionId phoneNumber } }"}`

// benchMe alternates wxid and the floor (ABBA order, so drift in the
// machine's load hits both alike) and prints the medians and ratios.
func benchMe(ctx context.Context, e *env, o options, users []seeded) error {
	fmt.Printf("me { id unionId phoneNumber }: %d connections, %d users, %s per run, %d rounds\n", o.meConns, len(users), o.duration, o.rounds)
	target := func(url string) op {
		body := []byte(meQuery)
		return func(ctx context.Context, c *http.Client, w, i int) error {
			u := users[(w*7919+i)%len(users)]
			_, err := post(ctx, c, url+"/graphql", u.skey, body)
			return err
		}
	}
	var wx, fl []result
	for r := 0; r < o.rounds; r++ {
		order := []string{"wxid", "floor"}
		if r%2 == 1 {
			order = []string{"floor", "wxid"}
		}
		for _, name := range order {
			url := e.wxidURL
			if name == "floor" {
				url = e.floorURL
			}
			res := drive(ctx, o.meConns, o.duration, target(url), nil)
			fmt.Printf("  round %d %-5s %s\n", r+1, name, res)
			if name == "wxid" {
				wx = append(wx, res)
			} else {
				fl = append(fl, res)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	wr, fr := medianOf(wx, func(r result) float64 { return r.rate }), medianOf(fl, func(r result) float64 { return r.rate })
	w50, f50 := medianOf(wx, func(r result) float64 { return float64(r.p50) }), medianOf(fl, func(r result) float64 { return float64(r.p50) })
	w99, f99 := medianOf(wx, func(r result) float64 { return float64(r.p99) }), medianOf(fl, func(r result) float64 { return float64(r.p99) })
	fmt.Printf("  median wxid  %8.0f/s  p50 %7s  p99 %7s\n", wr, round(time.Duration(w50)), round(time.Duration(w99)))
	fmt.Printf("  median floor %8.0f/s  p50 %7s  p99 %7s\n", fr, round(time.Duration(f50)), round(time.Duration(f99)))
	fmt.Printf("  ratio wxid/floor: throughput %.2fx, p99 %.2fx\n\n", wr/fr, w99/f99)
	return nil
}

// benchLogin measures logins of returning users with WeChat answering
// after o.latency, against the bound conns ÷ latency: o.rounds runs, each
// printed, then their medians, with the CPU each process spent per login.
func benchLogin(ctx context.Context, e *env, o options, conns int) error {
	bound := float64(conns) / o.latency.Seconds()
	fmt.Printf("login (returning users), %d connections, WeChat +%s, %d rounds:\n", conns, o.latency, o.rounds)
	watch := e.procs()
	var runs []result
	var shares []cpuShare
	for r := 1; r <= o.rounds; r++ {
		res, err := loginRound(ctx, e, o, conns, r, bound, watch)
		if err != nil {
			return err
		}
		fmt.Printf("  round %d %s\n", r, res)
		runs, shares = append(runs, res), append(shares, res.cpu)
	}
	rate := medianOf(runs, func(r result) float64 { return r.rate })
	p50 := medianOf(runs, func(r result) float64 { return float64(r.p50) })
	p99 := medianOf(runs, func(r result) float64 { return float64(r.p99) })
	fmt.Printf("  median  %8.0f/s  p50 %7s  p99 %7s\n", rate, round(time.Duration(p50)), round(time.Duration(p99)))
	if cpu := medianShare(shares); cpu.total() > 0 {
		fmt.Printf("  CPU per login (median): %s\n", cpu)
	}
	fmt.Printf("  bound %d ÷ %s = %.0f/s; wxid reaches %.2fx of it\n\n", conns, o.latency, bound, rate/bound)
	return nil
}

// loginRound is one timed run of benchLogin, with people of its own,
// accounting the CPU of watch.
func loginRound(ctx context.Context, e *env, o options, conns, round int, bound float64, watch procs) (result, error) {
	// Mint enough codes for the bound plus the warm-up, for enough people
	// that none passes the stand-in's ~100 exchanges per user per minute.
	need := int(bound*(o.duration.Seconds()+1.5)) + conns
	people := need/50 + 1
	person := func(p int) string { return fmt.Sprintf("login-%d-%d-%d", conns, round, p) }
	codes := make(chan string, need)
	for i := 0; i < need; i++ {
		c, err := e.stub.Login(appID, person(i%people))
		if err != nil {
			return result{}, err
		}
		codes <- c
	}
	// The first login of each person registers it: do those first, so the
	// timed run measures returning users.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for p := 0; p < people; p++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(p int) {
			defer wg.Done()
			defer func() { <-sem }()
			_, _ = e.login(ctx, person(p))
		}(p)
	}
	wg.Wait()
	url := e.wxidURL + "/graphql"
	return drive(ctx, conns, o.duration, func(ctx context.Context, c *http.Client, _, _ int) error {
		select {
		case code := <-codes:
			_, err := post(ctx, c, url, "", loginBody(code))
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}, watch), nil
}

// procs are the processes a login run accounts CPU to: wxid, the database
// server when it runs on this machine, memcached, and the bench itself.
func (e *env) procs() procs {
	ps := procs{{"wxid", e.wxid.Process.Pid}}
	if pid := findProcess("mariadbd", "mysqld"); pid != 0 {
		ps = append(ps, proc{"database", pid})
	}
	return append(ps, proc{"memcached", e.memcached.Process.Pid}, proc{"bench (load + WeChat stand-in)", os.Getpid()})
}

// benchCosts runs each operation alone and prints the SQL statements it
// cost (SELECT, INSERT, UPDATE, DELETE as the server counted them).
func benchCosts(ctx context.Context, e *env) error {
	if !e.counter.OK() {
		fmt.Println("statements per operation: not available on this server (needs MariaDB's userstat and CREATE USER)")
		return nil
	}
	fmt.Println("SQL statements per operation (counted by the server, averaged over 20 calls):")
	const n = 20
	var skeys []string
	measure := func(name string, f func(i int) error) error {
		before := e.counter.Read(ctx)
		for i := 0; i < n; i++ {
			if err := f(i); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		after := e.counter.Read(ctx)
		fmt.Printf("  %-28s %5.1f  (select %.1f, write %.1f)\n", name,
			float64(after.Total()-before.Total())/n,
			float64(after.Selects-before.Selects)/n, float64(after.Writes-before.Writes)/n)
		return nil
	}
	if err := measure("login (new user)", func(i int) error {
		s, err := e.login(ctx, fmt.Sprintf("cost-new-%d", i))
		skeys = append(skeys, s.skey)
		return err
	}); err != nil {
		return err
	}
	if err := measure("login (returning user)", func(i int) error {
		s, err := e.login(ctx, fmt.Sprintf("cost-new-%d", i))
		skeys[i] = s.skey
		return err
	}); err != nil {
		return err
	}
	if err := measureMe(ctx, e, skeys, measure); err != nil {
		return err
	}
	if err := measure("refreshSession", func(i int) error {
		b, err := post(ctx, e.client, e.wxidURL+"/graphql", skeys[i], []byte(`{"query":"mutation{ refreshSession { skey expiresAt } }"}`))
		if err == nil {
			var r struct {
				Data struct{ RefreshSession struct{ Skey string } }
			}
			if err = json.Unmarshal(b, &r); err == nil {
				skeys[i] = r.Data.RefreshSession.Skey
			}
		}
		return err
	}); err != nil {
		return err
	}
	return measure("logout", func(i int) error {
		_, err := post(ctx, e.client, e.wxidURL+"/graphql", skeys[i], []byte(`{"query":"mutation{ logout }"}`))
		return err
	})
}

// measureMe measures me right after the logins of skeys (their tombstones
// send it to the database) and once their views are cached.
func measureMe(ctx context.Context, e *env, skeys []string, measure func(string, func(int) error) error) error {
	me := func(i int) error {
		_, err := post(ctx, e.client, e.wxidURL+"/graphql", skeys[i], []byte(`{"query":"{ me { id unionId phoneNumber openIds { appId openId } createdAt lastLoginAt } }"}`))
		return err
	}
	if err := measure("me (just after the login)", me); err != nil {
		return err
	}
	// Once the logins' tombstones have expired, one me per user caches
	// its view; every later me reads none.
	time.Sleep(users.TombstoneTTL + time.Second)
	for i := range skeys {
		if err := me(i); err != nil {
			return err
		}
	}
	return measure("me (cached user view)", me)
}

func medianOf(rs []result, f func(result) float64) float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = f(r)
	}
	return median(xs)
}
