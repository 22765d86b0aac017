package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxid/wxid/internal/benchkit"
	"github.com/wxid/wxid/wechat/wechattest"
)

// purgeOptions shape the purge catch-up mode: a backlog of expired sessions
// cleared by wxid's purge while logins keep coming.
type purgeOptions struct {
	backlog  int           // expired sessions to add; 0 = the mode is off
	rate     int           // logins a second, open loop
	latency  time.Duration // the WeChat stand-in's answer time
	baseline time.Duration // how long each purge-free phase is measured
	limit    time.Duration // the longest catch-up waited for
	people   int           // returning users the logins rotate through
	maxRatio float64       // the catch-up p99 ÷ baseline p99 the run accepts
}

// purgeFlags registers the flags of the purge catch-up mode.
func purgeFlags(p *purgeOptions) {
	flag.IntVar(&p.backlog, "purge-backlog", 0, "purge catch-up mode: add this many expired sessions, then measure login p50/p99 without the purge and while it clears the backlog (0 = off)")
	flag.IntVar(&p.rate, "purge-login-rate", 150, "purge mode: logins a second, sent at a steady rate whatever the answers take")
	flag.DurationVar(&p.latency, "purge-latency", 50*time.Millisecond, "purge mode: how long the WeChat stand-in takes to answer a code exchange")
	flag.DurationVar(&p.baseline, "purge-baseline", 20*time.Second, "purge mode: how long the phases without purge work are measured")
	flag.DurationVar(&p.limit, "purge-limit", 10*time.Minute, "purge mode: the longest catch-up waited for")
	flag.IntVar(&p.people, "purge-people", 2000, "purge mode: returning users the logins rotate through")
	flag.Float64Var(&p.maxRatio, "purge-max-ratio", 1.5, "purge mode: fail when the login p99 during the catch-up exceeds this multiple of the p99 without the purge")
}

// wxidSecret is the AppSecret of appID(0), wxid's and the stand-in's.
const wxidSecret = "scale-secret-0123456789abcdef0123"

// The purge deletes sessions dead for more than this (session.Purge).
const purgeAge = time.Hour

// purgeInterval is WXID_PURGE_INTERVAL while the purge is measured: the
// first pass starts this long after wxid does, so the logins are warm by
// then.
const purgeInterval = 3 * time.Second

// sample is one login: when it was sent and what it took.
type sample struct {
	at   time.Time
	took time.Duration
	ok   bool
}

// loginLoad sends logins at a steady rate until stopped and keeps every
// sample.
type loginLoad struct {
	stub     *wechattest.Server
	client   *http.Client
	url      func() string
	people   int
	mu       sync.Mutex
	samples  []sample
	skipped  atomic.Int64 // sends dropped because too many were in flight
	firstErr atomic.Value
}

// purgeCatchUp is the purge catch-up mode: see purgeFlags.
func purgeCatchUp(ctx context.Context, e *env, o options) error {
	p := o.purge
	stub := wechattest.New(wechattest.WithDefaultApp(appID(0)))
	stub.AddApp(appID(0), wxidSecret, "scale-open-platform")
	var stubSrv *http.Server
	stubAddr, err := benchkit.Serve(ctx, &stubSrv, benchkit.WithLatency(stub.Handler(), p.latency))
	if err != nil {
		return err
	}
	defer func() { _ = stubSrv.Close() }()
	base := []string{"WXID_WECHAT_API_BASE=http://" + stubAddr, "WXID_LOGIN_RATE_LIMIT=0"}

	start := time.Now()
	if err := addBacklog(ctx, e, p.backlog, o.load.batch); err != nil {
		return err
	}
	if _, err := e.data.ExecContext(ctx, "ANALYZE TABLE sessions"); err != nil {
		return fmt.Errorf("analyzing sessions: %w", err)
	}
	fmt.Printf("added %d expired sessions in %s\n", p.backlog, time.Since(start).Round(time.Second))
	if err := e.describe(ctx); err != nil {
		return err
	}
	if err := e.restartWxid(ctx, o, append(base, "WXID_PURGE_INTERVAL=0")...); err != nil {
		return err
	}
	l := &loginLoad{stub: stub, url: func() string { return e.wxidURL + "/graphql" }, people: p.people,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 512}, Timeout: 30 * time.Second}}
	if err := l.register(ctx); err != nil {
		return err
	}
	backlog, err := dead(ctx, e)
	if err != nil {
		return err
	}
	fmt.Printf("\nlogins: %d/s, WeChat stand-in +%s, %d returning users; purgeable sessions: %d\n", p.rate, p.latency, p.people, backlog)
	fmt.Printf("%-34s %8s %9s %9s %9s %8s\n", "phase", "logins", "p50", "p99", "max", "errors")

	before, err := l.phase(ctx, p.rate, 2*time.Second, p.baseline)
	if err != nil {
		return err
	}
	report("without the purge", before)

	if err := e.restartWxid(ctx, o, append(base, "WXID_PURGE_INTERVAL="+purgeInterval.String())...); err != nil {
		return err
	}
	catch, err := l.catchUp(ctx, e, p, backlog)
	if err != nil {
		return err
	}
	report("while the purge catches up", catch.window)
	after, err := l.phase(ctx, p.rate, 0, p.baseline)
	if err != nil {
		return err
	}
	report("after it (purge on, idle)", after)
	return verdict(p, before, after, catch)
}

// catchUpResult is the purge's catch-up: the logins during it and how long
// it took.
type catchUpResult struct {
	window stats
	purged int64
	took   time.Duration
}

// catchUp sends logins while wxid's purge clears the backlog, watching
// wxid_sessions_purged_total, and returns the logins sent between the
// purge's first deletion and the end of the backlog.
func (l *loginLoad) catchUp(ctx context.Context, e *env, p purgeOptions, backlog int64) (catchUpResult, error) {
	sending, cancel := context.WithCancel(ctx)
	defer cancel()
	l.reset()
	done := l.run(sending, p.rate)
	var first, last time.Time
	var purged int64
	deadline := time.Now().Add(p.limit + purgeInterval)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		n, err := purgedTotal(ctx, e)
		if err != nil {
			cancel()
			<-done
			return catchUpResult{}, err
		}
		if n > 0 && first.IsZero() {
			first = time.Now()
		}
		if n > purged {
			purged, last = n, time.Now()
		}
		if purged >= backlog {
			break
		}
	}
	cancel()
	<-done
	if first.IsZero() {
		return catchUpResult{}, fmt.Errorf("wxid purged nothing within %s", p.limit)
	}
	left, err := dead(ctx, e)
	if err != nil {
		return catchUpResult{}, err
	}
	took := last.Sub(first)
	fmt.Printf("catch-up: %d sessions purged in %s (%.0f rows/s), %d purgeable left\n",
		purged, took.Round(100*time.Millisecond), float64(purged)/max(took.Seconds(), 0.001), left)
	return catchUpResult{window: l.stats(first, last), purged: purged, took: took}, nil
}

// phase warms up for warm, then measures d of logins at rate.
func (l *loginLoad) phase(ctx context.Context, rate int, warm, d time.Duration) (stats, error) {
	sending, stop := context.WithCancel(ctx)
	l.reset()
	done := l.run(sending, rate)
	from := time.Now().Add(warm)
	sleepCtx(ctx, warm+d)
	to := time.Now()
	stop()
	<-done
	return l.stats(from, to), ctx.Err()
}

// run sends logins at rate until ctx ends; the channel closes once every
// login sent has answered.
func (l *loginLoad) run(ctx context.Context, rate int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		inFlight := make(chan struct{}, 1024)
		t := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				wg.Wait()
				return
			case <-t.C:
			}
			select {
			case inFlight <- struct{}{}:
			default:
				l.skipped.Add(1)
				continue
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				defer func() { <-inFlight }()
				l.login(context.WithoutCancel(ctx), i%l.people)
			}(i)
		}
	}()
	return done
}

// register logs every person in once, so that the measured logins are
// returning users'.
func (l *loginLoad) register(ctx context.Context) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range l.people {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			l.login(ctx, i)
		}()
	}
	wg.Wait()
	if v := l.firstErr.Load(); v != nil {
		return fmt.Errorf("registering the users: %v", v)
	}
	return nil
}

// login logs person in and records the sample.
func (l *loginLoad) login(ctx context.Context, person int) {
	code, err := l.stub.Login(appID(0), fmt.Sprintf("purge-%d", person))
	if err != nil {
		l.firstErr.CompareAndSwap(nil, err.Error())
		return
	}
	body, _ := json.Marshal(map[string]any{"query": `mutation($c:String!){login(input:{code:$c}){skey}}`, "variables": map[string]string{"c": code}})
	start := time.Now()
	ok := l.post(ctx, body)
	l.mu.Lock()
	l.samples = append(l.samples, sample{at: start, took: time.Since(start), ok: ok})
	l.mu.Unlock()
}

func (l *loginLoad) post(ctx context.Context, body []byte) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url(), strings.NewReader(string(body)))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		l.firstErr.CompareAndSwap(nil, err.Error())
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"skey"`) {
		l.firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d: %.200s", resp.StatusCode, b))
		return false
	}
	return true
}

func (l *loginLoad) reset() {
	l.mu.Lock()
	l.samples = l.samples[:0]
	l.mu.Unlock()
	l.skipped.Store(0)
}

// stats are the logins sent in one window.
type stats struct {
	n, errors, skipped int
	p50, p99, max      time.Duration
	seconds            float64
	firstErr           string
}

// stats summarises the logins sent between from and to.
func (l *loginLoad) stats(from, to time.Time) stats {
	l.mu.Lock()
	var took []time.Duration
	s := stats{seconds: to.Sub(from).Seconds(), skipped: int(l.skipped.Load())}
	for _, x := range l.samples {
		if x.at.Before(from) || x.at.After(to) {
			continue
		}
		if !x.ok {
			s.errors++
			continue
		}
		took = append(took, x.took)
	}
	l.mu.Unlock()
	s.n = len(took)
	s.p50, s.p99, s.max = percentile(took, 50), percentile(took, 99), percentile(took, 100)
	if v := l.firstErr.Load(); v != nil {
		s.firstErr = v.(string)
	}
	return s
}

func report(name string, s stats) {
	fmt.Printf("%-34s %8d %9s %9s %9s %8d", name, s.n, ms(s.p50), ms(s.p99), ms(s.max), s.errors)
	if s.skipped > 0 {
		fmt.Printf("  (%d not sent: 1024 in flight)", s.skipped)
	}
	if s.errors > 0 {
		fmt.Printf("  first error: %s", s.firstErr)
	}
	fmt.Println()
}

// verdict prints the ratio of the catch-up's p99 to the baseline's and
// fails beyond p.maxRatio.
// The phase after the catch-up is printed for the noise it shows: on a
// shared machine the two purge-free phases can differ by more than the
// purge's own effect.
func verdict(p purgeOptions, before, after stats, c catchUpResult) error {
	if before.p99 <= 0 || after.p99 <= 0 || c.window.n == 0 {
		return fmt.Errorf("too few logins to compare (baseline %d, catch-up %d, after %d)", before.n, c.window.n, after.n)
	}
	ratio := float64(c.window.p99) / float64(before.p99)
	fmt.Printf("\nlogin p99 while catching up ÷ without the purge: %.2f× (limit %.2f×); p50 %.2f×; p99 ÷ the phase after it: %.2f×\n",
		ratio, p.maxRatio, float64(c.window.p50)/float64(max(before.p50, 1)), float64(c.window.p99)/float64(after.p99))
	fmt.Printf("catch-up of %d sessions: %s, %.0f rows/s\n", c.purged, c.took.Round(100*time.Millisecond), float64(c.purged)/max(c.took.Seconds(), 0.001))
	if ratio > p.maxRatio || c.window.errors > 0 {
		return fmt.Errorf("the purge raised login p99 %.2f× (%d errors during the catch-up)", ratio, c.window.errors)
	}
	return nil
}

// addBacklog inserts n sessions that expired between 2 hours and 30 days
// ago, their expiries shuffled against their ids as real ones are, for the
// synthetic users load created.
func addBacklog(ctx context.Context, e *env, n, batch int) error {
	var users int
	if err := e.data.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&users); err != nil {
		return err
	}
	if users == 0 {
		return fmt.Errorf("the purge backlog needs users: -users must be positive")
	}
	const spread = 30 * 24 * 60 // minutes
	return insert(ctx, e.data, batch, "sessions (token_hash, family, created_at, expires_at, absolute_expires_at, client_ip, user_agent, open_id_id, user_id)", n,
		func(k int, b *strings.Builder) bool {
			i := k % users
			sum := sha256.Sum256(fmt.Appendf(nil, "scale-backlog-%d", k))
			expired := now.Add(-2*time.Hour - time.Duration((k*7919)%spread)*time.Minute)
			fmt.Fprintf(b, "(X'%s',X'%s',%s,%s,%s,'10.0.%d.%d','Mozilla/5.0 MicroMessenger/8.0.47',%d,%d)",
				hex.EncodeToString(sum[:]), hex.EncodeToString(sum[:16]),
				ts(expired.Add(-30*time.Minute)), ts(expired), ts(expired.Add(720*time.Hour)),
				i%250, i%200+1, openIDBase+1+int64(i), userID(i))
			return true
		})
}

// dead counts the sessions the purge would delete now.
func dead(ctx context.Context, e *env) (int64, error) {
	cutoff := time.Now().UTC().Add(-purgeAge)
	var n int64
	err := e.data.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM sessions WHERE expires_at < ?) + (SELECT COUNT(*) FROM sessions WHERE revoked_at < ? AND expires_at >= ?)",
		cutoff, cutoff, cutoff).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting dead sessions: %w", err)
	}
	return n, nil
}

// purgedTotal reads wxid_sessions_purged_total from wxid's /metrics.
func purgedTotal(ctx context.Context, e *env) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.wxidURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading wxid's metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "wxid_sessions_purged_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int64(f), err
		}
	}
	return 0, sc.Err()
}

// restartWxid stops wxid and starts it again on a new address with extra
// environment variables (the later of two equal names wins).
func (e *env) restartWxid(ctx context.Context, o options, extra ...string) error {
	old := e.wxid
	benchkit.Stop(old)
	addr := benchkit.FreeAddr()
	e.wxid = exec.CommandContext(ctx, o.wxidBin)
	e.wxid.Env = append(append(append([]string{}, old.Env...), "WXID_ADDR="+addr), extra...)
	e.wxid.Stdout, e.wxid.Stderr = old.Stdout, old.Stderr
	e.wxidURL = "http://" + addr
	if err := e.wxid.Start(); err != nil {
		return fmt.Errorf("starting wxid (%s): %w", o.wxidBin, err)
	}
	if err := benchkit.WaitReady(ctx, e.client, e.wxidURL+"/readyz"); err != nil {
		return fmt.Errorf("wxid did not become ready: %w", err)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
