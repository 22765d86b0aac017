package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/internal/testenv"
)

// proxiedMySQL returns a fresh MySQL database reached through a proxy the
// test controls: the shared server is never hung, only this test's path to
// it.
func proxiedMySQL(t *testing.T) (string, *testenv.Proxy) {
	t.Helper()
	db := testenv.NewMySQLDatabase(t)
	u, err := url.Parse(db.URL)
	require.NoError(t, err)
	proxy := testenv.StartProxy(t, u.Host)
	u.Host = proxy.Addr
	return u.String(), proxy
}

type readiness struct {
	status  int
	body    map[string]string
	elapsed time.Duration
}

func ready(t *testing.T, e *apptest.Env) readiness {
	t.Helper()
	start := time.Now()
	resp, err := e.Server.Client().Get(e.Server.URL + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := readiness{status: resp.StatusCode, elapsed: time.Since(start)}
	require.NoError(t, json.Unmarshal(raw, &out.body), string(raw))
	return out
}

// timedMe asks for me and returns the answer and how long it took.
func timedMe(t *testing.T, e *apptest.Env, skey string) (*apptest.Response, time.Duration) {
	t.Helper()
	start := time.Now()
	r := e.Do(t, skey, `{ me { id } }`, nil)
	return r, time.Since(start)
}

func requireUnavailable(t *testing.T, r *apptest.Response) {
	t.Helper()
	require.Equal(t, "UNAVAILABLE", r.Code(), r.Body)
	retry, ok := r.Errors[0].Extensions["retryAfter"].(float64)
	require.True(t, ok, "retryAfter is a number: %s", r.Body)
	require.GreaterOrEqual(t, retry, 1.0)
	require.LessOrEqual(t, retry, 5.0)
	require.NotContains(t, r.Body, "127.0.0.1", "no addresses in the answer")
}

// recovers waits, in a bounded loop, until me answers again.
func recovers(t *testing.T, e *apptest.Env, skey, userID string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r, _ := timedMe(t, e, skey)
		if r.Code() == "" {
			var out struct{ Me struct{ ID string } }
			r.Decode(t, &out)
			require.Equal(t, userID, out.Me.ID)
			return time.Since(start)
		}
		requireUnavailable(t, r)
		require.Less(t, time.Since(start), 10*time.Second, "wxid did not recover by itself")
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDatabaseHung: with the database hung (every byte to it held back),
// requests answer UNAVAILABLE with retryAfter within about a second, the
// circuit breaker then answers at once, /readyz blames the database within
// its budget, and once the database answers again wxid recovers by itself.
func TestDatabaseHung(t *testing.T) {
	dbURL, proxy := proxiedMySQL(t)
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, DatabaseURL: dbURL, Memcached: true})
	alice := e.Login(t, "", "alice")
	requireMe(t, e, alice.Skey, alice.User.ID)
	require.Equal(t, http.StatusOK, ready(t, e).status)

	proxy.Stall()
	var slow []time.Duration
	for range 5 {
		r, took := timedMe(t, e, alice.Skey)
		requireUnavailable(t, r)
		require.Less(t, took, 1600*time.Millisecond, "UNAVAILABLE within about a second, not the request timeout")
		slow = append(slow, took)
	}
	require.Less(t, slow[4], 200*time.Millisecond, "the open circuit answers at once: %v", slow)
	t.Logf("me with a hung database: %v", slow)

	// A crowd while the circuit is open: all answered at once.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			r, took := timedMe(t, e, alice.Skey)
			requireUnavailable(t, r)
			require.Less(t, took, 500*time.Millisecond)
		})
	}
	wg.Wait()
	requireUnavailable(t, e.LoginResponse(t, "", "bob"))

	rd := ready(t, e)
	require.Equal(t, http.StatusServiceUnavailable, rd.status)
	require.Contains(t, rd.body["error"], "database unreachable")
	require.NotContains(t, rd.body["error"], "cache", "the cache is fine: %v", rd.body)
	require.Less(t, rd.elapsed, 1500*time.Millisecond)

	proxy.Heal()
	took := recovers(t, e, alice.Skey, alice.User.ID)
	t.Logf("recovered %v after the database came back", took)
	require.Equal(t, http.StatusOK, ready(t, e).status)
	e.Login(t, "", "bob")
}

// TestDatabaseDown: a database that refuses connections answers
// UNAVAILABLE at once; wxid recovers when it is back.
func TestDatabaseDown(t *testing.T) {
	dbURL, proxy := proxiedMySQL(t)
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, DatabaseURL: dbURL})
	alice := e.Login(t, "", "alice")

	proxy.Refuse()
	for range 5 {
		r, took := timedMe(t, e, alice.Skey)
		requireUnavailable(t, r)
		require.Less(t, took, time.Second)
	}
	rd := ready(t, e)
	require.Equal(t, http.StatusServiceUnavailable, rd.status)
	require.Equal(t, "database unreachable", rd.body["error"])

	proxy.Heal()
	recovers(t, e, alice.Skey, alice.User.ID)
}

// TestMemcachedHung: a hung memcached costs a request at most one timeout,
// then is skipped (requests fall back to the database) until a probe finds
// it again; /readyz blames the cache, not the database.
func TestMemcachedHung(t *testing.T) {
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, Memcached: true})
	alice := e.Login(t, "", "alice")
	requireMe(t, e, alice.Skey, alice.User.ID)
	timeout := e.App.Config.MemcachedTimeout

	e.Memcached.Pause()
	cacheOps := func(result string) float64 {
		return counterValue(t, e, "wxid_cache_operations_total", map[string]string{"result": result})
	}
	failedBefore, skippedBefore := cacheOps("error"), cacheOps("skipped")
	var took []time.Duration
	for range 6 {
		r, d := timedMe(t, e, alice.Skey)
		apptest.Must(t, r)
		took = append(took, d)
	}
	t.Logf("me with a hung memcached (timeout %v): %v", timeout, took)
	require.Less(t, took[0], 3*timeout+500*time.Millisecond, "the first request pays at most one operation's timeout")
	// Counted, not timed (the machine may be busy): one operation waited
	// for the timeout (two if the requests outlasted the 2 s cooldown and a
	// probe ran), and the later ones skipped the server.
	failed := cacheOps("error") - failedBefore
	require.GreaterOrEqual(t, failed, 1.0, "the first operation timed out: %v", took)
	require.LessOrEqual(t, failed, 2.0, "at most one timeout per cooldown: %v", took)
	require.GreaterOrEqual(t, cacheOps("skipped")-skippedBefore, 4.0, "later requests skip the cache: %v", took)
	for _, d := range took[1:] {
		require.Less(t, d, 10*timeout, "later requests do not wait for memcached: %v", took)
	}
	rd := ready(t, e)
	require.Equal(t, http.StatusServiceUnavailable, rd.status)
	require.Equal(t, "cache unreachable", rd.body["error"])
	require.Less(t, rd.elapsed, 1500*time.Millisecond)

	e.Memcached.Resume()
	hits := func() float64 {
		return counterValue(t, e, "wxid_cache_operations_total", map[string]string{"op": "get", "result": "hit"})
	}
	before := hits()
	start := time.Now()
	for hits() == before {
		require.Less(t, time.Since(start), 10*time.Second, "the cache was never used again")
		requireMe(t, e, alice.Skey, alice.User.ID)
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, http.StatusOK, ready(t, e).status)
}
