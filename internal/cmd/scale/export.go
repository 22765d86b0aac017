package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// exportShape is one export of a user segment (POST /admin/export/users).
type exportShape struct {
	name string
	body map[string]any
}

// exportShapes returns the segments the scale run exports: everyone in
// both formats, the users of one app, a sparse and a contiguous filter, a
// selective one, and a resumed export.
func exportShapes(o loadOptions) []exportShape {
	u := o.users / 3
	for u < o.users-1 && !every(u, o.unionIDs) {
		u++
	}
	t := o.users / 2
	for t < o.users-1 && !every(t, o.phones) {
		t++
	}
	lastMonth := now.Add(-30 * 24 * time.Hour).Format(time.RFC3339)
	return []exportShape{
		{"export: everyone, NDJSON", map[string]any{"format": "ndjson"}},
		{"export: everyone, CSV", map[string]any{"format": "csv"}},
		{"export: users of one app", map[string]any{"where": map[string]any{"hasOpenIdsWith": []any{map[string]any{"appid": appID(1 % max(o.apps, 1))}}}}},
		{"export: disabled (1%, spread out)", map[string]any{"where": map[string]any{"disabled": true}}},
		{"export: signed up in the last 30 days", map[string]any{"where": map[string]any{"createdAtGTE": lastMonth}}},
		{"export: one unionid", map[string]any{"where": map[string]any{"hasUnionIDWith": []any{map[string]any{"unionid": unionIDOf(u)}}}}},
		{"export: phoneNumberEndsWith last 4", map[string]any{"where": map[string]any{"phoneNumberEndsWith": purePhone(t)[7:]}}},
		{"export: resumed at the middle", map[string]any{"after": strconv.FormatInt(userID(o.users/2), 10)}},
	}
}

// measureExports runs each export shape once and prints its rows, time,
// rows per second, statements (per 1,000 rows), bytes, and wxid's
// resident memory before and at most during the export.
func measureExports(ctx context.Context, e *env, o options) error {
	fmt.Printf("\n%-40s %8s %9s %9s %7s %9s %8s  %s\n", "export", "rows", "time", "rows/s", "stmts", "per 1k", "MB", "wxid RSS before → max")
	client := &http.Client{} // no timeout: an export lasts as long as its segment
	for _, s := range exportShapes(o.load) {
		before := e.counter.Read(ctx)
		rssBefore := rss(e.wxid.Process.Pid)
		peak, stop := sampleRSS(e.wxid.Process.Pid)
		start := time.Now()
		rows, bytes, result, err := e.export(ctx, client, s.body)
		took := time.Since(start)
		stop()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		stmts, per := "-", "-"
		if e.counter.OK() {
			n := e.counter.Read(ctx).Total() - before.Total()
			stmts = strconv.FormatInt(n, 10)
			if rows > 0 {
				per = fmt.Sprintf("%.1f", float64(n)*1000/float64(rows))
			}
		}
		fmt.Printf("%-40s %8d %9s %9.0f %7s %9s %8.1f  %.0f → %.0f MB  %s\n", s.name, rows, ms(took),
			float64(rows)/took.Seconds(), stmts, per, float64(bytes)/1e6, float64(rssBefore)/1e6, float64(*peak)/1e6, result)
	}
	return nil
}

// export runs one export to its end and returns the rows, the bytes, and
// how it ended (the trailers: complete, or the error code).
func (e *env) export(ctx context.Context, client *http.Client, body map[string]any) (rows, n int64, result string, err error) {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.wxidURL+"/admin/export/users", bytes.NewReader(raw))
	if err != nil {
		return 0, 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return 0, 0, fmt.Sprintf("refused %d: %s", resp.StatusCode, strings.TrimSpace(string(b))), nil
	}
	lines := &lineCounter{}
	if n, err = io.Copy(lines, resp.Body); err != nil {
		return 0, n, "", err
	}
	rows = lines.n - 1 // the end line (NDJSON) or the header (CSV)
	result = "complete=" + resp.Trailer.Get("Wxid-Export-Complete")
	if code := resp.Trailer.Get("Wxid-Export-Error"); code != "" {
		result += " error=" + code
	}
	return rows, n, result, nil
}

// lineCounter counts the line ends written to it.
type lineCounter struct{ n int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// rss returns the resident memory of process pid, in bytes; 0 when unknown
// (not Linux).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// sampleRSS samples pid's resident memory every 20 ms until stop is
// called; peak is the largest sample.
func sampleRSS(pid int) (peak *int64, stop func()) {
	peak = new(int64)
	*peak = rss(pid)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				*peak = max(*peak, rss(pid))
			}
		}
	}()
	return peak, func() { close(done); wg.Wait() }
}
