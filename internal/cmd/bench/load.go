package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// result is one timed run of the load generator.
type result struct {
	ops    int
	errors int
	rate   float64 // successful operations per second
	p50    time.Duration
	p99    time.Duration
	first  string // the first error, for the report
	cpu    cpuShare
}

func (r result) String() string {
	s := fmt.Sprintf("%8.0f/s  p50 %7s  p99 %7s", r.rate, round(r.p50), round(r.p99))
	if r.errors > 0 {
		s += fmt.Sprintf("  (%d errors; first: %s)", r.errors, r.first)
	}
	return s
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// op is one request of a worker: i counts the worker's requests.
type op func(ctx context.Context, c *http.Client, worker, i int) error

// drive runs conns closed-loop workers for d (after a short warm-up that
// is not counted) and reports what they achieved, with the CPU that each of
// watch spent per operation meanwhile.
func drive(ctx context.Context, conns int, d time.Duration, do op, watch procs) result {
	c := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, MaxIdleConns: conns, DisableCompression: true},
		Timeout:   30 * time.Second,
	}
	defer c.CloseIdleConnections()
	warm := d / 5
	if warm > time.Second {
		warm = time.Second
	}
	var (
		measuring atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		lat       []time.Duration
		errs      int
		first     string
	)
	// Workers stop starting requests at the end but finish the ones in
	// flight: cancelling them would only measure how wxid handles a crowd
	// of clients hanging up.
	var stop atomic.Bool
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			mine, bad, firstErr := work(ctx, c, w, do, &measuring, &stop)
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			if first == "" {
				first = firstErr
			}
			mu.Unlock()
		}(w)
	}
	sleep(ctx, warm)
	measuring.Store(true)
	cpuBefore := watch.cpuTimes()
	start := time.Now()
	sleep(ctx, d)
	elapsed := time.Since(start)
	cpuAfter := watch.cpuTimes()
	stop.Store(true)
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r := result{ops: len(lat), errors: errs, first: first, rate: float64(len(lat)) / elapsed.Seconds(),
		cpu: watch.share(cpuBefore, cpuAfter, len(lat))}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)*50/100]
		r.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return r
}

// work is one closed-loop worker: it runs do until stop, and returns the
// latencies and errors of the requests that started while measuring.
func work(ctx context.Context, c *http.Client, w int, do op, measuring, stop *atomic.Bool) (lat []time.Duration, bad int, firstErr string) {
	lat = make([]time.Duration, 0, 4096)
	for i := 0; !stop.Load() && ctx.Err() == nil; i++ {
		t0 := time.Now()
		err := do(ctx, c, w, i)
		el := time.Since(t0)
		if !measuring.Load() || stop.Load() {
			continue
		}
		if err != nil {
			bad++
			if firstErr == "" {
				firstErr = err.Error()
			}
			continue
		}
		lat = append(lat, el)
	}
	return lat, bad, firstErr
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// post sends one GraphQL request and fails on a non-200 answer or one that
// carries errors. It returns the body.
func post(ctx context.Context, c *http.Client, url, bearer string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(b, []byte(`"errors"`)) {
		if len(b) > 200 {
			b = b[:200]
		}
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return b, nil
}
