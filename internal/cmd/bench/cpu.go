package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc/<pid>/stat's CPU times: USER_HZ, 100 on
// every Linux this runs on (sysconf(_SC_CLK_TCK) needs cgo).
const clockTick = 10 * time.Millisecond

// proc is a process whose CPU time a timed run accounts for.
type proc struct {
	name string
	pid  int
}

// procs are the processes on this machine that serve a timed run: wxid,
// the database server (when it runs here), memcached and the bench itself
// (load generator and WeChat stand-in).
type procs []proc

// cpuTimes reads each process's CPU time (user + system) so far; a process
// that cannot be read counts as -1.
func (ps procs) cpuTimes() []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		out[i] = cpuTime(p.pid)
	}
	return out
}

func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name, in parentheses, may hold spaces: fields are
	// counted after its closing parenthesis (field 3, state, comes first).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(utime+stime) * clockTick
}

// findProcess is the PID of a running process whose command is one of
// names (0 for none): the database server, when it runs on this machine.
func findProcess(names ...string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		comm := strings.TrimSpace(string(b))
		for _, n := range names {
			if comm == n {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
				return pid
			}
		}
	}
	return 0
}

// cpuShare is the CPU each process spent per operation over a timed run.
type cpuShare struct {
	names []string
	per   []time.Duration // per operation; -1 when unknown
}

// share divides the CPU the processes spent between before and after by
// ops.
func (ps procs) share(before, after []time.Duration, ops int) cpuShare {
	c := cpuShare{names: make([]string, len(ps)), per: make([]time.Duration, len(ps))}
	for i, p := range ps {
		c.names[i] = p.name
		c.per[i] = -1
		if ops > 0 && before[i] >= 0 && after[i] >= 0 {
			c.per[i] = (after[i] - before[i]) / time.Duration(ops)
		}
	}
	return c
}

// total is the CPU of every process known per operation.
func (c cpuShare) total() time.Duration {
	var t time.Duration
	for _, d := range c.per {
		if d > 0 {
			t += d
		}
	}
	return t
}

func (c cpuShare) String() string {
	if len(c.names) == 0 {
		return ""
	}
	parts := make([]string, 0, len(c.names)+1)
	for i, n := range c.names {
		if c.per[i] >= 0 {
			parts = append(parts, fmt.Sprintf("%s %d µs", n, c.per[i].Microseconds()))
		}
	}
	return strings.Join(parts, ", ") + fmt.Sprintf("; %d µs in all", c.total().Microseconds())
}

// medianShare is the per-process median of several runs' shares.
func medianShare(runs []cpuShare) cpuShare {
	if len(runs) == 0 {
		return cpuShare{}
	}
	out := cpuShare{names: runs[0].names, per: make([]time.Duration, len(runs[0].per))}
	for i := range out.per {
		xs := make([]float64, 0, len(runs))
		for _, r := range runs {
			if r.per[i] >= 0 {
				xs = append(xs, float64(r.per[i]))
			}
		}
		out.per[i] = -1
		if len(xs) > 0 {
			out.per[i] = time.Duration(median(xs))
		}
	}
	return out
}
