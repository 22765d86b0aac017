package app_test

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/segment"
	"github.com/wxid/wxid/users"
)

// TestExportLarge exports 20,000 users of about 1 KB each (some 21 MB of
// CSV, many times the socket buffers) on MariaDB: whole, in memory that
// does not grow with the segment, with progress lines; then cut by the
// client after its first row, which stops the SQL work at once.
func TestExportLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 20,000 users")
	}
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL})
	const n = 20_000
	seedLargeUsers(t, e, n)

	t.Run("whole", func(t *testing.T) { exportWhole(t, e, n) })
	t.Run("client gone", func(t *testing.T) { exportCut(t, e, n) })
	t.Run("too many at once", func(t *testing.T) { exportCrowd(t, e) })
}

// exportCrowd holds segment.MaxConcurrent exports open (their clients
// read one row, then nothing: the server waits to write) and checks that
// one more is RATE_LIMITED until one of them ends.
func exportCrowd(t *testing.T, e *apptest.Env) {
	var open []*http.Response
	for range segment.MaxConcurrent {
		resp := postExport(t, e, apptest.AdminToken, map[string]any{})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, err := bufio.NewReader(resp.Body).ReadString('\n')
		require.NoError(t, err)
		open = append(open, resp)
	}
	resp := postExport(t, e, apptest.AdminToken, map[string]any{})
	requireRefused(t, resp, http.StatusTooManyRequests, "RATE_LIMITED")
	for _, r := range open {
		require.NoError(t, r.Body.Close())
	}
	require.Eventually(t, func() bool {
		resp := postExport(t, e, apptest.AdminToken, map[string]any{"where": map[string]any{"idLT": "0"}})
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "the slots are free again")
}

// exportWhole exports every one of the n users as CSV, advancing the
// clock past the progress interval after the first row, and checks the
// rows, the live heap, the log and the audit event.
func exportWhole(t *testing.T, e *apptest.Env, n int) {
	peak, stopSampling := sampleLiveHeap()
	resp := postExport(t, e, apptest.AdminToken, map[string]any{"format": "csv"})
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	r := csv.NewReader(resp.Body)
	r.ReuseRecord = true
	header, err := r.Read()
	require.NoError(t, err)
	require.Equal(t, "id", header[0])
	rows := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Equal(t, "+8613800138000", rec[3])
		rows++
		if rows == 1 {
			e.Clock.Advance(segment.ProgressInterval + time.Second) // the next batch logs its progress
		}
	}
	growth := stopSampling()
	require.Equal(t, n, rows)
	require.Equal(t, "true", resp.Trailer.Get(segment.TrailerComplete))
	require.Equal(t, fmt.Sprint(n), resp.Trailer.Get(segment.TrailerCount))
	t.Logf("live heap grew by at most %.1f MB while streaming %d rows (peak %.1f MB)", float64(growth)/1e6, n, float64(*peak)/1e6)
	// Holding the segment would keep 20,000 users of 1 KB live (over
	// 25 MB); one batch is about 1.5 MB.
	require.Less(t, growth, uint64(10<<20), "memory grows with the segment")

	logs := e.Logs.String()
	require.Contains(t, logs, `msg="user export progress" actor=admin:token-1 rows=`)
	// 2 statements to open, then 2 per batch of 1,000.
	require.Contains(t, logs, fmt.Sprintf(`msg="user export finished" actor=admin:token-1 rows=%d`, n))
	require.Contains(t, logs, fmt.Sprintf("statements=%d ", 2+2*n/users.SegmentBatch))
	require.NotContains(t, logs, "+8613800138000", "no PII in the log")
	evs := exportEvents(t, e)
	require.NotEmpty(t, evs)
	require.Equal(t, "admin:token-1", evs[len(evs)-1].Actor)
	require.Equal(t, n, *evs[len(evs)-1].Count)
}

// exportCut hangs up after the first row of an export of n users, and
// checks that the export stops at once, logged and audited.
func exportCut(t *testing.T, e *apptest.Env, n int) {
	recorded := len(exportEvents(t, e))
	resp := postExport(t, e, apptest.AdminToken, map[string]any{"format": "ndjson"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, `"id"`)
	cut := time.Now()
	require.NoError(t, resp.Body.Close()) // hangs up: the body was not read to its end
	var evs []*ent.AuditEvent
	require.Eventually(t, func() bool {
		evs = exportEvents(t, e)
		return len(evs) == recorded+1
	}, 10*time.Second, 20*time.Millisecond, "the cut export is recorded")
	t.Logf("the export stopped %s after the client hung up, after %d rows", time.Since(cut).Round(time.Millisecond), *evs[recorded].Count)
	require.Less(t, *evs[recorded].Count, n, "the export stopped before its end")
	logs := e.Logs.String()
	i := strings.Index(logs, `msg="user export cut: the client went away"`)
	require.Positive(t, i, "the cut is logged")
	var rows, stmts int
	_, err = fmt.Sscanf(logs[i:], `msg="user export cut: the client went away" actor=admin:token-1 rows=%d`, &rows)
	require.NoError(t, err)
	j := strings.Index(logs[i:], "statements=")
	_, err = fmt.Sscanf(logs[i+j:], "statements=%d", &stmts)
	require.NoError(t, err)
	require.Equal(t, *evs[recorded].Count, rows)
	require.Less(t, stmts, 2+2*n/users.SegmentBatch, "no statement after the cut")
}

// sampleLiveHeap samples the live heap (as of each garbage collection,
// made frequent meanwhile) until the returned function is called, which
// returns how much it grew over its start.
func sampleLiveHeap() (*uint64, func() uint64) {
	runtime.GC()
	old := debug.SetGCPercent(10)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	peak := base
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				metrics.Read(sample)
				peak = max(peak, sample[0].Value.Uint64())
			}
		}
	}()
	return &peak, func() uint64 {
		close(stop)
		wg.Wait()
		debug.SetGCPercent(old)
		return peak - base
	}
}

// TestExportDatabaseFailsMidStream: a database failure after the first
// batch ends the stream with complete:false, the error's code and the
// `after` to resume from, which then reads exactly the rest.
func TestExportDatabaseFailsMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 20,000 users")
	}
	dbURL, proxy := proxiedMySQL(t)
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL, DatabaseURL: dbURL})
	const n = 20_000
	seedLargeUsers(t, e, n)

	resp := postExport(t, e, apptest.AdminToken, map[string]any{})
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	r := bufio.NewReader(resp.Body)
	first, err := r.ReadString('\n')
	require.NoError(t, err)
	proxy.Refuse() // the next batch fails
	ids, end := readNDJSON(t, io.MultiReader(strings.NewReader(first), r))
	require.NotNil(t, end, "the stream ends with its end line")
	require.False(t, end.Complete)
	require.Less(t, len(ids), n)
	require.Equal(t, len(ids), end.Count)
	require.Equal(t, ids[len(ids)-1], end.After)
	require.Equal(t, "UNAVAILABLE", end.Error.Extensions["code"])
	require.Equal(t, "false", resp.Trailer.Get(segment.TrailerComplete))
	require.Equal(t, "UNAVAILABLE", resp.Trailer.Get(segment.TrailerError))
	require.Equal(t, end.After, resp.Trailer.Get(segment.TrailerAfter))

	proxy.Heal()
	require.Eventually(t, func() bool { // the circuit breaker lets statements through again
		return e.Do(t, apptest.AdminToken, `{ users(first: 1) { edges { cursor } } }`, nil).Code() == ""
	}, 10*time.Second, 50*time.Millisecond)
	rest, tail := readNDJSON(t, postExportBody(t, e, map[string]any{"after": end.After}))
	require.NotNil(t, tail)
	require.True(t, tail.Complete)
	require.Len(t, append(ids, rest...), n, "the resumed export holds the rest")
	require.Less(t, ids[len(ids)-1], rest[0])
}
